import { Type, type Static } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'
import type { Redis } from 'ioredis'
import type { Db, MongoClient } from 'mongodb'
import type Database from 'better-sqlite3'
import { InvalidOptionsError } from './errors.js'
import type { DiscordStore } from './store/port/index.js'
import { parseDuration } from './util/duration.js'
import { parseKey } from './store/crypto.js'
import type { IsAdminHook, ResolveUserHook } from './auth/types.js'
import type { Registry } from 'prom-client'
import { isMembershipProvider, type MembershipProvider } from './sync/membership.js'

/*
 * Options are validated and normalised once, at register. Everything downstream
 * reads `ResolvedOptions` and never re-checks user input.
 */

/** Scopes a login/link flow may request. Anything else is refused (least privilege). */
export const ALLOWED_SCOPES = Object.freeze([
  'identify', 'email', 'guilds', 'guilds.join', 'guilds.members.read', 'connections', 'role_connections.write'
])

const Duration = Type.Union([
  Type.String({ pattern: '^\\s*(\\d+|(\\d+(\\.\\d+)?(ms|s|m|h|d))+)\\s*$' }),
  Type.Integer({ minimum: 0 })
], { description: 'Go-style duration ("15m", "1h30m") or milliseconds' })

const Snowflakeish = Type.String({ pattern: '^\\d{17,20}$' })

const DiscordAppSchema = Type.Object({
  clientId: Snowflakeish,
  clientSecret: Type.String({ minLength: 1 }),
  redirectUri: Type.String({ pattern: '^https?://[^\\s]+$' }),
  scopes: Type.Optional(Type.Union([Type.String(), Type.Array(Type.String())])),
  apiBaseUrl: Type.Optional(Type.String({ pattern: '^https?://' })),
  authorizeUrl: Type.Optional(Type.String({ pattern: '^https?://' }))
}, { additionalProperties: false })

const AuthSchema = Type.Object({
  jwtSecret: Type.Optional(Type.Unknown()),
  cookieName: Type.Optional(Type.String({ pattern: '^[!#$%&\'*+.^_`|~0-9A-Za-z-]{1,64}$' })),
  cookieSecure: Type.Optional(Type.Boolean()),
  cookiePath: Type.Optional(Type.String({ pattern: '^/[^\\s;]*$' })),
  cookieDomain: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9.-]{1,253}$' })),
  sessionExpiry: Type.Optional(Duration),
  userIdClaim: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
  permissionsClaim: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
  adminPermission: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
  isAdmin: Type.Optional(Type.Unknown()),
  resolveUser: Type.Optional(Type.Unknown()),
  redirectUrls: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 2048 }), { maxItems: 100 })),
  bindStateToBrowser: Type.Optional(Type.Boolean())
}, { additionalProperties: false })

const TokenRefreshSchema = Type.Object({
  enabled: Type.Optional(Type.Boolean()),
  interval: Type.Optional(Duration),
  batchSize: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
  concurrency: Type.Optional(Type.Integer({ minimum: 1, maximum: 50 })),
  lockTtl: Type.Optional(Duration),
  retention: Type.Optional(Duration)
}, { additionalProperties: false })

const HealthCheckSchema = Type.Object({
  enabled: Type.Optional(Type.Boolean()),
  interval: Type.Optional(Duration),
  lockTtl: Type.Optional(Duration)
}, { additionalProperties: false })

const RateLimitSchema = Type.Union([
  Type.Literal(false),
  Type.Object({
    max: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000 })),
    timeWindow: Type.Optional(Duration)
  }, { additionalProperties: false })
])

const SyncSchema = Type.Object({
  enabled: Type.Optional(Type.Boolean()),
  workers: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })),
  guildConcurrency: Type.Optional(Type.Integer({ minimum: 1, maximum: 50 })),
  lockTtl: Type.Optional(Duration),
  heartbeatInterval: Type.Optional(Duration),
  staleAfter: Type.Optional(Duration),
  roleCacheTtl: Type.Optional(Duration),
  retention: Type.Optional(Duration),
  cleanupInterval: Type.Optional(Duration),
  schedulerTick: Type.Optional(Duration),
  waitTimeout: Type.Optional(Duration),
  syncOnLink: Type.Optional(Type.Boolean()),
  auditChannel: Type.Optional(Type.Boolean())
}, { additionalProperties: false })

const MetricsSchema = Type.Object({
  enabled: Type.Optional(Type.Boolean()),
  registry: Type.Optional(Type.Unknown()),
  prefix: Type.Optional(Type.String({ pattern: '^[a-zA-Z_:][a-zA-Z0-9_:]{0,63}$' })),
  route: Type.Optional(Type.Boolean()),
  access: Type.Optional(Type.Union([Type.Literal('admin'), Type.Literal('public')]))
}, { additionalProperties: false })

