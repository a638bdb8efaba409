import { Value } from '@sinclair/typebox/value'
import type { RedisConnection as Redis } from '../util/driver-types.js'
import { parseKey } from '../store/crypto.js'
import { isMembershipProvider, type MembershipProvider } from '../sync/membership.js'
import { normaliseRedirectUrl, resolveAuth, type ResolvedAuthOptions } from './auth.js'
import { DEFAULT_OPTIONS } from './defaults.js'
import { checkDiscordUrls, resolveDiscordApp, type ResolvedDiscordApp } from './discord-app.js'
import { groupOf } from './define.js'
import { durationMs, fail } from './fail.js'
import { resolveHealthCheck, type ResolvedHealthCheckOptions } from './health-check.js'
import { resolveJobs, type ResolvedJobsOptions } from './jobs.js'
import { resolveGateway, type ResolvedGatewayOptions } from './gateway.js'
import { resolveLinkedRoles, type ResolvedLinkedRoles } from './linked-roles.js'
import { resolveMetrics, type ResolvedMetricsOptions } from './metrics.js'
import { resolveRateLimit, type ResolvedRateLimitOptions } from './rate-limit.js'
import { resolveReadCache, type ResolvedReadCacheOptions } from './read-cache.js'
import { OptionsSchema, type FastifyDiscordSyncOptions } from './schema.js'
import { resolveStore, type StoreOption } from './store.js'
import { resolveSync, type ResolvedSyncOptions } from './sync.js'
import { resolveTokenRefresh, type ResolvedTokenRefreshOptions } from './token-refresh.js'

/*
 * Options are validated and normalised once, at register. Everything downstream
 * reads `ResolvedOptions` and never re-checks user input.
 */

export interface ResolvedOptions {
  routePrefix: string
  store: StoreOption
  storeIsHostOwned: boolean
  encryptionKeys: string[] | null
  redis: Redis | string | null
  redisKeyPrefix: string
  /** Budget of one Redis command (see the `redisCommandTimeout` option). */
  redisCommandTimeoutMs: number
  discord: ResolvedDiscordApp | null
  apiBaseUrl: string
  /** Discord's image CDN, without a trailing slash. */
  cdnBaseUrl: string
  stateExpiryMs: number
  tokenRefreshThresholdMs: number
  syncIntervalMs: number
  auth: ResolvedAuthOptions
  tokenRefresh: ResolvedTokenRefreshOptions
  healthCheck: ResolvedHealthCheckOptions
  gateway: ResolvedGatewayOptions
  /** null when disabled (`rateLimit: false`). */
  rateLimit: ResolvedRateLimitOptions | null
  /** null when disabled (`readCache: false`). */
  readCache: ResolvedReadCacheOptions | null
  openapi: boolean
  /** Serve the API reference page at /docs (only when `openapi` is on). */
  apiDocs: boolean
  membership: MembershipProvider | null
  sync: ResolvedSyncOptions
  /** Where background work runs (local scheduler or BullMQ). */
  jobs: ResolvedJobsOptions
  /** null when `linkedRoles` is not given. */
  linkedRoles: ResolvedLinkedRoles | null
  metrics: ResolvedMetricsOptions
  adminUi: boolean
}

function isRedisLike (v: unknown): v is Redis {
  return typeof v === 'object' && v !== null &&
    ['ping', 'quit', 'evalsha', 'get', 'set'].every((m) => typeof (v as Record<string, unknown>)[m] === 'function')
}

function resolveMembership (value: unknown): MembershipProvider | null {
  if (value === undefined || value === null) return null
  if (!isMembershipProvider(value)) fail('membership', 'must be an object with getMembership(userId) (and optionally getMemberships(userIds))')
  return value
}

/** Turns a JSON pointer from a TypeBox error into the option path users wrote. */
function optionPath (pointer: string): string {
  return pointer.replace(/^\//, '').split('/').filter(Boolean).join('.') || '(root)'
}

/**
 * The first schema error, where a group that may also be `false` (rateLimit, readCache...) names
 * its bad property instead of TypeBox's "Expected union value".
 */
function firstError (value: Record<string, unknown>): { path: string, message: string } | undefined {
  const first = Value.Errors(OptionsSchema, value).First()
  if (first === undefined) return undefined
  const group = Array.isArray(first.schema.anyOf) && typeof first.value === 'object' && first.value !== null ? groupOf(first.schema) : undefined
  const inner = group === undefined ? undefined : Value.Errors(group, first.value).First()
  return inner === undefined ? first : { path: first.path + inner.path, message: inner.message }
}

export function resolveOptions (input: unknown): ResolvedOptions {
  const opts = (input ?? {}) as Record<string, unknown>
  if (typeof opts !== 'object' || Array.isArray(opts)) fail('(root)', 'options must be an object')
  // Fastify passes its own register options (prefix, logLevel...) through to the plugin.
  const { prefix: _p, logLevel: _l, logSerializers: _s, ...own } = opts
  const first = firstError(own)
  if (first) fail(optionPath(first.path), first.message)
  const o = own as FastifyDiscordSyncOptions
  const p = OptionsSchema.properties

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
  if (o.discord) checkDiscordUrls(o.discord)
  if (o.apiBaseUrl !== undefined && !URL.canParse(o.apiBaseUrl)) fail('apiBaseUrl', 'must be an absolute http(s) URL')
  if (o.cdnBaseUrl !== undefined && !URL.canParse(o.cdnBaseUrl)) fail('cdnBaseUrl', 'must be an absolute http(s) URL')
  const discord = o.discord ? resolveDiscordApp(o.discord) : null

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
    redis: o.redis ?? null,
    redisKeyPrefix: o.redisKeyPrefix ?? DEFAULT_OPTIONS.redisKeyPrefix,
    redisCommandTimeoutMs: durationMs(o.redisCommandTimeout, p.redisCommandTimeout, 'redisCommandTimeout'),
    discord,
    apiBaseUrl,
    cdnBaseUrl: (o.cdnBaseUrl ?? DEFAULT_OPTIONS.cdnBaseUrl).replace(/\/+$/, ''),
    stateExpiryMs: durationMs(o.stateExpiry, p.stateExpiry, 'stateExpiry'),
    tokenRefreshThresholdMs: durationMs(o.tokenRefreshThreshold, p.tokenRefreshThreshold, 'tokenRefreshThreshold'),
    syncIntervalMs: durationMs(o.syncInterval, p.syncInterval, 'syncInterval'),
    auth,
    tokenRefresh: resolveTokenRefresh(o.tokenRefresh),
    healthCheck: resolveHealthCheck(o.healthCheck),
    gateway: resolveGateway(o.gateway),
    rateLimit: resolveRateLimit(o.rateLimit),
    readCache: resolveReadCache(o.readCache),
    openapi: o.openapi ?? DEFAULT_OPTIONS.openapi,
    apiDocs: o.apiDocs ?? DEFAULT_OPTIONS.apiDocs,
    membership: resolveMembership(o.membership),
    sync: resolveSync(o.sync),
    jobs: resolveJobs(o.jobs, o.redis !== undefined && o.redis !== null),
    linkedRoles: resolveLinkedRoles(o.linkedRoles),
    metrics: resolveMetrics(o.metrics),
    adminUi
  }
}
