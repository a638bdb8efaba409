import fp from 'fastify-plugin'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { Redis } from 'ioredis'
import { AlreadyRegisteredError, DiscordNotConfiguredError } from './errors.js'
import { resolveOptions, type FastifyDiscordSyncOptions, type ResolvedDiscordApp } from './options/index.js'
import { createStore } from './store/index.js'
import type { DiscordStore } from './store/port.js'
import { checkHealth, type HealthReport } from './services/health.js'
import routes from './routes/index.js'
import { DiscordRestClient } from './discord/index.js'
import { resolveSessionJwt, SessionAuth } from './auth/session.js'
import { OAuthService } from './auth/oauth-service.js'
import { RedisTaskLock, resolveScheduler, scheduleOnReady, TOKEN_REFRESH_JOB_ID, TokenRefreshTask } from './tasks/index.js'
import { GuildHealthTask, HEALTH_CHECK_JOB_ID, withGuildHealth } from './tasks/health.js'
import { setupSync, type SyncModule } from './sync/index.js'

/** Options as the plugin resolved them, without any secret. */
export interface DiscordSyncPublicOptions {
  routePrefix: string
  apiBaseUrl: string
  redisKeyPrefix: string
  stateExpiryMs: number
  tokenRefreshThresholdMs: number
  syncIntervalMs: number
  discord: Omit<ResolvedDiscordApp, 'clientSecret'> | null
}

/** Everything the plugin exposes on the instance, under `fastify.discord`. */
export interface DiscordSyncNamespace {
  /** The persistence port (SQLite, MongoDB or a host-provided store). */
  readonly store: DiscordStore
  /** The Redis connection in use, or null. */
  readonly redis: Redis | null
  readonly options: Readonly<DiscordSyncPublicOptions>
  /** True when a Discord application (client id/secret) is configured. */
  readonly discordConfigured: boolean
  /** preHandler for Discord-dependent routes: 503 FST_DISCORD_NOT_CONFIGURED without credentials. */
  requireDiscord (request: FastifyRequest, reply: FastifyReply): Promise<void>
  /** The module's health, as served by GET /status. */
  health (): Promise<HealthReport>
  /** The Discord REST client (rate limits shared through Redis when configured). */
  readonly client: DiscordRestClient
  /**
   * Sessions and authorisation: `authenticate`, `optionalAuth` and `requireAdmin` preHandlers
   * (usable on host routes too), `isAdmin`, `assertSelfOrAdmin`, `issue` and `setSessionCookie`.
   */
  readonly auth: SessionAuth
  /** The OAuth2 login/link flow, unlinking and the auth status. */
  readonly oauth: OAuthService
  /** The scheduled token refresh (null when disabled or Discord is not configured): `run()`, `history()` (runs recorded in the store). */
  readonly tokenRefresh: TokenRefreshTask | null
  /** The scheduled bot health check of enabled guilds (null when disabled): `run()`, `checkGuild()`. */
  readonly guildHealth: GuildHealthTask | null
  /**
   * Role synchronisation: `engine` (manual, guild and user syncs, unlink removals, status, runs,
   * audit), `metrics` (prom-client, or null), `scheduler` and `cleanup` tasks, `removeManagedRoles()`.
   */
  readonly sync: SyncModule
}

declare module 'fastify' {
  interface FastifyInstance {
    discord: DiscordSyncNamespace
  }
}