/** Every option the plugin accepts (exported for the README check in test/plugin.test.ts; not part of the package API). */
export const OptionsSchema = Type.Object({
  routePrefix: Type.Optional(Type.String({ pattern: '^(/[A-Za-z0-9._~-]+)*$' })),
  store: Type.Optional(Type.Unknown()),
  encryptionKey: Type.Optional(Type.Union([Type.String({ minLength: 1 }), Type.Array(Type.String({ minLength: 1 }), { minItems: 1 })])),
  redis: Type.Optional(Type.Unknown()),
  redisKeyPrefix: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
  discord: Type.Optional(DiscordAppSchema),
  apiBaseUrl: Type.Optional(Type.String({ pattern: '^https?://' })),
  stateExpiry: Type.Optional(Duration),
  tokenRefreshThreshold: Type.Optional(Duration),
  syncInterval: Type.Optional(Duration),
  auth: Type.Optional(AuthSchema),
  tokenRefresh: Type.Optional(TokenRefreshSchema),
  healthCheck: Type.Optional(HealthCheckSchema),
  rateLimit: Type.Optional(RateLimitSchema),
  openapi: Type.Optional(Type.Boolean()),
  membership: Type.Optional(Type.Unknown()),
  sync: Type.Optional(SyncSchema),
  metrics: Type.Optional(MetricsSchema),
  adminUi: Type.Optional(Type.Boolean())
}, { additionalProperties: false })

type RawOptions = Static<typeof OptionsSchema>

/** How the plugin should build its store when the host does not pass one. */
export type StoreOption =
  | DiscordStore
  | { type: 'sqlite', path?: string, database?: Database.Database }
  | { type: 'mongodb', uri?: string, dbName?: string, db?: Db, client?: MongoClient, collectionPrefix?: string }

export interface DiscordAppOptions {
  /** OAuth2 application (client) id. */
  clientId: string
  /** OAuth2 client secret. Never logged or returned. */
  clientSecret: string
  /** Redirect URI registered with Discord for the callback route. */
  redirectUri: string
  /** Default scopes for login, space-separated or a list. @default 'identify guilds' */
  scopes?: string | string[]
  /** Discord REST base URL. @default 'https://discord.com/api/v10' (falls back to the top-level `apiBaseUrl`) */
  apiBaseUrl?: string
  /** OAuth2 authorize page. @default 'https://discord.com/oauth2/authorize' */
  authorizeUrl?: string
}

/** A symmetric secret (at least 32 characters) or an asymmetric key pair, as @fastify/jwt takes them. */
export type JwtSecretOption = string | Buffer | { private: string | Buffer, public: string | Buffer }

/** Sessions, authorisation and redirects. */
export interface AuthOptions {
  /**
   * Signs and verifies session JWTs. When omitted and the host registered @fastify/jwt
   * before this plugin, the host's `fastify.jwt` is reused; when neither exists, routes that
   * need a session answer 503 FST_DISCORD_AUTH_NOT_CONFIGURED. Never logged or returned.
   */
  jwtSecret?: JwtSecretOption
  /** Cookie carrying the session JWT (the alternative to `Authorization: Bearer`). @default 'falcon_auth_token' */
  cookieName?: string
  /** `Secure` attribute of the session cookie. Set false only for plain-http development. @default true */
  cookieSecure?: boolean
  /** `Path` of the session cookie. @default '/' */
  cookiePath?: string
  /** `Domain` of the session cookie. @default unset (host-only cookie) */
  cookieDomain?: string
  /** Lifetime of a session issued by the login flow (JWT `exp` and cookie Max-Age). @default '24h' */
  sessionExpiry?: string | number
  /** Claim holding the host user id. @default 'sub' */
  userIdClaim?: string
  /** Claim holding the list of permissions. @default 'permissions' */
  permissionsClaim?: string
  /** Permission that makes a caller an admin (ignored when `isAdmin` is given). @default 'discord:admin' */
  adminPermission?: string
  /** Host predicate deciding admin rights. @default user => user.permissions.includes(adminPermission) */
  isAdmin?: IsAdminHook
  /** Login flow: maps a Discord account to a host user id. @default the linked user, else a new UUID */
  resolveUser?: ResolveUserHook
  /**
   * Allowed `redirect_url` values: absolute http(s) URLs compared on origin and path exactly
   * (a query string on the request is kept; fragments and credentials are refused).
   * @default [] (no redirect_url accepted: the callback answers JSON)
   */
  redirectUrls?: string[]
  /**
   * Bind each OAuth flow to the browser that started it: `GET /auth/login` and `POST /auth/link`
   * (starting a flow) set a short-lived HttpOnly cookie, and `GET /auth/callback` refuses a state
   * without it (400 FST_DISCORD_OAUTH_BROWSER_MISMATCH). Without it, anyone who starts a flow can
   * make another person's browser complete it: a login as the attacker, or the victim's Discord
   * account linked to the attacker's user. Turn it off only for clients that send the user to
   * `auth_url` from somewhere other than where they called the API and complete the flow at
   * `GET /auth/callback` (completing with `POST /auth/link` needs no cookie: the session binds it).
   * @default true
   */
  bindStateToBrowser?: boolean
}

