import type { FastifyBaseLogger, FastifyInstance } from 'fastify'
import type { RedisConnection as Redis } from './util/driver-types.js'
import { withTimeout } from './util/timeout.js'
import { importOptional } from './util/optional-import.js'
import { AlreadyRegisteredError, DiscordNotConfiguredError } from './errors.js'
import { resolveOptions, type FastifyDiscordSyncOptions, type ResolvedOptions } from './options/index.js'
import { createStore } from './store/index.js'
import { holdSqliteWriter } from './store/single-writer.js'
import { readCacheFor } from './routes/read-cache.js'
import { DiscordRestClient } from './discord/index.js'
import { DiscordSyncEvents } from './events.js'
import { resolveSessionJwt, SessionAuth } from './auth/session.js'
import { OAuthService } from './auth/oauth-service.js'
import { featureScopes, UserTokens } from './auth/user-tokens.js'
import { LinkedRoles } from './linked-roles/service.js'
import { registerOAuthFlow } from './auth/discord-oauth2.js'
import { adminNotice } from './auth/admin-notice.js'
import { GuildService } from './guilds/service.js'
import { MappingService } from './guilds/mappings/service.js'
import { UserService } from './users/service.js'
import { checkHealth, UnhealthyGuilds, withGuildHealth } from './health/module.js'
import { RedisBreaker } from './health/redis-breaker.js'
import { GuildHealthTask } from './health/guild-health.js'
import { SyncEngine } from './sync/engine.js'
import { SyncMetrics } from './sync/metrics.js'
import { RequestActivity } from './discord/request-activity.js'
import { RedisTaskLock } from './tasks/lock.js'
import { createLocalJobs, openBullQueue, startBullJobs, type JobBackend } from './jobs/index.js'
import { TokenRefreshTask } from './tasks/token-refresh.js'
import { RoleSyncTask } from './tasks/role-sync.js'
import { SyncCleanupTask } from './tasks/cleanup.js'
import { MembershipPush } from './live/push.js'
import { WebhookEvents } from './live/webhook-events.js'
import { webhookPublicKey } from './live/webhook-signature.js'
import { EchoFilter } from './live/gateway/echo.js'
import { LiveGateway } from './live/gateway/gateway.js'
import { MemberEvents } from './live/gateway/member-events.js'
import { OAuthStateCleanupTask } from './tasks/state-cleanup.js'
import routes from './routes/index.js'
import { MemberDirectory } from './members/directory.js'
import { guardProvider } from './sync/provider-guard.js'
import type { DiscordSyncNamespace, DiscordSyncPublicOptions, SyncModule } from './namespace.js'

/*
 * The one wiring place: options are resolved once, the store, Redis and the Discord client are
 * opened or adopted, every service is built once and handed what it needs, modules are connected
 * through the event bus, and the result is decorated, routed and scheduled. Only what was opened
 * here is closed here; a host's store, Mongo client or Redis stays open.
 */

