import Fastify, { type FastifyInstance, type FastifyServerOptions, type InjectOptions, type LightMyRequestResponse } from 'fastify'
import Database from 'better-sqlite3'
import discordSync, { type FastifyDiscordSyncOptions } from '../../src/index.js'
import { createDiscordSimulator, type DiscordSimulator } from '../../src/testing/index.js'
import { TEST_KEY } from '../helpers/build-app.js'
import { STATE_BINDING_COOKIE } from '../../src/auth/state-binding.js'

/*
 * Shared fixtures of the auth suites: a simulator with one OAuth app and a few users, and a host
 * app whose plugin points at it. Every response the app sends through `inject` is recorded so the
 * suites can prove no Discord token ever appears in one, and every flow it starts is remembered
 * with its browser binding cookie, so `callback` can play the browser that started the flow.
 */

export const CLIENT_ID = '900000000000000001'
export const CLIENT_SECRET = 'sim-client-secret-value-0123456789'
export const REDIRECT_URI = 'http://127.0.0.1:3999/discord/auth/callback'
export const JWT_SECRET = 'test-jwt-secret-that-is-long-enough-0123456789'
export const FRONTEND = 'https://app.example.test/auth/done'

export const ALICE = '100000000000000001'
export const BOB = '100000000000000002'
export const GUILD = '200000000000000001'

export async function startSimulator (): Promise<DiscordSimulator> {
  const sim = await createDiscordSimulator()
  sim.state.addOAuthApp({ client_id: CLIENT_ID, client_secret: CLIENT_SECRET, redirect_uris: [REDIRECT_URI], name: 'Falcon' })
  sim.state.addUser({ id: ALICE, username: 'alice', global_name: 'Alice' })
  sim.state.addUser({ id: BOB, username: 'bob', global_name: 'Bob' })
  sim.state.addGuild({ id: GUILD, name: 'Falcon Guild', owner_id: BOB })
  sim.state.addMember(GUILD, ALICE)
  sim.state.addMember(GUILD, BOB)
  return sim
}

export interface RecordedResponse {
  url: string
  statusCode: number
  headers: string
  body: string
}

export interface AuthTestApp {
  app: FastifyInstance
  db: Database.Database
  responses: RecordedResponse[]
  inject: (opts: InjectOptions) => Promise<LightMyRequestResponse>
  /** The binding cookie value set when each flow started, by state. */
  bindings: Map<string, string>
  /**
   * GET /discord/auth/callback with these parameters (an object, or a query string such as
   * Discord's redirect `?code=..&state=..`) from the browser that started the flow: with the
   * binding cookie of its state when one was set.
   */
  callback: (params: Record<string, string> | string, headers?: Record<string, string>) => Promise<LightMyRequestResponse>
  close: () => Promise<void>
}

export function pluginOptions (sim: DiscordSimulator | null, overrides: Partial<FastifyDiscordSyncOptions> = {}): FastifyDiscordSyncOptions {
  return {
    encryptionKey: TEST_KEY,
    discord: sim === null
      ? undefined
      : { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, redirectUri: REDIRECT_URI, apiBaseUrl: sim.apiBaseUrl, authorizeUrl: `${sim.url}/oauth2/authorize` },
    ...overrides,
    auth: { jwtSecret: JWT_SECRET, redirectUrls: [FRONTEND], ...overrides.auth },
    tokenRefresh: { enabled: false, ...overrides.tokenRefresh }
  }
}

/** A host app with the plugin on a SQLite database the test can read raw (to check sealing at rest). */
export interface BuildHooks {
  /** Runs before the plugin is registered (host plugins such as @fastify/jwt). */
  before?: (app: FastifyInstance) => Promise<void>
  /** Runs after the plugin is registered, before ready (host routes using its preHandlers). */
  after?: (app: FastifyInstance) => Promise<void>
  logger?: FastifyServerOptions['logger']
}