/** The scheduled refresh of users' Discord access tokens. */
export interface TokenRefreshOptions {
  /** Run the task at all. @default true */
  enabled?: boolean
  /** Time between runs. @default '30m' */
  interval?: string | number
  /** Links read from the store per batch. @default 50 */
  batchSize?: number
  /** Refresh calls to Discord in flight at once. @default 5 */
  concurrency?: number
  /** With Redis: lifetime of the lock that lets one instance run at a time (renewed while running). @default '10m' */
  lockTtl?: string | number
  /** Each run is recorded in the store (`discord_task_runs`); records older than this are deleted. @default '90d' */
  retention?: string | number
}

/** The scheduled check of every enabled guild's bot (token, Manage Roles, mapped roles' hierarchy). */
export interface HealthCheckOptions {
  /** Run the task at all. @default true */
  enabled?: boolean
  /** Time between checks. @default '5m' */
  interval?: string | number
  /** With Redis: lifetime of the lock that lets one instance run the check at a time. @default '4m' */
  lockTtl?: string | number
}

/** Abuse protection of the plugin's own routes (per user when authenticated, per IP otherwise). */
export interface RateLimitOptions {
  /** Requests allowed per key and window. @default 120 */
  max?: number
  /** Window length. @default '1m' */
  timeWindow?: string | number
}

/** The role synchronisation engine and its scheduled tasks. */
export interface SyncOptions {
  /** Run scheduled syncs (each enabled guild with auto_sync at its own sync_interval) and the retention cleanup. @default true */
  enabled?: boolean
  /** Members applied at once per guild (p-limit); Discord's shared rate limits set the real pace. @default 5 */
  workers?: number
  /** Guilds synced at once within one run. @default 2 */
  guildConcurrency?: number
  /** Lifetime of a guild's sync lock (Redis when configured, in-process otherwise); renewed on every heartbeat, so it only lapses when its holder dies. @default '2m' */
  lockTtl?: string | number
  /** How often a running run writes its heartbeat and progress to the store. @default '15s' */
  heartbeatInterval?: string | number
  /** A running run without a heartbeat for this long is failed as interrupted at the next start-up. @default '2m' */
  staleAfter?: string | number
  /** How long guild roles and the bot's position are cached (refreshed early on 10011/50013). @default '5m' */
  roleCacheTtl?: string | number
  /** Run records and audit entries older than this are pruned. @default '90d' */
  retention?: string | number
  /** How often the retention cleanup runs. @default '6h' */
  cleanupInterval?: string | number
  /** How often the scheduler looks for guilds whose sync_interval has elapsed. @default '1m' */
  schedulerTick?: string | number
  /** POST /sync/manual with wait=true waits this long for the run before answering 202. @default '30s' */
  waitTimeout?: string | number
  /** Sync a user's roles right after a successful OAuth link. @default true */
  syncOnLink?: boolean
  /** Post a summary to a guild's audit_channel_id after a run with changes. @default true */
  auditChannel?: boolean
}

/** Prometheus metrics (prom-client). */
export interface MetricsOptions {
  /** Collect metrics at all. @default true */
  enabled?: boolean
  /** A prom-client Registry to register into (for one host-wide scrape). @default a registry of the plugin's own */
  registry?: Registry
  /** Prefix of every metric name. @default 'discord_sync_' */
  prefix?: string
  /** Serve GET {routePrefix}/metrics. @default true */
  route?: boolean
  /** Who may read GET /metrics: admins only, or anyone (put it behind your network policy). @default 'admin' */
  access?: 'admin' | 'public'
}