/** The plugin body (wrapped with fastify-plugin in src/index.ts). */
export async function fastifyDiscordSync (fastify: FastifyInstance, rawOptions: FastifyDiscordSyncOptions): Promise<void> {
  if (fastify.hasDecorator('discord')) throw new AlreadyRegisteredError()
  const opts = resolveOptions(rawOptions)
  // One child logger per component, so operators can filter OAuth, bot and sync lines apart.
  const log = fastify.log.child({ component: 'discord' })
  const oauthLog = fastify.log.child({ component: 'discord_oauth' })
  const botLog = fastify.log.child({ component: 'discord_bot' })
  const syncLog = fastify.log.child({ component: 'discord_sync' })

  const store = await createStore(opts)
  // Without Redis, a second process on the same SQLite file is refused here (see store/single-writer.ts).
  const writer = await holdSqliteWriter(store, opts, log).catch(async (err: unknown) => {
    await store.close().catch(() => {})
    throw err
  })
  // Each close is hooked as its resource opens: Fastify runs onClose hooks last in, first out, so
  // they close in reverse order of opening, and a start-up that fails part-way (the host's
  // close() runs the hooks added so far) still closes what it opened; nothing is left to keep
  // the process alive or to hold the SQLite writer lease.
  fastify.addHook('onClose', async () => {
    await writer?.release()
    if (!opts.storeIsHostOwned) await store.close()
  })
  const { redis, ownsRedis } = await openRedis(opts, log)
  if (ownsRedis && redis !== null) fastify.addHook('onClose', async () => { await closeOwnRedis(redis) })
  // jobs.backend "bullmq" (the resolver made sure Redis is configured): the queue every role enqueues on.
  const bullQueue = opts.jobs.backend === 'bullmq' && redis !== null ? await openBullQueue(opts, redis, log) : null
  if (bullQueue !== null) fastify.addHook('onClose', async () => { await bullQueue.close() })
  // What a request waits for in Redis (the API rate limit, the /status probe) goes through one breaker.
  const redisBreaker = redis === null ? null : new RedisBreaker(redis, opts.redisCommandTimeoutMs)
  const lockFor = (name: string, ttlMs: number): RedisTaskLock | null =>
    redis === null ? null : new RedisTaskLock(redis, `${opts.redisKeyPrefix}lock:${name}`, ttlMs)

  const events = new DiscordSyncEvents(log)
  const client = new DiscordRestClient({ baseUrl: opts.apiBaseUrl, redis: redis ?? undefined, redisKeyPrefix: `${opts.redisKeyPrefix}rest:`, redisOutage: redisBreaker ?? undefined, logger: botLog })
  fastify.addHook('onClose', async () => { await client.close() })
  const bots = (token: string): ReturnType<DiscordRestClient['bot']> => client.bot(token)
  const { jwt, source: jwtSource } = await resolveSessionJwt(fastify, opts.auth)
  const auth = new SessionAuth(jwt, jwtSource, opts.auth)
  const notice = adminNotice(opts.auth)
  if (notice !== null) oauthLog.info(notice)
  // The authorisation-code flow on @fastify/oauth2 (registered on a context of its own), states in the store.
  const flow = await registerOAuthFlow(fastify, { store, app: opts.discord, auth: opts.auth, apiBaseUrl: opts.apiBaseUrl, stateExpiryMs: opts.stateExpiryMs, log: oauthLog })
  // Users' own OAuth tokens (join on link, Linked Roles), refreshed through the application.
  const userTokens = opts.discord === null ? null : new UserTokens({ store, oauth: client.oauth2({ clientId: opts.discord.clientId, clientSecret: opts.discord.clientSecret }) })
  const metrics = opts.metrics.enabled ? new SyncMetrics({ registry: opts.metrics.registry, prefix: opts.metrics.prefix }) : null
  // Without metrics the engine still counts through a private registry nobody reads: one code path.
  const engineMetrics = metrics ?? new SyncMetrics({ registry: null, prefix: opts.metrics.prefix })
  const linkedRoles = opts.linkedRoles === null || opts.discord === null || userTokens === null
    ? null
    : new LinkedRoles({ options: opts.linkedRoles, applicationId: opts.discord.clientId, client, store, membership: opts.membership, tokens: userTokens, log: oauthLog.child({ source: 'linked-roles' }), metrics: engineMetrics })
  const oauth = new OAuthService({
    store,
    client,
    app: opts.discord,
    auth: opts.auth,
    session: auth,
    flow,
    log: oauthLog,
    events,
    featureScopes: featureScopes(store, linkedRoles !== null),
    // The Linked Roles connection goes while the user's token still works (the unlink revokes it next).
    ...(linkedRoles === null ? {} : { beforeUnlink: async (discordUserId: string) => { await linkedRoles.unlink(discordUserId) } })
  })
  const guilds = new GuildService({ store, bots, resetToken: (token) => { client.resetToken(token) }, nicknameVariables: opts.sync.nicknameVariables })
  const mappings = new MappingService({ store, guilds })
  const users = new UserService(store)

  // Bot tokens are per guild, so health checks work whether or not an OAuth application is configured.
  // The checker exists even with the schedule off: POST /guilds/{id}/health-check runs the same code.
  const healthChecker = new GuildHealthTask({ store, bots, lock: lockFor('guild-health', opts.healthCheck.lockTtlMs), runTimeoutMs: opts.healthCheck.runTimeoutMs, log: botLog.child({ task: 'guild-health' }) })
  const tokenRefresh = opts.discord === null || !opts.tokenRefresh.enabled
    ? null
    : new TokenRefreshTask({
      store,
      oauth: client.oauth2({ clientId: opts.discord.clientId, clientSecret: opts.discord.clientSecret }),
      thresholdMs: opts.tokenRefreshThresholdMs,
      batchSize: opts.tokenRefresh.batchSize,
      concurrency: opts.tokenRefresh.concurrency,
      lock: lockFor('token-refresh', opts.tokenRefresh.lockTtlMs),
      log: oauthLog.child({ task: 'token-refresh' }),
      retentionMs: opts.tokenRefresh.retentionMs,
      runTimeoutMs: opts.tokenRefresh.runTimeoutMs,
      events
    })
  fastify.addHook('onClose', async () => {
    // A refresh run in progress finishes its batch before the store and client go away.
    await tokenRefresh?.stop()
    await healthChecker.stop()
  })

  // Our own role writes, noted before they are sent, so the Gateway does not take their echo for drift.
  const echo = new EchoFilter()
  const engine = new SyncEngine({
    store,
    client,
    redis,
    membership: opts.membership,
    metrics: engineMetrics,
    log: syncLog,
    settings: { ...opts.sync, redisKeyPrefix: opts.redisKeyPrefix },
    events,
    // Only the Gateway consumes echoes: without it, noting writes would only fill memory.
    ...(opts.gateway.enabled ? { onWrite: echo.expect } : {}),
    userTokens,
    // Linked Roles values follow every real sync, not only the user's own (the provider answers are read anyway).
    ...(linkedRoles === null ? {} : { onEntitlements: (members) => { linkedRoles.pushMembers(members) } })
  })
  if (linkedRoles !== null) connectLinkedRoles(events, linkedRoles)
  // Admin list pages kept while the store is unchanged (null: off, or a store without a change mark).
  const readCache = readCacheFor(opts.readCache, store)
  if (metrics !== null) {
    connectMetrics(events, metrics)
    if (readCache !== null) metrics.observeReadCache(() => readCache.stats())
    const stop = metrics.observeClient(client)
    fastify.addHook('onClose', async () => stop())
  }
  // The admin UI's requests-per-minute chart: a fixed ring of the last hour, whatever the metrics option says.
  const requestActivity = new RequestActivity()
  const stopActivity = requestActivity.observe(client)
  fastify.addHook('onClose', async () => stopActivity())
  const push = new MembershipPush({ engine, debounceMs: opts.sync.pushDebounceMs, log: syncLog })
  const webhooks = new WebhookEvents({
    store,
    events,
    log: oauthLog.child({ source: 'webhook-events' }),
    key: opts.discord?.publicKey == null ? null : webhookPublicKey(opts.discord.publicKey),
    applicationId: opts.discord?.clientId ?? null
  })
  // The Gateway acts through the engine, so it needs a membership provider as much as any sync.
  const gatewayLog = botLog.child({ source: 'gateway' })
  const gateway = opts.gateway.enabled && engine.configured
    ? new LiveGateway({
      store,
      client,
      lock: lockFor('gateway', opts.gateway.leaderTtlMs),
      options: opts.gateway,
      events,
      metrics: engineMetrics,
      log: gatewayLog,
      handler: new MemberEvents({
        store,
        engine,
        echo,
        metrics: engineMetrics,
        events,
        log: gatewayLog,
        concurrency: opts.gateway.joinConcurrency,
        checkGuildHealth: async (guild) => { await healthChecker.checkGuild(guild) }
      })
    })
    : null
  const roleSync = opts.sync.enabled
    ? new RoleSyncTask({
      engine,
      store,
      defaultIntervalMs: opts.syncIntervalMs,
      log: syncLog,
      ...(gateway === null ? {} : { cadence: (id, ms) => gateway.cadence(id, ms) }),
      ...(bullQueue === null ? {} : { dispatch: bullQueue.syncGuild })
    })
    : null
  const cleanup = opts.sync.enabled ? new SyncCleanupTask({ store, retentionMs: opts.sync.retentionMs, log: syncLog }) : null
  // Always scheduled: anonymous callers create states whether or not sync is on.
  const stateCleanup = new OAuthStateCleanupTask({ store, log: oauthLog })
  // Scheduled tasks and background work: in this process, or BullMQ jobs (jobs.backend).
  const tasks = { engine, tokenRefresh, guildHealth: opts.healthCheck.enabled ? healthChecker : null, roleSync, cleanup, stateCleanup }
  const logs = { oauthLog, botLog, syncLog }
  const jobs: JobBackend = bullQueue === null
    ? await createLocalJobs(fastify, opts, tasks, logs)
    : await startBullJobs(fastify, bullQueue, opts, tasks, logs, metrics === null ? null : { registry: metrics.registry, prefix: opts.metrics.prefix })
  connectSync(events, engine, jobs, opts.sync.syncOnLink)

  const sync: SyncModule = {
    engine,
    metrics,
    scheduler: roleSync,
    cleanup,
    waitTimeoutMs: opts.sync.waitTimeoutMs,
    metricsRoute: { enabled: metrics !== null && opts.metrics.route, access: opts.metrics.access },
    removeManagedRoles: (discordUserId, initiatedBy) => engine.removeManagedRoles(discordUserId, initiatedBy)
  }
  const guildHealth = tasks.guildHealth
  const discordConfigured = opts.discord !== null
  const unhealthyGuilds = new UnhealthyGuilds(store)
  const namespace: DiscordSyncNamespace = {
    store,
    redis,
    options: publicOptions(opts),
    discordConfigured,
    async requireDiscord () {
      if (!discordConfigured) throw new DiscordNotConfiguredError('set the Discord application client id, secret and redirect URI')
    },
    // An unhealthy guild (bad token, no Manage Roles) degrades the module: syncs for it cannot work.
    health: async () => withGuildHealth(await checkHealth({
      store,
      redis: redisBreaker,
      discordConfigured,
      onError: (component, err) => log.warn({ component, err: { message: (err as Error)?.message } }, 'health check failed')
    }), unhealthyGuilds),
    events,
    client,
    auth,
    oauth,
    guilds,
    mappings,
    users,
    tokenRefresh,
    guildHealth,
    sync,
    notifyMembershipChanged: (userIds) => push.notify(userIds),
    gateway,
    jobs
  }
  fastify.decorate('discord', namespace)
  fastify.decorateRequest('discordAuth', null)

  // Runs a crashed instance left "running" are failed; unlink removals left pending are resumed.
  fastify.addHook('onReady', async () => {
    try {
      // An API-only process leaves recovery to the workers (their role-sync job sweeps too).
      if (jobs.works) await engine.recoverStale()
    } catch (err) {
      syncLog.error({ code: (err as { code?: unknown })?.code }, 'recovering interrupted sync runs failed')
    }
    const registered = await linkedRoles?.register().catch((err: unknown) => oauthLog.warn({ code: (err as { code?: unknown })?.code }, 'registering the linked roles metadata failed'))
    if (registered === 'no_bot_token') oauthLog.info('linked roles: no configured guild uses the application\'s bot yet (and linkedRoles.botToken is not set); the metadata is registered before the first push once one does')
    await gateway?.start().catch((err: unknown) => gatewayLog.warn({ err: { message: (err as Error)?.message } }, 'starting the gateway failed'))
    // States left by a previous process are purged now, not one interval later; a failure must not stop start-up.
    await stateCleanup.run().catch((err: unknown) => oauthLog.warn({ code: (err as { code?: unknown })?.code }, 'purging OAuth states at start failed'))
  })
  // Before the client and store close: cancel runs in progress and record them as interrupted.
  fastify.addHook('preClose', async () => {
    await push.close()
    await gateway?.close()
    await engine.close()
    await linkedRoles?.close()
  })

  // fastify-plugin shares the parent's context, so Fastify does not apply the register
  // `prefix` to our routes; honour it ourselves (`register(plugin, { prefix: '/api' })`).
  const hostPrefix = typeof (rawOptions as { prefix?: unknown }).prefix === 'string' ? (rawOptions as { prefix: string }).prefix.replace(/\/+$/, '') : ''
  // The members page reads the provider like a sync does: bounded in time, so a hung host cannot hold a request.
  const membership = opts.membership === null ? null : guardProvider(opts.membership, { timeoutMs: opts.sync.providerTimeoutMs, retries: 0 })
  const members = new MemberDirectory({ store, bots, roleCache: engine.roleCache, membership, status: () => engine.status(), cdnBaseUrl: opts.cdnBaseUrl, log: syncLog })
  await fastify.register(routes, { prefix: hostPrefix + opts.routePrefix, rateLimit: opts.rateLimit, redisBreaker, openapi: opts.openapi, apiDocs: opts.apiDocs, adminUi: opts.adminUi, healthChecker, webhooks, members, membership, requestActivity, readCache })
}

