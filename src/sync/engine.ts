/*
 * The sync engine: turns a request (a manual scope, a scheduled guild, a user, an unlinked
 * account) into a run, refusing what may not run (not configured, shutting down, a guild
 * already being synced), and answers the queries about runs. How a run is executed and
 * recorded is runner.ts; unlink removals are unlink-removals.ts; the status figures are
 * status.ts. Everything Discord-facing happens in guild-sync.ts; everything about
 * entitlements in the planner and the membership provider.
 */
import type { FastifyBaseLogger } from 'fastify'
import type { DiscordSyncEvents } from '../events.js'
import type { RedisConnection as Redis } from '../util/driver-types.js'
import type { DiscordRestClient } from '../discord/client.js'
import type { ResolvedSyncOptions } from '../options/index.js'
import {
  NotFoundError,
  SyncInProgressError,
  SyncLockUnavailableError,
  SyncNotConfiguredError,
  SyncShuttingDownError,
  UserNotLinkedError,
  ValidationError
} from '../errors.js'
import {
  summariseRun,
  type AuditEntryRecord, type DiscordStore, type ListAuditQuery, type ListSyncRunsQuery, type Page, type SyncRunRecord, type SyncRunSummaryRecord
} from '../store/port/index.js'
import { FallbackSyncLocks, lockKeys, MemorySyncLocks, RedisSyncLocks, type SyncLocks } from './locks.js'
import { NO_MEMBERSHIP_PROVIDER, type MembershipProvider } from './membership.js'
import { guardProvider } from './provider-guard.js'
import { WritePacer } from './write-pacer.js'
import type { SyncMetrics } from './metrics.js'
import { RoleCache } from './role-cache.js'
import type { RunProgress } from './run.js'
import type { EntitlementsObserver, RoleWriteObserver, UserTokenSource } from './guild-context.js'
import { StaleRuns } from './stale-runs.js'
import { SyncRunner, type GuildOutcomes, type Scope } from './runner.js'
import { FINISHED, SyncStatusReader, type SyncStatus } from './status.js'
import { UnlinkRemovals } from './unlink-removals.js'
import { buildUserSyncResult, type UserSyncResult } from './user-sync.js'
import { activeLinks, enabledGuild, manualScope, type ManualSyncInput } from './scopes.js'

export type { SyncStatus, SyncStatusRecentError } from './status.js'
export { UNLINK_INITIATOR_PREFIX } from './unlink-removals.js'
export type { ManualSyncInput } from './scopes.js'

/**
 * The resolved `sync` options the engine runs with (see `sync.*` in the plugin options for what
 * each means and its default), plus the plugin's Redis key prefix.
 */
export type SyncEngineSettings = Pick<ResolvedSyncOptions, 'workers' | 'guildConcurrency' | 'lockTtlMs' | 'heartbeatMs' | 'staleAfterMs' | 'roleCacheTtlMs' | 'auditChannel'> &
Partial<Pick<ResolvedSyncOptions, 'guildTimeoutMs' | 'providerTimeoutMs' | 'providerRetries' | 'writeDelayMs'>> & {
  redisKeyPrefix: string
}

export interface SyncEngineDeps {
  store: DiscordStore
  client: DiscordRestClient
  redis: Redis | null
  membership: MembershipProvider | null
  metrics: SyncMetrics
  log: FastifyBaseLogger
  settings: SyncEngineSettings
  /** Where runs announce their end (`sync.finished`). */
  events: DiscordSyncEvents
  /** Told of each role write before it is sent (the Gateway recognises its echo). */
  onWrite?: RoleWriteObserver
  /** Users' OAuth tokens, for join on link (guild setting auto_join); null without an OAuth application. */
  userTokens?: UserTokenSource | null
  /** Told of the entitlements real runs resolve for linked members (Linked Roles). */
  onEntitlements?: EntitlementsObserver
  now?: () => Date
}

export interface StartedRun {
  run: SyncRunRecord
  /** Settles with the final record (never rejects). */
  done: Promise<SyncRunRecord>
}

/** What `syncMember` did for its member. */
export interface MemberSyncOutcome { run_id: string, status: string, applied: number, held: number, in_guild: boolean }

/** A run as routes show it: the record plus live progress when it runs in this instance. */
export interface RunView {
  run: SyncRunRecord
  progress: RunProgress | null
}