export interface FastifyDiscordSyncOptions {
  /** Prefix of every route the plugin mounts. @default '/discord' */
  routePrefix?: string
  /**
   * A ready store (never closed by the plugin), or how to build one.
   * @default { type: 'sqlite', path: './data/discord.sqlite' }
   */
  store?: StoreOption
  /**
   * Base64 32-byte AES-256-GCM key(s) for secrets at rest, newest first. The first seals,
   * all open. Required unless a ready `store` instance is passed.
   */
  encryptionKey?: string | string[]
  /** An ioredis instance (never closed by the plugin) or a redis:// URL (opened and closed by the plugin). Optional. */
  redis?: Redis | string
  /** Prefix for every Redis key the plugin writes. @default 'discord-sync:' */
  redisKeyPrefix?: string
  /** The Discord application. When absent, Discord-dependent routes answer 503 FST_DISCORD_NOT_CONFIGURED. */
  discord?: DiscordAppOptions
  /** Discord REST base URL for bot calls. @default 'https://discord.com/api/v10' */
  apiBaseUrl?: string
  /** Lifetime of an OAuth state. @default '10m' */
  stateExpiry?: string | number
  /** Refresh access tokens expiring within this window. @default '24h' */
  tokenRefreshThreshold?: string | number
  /** Default interval between automatic guild syncs. @default '15m' */
  syncInterval?: string | number
  /** Sessions, authorisation and redirects. */
  auth?: AuthOptions
  /** The scheduled refresh of users' Discord access tokens. */
  tokenRefresh?: TokenRefreshOptions
  /** The scheduled bot health check of enabled guilds. */
  healthCheck?: HealthCheckOptions
  /**
   * Rate limit of the plugin's routes (@fastify/rate-limit; shared through Redis when configured),
   * or false to leave it to the host. @default { max: 120, timeWindow: '1m' }
   */
  rateLimit?: false | RateLimitOptions
  /** Serve the OpenAPI 3 document of the plugin's routes at GET {routePrefix}/openapi.json. @default true */
  openapi?: boolean
  /**
   * Where entitlements come from: for a host user id, its groups, character count and
   * permissions. Without it the sync routes answer 503 FST_DISCORD_SYNC_NOT_CONFIGURED and no
   * sync runs: the plugin then writes no role at all (unlink removals stay queued until a provider
   * is configured). @default none
   */
  membership?: MembershipProvider
  /** The role synchronisation engine. */
  sync?: SyncOptions
  /** Prometheus metrics. */
  metrics?: MetricsOptions
  /**
   * Serve the admin web UI at GET {routePrefix}/admin/ (static files, no CDN). Its sign-in
   * sends the browser back to the UI, so the UI's URL must be allowed: it is added to
   * `auth.redirectUrls` automatically when `discord.redirectUri` ends in `/auth/callback`
   * (the UI lives beside the callback); otherwise add it yourself. @default false
   */
  adminUi?: boolean
}

export interface ResolvedAuthOptions {
  jwtSecret: JwtSecretOption | null
  cookieName: string
  cookieSecure: boolean
  cookiePath: string
  cookieDomain: string | null
  sessionExpiryMs: number
  userIdClaim: string
  permissionsClaim: string
  adminPermission: string
  isAdmin: IsAdminHook | null
  resolveUser: ResolveUserHook | null
  /** Normalised `origin + pathname` of each allowed redirect. */
  redirectUrls: string[]
  bindStateToBrowser: boolean
}

export interface ResolvedTokenRefreshOptions {
  enabled: boolean
  intervalMs: number
  batchSize: number
  concurrency: number
  lockTtlMs: number
  retentionMs: number
}

export interface ResolvedHealthCheckOptions {
  enabled: boolean
  intervalMs: number
  lockTtlMs: number
}

export interface ResolvedRateLimitOptions {
  max: number
  timeWindowMs: number
}

export interface ResolvedDiscordApp {
  clientId: string
  clientSecret: string
  redirectUri: string
  scopes: string[]
  authorizeUrl: string
}

export interface ResolvedSyncOptions {
  enabled: boolean
  workers: number
  guildConcurrency: number
  lockTtlMs: number
  heartbeatMs: number
  staleAfterMs: number
  roleCacheTtlMs: number
  retentionMs: number
  cleanupIntervalMs: number
  schedulerTickMs: number
  waitTimeoutMs: number
  syncOnLink: boolean
  auditChannel: boolean
}

export interface ResolvedMetricsOptions {
  enabled: boolean
  registry: Registry | null
  prefix: string
  route: boolean
  access: 'admin' | 'public'
}

export interface ResolvedOptions {
  routePrefix: string
  store: StoreOption
  storeIsHostOwned: boolean
  encryptionKeys: string[] | null
  redis: Redis | string | null
  redisKeyPrefix: string
  discord: ResolvedDiscordApp | null
  apiBaseUrl: string
  stateExpiryMs: number
  tokenRefreshThresholdMs: number
  syncIntervalMs: number
  auth: ResolvedAuthOptions
  tokenRefresh: ResolvedTokenRefreshOptions
  healthCheck: ResolvedHealthCheckOptions
  /** null when disabled (`rateLimit: false`). */
  rateLimit: ResolvedRateLimitOptions | null
  openapi: boolean
  membership: MembershipProvider | null
  sync: ResolvedSyncOptions
  metrics: ResolvedMetricsOptions
  adminUi: boolean
}

