import { buildStandalone, listenStandalone } from './app.js'
import { ConfigError, loadConfig } from './config.js'
import { demoBanner, demoOf, resetDemoFiles } from './demo.js'

/*
 * `npm start`: configuration from the environment, the plugin at /api/discord, and a
 * clean shutdown on SIGINT/SIGTERM (in-flight requests finish, then the store, Redis
 * and timers close through Fastify's onClose hooks).
 */
async function main (): Promise<void> {
  const config = loadConfig()
  // `--reset-demo`: the demo starts from its seed again (a tripped brake, an admin's edits, the audit: all gone).
  if (process.argv.slice(2).includes('--reset-demo')) {
    if (!config.demo) throw new ConfigError('DISCORD_DEMO', '--reset-demo resets the demo only; this configuration has real Discord credentials')
    const deleted = resetDemoFiles(config)
    console.log(`fastify-discord-sync: demo reset (${deleted.length === 0 ? 'nothing to delete' : `deleted ${deleted.join(', ')}`})`)
  }

  const app = await buildStandalone(config)
  let closing = false
  const shutdown = (signal: string): void => {
    if (closing) {
      app.log.warn({ signal }, 'second signal: exiting without waiting')
      process.exit(1)
    }
    closing = true
    app.log.info({ signal }, 'shutting down')
    const force = setTimeout(() => {
      app.log.error('shutdown took longer than 10 s: exiting')
      process.exit(1)
    }, 10_000)
    force.unref()
    app.close().then(() => process.exit(0), (err: unknown) => {
      app.log.error({ err }, 'error during shutdown')
      process.exit(1)
    })
  }
  process.once('SIGINT', () => shutdown('SIGINT'))
  process.once('SIGTERM', () => shutdown('SIGTERM'))

  // The demo picked its port before start-up: its OAuth redirect URI names it.
  const demo = demoOf(app)
  await listenStandalone(app, config, demo?.port ?? config.port)
  const address = app.server.address()
  const port = typeof address === 'object' && address ? address.port : config.port
  app.log.info(`fastify-discord-sync standalone server: http://${config.host}:${port}/api/discord/status`)
  if (demo !== undefined) console.log(demoBanner(demo))
}

// Configuration problems surface while loading the environment, registering the plugin or
// listening; each names its variable and exits with EX_CONFIG.
main().catch((err: unknown) => {
  if (err instanceof ConfigError) {
    console.error(`fastify-discord-sync: configuration error: ${err.message}`)
    process.exit(78) // EX_CONFIG
  }
  console.error('fastify-discord-sync: failed to start:', err instanceof Error ? err.message : err)
  process.exit(1)
})
