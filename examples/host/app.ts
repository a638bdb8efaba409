import fastifyCookie from '@fastify/cookie'
import fastifyJwt from '@fastify/jwt'
import Fastify, { type FastifyInstance } from 'fastify'
import discordSync from '../../src/index.js'
import type { HostDatabase } from './db.js'
import { hostMembership, resolveDiscordLogin } from './discord.js'
import { groupRoutes } from './groups.js'
import { SESSION_COOKIE, sessionRoutes } from './sessions.js'

/*
 * A Go-Falcon-style host: its own users, groups and sessions (db.ts, sessions.ts, groups.ts),
 * with fastify-discord-sync registered under /api, so its routes live at /api/discord/... next to
 * the host's /api/session and /api/groups. In your project the import is
 * `import discordSync from 'fastify-discord-sync'`.
 */

export interface HostConfig {
  db: HostDatabase
  /** Signs the host's sessions (≥ 32 characters); the plugin verifies and issues with the same key. */
  jwtSecret: string
  /** Base64 of 32 bytes: seals Discord tokens at rest in the plugin's store. */
  encryptionKey: string
  /** Where browsers reach this server, e.g. http://127.0.0.1:3100 (the redirect URI is derived from it). */
  publicUrl: string
  discord: {
    clientId: string
    clientSecret: string
    /** Discord's REST base URL and authorize page; the simulator's in the example and the tests. */
    apiBaseUrl?: string
    authorizeUrl?: string
  }
  /** The plugin's SQLite file (default: in memory). */
  storePath?: string
  /** `Secure` on the session cookies: true unless served over plain http for development. */
  cookieSecure?: boolean
  /** How long group edits are coalesced before the users' roles are synced (plugin default 2 s). */
  pushDebounce?: string
  logger?: boolean
}

export async function buildHost (config: HostConfig): Promise<FastifyInstance> {
  const app = Fastify({ logger: config.logger ?? false })
  const cookieSecure = config.cookieSecure ?? true

  // The host's session machinery, registered before the plugin: the plugin finds fastify.jwt and
  // the cookie parser and uses them, so host and plugin share one session.
  await app.register(fastifyCookie)
  await app.register(fastifyJwt, { secret: config.jwtSecret, cookie: { cookieName: SESSION_COOKIE, signed: false } })

  await app.register(discordSync, {
    prefix: '/api',
    store: { type: 'sqlite', path: config.storePath ?? ':memory:' },
    encryptionKey: config.encryptionKey,
    ...(config.discord.apiBaseUrl === undefined ? {} : { apiBaseUrl: config.discord.apiBaseUrl }),
    discord: {
      clientId: config.discord.clientId,
      clientSecret: config.discord.clientSecret,
      redirectUri: `${config.publicUrl}/api/discord/auth/callback`,
      ...(config.discord.authorizeUrl === undefined ? {} : { authorizeUrl: config.discord.authorizeUrl })
    },
    auth: {
      // No jwtSecret: the host's @fastify/jwt above signs and verifies every session.
      cookieName: SESSION_COOKIE,
      cookieSecure,
      resolveUser: resolveDiscordLogin(config.db),
      // After a Discord login or link the browser comes back to the host's front page.
      redirectUrls: [`${config.publicUrl}/`]
    },
    membership: hostMembership(config.db),
    ...(config.pushDebounce === undefined ? {} : { sync: { pushDebounce: config.pushDebounce } }),
    adminUi: true
  })

  sessionRoutes(app, config.db, { cookieSecure })
  groupRoutes(app, config.db)
  return app
}