export const DEFAULT_OPTIONS = Object.freeze({
  routePrefix: '/discord',
  sqlitePath: './data/discord.sqlite',
  redisKeyPrefix: 'discord-sync:',
  apiBaseUrl: 'https://discord.com/api/v10',
  authorizeUrl: 'https://discord.com/oauth2/authorize',
  scopes: ['identify', 'guilds'],
  stateExpiry: '10m',
  tokenRefreshThreshold: '24h',
  syncInterval: '15m',
  auth: Object.freeze({
    cookieName: 'falcon_auth_token',
    cookieSecure: true,
    cookiePath: '/',
    sessionExpiry: '24h',
    userIdClaim: 'sub',
    permissionsClaim: 'permissions',
    adminPermission: 'discord:admin',
    bindStateToBrowser: true
  }),
  tokenRefresh: Object.freeze({
    enabled: true,
    interval: '30m',
    batchSize: 50,
    concurrency: 5,
    lockTtl: '10m',
    retention: '90d'
  }),
  healthCheck: Object.freeze({
    enabled: true,
    interval: '5m',
    lockTtl: '4m'
  }),
  rateLimit: Object.freeze({
    max: 120,
    timeWindow: '1m'
  }),
  openapi: true,
  sync: Object.freeze({
    enabled: true,
    workers: 5,
    guildConcurrency: 2,
    lockTtl: '2m',
    heartbeatInterval: '15s',
    staleAfter: '2m',
    roleCacheTtl: '5m',
    retention: '90d',
    cleanupInterval: '6h',
    schedulerTick: '1m',
    waitTimeout: '30s',
    syncOnLink: true,
    auditChannel: true
  }),
  metrics: Object.freeze({
    enabled: true,
    prefix: 'discord_sync_',
    route: true,
    access: 'admin' as const
  }),
  adminUi: false
})

function fail (option: string, why: string): never {
  throw new InvalidOptionsError(`"${option}": ${why}`)
}

function isStoreInstance (v: unknown): v is DiscordStore {
  return typeof v === 'object' && v !== null &&
    ['init', 'ping', 'close', 'createUser', 'consumeOAuthState'].every((m) => typeof (v as Record<string, unknown>)[m] === 'function')
}

function isRedisLike (v: unknown): v is Redis {
  return typeof v === 'object' && v !== null &&
    ['ping', 'quit', 'evalsha', 'get', 'set'].every((m) => typeof (v as Record<string, unknown>)[m] === 'function')
}