export class SyncEngine {
  readonly locks: SyncLocks
  readonly roleCache: RoleCache
  readonly #d: SyncEngineDeps
  readonly #s: SyncEngineSettings
  readonly #now: () => Date
  readonly #runner: SyncRunner
  readonly #status: SyncStatusReader
  readonly #removals: UnlinkRemovals
  readonly #stale: StaleRuns
  #closing = false

  constructor (deps: SyncEngineDeps) {
    this.#d = deps
    this.#s = deps.settings
    this.#now = deps.now ?? (() => new Date())
    const memory = new MemorySyncLocks(this.#s.lockTtlMs)
    this.locks = deps.redis === null
      ? memory
      : new FallbackSyncLocks(new RedisSyncLocks(deps.redis, `${this.#s.redisKeyPrefix}sync-lock:`, this.#s.lockTtlMs), memory, (op, err) => {
        deps.log.warn({ op, err: { name: (err as Error)?.name, code: (err as { code?: unknown })?.code } }, 'Redis unreachable for the sync lock: using this instance\'s lock')
      })
    this.roleCache = new RoleCache({ ttlMs: this.#s.roleCacheTtlMs, redis: deps.redis, prefix: `${this.#s.redisKeyPrefix}roles:` })
    this.#runner = new SyncRunner({
      store: deps.store,
      client: deps.client,
      roleCache: this.roleCache,
      locks: this.locks,
      // Bounded in time and retried, so a hung host provider cannot hold a guild lock forever.
      membership: deps.membership === null || this.#s.providerTimeoutMs === undefined
        ? deps.membership
        : guardProvider(deps.membership, { timeoutMs: this.#s.providerTimeoutMs, retries: this.#s.providerRetries ?? 0 }),
      pacer: new WritePacer(this.#s.writeDelayMs ?? 0),
      metrics: deps.metrics,
      log: deps.log,
      settings: this.#s,
      now: this.#now,
      events: deps.events,
      ...(deps.onWrite === undefined ? {} : { onWrite: deps.onWrite }),
      ...(deps.onEntitlements === undefined ? {} : { onEntitlements: deps.onEntitlements }),
      userTokens: deps.userTokens ?? null
    })
    this.#status = new SyncStatusReader(deps.store, this.#runner)
    this.#stale = new StaleRuns({ ...deps, locks: this.locks, isActive: (id) => this.#runner.isActive(id), now: this.#now, staleAfterMs: this.#s.staleAfterMs })
    this.#removals = new UnlinkRemovals({
      store: deps.store,
      runner: this.#runner,
      now: this.#now,
      accepting: () => !this.#closing && this.#d.membership !== null
    })
  }

  /** True when a membership provider is configured: without one no sync runs and no role is written. */
  get configured (): boolean {
    return this.#d.membership !== null
  }

  /** Ids of the runs executing in this instance. */
  get activeRunIds (): string[] {
    return this.#runner.ids
  }

  #requireConfigured (): void {
    if (this.#d.membership === null) throw new SyncNotConfiguredError(NO_MEMBERSHIP_PROVIDER)
    if (this.#closing) throw new SyncShuttingDownError()
  }

  #lockTarget (scope: Scope): string {
    return scope.lockKey === lockKeys.full ? 'every guild (full sync)' : `guild ${scope.guilds[0]?.guild_id ?? ''}`
  }

  /** A manual run (admin): validates the scope, refuses a guild already being synced (409), starts in the background. */
  async startManual (input: ManualSyncInput, initiatedBy: string): Promise<StartedRun> {
    this.#requireConfigured()
    const scope = await manualScope(this.#d.store, input)
    if (scope.lockKey !== null) {
      let holder: string | null
      try {
        holder = await this.#stale.claimant(scope.lockKey)
      } catch (err) {
        throw new SyncLockUnavailableError((err as Error).name ?? 'error')
      }
      if (holder !== null) throw this.#inProgress(this.#lockTarget(scope), holder)
    }
    const started = await this.#runner.start(scope, { dry_run: input.dry_run === true, force: input.force === true, initiated_by: initiatedBy })
    if (!started.ok) throw this.#inProgress(this.#lockTarget(scope), started.heldBy ?? 'unknown')
    return { run: started.run, done: started.done }
  }

  #inProgress (target: string, runId: string): Error {
    const err = new SyncInProgressError(target, runId)
    Object.assign(err, { run_id: runId })
    return err
  }

  /** A scheduled guild run. Null when the guild is locked by another run (it is then simply not due yet). */
  async startGuild (guildId: string, initiatedBy = 'system'): Promise<StartedRun | null> {
    this.#requireConfigured()
    const guild = await enabledGuild(this.#d.store, guildId)
    const scope: Scope = { syncType: 'guild', targetId: guildId, guilds: [guild], discordIds: null, onlyRoleIds: null, lockKey: lockKeys.guild(guildId), lockEachGuild: false, collect: false }
    // Not only the lock: a dead instance's run whose lock lapsed holds the guild until it is swept.
    if (await this.#stale.claimant(scope.lockKey as string) !== null) return null
    const started = await this.#runner.start(scope, { dry_run: false, force: false, initiated_by: initiatedBy })
    return started.ok ? { run: started.run, done: started.done } : null
  }

  /**
   * POST /sync/user/{user_id}: syncs every linked account of the user in every enabled guild
   * and answers in the seed's shape once done (a user touches a handful of members, so the
   * caller waits). No guild lock: each member is read right before it is written.
   */
  async syncUser (userId: string, initiatedBy: string): Promise<UserSyncResult> {
    this.#requireConfigured()
    const links = await activeLinks(this.#d.store, userId)
    if (links.length === 0) throw new UserNotLinkedError(userId)
    const guilds = await this.#d.store.listGuilds({ enabled: true })
    const scope: Scope = { syncType: 'user', targetId: userId, guilds, discordIds: links.map((l) => l.discord_user_id), onlyRoleIds: null, lockKey: null, lockEachGuild: false, collect: true }
    const record = await this.#d.store.createSyncRun({ sync_type: 'user', target_id: userId, status: 'running', started_at: this.#now(), initiated_by: initiatedBy })
    let outcomes: GuildOutcomes = []
    const final = await this.#runner.launch(record, scope, [], (o) => { outcomes = o })
    const syncedAt = final.completed_at ?? this.#now()
    await Promise.all(links.map((l) => this.#d.store.updateUser(l.discord_user_id, { last_sync: syncedAt }).catch(() => null)))
    return buildUserSyncResult(userId, links, outcomes, syncedAt)
  }

  /**
   * One member of one guild, for a Gateway event (`join:<id>`, `drift:<id>`): the same planner,
   * safety brake and dry-run rules as every run, the member re-read before any write. Resolves
   * with what changed (applied) or would have (held: dry run or brake).
   */
  async syncMember (guildId: string, discordUserId: string, o: { initiatedBy: string, dryRun: boolean }): Promise<MemberSyncOutcome> {
    this.#requireConfigured()
    const guild = await enabledGuild(this.#d.store, guildId)
    const scope: Scope = { syncType: 'user', targetId: discordUserId, guilds: [guild], discordIds: [discordUserId], onlyRoleIds: null, lockKey: null, lockEachGuild: false, collect: true }
    const record = await this.#d.store.createSyncRun({ sync_type: 'user', target_id: discordUserId, status: 'running', started_at: this.#now(), initiated_by: o.initiatedBy, dry_run: o.dryRun })
    let outcomes: GuildOutcomes = []
    const final = await this.#runner.launch(record, scope, [], (x) => { outcomes = x })
    const m = outcomes[0]?.outcome.members.find((x) => x.discord_user_id === discordUserId)
    return { run_id: final.id, status: final.status, applied: m?.applied.length ?? 0, held: m?.held.length ?? 0, in_guild: m?.in_guild ?? false }
  }

  /** Sync on link: a user who just linked gets their roles at once. Failures are logged, never thrown. */
  syncUserSoon (userId: string, why: string): void {
    if (this.#d.membership === null || this.#closing) return
    this.syncUser(userId, why).catch((err: unknown) => {
      this.#d.log.warn({ user_id: userId, code: (err as { code?: unknown })?.code }, 'sync after link failed')
    })
  }

  /**
   * Applies an unlink: the link is gone, so planning the Discord account as unlinked removes its
   * managed roles in every enabled guild whose remove_roles_on_leave is on (the planner leaves
   * the member alone elsewhere, so those guilds are not even asked). The unlink queued a pending
   * run (sync_type user, target = the Discord id); it is claimed and executed here. Resolves
   * with the final record, or null when the run is not a pending unlink removal (any more).
   */
  async runUnlinkRemoval (runId: string): Promise<SyncRunRecord | null> {
    return await this.#removals.run(runId)
  }

  /**
   * Removes the managed roles of a Discord account that is no longer linked (a host deleting
   * links itself, or an unlink that queued nothing), in every enabled guild with
   * remove_roles_on_leave. Each guild costs one GET member; guilds the account is not in are
   * skipped silently. Like every sync, it needs a membership provider (without one the plugin
   * manages no roles).
   */
  async removeManagedRoles (discordUserId: string, initiatedBy: string): Promise<StartedRun> {
    this.#requireConfigured()
    if (!/^\d{17,20}$/.test(discordUserId)) throw new ValidationError('discord_user_id must be a Discord snowflake')
    return await this.#removals.removeNow(discordUserId, initiatedBy)
  }

  /** Claims and starts every pending unlink removal (start-up and scheduler ticks); returns how many started. */
  async processPending (): Promise<number> {
    return await this.#removals.processPending()
  }

  /**
   * Start-up recovery: pending unlink removals are resumed, then every run whose heartbeat
   * stopped (its instance crashed or was killed) is marked failed as interrupted.
   */
  async recoverStale (): Promise<{ resumed: number, failed: number }> {
    const resumed = await this.processPending()
    const failed = await this.sweepStale()
    return { resumed, failed }
  }

  /**
   * Runs every scheduler tick (and at start-up): a run without a heartbeat for `sync.staleAfter`
   * lost its instance (crash, SIGKILL). It is marked failed (error code `stale`, "interrupted"),
   * the writes it had in flight are audited from what Discord holds (reconcile.ts), the lock it
   * held is freed, and its guild is due again at once. Returns how many were swept.
   */
  async sweepStale (): Promise<number> {
    return await this.#stale.sweep()
  }

  async getRun (id: string): Promise<RunView> {
    const run = await this.#d.store.getSyncRun(id)
    if (run === null) throw new NotFoundError(`sync run ${id} does not exist`)
    return this.#runner.view(run)
  }

  /** Waits for a run of this instance to finish, at most `timeoutMs`; null when it is still running. */
  async waitFor (id: string, timeoutMs: number): Promise<SyncRunRecord | null> {
    const done = this.#runner.done(id)
    if (done === undefined) return await this.#d.store.getSyncRun(id)
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<null>((resolve) => { timer = setTimeout(() => resolve(null), timeoutMs); timer.unref() })
    try {
      return await Promise.race([done, timeout])
    } finally {
      clearTimeout(timer)
    }
  }

  /**
   * POST /sync/manual: starts the run and, when asked, waits up to `waitMs` for it. A finished
   * run comes back with its first `changesLimit` audit entries (every planned, applied or
   * blocked change, for a dry run the whole plan) and their total.
   */
  async manual (input: ManualSyncInput & { wait?: boolean | undefined }, initiatedBy: string, waitMs: number, changesLimit = 100): Promise<{ finished: boolean, view: RunView, changes: Page<AuditEntryRecord> | null }> {
    const started = await this.startManual(input, initiatedBy)
    const final = input.wait === true ? await this.waitFor(started.run.id, waitMs) : null
    if (final === null || !FINISHED.has(final.status)) return { finished: false, view: await this.getRun(started.run.id), changes: null }
    const changes = await this.#d.store.listAudit({ run_id: final.id, page: 1, page_size: changesLimit })
    return { finished: true, view: { run: final, progress: null }, changes }
  }

  listRuns (query: ListSyncRunsQuery): Promise<SyncRunRecord[]> { return this.#d.store.listSyncRuns(query) }

  /** Runs for a list, their results as counts: the store's kept figures when it has them. */
  async listRunSummaries (query: ListSyncRunsQuery): Promise<SyncRunSummaryRecord[]> {
    const { store } = this.#d
    if (typeof store.listSyncRunSummaries === 'function') return await store.listSyncRunSummaries(query)
    return (await store.listSyncRuns(query)).map(summariseRun)
  }

  listAudit (query: ListAuditQuery): Promise<Page<AuditEntryRecord>> { return this.#d.store.listAudit(query) }

  /** GET /sync/status: the seed's figures plus the runs in progress. */
  async status (): Promise<SyncStatus> {
    return await this.#status.read()
  }

  /** Stops accepting runs, cancels those in progress (recorded as failed: interrupted) and waits for them to record it. */
  async close (): Promise<void> {
    this.#closing = true
    await this.#runner.cancelAll('the server is shutting down')
  }
}