async function fastifyDiscordSync (fastify: FastifyInstance, rawOptions: FastifyDiscordSyncOptions): Promise<void> {
  if (fastify.hasDecorator('discord')) throw new AlreadyRegisteredError()
  const opts = resolveOptions(rawOptions)
  const log = fastify.log.child({ component: 'discord' })
  // One child logger per component, so operators can filter OAuth, bot and sync lines apart.
  const oauthLog = fastify.log.child({ component: 'discord_oauth' })
  const botLog = fastify.log.child({ component: 'discord_bot' })

  const store = await createStore(opts)
  const ownsStore = !opts.storeIsHostOwned

  let redis: Redis | null = null
  let ownsRedis = false
  if (typeof opts.redis === 'string') {
    // Our own connection: lazy so a Redis outage at boot degrades instead of failing start-up.
    redis = new Redis(opts.redis, { lazyConnect: true, maxRetriesPerRequest: 1, enableOfflineQueue: true })
    redis.on('error', (err: Error) => log.warn({ err: { message: err.message } }, 'redis connection error'))
    ownsRedis = true
    redis.connect().catch(() => { /* reported by the 'error' listener and by /status */ })
  } else if (opts.redis) {
    redis = opts.redis
  }

  const discordConfigured = opts.discord !== null
  const client = new DiscordRestClient({ baseUrl: opts.apiBaseUrl, redis: redis ?? undefined, redisKeyPrefix: `${opts.redisKeyPrefix}rest:`, logger: botLog })
  const { jwt, source: jwtSource } = await resolveSessionJwt(fastify, opts.auth)
  const auth = new SessionAuth(jwt, jwtSource, opts.auth)
  const oauth = new OAuthService({ store, client, app: opts.discord, auth: opts.auth, session: auth, stateExpiryMs: opts.stateExpiryMs, log: oauthLog })
  let tokenRefresh: TokenRefreshTask | null = null
  if (opts.discord !== null && opts.tokenRefresh.enabled) {
    tokenRefresh = new TokenRefreshTask({
      store,
      oauth: client.oauth2({ clientId: opts.discord.clientId, clientSecret: opts.discord.clientSecret }),
      thresholdMs: opts.tokenRefreshThresholdMs,
      batchSize: opts.tokenRefresh.batchSize,
      concurrency: opts.tokenRefresh.concurrency,
      lock: redis === null ? null : new RedisTaskLock(redis, `${opts.redisKeyPrefix}lock:token-refresh`, opts.tokenRefresh.lockTtlMs),
      log: oauthLog.child({ task: 'token-refresh' }),
      retentionMs: opts.tokenRefresh.retentionMs
    })
    const task = tokenRefresh
    const { scheduler } = await resolveScheduler(fastify)
    scheduleOnReady(fastify, scheduler, TOKEN_REFRESH_JOB_ID, opts.tokenRefresh.intervalMs, () => task.run(),
      (err) => oauthLog.error({ err: { message: err.message } }, 'token refresh job failed'))
  }
  let guildHealth: GuildHealthTask | null = null
  if (opts.healthCheck.enabled) {
    // Bot tokens are per guild, so this runs whether or not an OAuth application is configured.
    guildHealth = new GuildHealthTask({
      store,
      bots: (token) => client.bot(token),
      lock: redis === null ? null : new RedisTaskLock(redis, `${opts.redisKeyPrefix}lock:guild-health`, opts.healthCheck.lockTtlMs),
      log: botLog.child({ task: 'guild-health' })
    })
    const task = guildHealth
    const { scheduler } = await resolveScheduler(fastify)
    scheduleOnReady(fastify, scheduler, HEALTH_CHECK_JOB_ID, opts.healthCheck.intervalMs, () => task.run(),
      (err) => botLog.error({ err: { message: err.message } }, 'guild health job failed'))
  }
  const sync = await setupSync(fastify, opts, { store, client, redis, oauth, tokenRefresh })
  const publicOptions: DiscordSyncPublicOptions = Object.freeze({
    routePrefix: opts.routePrefix,
    apiBaseUrl: opts.apiBaseUrl,
    redisKeyPrefix: opts.redisKeyPrefix,
    stateExpiryMs: opts.stateExpiryMs,
    tokenRefreshThresholdMs: opts.tokenRefreshThresholdMs,
    syncIntervalMs: opts.syncIntervalMs,
    discord: opts.discord ? { clientId: opts.discord.clientId, redirectUri: opts.discord.redirectUri, scopes: [...opts.discord.scopes], authorizeUrl: opts.discord.authorizeUrl } : null
  })

  const namespace: DiscordSyncNamespace = {
    store,
    redis,
    options: publicOptions,
    discordConfigured,
    async requireDiscord () {
      if (!discordConfigured) throw new DiscordNotConfiguredError('set the Discord application client id, secret and redirect URI')
    },
    // An unhealthy guild (bad token, no Manage Roles) degrades the module: syncs for it cannot work.
    health: async () => withGuildHealth(await checkHealth({
      store,
      redis,
      discordConfigured,
      onError: (component, err) => log.warn({ component, err: { message: (err as Error)?.message } }, 'health check failed')
    }), store),
    client,
    auth,
    oauth,
    tokenRefresh,
    guildHealth,
    sync
  }
  fastify.decorate('discord', namespace)
  fastify.decorateRequest('discordAuth', null)

  // Close only what we opened: a host's store, Mongo client or Redis stays open.
  fastify.addHook('onClose', async () => {
    // A refresh run in progress finishes its batch before the store and client go away.
    await tokenRefresh?.stop()
    await guildHealth?.stop()
    await client.close()
    if (ownsStore) await store.close()
    if (ownsRedis && redis) await closeOwnRedis(redis)
  })

  // fastify-plugin shares the parent's context, so Fastify does not apply the register
  // `prefix` to our routes; honour it ourselves (`register(plugin, { prefix: '/api' })`).
  const hostPrefix = typeof (rawOptions as { prefix?: unknown }).prefix === 'string' ? (rawOptions as { prefix: string }).prefix.replace(/\/+$/, '') : ''
  await fastify.register(routes, { prefix: hostPrefix + opts.routePrefix, rateLimit: opts.rateLimit, openapi: opts.openapi, adminUi: opts.adminUi })
}

