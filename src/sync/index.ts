/*
 * Wires the sync engine into the plugin: the engine itself, metrics, the scheduled role sync and
 * retention cleanup (@fastify/schedule, started on ready, unref'd, removed on close), start-up
 * recovery of interrupted runs, and the two hooks into the OAuth flow (sync on link, role
 * removal on unlink). Kept out of src/index.ts so the plugin entry stays a list of parts.
 */
import type { FastifyBaseLogger, FastifyInstance } from 'fastify'
import type { Redis } from 'ioredis'
import type { OAuthService } from '../auth/oauth-service.js'
import type { DiscordRestClient } from '../discord/client.js'
import type { ResolvedOptions } from '../options/index.js'
import type { DiscordStore } from '../store/port.js'
import { resolveScheduler, scheduleOnReady, type TokenRefreshTask } from '../tasks/index.js'
import { ROLE_SYNC_JOB_ID, RoleSyncTask } from '../tasks/role-sync.js'
import { SYNC_CLEANUP_JOB_ID, SyncCleanupTask } from '../tasks/cleanup.js'
import { SyncEngine, type StartedRun } from './engine.js'
import { SyncMetrics } from './metrics.js'

export { SyncEngine } from './engine.js'
export type { ManualSyncInput, RunView, StartedRun, SyncStatus, SyncStatusRecentError } from './engine.js'
export { SyncMetrics } from './metrics.js'
export type { MembershipInfo, MembershipProvider } from './membership.js'
export type { UserSyncResult, UserGuildSyncResult } from './user-sync.js'
export { RoleSyncTask, ROLE_SYNC_JOB_ID } from '../tasks/role-sync.js'
export { SyncCleanupTask, SYNC_CLEANUP_JOB_ID } from '../tasks/cleanup.js'

/** `fastify.discord.sync`. */
export interface SyncModule {
  /** Runs, user syncs, unlink removals, status, runs and audit queries. */
  readonly engine: SyncEngine
  /** Null when metrics are disabled. */
  readonly metrics: SyncMetrics | null
  /** The scheduled role sync (null when `sync.enabled` is false): `tick()`. */
  readonly scheduler: RoleSyncTask | null
  /** The retention cleanup (null when `sync.enabled` is false): `run()`. */
  readonly cleanup: SyncCleanupTask | null
  /** POST /sync/manual?wait=true waits at most this long. */
  readonly waitTimeoutMs: number
  readonly metricsRoute: { enabled: boolean, access: 'admin' | 'public' }
  /**
   * Removes the managed roles of a Discord account that is no longer linked, in every enabled
   * guild whose remove_roles_on_leave is on. For hosts that delete links themselves; the
   * plugin's own unlink route triggers it automatically.
   */
  removeManagedRoles (discordUserId: string, initiatedBy: string): Promise<StartedRun>
}

export interface SyncSetupDeps {
  store: DiscordStore
  client: DiscordRestClient
  redis: Redis | null
  oauth: OAuthService
  tokenRefresh: TokenRefreshTask | null
}

