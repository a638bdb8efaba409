import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import Fastify, { type FastifyInstance, type FastifyServerOptions, type InjectOptions, type LightMyRequestResponse } from 'fastify'
import Database from 'better-sqlite3'
import discordSync, { type DiscordStore, type FastifyDiscordSyncOptions, type MembershipInfo, type MembershipProvider } from '../../src/index.js'
import { createDiscordSimulator, DEFAULT_BUCKETS, type DiscordSimulator, type SimulatorOptions } from '../../src/testing/index.js'
import { STATE_BINDING_COOKIE } from '../../src/auth/state-binding.js'

/*
 * The one test world: a host Fastify app with the plugin registered, pointed over real HTTP at a
 * Discord simulator on 127.0.0.1, on a SQLite store the test can read raw, with an optional
 * membership provider. Everything observable is collected (routes as onRoute saw them, every
 * response, the route that served it, errors hooks saw, log lines when asked), so a suite can
 * prove what left the app. Suites keep their seed data (ids, tokens, simulator seeds) next to
 * them and pass it in as options.
 */

/** A fixed test key (base64 of 32 bytes). Never used outside tests. */
export const TEST_KEY = Buffer.alloc(32, 7).toString('base64')
/** The session secret every world signs with unless told otherwise. */
export const JWT_SECRET = 'test-world-jwt-secret-that-is-long-enough-0123456789'
export const ADMIN: Identity = { id: 'admin-1', permissions: ['discord:admin'] }

/** A host user a session is issued for. */
export interface Identity { id: string, permissions: string[] }

/** A Discord OAuth application: registered in the simulator and given to the plugin as `discord`. */
export interface OAuthApp { clientId: string, clientSecret: string, redirectUri: string }

/**
 * Rate limits off, and generous numbers in the headers too: the client honours X-RateLimit-*
 * even when the simulator does not enforce them, and most suites are about semantics, not pacing.
 */
export function generousLimits (): SimulatorOptions {
  const buckets = Object.fromEntries(Object.keys(DEFAULT_BUCKETS).map((k) => [k, { limit: 100_000 }]))
  return { rateLimits: { enabled: false, global: { limit: 100_000 }, buckets } }
}

/** An in-memory membership provider whose answers tests change on the fly; counts calls. */
export class TestMembership implements MembershipProvider {
  readonly users = new Map<string, MembershipInfo | null>()
  readonly failing = new Set<string>()
  calls = 0
  /** While set, every answer waits for it: keeps a run in progress for as long as a test needs. */
  gate: Promise<void> | null = null

  /** Holds every answer until the returned function is called. */
  hold (): () => void {
    let release: () => void = () => {}
    this.gate = new Promise<void>((resolve) => { release = resolve })
    return () => {
      this.gate = null
      release()
    }
  }

  set (userId: string, groups: string[], characterCount = 1, permissions: string[] = []): void {
    this.users.set(userId, { groups: groups.map((id) => ({ id, name: `Group ${id}` })), character_count: characterCount, permissions })
  }

  async getMembership (userId: string): Promise<MembershipInfo | null> {
    this.calls++
    if (this.gate !== null) await this.gate
    if (this.failing.has(userId)) throw new Error('host directory unreachable: postgres://secret@db')
    return this.users.get(userId) ?? null
  }
}

