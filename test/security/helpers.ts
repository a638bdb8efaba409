import type { FastifyDiscordSyncOptions } from '../../src/index.js'
import { JWT_SECRET, type WorldOptions } from '../helpers/world.js'
import { OAUTH_APP, seedSimulator } from '../sync/helpers.js'

/*
 * The whole plugin, as a deployment runs it, for the cross-cutting security suites: every
 * option that adds routes is on (OAuth application, membership provider, metrics, OpenAPI,
 * admin UI, rate limit), Discord is the simulator (the sync suites' seed plus the OAuth app),
 * the store is a SQLite file the test can read raw, and the world collects everything
 * observable: the routes registered (onRoute, so a route added later cannot escape the suites),
 * every response, every log line at trace level, and every error a hook saw.
 */

export const PREFIX = '/discord'
/** The admin UI's sign-in comes back here; allowed as a redirect. */
export const FRONTEND = 'https://app.example.test/done'

export interface DeploymentOptions {
  encryptionKey?: string
  jwtSecret?: string
  plugin?: Partial<FastifyDiscordSyncOptions>
}

/** World options of a full deployment; `plugin` is spread over it (`auth` and `sync` key by key). */
export function deployment (options: DeploymentOptions = {}): WorldOptions {
  const plugin = options.plugin ?? {}
  return {
    seed: seedSimulator,
    oauth: OAUTH_APP,
    membership: true,
    store: 'file',
    logs: true,
    frontend: FRONTEND,
    plugin: {
      ...(options.encryptionKey === undefined ? {} : { encryptionKey: options.encryptionKey }),
      healthCheck: { enabled: false },
      // On, so its hook runs on every request; far above what a suite sends.
      rateLimit: { max: 1_000_000 },
      metrics: { enabled: true, route: true },
      openapi: true,
      adminUi: true,
      ...plugin,
      auth: { jwtSecret: options.jwtSecret ?? JWT_SECRET, ...plugin.auth },
      sync: { enabled: false, ...plugin.sync }
    }
  }
}