/**
 * A user's Linked Roles values are pushed when they link and after each sync of theirs (the
 * provider's data may have changed); guild runs hand theirs over through the engine (onEntitlements).
 */
function connectLinkedRoles (events: DiscordSyncEvents, linkedRoles: LinkedRoles): void {
  events.on('account.linked', (e) => { linkedRoles.pushUserSoon(e.user_id) })
  events.on('sync.finished', (e) => {
    if (e.sync_type === 'user' && e.target_id !== null && !e.dry_run) linkedRoles.pushUserSoon(e.target_id)
  })
}

/**
 * Sync reacts to the OAuth flow: a new link is synced soon, an unlink removes the managed roles;
 * both through the job backend (at once in this process, or as BullMQ jobs).
 */
function connectSync (events: DiscordSyncEvents, engine: SyncEngine, jobs: JobBackend, syncOnLink: boolean): void {
  if (syncOnLink) events.on('account.linked', (e) => { jobs.syncUser(e.user_id, `link:${e.user_id}`) })
  events.on('account.unlinked', (e) => {
    // Without a provider the plugin manages no roles: a queued removal waits until one is configured.
    if (!engine.configured) return
    const runId = e.role_removal.sync_run_id
    if (e.role_removal.queued && runId !== null) {
      // The scheduler tick retries pending removals that could not start here.
      jobs.runUnlinkRemoval(runId)
    } else {
      // Nothing queued (the link's guild list did not name a configured guild, e.g. no guilds
      // scope): the account may still hold managed roles, so every configured guild is checked.
      jobs.removeManagedRoles(e.discord_user_id, e.initiated_by)
    }
  })
}

