import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import Fastify, { type FastifyInstance, type InjectOptions, type LightMyRequestResponse } from 'fastify'
import Database from 'better-sqlite3'
import discordSync, { type FastifyDiscordSyncOptions } from '../../src/index.js'
import { createDiscordSimulator, DEFAULT_BUCKETS, type DiscordSimulator } from '../../src/testing/index.js'
import { dumpDatabase } from '../auth/helpers.js'
import { JWT_SECRET, OAUTH_APP, seedSimulator, TestMembership } from '../sync/helpers.js'
import { TEST_KEY } from '../helpers/world.js'

/*
 * The whole plugin, as a deployment runs it, for the cross-cutting security suites: every
 * option that adds routes is on (OAuth application, membership provider, metrics, OpenAPI,
 * admin UI, rate limit), Discord is the simulator (the sync suites' seed plus the OAuth app),
 * the store is a SQLite file the test can read raw, and everything observable is collected:
 * the routes registered (onRoute, so a route added later cannot escape the suites), every
 * response, every log line at trace level, and every error a hook saw.
 */

export const PREFIX = '/discord'
/** The admin UI's sign-in comes back here; allowed as a redirect. */
export const FRONTEND = 'https://app.example.test/done'

export interface RecordedResponse {
  method: string
  url: string
  statusCode: number
  headers: string
  body: string
}

export interface SecurityWorld {
  sim: DiscordSimulator
  app: FastifyInstance
  db: Database.Database
  dbPath: string
  membership: TestMembership
  /** "METHOD /url" of every route registered on the app, as onRoute saw it. */
  routes: Array<{ method: string, url: string }>
  logLines: string[]
  /** message + stack of every error an onError hook saw. */
  hookErrors: string[]
  responses: RecordedResponse[]
  inject: (opts: InjectOptions) => Promise<LightMyRequestResponse>
  /** A session JWT signed with the app's secret. */
  tokenFor: (user: { id: string, permissions: string[] }) => string
  /** Every row of every table, as text: equal before and after means the store did not change. */
  snapshot: () => string
  /** Rows the store's connection has inserted, updated or deleted so far (SQLite total_changes()). */
  changes: () => number
  /** The SQLite file and its WAL/journal side files, raw. */
  rawDatabase: () => Buffer
  close: () => Promise<void>
}

export interface SecurityWorldOptions {
  encryptionKey?: string
  jwtSecret?: string
  plugin?: Partial<FastifyDiscordSyncOptions>
}

export async function buildSecurityWorld (options: SecurityWorldOptions = {}): Promise<SecurityWorld> {
  const generous = Object.fromEntries(Object.keys(DEFAULT_BUCKETS).map((k) => [k, { limit: 100_000 }]))
  const sim = await createDiscordSimulator({ rateLimits: { enabled: false, global: { limit: 100_000 }, buckets: generous } })
  seedSimulator(sim)
  sim.state.addOAuthApp({ client_id: OAUTH_APP.clientId, client_secret: OAUTH_APP.clientSecret, redirect_uris: [OAUTH_APP.redirectUri], name: 'Falcon' })

  const dir = mkdtempSync(join(tmpdir(), 'discord-security-'))
  const dbPath = join(dir, 'discord.sqlite')
  const db = new Database(dbPath)
  const logLines: string[] = []
  const stream = new Writable({ write (chunk, _enc, done) { logLines.push(String(chunk)); done() } })
  const app = Fastify({ logger: { level: 'trace', stream } })
  const routes: Array<{ method: string, url: string }> = []
  const hookErrors: string[] = []
  // Root hooks, added before the plugin: its encapsulated route contexts inherit them.
  app.addHook('onRoute', (r) => {
    for (const method of Array.isArray(r.method) ? r.method : [r.method]) routes.push({ method, url: r.url })
  })
  app.addHook('onError', async (_request, _reply, err) => { hookErrors.push(`${err.message}\n${err.stack ?? ''}`) })
  const membership = new TestMembership()
  await app.register(discordSync, {
    store: { type: 'sqlite', database: db },
    encryptionKey: options.encryptionKey ?? TEST_KEY,
    apiBaseUrl: sim.apiBaseUrl,
    discord: { ...OAUTH_APP, apiBaseUrl: sim.apiBaseUrl, authorizeUrl: `${sim.url}/oauth2/authorize` },
    tokenRefresh: { enabled: false },
    healthCheck: { enabled: false },
    // On, so its hook runs on every request; far above what a suite sends.
    rateLimit: { max: 1_000_000 },
    membership,
    metrics: { enabled: true, route: true },
    openapi: true,
    adminUi: true,
    ...options.plugin,
    auth: { jwtSecret: options.jwtSecret ?? JWT_SECRET, redirectUrls: [FRONTEND], ...options.plugin?.auth },
    sync: { enabled: false, ...options.plugin?.sync }
  })
  await app.ready()

  const responses: RecordedResponse[] = []
  return {
    sim,
    app,
    db,
    dbPath,
    membership,
    routes,
    logLines,
    hookErrors,
    responses,
    async inject (opts) {
      const res = await app.inject(opts)
      responses.push({ method: String(opts.method ?? 'GET'), url: String(opts.url), statusCode: res.statusCode, headers: JSON.stringify(res.headers), body: res.body })
      return res
    },
    tokenFor: (user) => app.discord.auth.issue(user).token,
    snapshot: () => dumpDatabase(db),
    changes: () => db.prepare('SELECT total_changes()').pluck().get() as number,
    rawDatabase: () => Buffer.concat(readdirSync(dir).map((f) => readFileSync(join(dir, f)))),
    async close () {
      await app.close()
      db.close()
      await sim.close()
      rmSync(dir, { recursive: true, force: true })
    }
  }
}