export interface WorldOptions {
  /**
   * The Discord simulator: options for a new one (default: generous limits), an existing one, or
   * false for a world without Discord. A new one is closed with the world; an existing one only
   * when `closeSim` is true.
   */
  sim?: SimulatorOptions | DiscordSimulator | false
  /** Seeds a new simulator before the app starts. */
  seed?: (sim: DiscordSimulator) => void
  closeSim?: boolean
  /** A Discord OAuth application, so login and linking work (needs a simulator). */
  oauth?: OAuthApp
  /** Register a {@link TestMembership} as the plugin's membership provider. */
  membership?: boolean
  /** Where the SQLite store lives, unless `plugin.store` names one: in memory (default) or in a temp file. */
  store?: 'memory' | 'file'
  /** Capture every log line (trace) into `logLines` (or into this array). */
  logs?: boolean | string[]
  /** A logger of the test's own (ignored with `logs`). */
  logger?: FastifyServerOptions['logger']
  /** The host's other server options (router options, say). */
  fastify?: Omit<FastifyServerOptions, 'logger'>
  /** Listen on 127.0.0.1 so `call` can use real HTTP. */
  listen?: boolean
  /** Names `as` accepts, besides an identity. */
  users?: Record<string, Identity>
  /** Who `call` sends a session for when `as` is not given (default: anonymous). */
  defaultAs?: Identity | null
  /** The frontend the plugin may redirect to after sign-in (auth.redirectUrls). */
  frontend?: string
  /** Runs before the plugin is registered (host plugins such as @fastify/jwt). */
  before?: (app: FastifyInstance) => Promise<void> | void
  /** Runs after the plugin is registered, before ready (host routes using its preHandlers). */
  after?: (app: FastifyInstance) => Promise<void> | void
  /**
   * Plugin options over the world's (store, TEST_KEY, the simulator's base URL, JWT_SECRET, token
   * refresh off). `auth`, `tokenRefresh` and `sync` are merged key by key; pass
   * `auth: { jwtSecret: undefined }` for a plugin without its own session secret.
   */
  plugin?: Partial<FastifyDiscordSyncOptions>
}

export interface RecordedResponse {
  method: string
  url: string
  statusCode: number
  headers: string
  body: string
}

/** A response as the route that answered it saw it (the route pattern, not the URL). */
export interface ServedResponse {
  method: string
  /** Fastify's route pattern (`/discord/guilds/:guild_id`); undefined when no route matched. */
  route: string | undefined
  statusCode: number
}

export interface DiscordCall {
  method: string
  route: string | null
  /** Guild (or channel) id the call was about. */
  majorId: string
  status: number
  reason?: string
}

export interface HttpAnswer { status: number, body: any, text: string, headers: Headers }

/** Who a request is sent as: a name from `users`, or an identity. */
export type As = string | Identity

export interface World {
  app: FastifyInstance
  /** The simulator; absent in a world built with `sim: false`. */
  sim: DiscordSimulator
  store: DiscordStore
  /** The SQLite handle the store runs on (absent when `plugin.store` named another). */
  db: Database.Database
  /** The SQLite file with `store: 'file'`. */
  dbPath: string | undefined
  membership: TestMembership
  /** The listening address with `listen`. */
  baseUrl: string
  /** Where this app serves its OpenAPI document. */
  openapiUrl: string
  /** Every route registered on the app, as onRoute saw it. */
  routes: Array<{ method: string, url: string }>
  responses: RecordedResponse[]
  served: ServedResponse[]
  /** message + stack of every error an onError hook saw. */
  hookErrors: string[]
  logLines: string[]
  /** The binding cookie value set when each OAuth flow started, by state. */
  bindings: Map<string, string>
  /** `app.inject`, recorded; `as` sends that user's session (Bearer, or the session cookie with `cookie`). */
  inject: (opts: InjectOptions & { as?: As, cookie?: boolean }) => Promise<LightMyRequestResponse>
  /** Real HTTP to the listening app; `path` is under the route prefix. `as: null` is anonymous. */
  call: (method: string, path: string, opts?: { as?: As | null, body?: unknown }) => Promise<HttpAnswer>
  /**
   * GET <prefix>/auth/callback with these parameters (an object, or a query string such as
   * Discord's redirect `?code=..&state=..`) from the browser that started the flow: with the
   * binding cookie of its state when one was set.
   */
  callback: (params: Record<string, string> | string, headers?: Record<string, string>) => Promise<LightMyRequestResponse>
  /** A session JWT signed the way the plugin signs login sessions. */
  tokenFor: (who: As) => string
  /** Current role ids of a simulated member, sorted. */
  roles: (guildId: string, userId: string) => string[]
  /** Requests the plugin sent to the simulator: method + route template. */
  discordCalls: (filter?: (r: DiscordCall) => boolean) => DiscordCall[]
  /** Every row of every table, as text: equal before and after means the store did not change. */
  snapshot: () => string
  /** Rows the store's connection has inserted, updated or deleted so far (SQLite total_changes()). */
  changes: () => number
  /** The SQLite file and its WAL/journal side files, raw (`store: 'file'`). */
  rawDatabase: () => Buffer
  close: () => Promise<void>
}

