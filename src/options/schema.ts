import { Type, type Static } from '@sinclair/typebox'
import type { RedisConnection as Redis } from '../util/driver-types.js'
import type { MembershipProvider } from '../sync/membership.js'
import { AuthSchema } from './auth.js'
import { duration, instance, opt } from './define.js'
import { DiscordAppSchema } from './discord-app.js'
import { HealthCheckSchema } from './health-check.js'
import { JobsSchema } from './jobs.js'
import { LinkedRolesSchema } from './linked-roles.js'
import { GatewaySchema } from './gateway.js'
import { MetricsSchema } from './metrics.js'
import { RateLimitSchema } from './rate-limit.js'
import { ReadCacheSchema } from './read-cache.js'
import { StoreProperty } from './store.js'
import { SyncSchema } from './sync.js'
import { TokenRefreshSchema } from './token-refresh.js'

/**
 * Every option the plugin accepts: the top-level ones here, each group in its own file.
 * Exported for the README and docs checks; not part of the package API. Property order is the
 * order options are validated in (the first bad one is reported), so keep it.
 */
export const OptionsSchema = Type.Object({
  routePrefix: opt(Type.String({ pattern: '^(/[A-Za-z0-9._~-]+)*$' }), { default: '/discord', description: 'Prefix of every route the plugin mounts.' }),
  store: StoreProperty,
  encryptionKey: opt(Type.Union([Type.String({ minLength: 1 }), Type.Array(Type.String({ minLength: 1 }), { minItems: 1 })]), {
    defaultText: 'required unless `store` is an instance',
    description: 'Base64 32-byte AES-256-GCM key(s) for secrets at rest (`openssl rand -base64 32`), newest first: ' +
      '[newKey, oldKey] to rotate. The first seals, all open. Required unless a ready `store` instance is passed.'
  }),
  redis: opt(instance<Redis | string>({ title: 'ioredis instance | redis:// URL' }), {
    defaultText: 'none',
    description: 'An ioredis instance (never closed by the plugin) or a redis:// URL (opened and closed by the plugin), ' +
      'to share rate limits and locks between instances.'
  }),
  redisKeyPrefix: opt(Type.String({ minLength: 1, maxLength: 64 }), { default: 'discord-sync:', description: 'Prefix for every Redis key the plugin writes.' }),
  redisCommandTimeout: duration({
    default: '1s',
    minimumMs: 50,
    description: 'How long a Redis call a request waits for (the API rate limit, GET /status) may take before Redis counts as ' +
      'unavailable: the rate limit then lets requests through and /status reports degraded, without waiting on Redis again ' +
      'until it answers a PING. Also the `commandTimeout` of the connection the plugin opens from a URL; give a host instance ' +
      'a `commandTimeout` of its own, so a hung Redis cannot stall background work (locks, scheduled tasks) either.'
  }),
  discord: Type.Optional(DiscordAppSchema),
  apiBaseUrl: opt(Type.String({ pattern: '^https?://' }), { default: 'https://discord.com/api/v10', description: 'Discord REST base URL for bot calls.' }),
  cdnBaseUrl: opt(Type.String({ pattern: '^https?://' }), {
    default: 'https://cdn.discordapp.com',
    description: 'Discord\'s image CDN (reference.mdx "Image Base URL"): the admin API builds member avatar URLs on it ' +
      '(`{cdnBaseUrl}/avatars/{user_id}/{avatar}.png`). A test or offline deployment points it elsewhere; the admin UI shows ' +
      'initials when an image does not load.'
  }),
  stateExpiry: duration({ default: '10m', minimumMs: 30_000, description: 'Lifetime of an OAuth state.' }),
  tokenRefreshThreshold: duration({ default: '24h', minimumMs: 60_000, description: 'Refresh access tokens expiring within this window.' }),
  syncInterval: duration({ default: '15m', minimumMs: 60_000, description: 'Default interval between automatic guild syncs.' }),
  auth: Type.Optional(AuthSchema),
  tokenRefresh: Type.Optional(TokenRefreshSchema),
  healthCheck: Type.Optional(HealthCheckSchema),
  rateLimit: Type.Optional(RateLimitSchema),
  readCache: Type.Optional(ReadCacheSchema),
  openapi: opt(Type.Boolean(), { default: true, description: "Serve the OpenAPI 3 document of the plugin's routes at GET {routePrefix}/openapi.json." }),
  apiDocs: opt(Type.Boolean(), {
    default: true,
    description: 'Serve the API reference page (@fastify/swagger-ui, assets from the package, no CDN) at GET {routePrefix}/docs/ ({routePrefix}/docs redirects there), ' +
      'rendered from the OpenAPI document; it loads that document from GET {routePrefix}/docs/json. Only with `openapi` on; ' +
      'false removes the page (404).'
  }),
  membership: opt(instance<MembershipProvider>({ title: 'MembershipProvider' }), {
    defaultText: 'none',
    description: 'Where entitlements come from: for a host user id, its groups, character count and permissions. Without it the ' +
      'sync routes answer 503 FST_DISCORD_SYNC_NOT_CONFIGURED and no sync runs: the plugin then writes no role at all ' +
      '(unlink removals stay queued until a provider is configured). See docs/host-integration.md.'
  }),
  sync: Type.Optional(SyncSchema),
  jobs: Type.Optional(JobsSchema),
  linkedRoles: Type.Optional(LinkedRolesSchema),
  gateway: Type.Optional(GatewaySchema),
  metrics: Type.Optional(MetricsSchema),
  adminUi: opt(Type.Boolean(), {
    default: false,
    description: "Serve the admin web UI at GET {routePrefix}/admin/ (static files, no CDN). Its sign-in sends the browser back to the UI, so the UI's " +
      'URL must be allowed: it is added to `auth.redirectUrls` automatically when `discord.redirectUri` ends in `/auth/callback` ' +
      '(the UI lives beside the callback); otherwise add it yourself.'
  })
}, { additionalProperties: false })

/** The options `register(discordSync, options)` takes; each one is described in docs/configuration.md. */
export type FastifyDiscordSyncOptions = Static<typeof OptionsSchema>