export async function setupSync (fastify: FastifyInstance, opts: ResolvedOptions, deps: SyncSetupDeps): Promise<SyncModule> {
  const log: FastifyBaseLogger = fastify.log.child({ component: 'discord_sync' })
  const s = opts.sync
  const metrics = opts.metrics.enabled ? new SyncMetrics({ registry: opts.metrics.registry, prefix: opts.metrics.prefix }) : null
  // Without metrics the engine still counts through a private registry nobody reads: one code path.
  const engine = new SyncEngine({
    store: deps.store,
    client: deps.client,
    redis: deps.redis,
    membership: opts.membership,
    metrics: metrics ?? new SyncMetrics({ registry: null, prefix: opts.metrics.prefix }),
    log,
    settings: { ...s, redisKeyPrefix: opts.redisKeyPrefix }
  })
  if (metrics !== null) {
    const stop = metrics.observeClient(deps.client)
    fastify.addHook('onClose', async () => stop())
  }
  hookOAuth(deps.oauth, engine, metrics, s.syncOnLink, log)
  if (metrics !== null && deps.tokenRefresh !== null) hookTokenRefresh(deps.tokenRefresh, metrics)

  let scheduler: RoleSyncTask | null = null
  let cleanup: SyncCleanupTask | null = null
  if (s.enabled) {
    const roleSync = new RoleSyncTask({ engine, store: deps.store, defaultIntervalMs: opts.syncIntervalMs, log })
    const prune = new SyncCleanupTask({ store: deps.store, retentionMs: s.retentionMs, log })
    scheduler = roleSync
    cleanup = prune
    const { scheduler: toad } = await resolveScheduler(fastify)
    scheduleOnReady(fastify, toad, ROLE_SYNC_JOB_ID, s.schedulerTickMs, () => roleSync.tick(),
      (err) => log.error({ err: { message: err.message } }, 'role sync job failed'))
    scheduleOnReady(fastify, toad, SYNC_CLEANUP_JOB_ID, s.cleanupIntervalMs, () => prune.run(),
      (err) => log.error({ err: { message: err.message } }, 'sync cleanup job failed'))
  }
  // Runs a crashed instance left "running" are failed; unlink removals left pending are resumed.
  fastify.addHook('onReady', async () => {
    try {
      await engine.recoverStale()
    } catch (err) {
      log.error({ code: (err as { code?: unknown })?.code }, 'recovering interrupted sync runs failed')
    }
  })
  // Before the client and store close: cancel runs in progress and record them as interrupted.
  fastify.addHook('preClose', async () => { await engine.close() })

  return {
    engine,
    metrics,
    scheduler,
    cleanup,
    waitTimeoutMs: s.waitTimeoutMs,
    metricsRoute: { enabled: metrics !== null && opts.metrics.route, access: opts.metrics.access },
    removeManagedRoles: (discordUserId, initiatedBy) => engine.removeManagedRoles(discordUserId, initiatedBy)
  }
}

/**
 * The OAuth flow belongs to the auth module; the engine reacts to its outcomes through these
 * wrappers (sync on link, role removal on unlink, OAuth metrics) instead of the auth module
 * depending on the engine.
 */
function hookOAuth (oauth: OAuthService, engine: SyncEngine, metrics: SyncMetrics | null, syncOnLink: boolean, log: FastifyBaseLogger): void {
  const complete = oauth.complete.bind(oauth)
  oauth.complete = async (...args: Parameters<OAuthService['complete']>) => {
    let result
    try {
      result = await complete(...args)
    } catch (err) {
      metrics?.oauth(args[1] === null || args[1] === undefined ? 'callback' : 'link', String((err as { code?: unknown })?.code ?? 'error'))
      throw err
    }
    metrics?.oauth(result.flow, 'success')
    if (syncOnLink) engine.syncUserSoon(result.user_id, `link:${result.user_id}`)
    return result
  }
  const unlink = oauth.unlink.bind(oauth)
  oauth.unlink = async (...args: Parameters<OAuthService['unlink']>) => {
    const result = await unlink(...args)
    // Without a provider the plugin manages no roles: a queued removal waits until one is configured.
    if (!engine.configured) return result
    const runId = result.role_removal.sync_run_id
    const failed = (err: unknown): void => {
      log.warn({ run_id: runId, code: (err as { code?: unknown })?.code }, 'the unlink role removal failed to start')
    }
    if (result.role_removal.queued && runId !== null) {
      // The scheduler tick retries pending removals that could not start here.
      engine.runUnlinkRemoval(runId).catch(failed)
    } else {
      // Nothing queued (the link's guild list did not name a configured guild, e.g. no guilds
      // scope): the account may still hold managed roles, so every configured guild is checked.
      engine.removeManagedRoles(result.discord_user_id, `unlink:${result.user_id}`).then((r) => r.done).catch(failed)
    }
    return result
  }
}

function hookTokenRefresh (task: TokenRefreshTask, metrics: SyncMetrics): void {
  const run = task.run.bind(task)
  task.run = async () => {
    const r = await run()
    if (r.status === 'skipped') metrics.tokenRefresh('run_skipped')
    metrics.tokenRefresh('refreshed', r.refreshed)
    metrics.tokenRefresh('reauth_required', r.reauth_required)
    metrics.tokenRefresh('failed', r.failed)
    metrics.tokenRefresh('skipped', r.skipped)
    return r
  }
}
