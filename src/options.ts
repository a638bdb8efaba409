import { Type, type Static } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'
import type { Redis } from 'ioredis'
import type { Db, MongoClient } from 'mongodb'
import type Database from 'better-sqlite3'
import { InvalidOptionsError } from './errors.js'
import type { DiscordStore } from './store/port.js'
import { parseDuration } from './util/duration.js'
import { parseKey } from './store/crypto.js'

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

const OptionsSchema = Type.Object({
  routePrefix: Type.Optional(Type.String({ pattern: '^(/[A-Za-z0-9._~-]+)*$' })),
  store: Type.Optional(Type.Unknown()),
  encryptionKey: Type.Optional(Type.Union([Type.String({ minLength: 1 }), Type.Array(Type.String({ minLength: 1 }), { minItems: 1 })])),
  redis: Type.Optional(Type.Unknown()),
  redisKeyPrefix: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
  discord: Type.Optional(DiscordAppSchema),
  apiBaseUrl: Type.Optional(Type.String({ pattern: '^https?://' })),
  stateExpiry: Type.Optional(Duration),
  tokenRefreshThreshold: Type.Optional(Duration),
  syncInterval: Type.Optional(Duration)
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
}

export interface ResolvedDiscordApp {
  clientId: string
  clientSecret: string
  redirectUri: string
  scopes: string[]
  authorizeUrl: string
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
  syncInterval: '15m'
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
    syncIntervalMs: duration(o.syncInterval, DEFAULT_OPTIONS.syncInterval, 'syncInterval', 60_000)
  }
}