function connectMetrics (events: DiscordSyncEvents, metrics: SyncMetrics): void {
  events.on('account.linked', (e) => metrics.oauth(e.flow, 'success'))
  events.on('oauth.failed', (e) => metrics.oauth(e.flow, e.code))
  events.on('tokens.refreshed', (r) => {
    if (r.status === 'skipped') metrics.tokenRefresh('run_skipped')
    metrics.tokenRefresh('refreshed', r.refreshed)
    metrics.tokenRefresh('reauth_required', r.reauth_required)
    metrics.tokenRefresh('failed', r.failed)
    metrics.tokenRefresh('skipped', r.skipped)
  })
}

function publicOptions (opts: ResolvedOptions): DiscordSyncPublicOptions {
  return Object.freeze({
    routePrefix: opts.routePrefix,
    apiBaseUrl: opts.apiBaseUrl,
    redisKeyPrefix: opts.redisKeyPrefix,
    stateExpiryMs: opts.stateExpiryMs,
    tokenRefreshThresholdMs: opts.tokenRefreshThresholdMs,
    syncIntervalMs: opts.syncIntervalMs,
    discord: opts.discord ? { clientId: opts.discord.clientId, redirectUri: opts.discord.redirectUri, scopes: [...opts.discord.scopes], authorizeUrl: opts.discord.authorizeUrl, publicKey: opts.discord.publicKey } : null
  })
}