export async function buildAuthApp (sim: DiscordSimulator | null, overrides: Partial<FastifyDiscordSyncOptions> = {}, hooks: BuildHooks = {}): Promise<AuthTestApp> {
  const db = new Database(':memory:')
  const app = Fastify({ logger: hooks.logger ?? false })
  if (hooks.before) await hooks.before(app)
  await app.register(discordSync, { store: { type: 'sqlite', database: db }, ...pluginOptions(sim, overrides) })
  if (hooks.after) await hooks.after(app)
  await app.ready()
  const responses: RecordedResponse[] = []
  const bindings = new Map<string, string>()
  const inject = async (opts: InjectOptions): Promise<LightMyRequestResponse> => {
    const res = await app.inject(opts)
    responses.push({ url: String(opts.url), statusCode: res.statusCode, headers: JSON.stringify(res.headers), body: res.body })
    const binding = sessionCookie(res, STATE_BINDING_COOKIE)
    if (binding !== null && binding.value !== '') bindings.set((res.json() as { state: string }).state, binding.value)
    return res
  }
  return {
    app,
    db,
    responses,
    inject,
    bindings,
    async callback (params, headers = {}) {
      const query = new URLSearchParams(params)
      const binding = bindings.get(query.get('state') ?? '')
      const cookie = binding === undefined ? {} : { cookie: `${STATE_BINDING_COOKIE}=${binding}` }
      return await inject({ method: 'GET', url: `/discord/auth/callback?${query.toString()}`, headers: { ...cookie, ...headers } })
    },
    async close () {
      await app.close()
      db.close()
    }
  }
}

export function bearer (token: string): Record<string, string> {
  return { authorization: `Bearer ${token}` }
}

/** A session for a host user, signed the way the plugin signs login sessions. */
export function sessionFor (app: FastifyInstance, userId: string, permissions: string[] = []): string {
  return app.discord.auth.issue({ id: userId, permissions }).token
}

/**
 * Plays the browser at Discord: opens the authorize URL with the simulator approving as `userId`
 * and returns the code and state Discord redirects back with.
 */
export async function authorizeAs (sim: DiscordSimulator, authUrl: string, userId: string): Promise<{ code: string, state: string, location: URL }> {
  sim.setAutoApprove(userId)
  try {
    const res = await fetch(authUrl, { redirect: 'manual' })
    const location = res.headers.get('location')
    if (res.status !== 302 || location === null) throw new Error(`authorize answered ${res.status} without a redirect`)
    const url = new URL(location)
    return { code: url.searchParams.get('code') ?? '', state: url.searchParams.get('state') ?? '', location: url }
  } finally {
    sim.setAutoApprove(null)
  }
}

/** Callback path (the app's routes are mounted at /discord). */
export function callbackUrl (params: Record<string, string>): string {
  return `/discord/auth/callback?${new URLSearchParams(params).toString()}`
}

/** A cookie (by default the session cookie) from a response's Set-Cookie headers, or null. */
export function sessionCookie (res: LightMyRequestResponse, name = 'falcon_auth_token'): { value: string, raw: string } | null {
  const header = res.headers['set-cookie']
  const all = header === undefined ? [] : Array.isArray(header) ? header : [header]
  const raw = all.find((c) => c.startsWith(`${name}=`))
  return raw === undefined ? null : { value: raw.slice(name.length + 1).split(';')[0] as string, raw }
}

/** Every stored cell of every table as text (BLOBs as latin1), for "no plaintext secret at rest" checks. */
export function dumpDatabase (db: Database.Database): string {
  const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as Array<{ name: string }>
  const cells: string[] = []
  for (const { name } of tables) {
    for (const row of db.prepare(`SELECT * FROM "${name}"`).all() as Array<Record<string, unknown>>) {
      for (const v of Object.values(row)) cells.push(Buffer.isBuffer(v) ? v.toString('latin1') : String(v))
    }
  }
  return cells.join('\n')
}
