import Fastify, { LogController, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import discordSync from '../../src/index.js'
import { configErrorOf, type StandaloneConfig } from './config.js'
import { startDemo } from './demo.js'
import { membershipFromEnv } from './membership.js'

const URL_ERRORS: Record<string, string> = {
  FST_ERR_BAD_URL: 'a path segment is not valid percent-encoding',
  FST_ERR_MAX_PARAM_LENGTH: 'a path segment is longer than 100 characters'
}

/**
 * Builds (does not start) the standalone server: the plugin mounted at /api/discord, as in the seed.
 * A failure caused by configuration (a plugin option, the store's location, MEMBERSHIP_FILE)
 * is thrown as the ConfigError naming the variable, after closing what was already opened.
 */
export async function buildStandalone (config: StandaloneConfig): Promise<FastifyInstance> {
  const app = Fastify({
    logger: {
      level: config.logLevel,
      // Defence in depth: even if a secret reached a log object, these paths are masked.
      redact: ['req.headers.authorization', 'req.headers.cookie', '*.access_token', '*.refresh_token', '*.bot_token', '*.client_secret', '*.clientSecret']
    },
    // The demo's UI polls while a sync runs: a line per request would bury the demo's own output.
    ...(config.demo ? { logController: new LogController({ disableRequestLogging: true }) } : {}),
    trustProxy: false,
    // The router raises these before any plugin sees the request (a path segment with broken
    // percent-encoding, or one longer than maxParamLength): answered in the plugin's error shape,
    // without echoing the URL (its query may hold an OAuth code).
    frameworkErrors: (err: FastifyError, _request: FastifyRequest, reply: FastifyReply) => {
      const why = URL_ERRORS[err.code]
      if (why === undefined) return reply.send(err)
      return reply.code(400).send({ statusCode: 400, code: 'FST_DISCORD_VALIDATION', error: 'Bad Request', message: `Invalid params: ${why}` })
    }
  })
  // close() ends the keep-alive connections that are idle at that moment; one busy with a request
  // would stay open after its response until the client dropped it (Fastify's keep-alive is 72 s),
  // holding shutdown past its deadline. Responses sent once closing has begun close theirs instead.
  let closing = false
  app.addHook('preClose', async () => { closing = true })
  app.addHook('onSend', async (_request, reply) => { if (closing) reply.header('connection', 'close') })
  try {
    for (const w of config.warnings) app.log.warn(w)
    // Demo mode (no DISCORD_CLIENT_ID, or DISCORD_DEMO=1): a simulated Discord in this process; see demo.ts.
    const demo = config.demo ? await startDemo(config) : null
    demo?.attach(app)
    // Outside the demo, role sync learns each user's groups from MEMBERSHIP_FILE (see membership.ts).
    const membership = demo === null && config.plugin.membership === undefined ? membershipFromEnv() : null
    const plugin = demo?.plugin ?? (membership === null ? config.plugin : { ...config.plugin, membership })
    await app.register(discordSync, { ...plugin, prefix: '/api' })
    // Someone opening the server's address in a browser gets the admin UI (or the status), not a JSON 404.
    const home = plugin.adminUi === true ? '/api/discord/admin/' : '/api/discord/status'
    app.get('/', { schema: { hide: true } }, async (_request, reply) => await reply.redirect(home, 302))
  } catch (err) {
    await app.close().catch(() => {})
    throw configErrorOf(err, config) ?? err
  }
  return app
}

/** Starts listening; an address this machine cannot listen on closes the app and is a ConfigError naming HOST or PORT. */
export async function listenStandalone (app: FastifyInstance, config: Pick<StandaloneConfig, 'host' | 'port' | 'plugin'>, port = config.port): Promise<void> {
  try {
    await app.listen({ host: config.host, port })
  } catch (err) {
    await app.close().catch(() => {})
    throw configErrorOf(err, { ...config, port }) ?? err
  }
}
