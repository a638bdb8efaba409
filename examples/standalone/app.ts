import Fastify, { type FastifyInstance } from 'fastify'
import discordSync from '../../src/index.js'
import type { StandaloneConfig } from './config.js'

/** Builds (does not start) the standalone server: the plugin mounted at /api/discord, as in the seed. */
export async function buildStandalone (config: StandaloneConfig): Promise<FastifyInstance> {
  const app = Fastify({
    logger: {
      level: config.logLevel,
      // Defence in depth: even if a secret reached a log object, these paths are masked.
      redact: ['req.headers.authorization', 'req.headers.cookie', '*.access_token', '*.refresh_token', '*.bot_token', '*.client_secret', '*.clientSecret']
    },
    trustProxy: false
  })
  for (const w of config.warnings) app.log.warn(w)
  if (config.demo) {
    app.log.warn('Discord credentials are not configured (demo mode): Discord-dependent routes answer 503 FST_DISCORD_NOT_CONFIGURED. Set DISCORD_CLIENT_ID, DISCORD_CLIENT_SECRET and DISCORD_REDIRECT_URI to use a real Discord application.')
  }
  await app.register(discordSync, { ...config.plugin, prefix: '/api' })
  return app
}