/** Ends a connection we opened, whatever state it is in, and waits for it to be gone. */
async function closeOwnRedis (redis: Redis): Promise<void> {
  if (redis.status === 'end') return
  const ended = new Promise<void>((resolve) => redis.once('end', () => resolve()))
  if (redis.status === 'ready') {
    await redis.quit().catch(() => redis.disconnect())
  } else {
    // Not connected (Redis down or still connecting): QUIT would queue forever.
    redis.disconnect()
  }
  let timer: NodeJS.Timeout | undefined
  await Promise.race([ended, new Promise<void>((resolve) => { timer = setTimeout(resolve, 1000); timer.unref() })])
  clearTimeout(timer)
}

const plugin = fp(fastifyDiscordSync, { name: 'fastify-discord-sync', fastify: '5.x' })

export default plugin
export { plugin as fastifyDiscordSync }
export { resolveOptions, ALLOWED_SCOPES, DEFAULT_OPTIONS } from './options/index.js'
export type { FastifyDiscordSyncOptions, StoreOption, DiscordAppOptions } from './options/index.js'
export type { AuthOptions, TokenRefreshOptions, JwtSecretOption } from './options/index.js'
export type { AuthUser, DiscordProfile, ResolveUserHook, ResolveUserContext, ResolvedUser, IsAdminHook } from './auth/types.js'
export type { SessionAuth } from './auth/session.js'
export type { AuthStatus, LinkedAccount, UnlinkResult } from './auth/oauth-service.js'
export type { TokenRefreshRun, TokenRefreshError } from './tasks/index.js'
export * from './errors.js'
export * from './store/index.js'
export type { HealthReport } from './services/health.js'
export { parseDuration, formatDuration } from './util/duration.js'
// The Discord REST client the plugin decorates as `fastify.discord.client`, its typed errors and
// rate-limit stores, for hosts that call Discord themselves or handle its errors.
export * from './discord/index.js'
export type { MembershipInfo, MembershipProvider, UserSyncResult, UserGuildSyncResult, SyncStatus, RunView, ManualSyncInput, SyncModule } from './sync/index.js'
// The pure planner, for hosts that want to preview what a sync would do with their own data.
export { compileGuildPlan, planMemberRoles, managedRoleIds } from './sync/planner.js'
export type * from './sync/types.js'