export async function buildWorld (options: WorldOptions = {}): Promise<World> {
  const sim = await simulatorFor(options)
  if (options.oauth !== undefined && sim !== undefined && sim.state.getOAuthApp(options.oauth.clientId) === undefined) {
    const o = options.oauth
    sim.state.addOAuthApp({ client_id: o.clientId, client_secret: o.clientSecret, redirect_uris: [o.redirectUri], name: 'Falcon' })
  }
  const plugin = options.plugin ?? {}
  const dir = options.store === 'file' && plugin.store === undefined ? mkdtempSync(join(tmpdir(), 'discord-world-')) : undefined
  const dbPath = dir === undefined ? undefined : join(dir, 'discord.sqlite')
  const db = plugin.store === undefined ? new Database(dbPath ?? ':memory:') : undefined

  const logLines: string[] = Array.isArray(options.logs) ? options.logs : []
  const stream = new Writable({ write (chunk, _enc, done) { logLines.push(String(chunk)); done() } })
  const app = Fastify({ ...options.fastify, logger: options.logs === undefined || options.logs === false ? options.logger ?? false : { level: 'trace', stream } })
  const routes: Array<{ method: string, url: string }> = []
  const hookErrors: string[] = []
  const served: ServedResponse[] = []
  // Root hooks, added before the plugin: its encapsulated route contexts inherit them.
  app.addHook('onRoute', (r) => {
    for (const method of Array.isArray(r.method) ? r.method : [r.method]) routes.push({ method, url: r.url })
  })
  app.addHook('onError', async (_request, _reply, err) => { hookErrors.push(`${err.message}\n${err.stack ?? ''}`) })
  app.addHook('onResponse', async (request, reply) => {
    served.push({ method: request.method, route: request.routeOptions.url, statusCode: reply.statusCode })
  })
  /** What the world opened besides the app: the simulator only when it created it (or was told to close it). */
  const release = async (): Promise<void> => {
    db?.close()
    if (sim !== undefined && (options.closeSim === true || !isSimulator(options.sim))) await sim.close()
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true })
  }
  const membership = new TestMembership()
  const o = options.oauth
  let baseUrl = ''
  try {
    if (options.before !== undefined) await options.before(app)
    await app.register(discordSync, {
      ...(db === undefined ? {} : { store: { type: 'sqlite', database: db } }),
      encryptionKey: TEST_KEY,
      ...(sim === undefined ? {} : { apiBaseUrl: sim.apiBaseUrl }),
      ...(o === undefined || sim === undefined ? {} : { discord: discordOptions(sim, o) }),
      ...(options.membership === true ? { membership } : {}),
      ...plugin,
      auth: { jwtSecret: JWT_SECRET, ...(options.frontend === undefined ? {} : { redirectUrls: [options.frontend] }), ...plugin.auth },
      tokenRefresh: { enabled: false, ...plugin.tokenRefresh },
      // Live events would add syncs of their own to suites about something else; test/live turns it on.
      gateway: { enabled: false, ...plugin.gateway }
    } as FastifyDiscordSyncOptions)
    if (options.after !== undefined) await options.after(app)
    await app.ready()
    baseUrl = options.listen === true ? await app.listen({ host: '127.0.0.1', port: 0 }) : ''
  } catch (err) {
    // A world that failed to start must not leave its simulator, database or port behind.
    await app.close().catch(() => {})
    await release()
    throw err
  }
  const prefix = `${(plugin as { prefix?: string }).prefix ?? ''}${plugin.routePrefix ?? '/discord'}`

  const identity = (who: As): Identity => {
    if (typeof who !== 'string') return who
    const user = options.users?.[who]
    if (user === undefined) throw new Error(`world: no user named ${who}`)
    return user
  }
  const tokenFor = (who: As): string => app.discord.auth.issue(identity(who)).token
  const responses: RecordedResponse[] = []
  const bindings = new Map<string, string>()
  const inject = async ({ as, cookie, ...opts }: InjectOptions & { as?: As, cookie?: boolean }): Promise<LightMyRequestResponse> => {
    const headers: Record<string, string> = { ...(opts.headers as Record<string, string> | undefined) }
    if (as !== undefined) {
      const token = tokenFor(as)
      if (cookie === true) {
        headers.cookie = `falcon_auth_token=${token}`
        // What the admin UI's scripts send with cookie sessions (the plugin's CSRF proof for writes).
        headers['x-requested-with'] ??= 'XMLHttpRequest'
      } else {
        headers.authorization = `Bearer ${token}`
      }
    }
    const res = await app.inject(as === undefined ? opts : { ...opts, headers })
    responses.push({ method: String(opts.method ?? 'GET'), url: String(opts.url), statusCode: res.statusCode, headers: JSON.stringify(res.headers), body: res.body })
    const binding = sessionCookie(res, STATE_BINDING_COOKIE)
    const state = binding === null || binding.value === '' ? undefined : stateOf(res)
    if (state !== undefined) bindings.set(state, (binding as { value: string }).value)
    return res
  }

  return {
    app,
    // A world without Discord has no simulator; suites that build one never read it.
    sim: sim as DiscordSimulator,
    store: app.discord.store,
    db: db as Database.Database,
    dbPath,
    membership,
    baseUrl,
    openapiUrl: `${prefix}/openapi.json`,
    routes,
    responses,
    served,
    hookErrors,
    logLines,
    bindings,
    inject,
    async call (method, path, opts = {}) {
      if (baseUrl === '') throw new Error('world: call needs { listen: true }')
      const headers: Record<string, string> = {}
      const as = opts.as === undefined ? options.defaultAs ?? null : opts.as
      if (as !== null) headers.authorization = `Bearer ${tokenFor(as)}`
      if (opts.body !== undefined) headers['content-type'] = 'application/json'
      const res = await fetch(`${baseUrl}${prefix}${path}`, { method, headers, ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}) })
      const text = await res.text()
      let body: unknown = null
      try { body = JSON.parse(text) } catch { body = null }
      return { status: res.status, body, text, headers: res.headers }
    },
    async callback (params, headers = {}) {
      const query = new URLSearchParams(params)
      const binding = bindings.get(query.get('state') ?? '')
      const cookie = binding === undefined ? {} : { cookie: `${STATE_BINDING_COOKIE}=${binding}` }
      return await inject({ method: 'GET', url: `${prefix}/auth/callback?${query.toString()}`, headers: { ...cookie, ...headers } })
    },
    tokenFor,
    roles (guildId, userId) {
      return [...(sim?.state.memberRoles(guildId, userId) ?? [])].sort()
    },
    discordCalls (filter) {
      return (sim?.requests ?? [])
        .map((r) => ({ method: r.method, route: r.route, majorId: r.majorId, status: r.status, ...(r.reason !== undefined ? { reason: r.reason } : {}) }))
        .filter((r) => filter === undefined || filter(r))
    },
    snapshot: () => dumpDatabase(db as Database.Database),
    changes: () => (db as Database.Database).prepare('SELECT total_changes()').pluck().get() as number,
    rawDatabase: () => dir === undefined ? Buffer.alloc(0) : Buffer.concat(readdirSync(dir).map((f) => readFileSync(join(dir, f)))),
    async close () {
      await app.close()
      await release()
    }
  }
}