/**
 * A host's connection is adopted as it is. A URL gets our own connection, created lazily so a
 * Redis outage at boot degrades instead of failing start-up; ioredis is loaded only then, so a
 * host without Redis never loads it.
 */
async function openRedis (opts: ResolvedOptions, log: FastifyBaseLogger): Promise<{ redis: Redis | null, ownsRedis: boolean }> {
  if (opts.redis === null || opts.redis === undefined) return { redis: null, ownsRedis: false }
  if (typeof opts.redis !== 'string') return { redis: opts.redis, ownsRedis: false }
  const { Redis: RedisClient } = await importOptional('ioredis', 'the redis option (a redis:// URL)', async () => await import('ioredis'))
  // commandTimeout also covers commands waiting in the offline queue (ioredis arms it before
  // queueing), so a hung or reconnecting Redis fails every call within the budget.
  const redis = new RedisClient(opts.redis, { lazyConnect: true, maxRetriesPerRequest: 1, enableOfflineQueue: true, commandTimeout: opts.redisCommandTimeoutMs })
  redis.on('error', (err: Error) => log.warn({ err: { message: err.message } }, 'redis connection error'))
  redis.connect().catch(() => { /* reported by the 'error' listener and by /status */ })
  return { redis, ownsRedis: true }
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
  // A connection that never reports 'end' must not hold close() for more than a second.
  await withTimeout(ended, 1000, () => new Error('redis did not end')).catch(() => {})
}