function resolveStore (store: unknown): { store: StoreOption, hostOwned: boolean } {
  if (store === undefined) return { store: { type: 'sqlite', path: DEFAULT_OPTIONS.sqlitePath }, hostOwned: false }
  if (isStoreInstance(store)) return { store, hostOwned: true }
  if (typeof store !== 'object' || store === null) fail('store', 'must be a DiscordStore instance or { type: "sqlite" | "mongodb", ... }')
  const s = store as Record<string, unknown>
  if (s.type === 'sqlite') {
    for (const k of Object.keys(s)) if (!['type', 'path', 'database'].includes(k)) fail(`store.${k}`, 'is not a sqlite store option')
    if (s.path !== undefined && (typeof s.path !== 'string' || s.path.length === 0)) fail('store.path', 'must be a non-empty file path or ":memory:"')
    if (s.database !== undefined && (typeof s.database !== 'object' || s.database === null || typeof (s.database as { prepare?: unknown }).prepare !== 'function')) {
      fail('store.database', 'must be a better-sqlite3 Database')
    }
    return { store: { type: 'sqlite', path: (s.path as string | undefined) ?? DEFAULT_OPTIONS.sqlitePath, database: s.database as Database.Database | undefined }, hostOwned: false }
  }
  if (s.type === 'mongodb') {
    for (const k of Object.keys(s)) if (!['type', 'uri', 'dbName', 'db', 'client', 'collectionPrefix'].includes(k)) fail(`store.${k}`, 'is not a mongodb store option')
    const sources = ['uri', 'db', 'client'].filter((k) => s[k] !== undefined)
    if (sources.length !== 1) fail('store', 'mongodb needs exactly one of uri, db or client')
    if (s.uri !== undefined && (typeof s.uri !== 'string' || !/^mongodb(\+srv)?:\/\//.test(s.uri))) fail('store.uri', 'must be a mongodb:// or mongodb+srv:// URI')
    if ((s.uri !== undefined || s.client !== undefined) && (typeof s.dbName !== 'string' || s.dbName.length === 0)) fail('store.dbName', 'is required with uri or client')
    // MongoDB's naming rules (any platform): the driver accepts such a name and the server refuses it at the first write.
    if (typeof s.dbName === 'string' && (Buffer.byteLength(s.dbName) > 63 || /[/\\. "$*<>:|?\0]/.test(s.dbName))) {
      fail('store.dbName', 'must be a MongoDB database name: at most 63 bytes, none of / \\ . " $ * < > : | ? space or NUL')
    }
    if (s.db !== undefined && s.dbName !== undefined) fail('store.dbName', 'must not be set with db (the Db already names its database)')
    if (s.db !== undefined && (typeof s.db !== 'object' || s.db === null || typeof (s.db as { collection?: unknown }).collection !== 'function')) fail('store.db', 'must be a mongodb Db')
    if (s.client !== undefined && (typeof s.client !== 'object' || s.client === null || typeof (s.client as { db?: unknown }).db !== 'function')) fail('store.client', 'must be a MongoClient')
    if (s.collectionPrefix !== undefined && (typeof s.collectionPrefix !== 'string' || !/^[A-Za-z0-9_]{1,32}$/.test(s.collectionPrefix))) fail('store.collectionPrefix', 'must be 1-32 letters, digits or underscores')
    return { store: s as StoreOption, hostOwned: false }
  }
  return fail('store.type', 'must be "sqlite" or "mongodb"')
}

function resolveScopes (value: string | string[] | undefined, option: string): string[] {
  if (value === undefined) return [...DEFAULT_OPTIONS.scopes]
  const list = (Array.isArray(value) ? value : value.split(/[\s+]+/)).map((s) => s.trim()).filter(Boolean)
  if (list.length === 0) fail(option, 'must name at least one scope')
  for (const s of list) if (!ALLOWED_SCOPES.includes(s)) fail(option, `scope "${s}" is not allowed (allowed: ${ALLOWED_SCOPES.join(', ')})`)
  return [...new Set(list)]
}

function duration (value: string | number | undefined, fallback: string, option: string, minMs: number): number {
  const ms = parseDuration(value ?? fallback)
  if (ms === null) fail(option, 'must be a duration like "15m" or a number of milliseconds')
  if (ms < minMs) fail(option, `must be at least ${minMs} ms`)
  return ms
}

function resolveJwtSecret (value: unknown): JwtSecretOption | null {
  if (value === undefined) return null
  if (typeof value === 'string') {
    // HS256 needs at least 256 bits; a short secret is brute-forceable offline from any issued token.
    if (value.length < 32) fail('auth.jwtSecret', 'must be at least 32 characters')
    return value
  }
  if (Buffer.isBuffer(value)) {
    if (value.length < 32) fail('auth.jwtSecret', 'must be at least 32 bytes')
    return value
  }
  if (typeof value === 'object' && value !== null) {
    const pair = value as Record<string, unknown>
    const isKey = (k: unknown): boolean => (typeof k === 'string' && k.length > 0) || Buffer.isBuffer(k)
    if (Object.keys(pair).every((k) => k === 'private' || k === 'public') && isKey(pair.private) && isKey(pair.public)) {
      return { private: pair.private as string | Buffer, public: pair.public as string | Buffer }
    }
  }
  return fail('auth.jwtSecret', 'must be a string of at least 32 characters, a Buffer, or { private, public } PEM keys')
}

/** Normalises an allowed redirect to `origin + pathname`, the exact form requests are compared on. */
export function normaliseRedirectUrl (value: string): string | null {
  let u: URL
  try { u = new URL(value) } catch { return null }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return null
  if (u.username !== '' || u.password !== '' || u.hash !== '') return null
  return u.origin + u.pathname
}

function resolveAuth (a: Static<typeof AuthSchema> | undefined): ResolvedAuthOptions {
  const d = DEFAULT_OPTIONS.auth
  const o = a ?? {}
  if (o.isAdmin !== undefined && typeof o.isAdmin !== 'function') fail('auth.isAdmin', 'must be a function (user, request) => boolean')
  if (o.resolveUser !== undefined && typeof o.resolveUser !== 'function') fail('auth.resolveUser', 'must be a function (profile, context) => user id')
  const redirectUrls = (o.redirectUrls ?? []).map((v, i) => {
    if (v.includes('?')) fail(`auth.redirectUrls[${i}]`, 'must not carry a query string (requests are matched on origin and path)')
    return normaliseRedirectUrl(v) ?? fail(`auth.redirectUrls[${i}]`, 'must be an absolute http(s) URL without credentials or fragment')
  })
  return {
    jwtSecret: resolveJwtSecret(o.jwtSecret),
    cookieName: o.cookieName ?? d.cookieName,
    cookieSecure: o.cookieSecure ?? d.cookieSecure,
    cookiePath: o.cookiePath ?? d.cookiePath,
    cookieDomain: o.cookieDomain ?? null,
    sessionExpiryMs: duration(o.sessionExpiry, d.sessionExpiry, 'auth.sessionExpiry', 60_000),
    userIdClaim: o.userIdClaim ?? d.userIdClaim,
    permissionsClaim: o.permissionsClaim ?? d.permissionsClaim,
    adminPermission: o.adminPermission ?? d.adminPermission,
    isAdmin: (o.isAdmin as IsAdminHook | undefined) ?? null,
    resolveUser: (o.resolveUser as ResolveUserHook | undefined) ?? null,
    redirectUrls: [...new Set(redirectUrls)],
    bindStateToBrowser: o.bindStateToBrowser ?? d.bindStateToBrowser
  }
}

function resolveTokenRefresh (t: Static<typeof TokenRefreshSchema> | undefined): ResolvedTokenRefreshOptions {
  const d = DEFAULT_OPTIONS.tokenRefresh
  const o = t ?? {}
  return {
    enabled: o.enabled ?? d.enabled,
    intervalMs: duration(o.interval, d.interval, 'tokenRefresh.interval', 1_000),
    batchSize: o.batchSize ?? d.batchSize,
    concurrency: o.concurrency ?? d.concurrency,
    lockTtlMs: duration(o.lockTtl, d.lockTtl, 'tokenRefresh.lockTtl', 5_000),
    retentionMs: duration(o.retention, d.retention, 'tokenRefresh.retention', 3_600_000)
  }
}

function resolveHealthCheck (h: Static<typeof HealthCheckSchema> | undefined): ResolvedHealthCheckOptions {
  const d = DEFAULT_OPTIONS.healthCheck
  const o = h ?? {}
  return {
    enabled: o.enabled ?? d.enabled,
    // Each check costs four Discord calls per guild: under 30 s would spend rate limit for nothing.
    intervalMs: duration(o.interval, d.interval, 'healthCheck.interval', 30_000),
    lockTtlMs: duration(o.lockTtl, d.lockTtl, 'healthCheck.lockTtl', 5_000)
  }
}

function resolveRateLimit (r: Static<typeof RateLimitSchema> | undefined): ResolvedRateLimitOptions | null {
  if (r === false) return null
  const d = DEFAULT_OPTIONS.rateLimit
  return { max: r?.max ?? d.max, timeWindowMs: duration(r?.timeWindow, d.timeWindow, 'rateLimit.timeWindow', 1_000) }
}

function resolveSync (s: Static<typeof SyncSchema> | undefined): ResolvedSyncOptions {
  const d = DEFAULT_OPTIONS.sync
  const o = s ?? {}
  const heartbeatMs = duration(o.heartbeatInterval, d.heartbeatInterval, 'sync.heartbeatInterval', 1_000)
  const lockTtlMs = duration(o.lockTtl, d.lockTtl, 'sync.lockTtl', 5_000)
  const staleAfterMs = duration(o.staleAfter, d.staleAfter, 'sync.staleAfter', 5_000)
  // A live run renews its lock and heartbeat every heartbeat: both must outlast a few of them,
  // or a healthy run would be taken for dead.
  if (lockTtlMs < heartbeatMs * 2) fail('sync.lockTtl', 'must be at least twice sync.heartbeatInterval')
  if (staleAfterMs < heartbeatMs * 2) fail('sync.staleAfter', 'must be at least twice sync.heartbeatInterval')
  return {
    enabled: o.enabled ?? d.enabled,
    workers: o.workers ?? d.workers,
    guildConcurrency: o.guildConcurrency ?? d.guildConcurrency,
    lockTtlMs,
    heartbeatMs,
    staleAfterMs,
    roleCacheTtlMs: duration(o.roleCacheTtl, d.roleCacheTtl, 'sync.roleCacheTtl', 1_000),
    retentionMs: duration(o.retention, d.retention, 'sync.retention', 3_600_000),
    cleanupIntervalMs: duration(o.cleanupInterval, d.cleanupInterval, 'sync.cleanupInterval', 60_000),
    schedulerTickMs: duration(o.schedulerTick, d.schedulerTick, 'sync.schedulerTick', 1_000),
    waitTimeoutMs: duration(o.waitTimeout, d.waitTimeout, 'sync.waitTimeout', 0),
    syncOnLink: o.syncOnLink ?? d.syncOnLink,
    auditChannel: o.auditChannel ?? d.auditChannel
  }
}

function resolveMetrics (m: Static<typeof MetricsSchema> | undefined): ResolvedMetricsOptions {
  const d = DEFAULT_OPTIONS.metrics
  const o = m ?? {}
  // Duck-typed: a host may load prom-client through the other module format (another class identity).
  const r = o.registry as Record<string, unknown> | undefined
  if (r !== undefined && (typeof r !== 'object' || r === null || typeof r.registerMetric !== 'function' || typeof r.metrics !== 'function')) {
    fail('metrics.registry', 'must be a prom-client Registry')
  }
  return {
    enabled: o.enabled ?? d.enabled,
    registry: (o.registry as Registry | undefined) ?? null,
    prefix: o.prefix ?? d.prefix,
    route: o.route ?? d.route,
    access: o.access ?? d.access
  }
}

/** Turns a JSON pointer from a TypeBox error into the option path users wrote. */
function optionPath (pointer: string): string {
  return pointer.replace(/^\//, '').split('/').filter(Boolean).join('.') || '(root)'
}

export function resolveOptions (input: unknown): ResolvedOptions {
  const opts = (input ?? {}) as Record<string, unknown>
  if (typeof opts !== 'object' || Array.isArray(opts)) fail('(root)', 'options must be an object')
  // Fastify passes its own register options (prefix, logLevel...) through to the plugin.
  const { prefix: _p, logLevel: _l, logSerializers: _s, ...own } = opts
  const first = Value.Errors(OptionsSchema, own).First()
  if (first) fail(optionPath(first.path), first.message)
  const o = own as RawOptions

  const { store, hostOwned } = resolveStore(o.store)

  let encryptionKeys: string[] | null = null
  if (o.encryptionKey !== undefined) {
    encryptionKeys = Array.isArray(o.encryptionKey) ? o.encryptionKey : [o.encryptionKey]
    encryptionKeys.forEach((k, i) => {
      try { parseKey(k) } catch { fail(Array.isArray(o.encryptionKey) ? `encryptionKey[${i}]` : 'encryptionKey', 'must be base64 encoding of 32 bytes') }
    })
  } else if (!hostOwned) {
    fail('encryptionKey', 'is required when the plugin builds its own store (base64 of 32 random bytes, e.g. `openssl rand -base64 32`)')
  }

  if (o.redis !== undefined && typeof o.redis !== 'string' && !isRedisLike(o.redis)) fail('redis', 'must be an ioredis instance or a redis:// URL')
  if (typeof o.redis === 'string' && !/^rediss?:\/\//.test(o.redis)) fail('redis', 'must be a redis:// or rediss:// URL')

  const apiBaseUrl = (o.apiBaseUrl ?? o.discord?.apiBaseUrl ?? DEFAULT_OPTIONS.apiBaseUrl).replace(/\/+$/, '')
  if (o.discord) {
    for (const key of ['redirectUri', 'apiBaseUrl', 'authorizeUrl'] as const) {
      const v = o.discord[key]
      if (v !== undefined && !URL.canParse(v)) fail(`discord.${key}`, 'must be an absolute http(s) URL')
    }
  }
  if (o.apiBaseUrl !== undefined && !URL.canParse(o.apiBaseUrl)) fail('apiBaseUrl', 'must be an absolute http(s) URL')
  const discord: ResolvedDiscordApp | null = o.discord
    ? {
        clientId: o.discord.clientId,
        clientSecret: o.discord.clientSecret,
        redirectUri: o.discord.redirectUri,
        scopes: resolveScopes(o.discord.scopes, 'discord.scopes'),
        authorizeUrl: o.discord.authorizeUrl ?? DEFAULT_OPTIONS.authorizeUrl
      }
    : null

  const auth = resolveAuth(o.auth)
  const adminUi = o.adminUi ?? DEFAULT_OPTIONS.adminUi
  if (adminUi && discord !== null) {
    // The UI's sign-in returns to the UI itself. It is served beside the callback route, so its
    // public URL follows from the redirect URI the operator registered with Discord (same origin,
    // same mount point); a proxy that rewrites paths breaks the pattern and the host lists it instead.
    const match = /^(.*)\/auth\/callback$/.exec(normaliseRedirectUrl(discord.redirectUri) ?? '')
    if (match !== null && !auth.redirectUrls.includes(`${match[1] as string}/admin/`)) auth.redirectUrls.push(`${match[1] as string}/admin/`)
  }

  return {
    routePrefix: o.routePrefix ?? DEFAULT_OPTIONS.routePrefix,
    store,
    storeIsHostOwned: hostOwned,
    encryptionKeys,
    redis: (o.redis as Redis | string | undefined) ?? null,
    redisKeyPrefix: o.redisKeyPrefix ?? DEFAULT_OPTIONS.redisKeyPrefix,
    discord,
    apiBaseUrl,
    stateExpiryMs: duration(o.stateExpiry, DEFAULT_OPTIONS.stateExpiry, 'stateExpiry', 30_000),
    tokenRefreshThresholdMs: duration(o.tokenRefreshThreshold, DEFAULT_OPTIONS.tokenRefreshThreshold, 'tokenRefreshThreshold', 60_000),
    syncIntervalMs: duration(o.syncInterval, DEFAULT_OPTIONS.syncInterval, 'syncInterval', 60_000),
    auth,
    tokenRefresh: resolveTokenRefresh(o.tokenRefresh),
    healthCheck: resolveHealthCheck(o.healthCheck),
    rateLimit: resolveRateLimit(o.rateLimit),
    openapi: o.openapi ?? DEFAULT_OPTIONS.openapi,
    membership: resolveMembership(o.membership),
    sync: resolveSync(o.sync),
    metrics: resolveMetrics(o.metrics),
    adminUi
  }
}

function resolveMembership (value: unknown): MembershipProvider | null {
  if (value === undefined || value === null) return null
  if (!isMembershipProvider(value)) fail('membership', 'must be an object with getMembership(userId) (and optionally getMemberships(userIds))')
  return value
}