/** The state of a flow a JSON answer started (a redirect, such as the admin UI's sign-in, carries it in Location). */
function stateOf (res: LightMyRequestResponse): string | undefined {
  const location = res.headers.location
  if (typeof location === 'string') return new URL(location, 'http://host.test').searchParams.get('state') ?? undefined
  try { return (res.json() as { state?: string }).state } catch { return undefined }
}

function isSimulator (sim: WorldOptions['sim']): sim is DiscordSimulator {
  return typeof sim === 'object' && 'state' in sim
}

async function simulatorFor (options: WorldOptions): Promise<DiscordSimulator | undefined> {
  if (options.sim === false) return undefined
  if (isSimulator(options.sim)) return options.sim
  const sim = await createDiscordSimulator({ ...generousLimits(), ...options.sim })
  options.seed?.(sim)
  return sim
}

/** The plugin's `discord` option for an OAuth application on the simulator. */
export function discordOptions (sim: DiscordSimulator, app: OAuthApp): NonNullable<FastifyDiscordSyncOptions['discord']> {
  // The simulator app's Ed25519 key, when it has one: Webhook Events are on, as in a full deployment.
  const publicKey = sim.state.getOAuthApp(app.clientId)?.verify_key
  return {
    clientId: app.clientId,
    clientSecret: app.clientSecret,
    redirectUri: app.redirectUri,
    apiBaseUrl: sim.apiBaseUrl,
    authorizeUrl: `${sim.url}/oauth2/authorize`,
    ...(publicKey === undefined ? {} : { publicKey })
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
