import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import discordSync, { type FastifyDiscordSyncOptions } from '../../src/index.js'

/** A fixed test key (base64 of 32 bytes). Never used outside tests. */
export const TEST_KEY = Buffer.alloc(32, 7).toString('base64')

/**
 * Builds a host app with the plugin registered on an in-memory SQLite store,
 * ready for `app.inject`. Callers close it.
 */
export async function buildApp (
  options: Partial<FastifyDiscordSyncOptions> = {},
  serverOptions: FastifyServerOptions = { logger: false }
): Promise<FastifyInstance> {
  const app = Fastify(serverOptions)
  await app.register(discordSync, { store: { type: 'sqlite', path: ':memory:' }, encryptionKey: TEST_KEY, ...options })
  await app.ready()
  return app
}
