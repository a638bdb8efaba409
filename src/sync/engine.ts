/*
 * The sync engine: turns a request (a manual scope, a scheduled guild, a user, an unlinked
 * account) into a run record, takes the locks that keep one sync per guild, executes the
 * guilds with bounded concurrency and records the outcome. Everything Discord-facing happens
 * in guild-sync.ts; everything about entitlements in the planner and the membership provider.
 */
import pLimit from 'p-limit'
import type { FastifyBaseLogger } from 'fastify'
import type { Redis } from 'ioredis'
import type { DiscordRestClient } from '../discord/client.js'
import type { ResolvedSyncOptions } from '../options/index.js'
import {
  GuildDisabledError,
  MappingDisabledError,
  NotFoundError,
  SyncInProgressError,
  SyncLockUnavailableError,
  SyncNotConfiguredError,
  SyncShuttingDownError,
  UserNotLinkedError,
  ValidationError
} from '../errors.js'
import { MAX_PAGE_SIZE } from '../store/port.js'
import type {
  AuditEntryRecord, DiscordStore, DiscordUserRecord, GuildConfigRecord, ListAuditQuery, ListSyncRunsQuery, Page,
  SyncGuildResult, SyncRunError, SyncRunRecord, SyncRunStatus, SyncType
} from '../store/port.js'
import { emptyGuildResult, syncGuild, type GuildOutcome, type GuildSyncDeps } from './guild-sync.js'
import { FallbackSyncLocks, lockKeys, MemorySyncLocks, RedisSyncLocks, type LockHandle, type SyncLocks } from './locks.js'
import type { MembershipProvider } from './membership.js'
import type { SyncMetrics } from './metrics.js'
import { RoleCache } from './role-cache.js'
import { RunContext, type RunProgress } from './run.js'
import { buildUserSyncResult, type UserSyncResult } from './user-sync.js'

/**
 * The resolved `sync` options the engine runs with (see `sync.*` in the plugin options for what
 * each means and its default), plus the plugin's Redis key prefix.
 */
export type SyncEngineSettings = Pick<ResolvedSyncOptions, 'workers' | 'guildConcurrency' | 'lockTtlMs' | 'heartbeatMs' | 'staleAfterMs' | 'roleCacheTtlMs' | 'auditChannel'> & {
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
  now?: () => Date
}

/** POST /sync/manual: at most one of guild_id / mapping_id, optionally user_ids. */
export interface ManualSyncInput {
  guild_id?: string | undefined
  mapping_id?: string | undefined
  user_ids?: string[] | undefined
  dry_run?: boolean | undefined
  force?: boolean | undefined
}

export interface StartedRun {
  run: SyncRunRecord
  /** Settles with the final record (never rejects). */
  done: Promise<SyncRunRecord>
}

/** A run as routes show it: the record plus live progress when it runs in this instance. */
export interface RunView {
  run: SyncRunRecord
  progress: RunProgress | null
}

export interface SyncStatusRecentError {
  run_id: string
  user_id: string | null
  discord_user_id: string | null
  guild_id: string | null
  error: string
  code: string | null
  occurred_at: Date
}

export interface SyncStatus {
  last_full_sync: Date | null
  sync_in_progress: boolean
  total_users: number
  synced_users: number
  failed_users: number
  total_guilds: number
  active_role_mappings: number
  recent_errors: SyncStatusRecentError[]
  current_runs: Array<{ run: SyncRunRecord, progress: RunProgress | null }>
}

interface Scope {
  syncType: SyncType
  targetId: string | null
  guilds: GuildConfigRecord[]
  discordIds: string[] | null
  onlyRoleIds: Set<string> | null
  /** Lock taken before the run starts (409 when held). */
  lockKey: string | null
  /** Full runs lock each guild as they reach it, skipping guilds another run holds. */
  lockEachGuild: boolean
  collect: boolean
}

interface ActiveRun {
  ctx: RunContext
  done: Promise<SyncRunRecord>
}

const FINISHED: ReadonlySet<SyncRunStatus> = new Set(['completed', 'failed', 'blocked'])
const RECENT_ERRORS = 20
export const UNLINK_INITIATOR_PREFIX = 'unlink:'

function runStatus (guilds: readonly SyncGuildResult[], aborted: boolean): SyncRunStatus {
  if (aborted) return 'failed'
  if (guilds.some((g) => g.status === 'blocked')) return 'blocked'
  if (guilds.length > 0 && guilds.every((g) => g.status === 'failed' || g.status === 'skipped') && guilds.some((g) => g.status === 'failed')) return 'failed'
  return 'completed'
}

export class SyncEngine {
  readonly locks: SyncLocks
  readonly roleCache: RoleCache
  readonly #d: SyncEngineDeps
  readonly #s: SyncEngineSettings
  readonly #now: () => Date
  readonly #active = new Map<string, ActiveRun>()
  /** Pending runs claimed by this instance (unlink removals), so a tick never starts one twice. */
  readonly #claimed = new Set<string>()
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
  }

  /** True when a membership provider is configured: without one no sync runs and no role is written. */
  get configured (): boolean {
    return this.#d.membership !== null
  }

  /** Ids of the runs executing in this instance. */
  get activeRunIds (): string[] {
    return [...this.#active.keys()]
  }

  #requireConfigured (): void {
    if (this.#d.membership === null) throw new SyncNotConfiguredError('pass a membership provider in the plugin options (`membership`)')
    if (this.#closing) throw new SyncShuttingDownError()
  }

  #guildDeps (): GuildSyncDeps {
    return {
      store: this.#d.store,
      client: this.#d.client,
      roleCache: this.roleCache,
      membership: this.#d.membership,
      log: this.#d.log,
      workers: this.#s.workers,
      auditChannel: this.#s.auditChannel
    }
  }

  async #enabledGuild (guildId: string): Promise<GuildConfigRecord> {
    const guild = await this.#d.store.getGuild(guildId)
    if (guild === null) throw new NotFoundError(`guild ${guildId} is not configured`)
    if (!guild.enabled) throw new GuildDisabledError(guildId)
    return guild
  }

  async #activeLinks (userId: string): Promise<DiscordUserRecord[]> {
    return (await this.#d.store.listUsersByUserId(userId)).filter((l) => l.is_active)
  }

  async #scopeOf (input: ManualSyncInput): Promise<Scope> {
    if (input.guild_id !== undefined && input.mapping_id !== undefined) throw new ValidationError('send guild_id or mapping_id, not both')
    if (input.mapping_id !== undefined && input.user_ids !== undefined) throw new ValidationError('user_ids cannot be combined with mapping_id')
    if (input.mapping_id !== undefined) {
      const mapping = await this.#d.store.getMapping(input.mapping_id)
      if (mapping === null) throw new NotFoundError(`role mapping ${input.mapping_id} does not exist`)
      if (!mapping.enabled) throw new MappingDisabledError(mapping.id)
      const guild = await this.#enabledGuild(mapping.guild_id)
      return { syncType: 'mapping', targetId: mapping.id, guilds: [guild], discordIds: null, onlyRoleIds: new Set([mapping.discord_role_id]), lockKey: lockKeys.guild(guild.guild_id), lockEachGuild: false, collect: false }
    }
    if (input.user_ids !== undefined) {
      const userIds = [...new Set(input.user_ids)]
      const discordIds: string[] = []
      for (const userId of userIds) {
        const links = await this.#activeLinks(userId)
        if (links.length === 0) throw new UserNotLinkedError(userId)
        for (const l of links) discordIds.push(l.discord_user_id)
      }
      const guilds = input.guild_id !== undefined ? [await this.#enabledGuild(input.guild_id)] : await this.#d.store.listGuilds({ enabled: true })
      // Named users are re-read before every write, so they need no guild lock.
      return { syncType: 'user', targetId: userIds.join(','), guilds, discordIds, onlyRoleIds: null, lockKey: null, lockEachGuild: false, collect: false }
    }
    if (input.guild_id !== undefined) {
      const guild = await this.#enabledGuild(input.guild_id)
      return { syncType: 'guild', targetId: guild.guild_id, guilds: [guild], discordIds: null, onlyRoleIds: null, lockKey: lockKeys.guild(guild.guild_id), lockEachGuild: false, collect: false }
    }
    return { syncType: 'full', targetId: null, guilds: await this.#d.store.listGuilds({ enabled: true }), discordIds: null, onlyRoleIds: null, lockKey: lockKeys.full, lockEachGuild: true, collect: false }
  }

  #lockTarget (scope: Scope): string {
    return scope.lockKey === lockKeys.full ? 'every guild (full sync)' : `guild ${scope.guilds[0]?.guild_id ?? ''}`
  }

  async #acquire (key: string, runId: string): Promise<{ ok: true, handle: LockHandle } | { ok: false, heldBy: string | null }> {
    try {
      return await this.locks.acquire(key, runId)
    } catch (err) {
      throw new SyncLockUnavailableError((err as Error).name ?? 'error')
    }
  }

  /** A manual run (admin): validates the scope, refuses a guild already being synced (409), starts in the background. */
  async startManual (input: ManualSyncInput, initiatedBy: string): Promise<StartedRun> {
    this.#requireConfigured()
    const scope = await this.#scopeOf(input)
    if (scope.lockKey !== null) {
      let holder: string | null
      try {
        holder = await this.locks.holder(scope.lockKey)
      } catch (err) {
        throw new SyncLockUnavailableError((err as Error).name ?? 'error')
      }
      if (holder !== null) throw this.#inProgress(this.#lockTarget(scope), holder)
    }
    const started = await this.#start(scope, { dry_run: input.dry_run === true, force: input.force === true, initiated_by: initiatedBy })
    if (!started.ok) throw this.#inProgress(this.#lockTarget(scope), started.heldBy ?? 'unknown')
    return started.run
  }

  #inProgress (target: string, runId: string): Error {
    const err = new SyncInProgressError(target, runId)
    Object.assign(err, { run_id: runId })
    return err
  }

  /** A scheduled guild run. Null when the guild is locked by another run (it is then simply not due yet). */
  async startGuild (guildId: string, initiatedBy = 'system'): Promise<StartedRun | null> {
    this.#requireConfigured()
    const guild = await this.#enabledGuild(guildId)
    const scope: Scope = { syncType: 'guild', targetId: guildId, guilds: [guild], discordIds: null, onlyRoleIds: null, lockKey: lockKeys.guild(guildId), lockEachGuild: false, collect: false }
    if (await this.locks.holder(scope.lockKey as string) !== null) return null
    const started = await this.#start(scope, { dry_run: false, force: false, initiated_by: initiatedBy })
    return started.ok ? started.run : null
  }

  async #start (scope: Scope, run: { dry_run: boolean, force: boolean, initiated_by: string }): Promise<{ ok: true, run: StartedRun } | { ok: false, heldBy: string | null }> {
    const now = this.#now()
    const record = await this.#d.store.createSyncRun({
      sync_type: scope.syncType, target_id: scope.targetId, status: 'running', dry_run: run.dry_run, force: run.force, started_at: now, initiated_by: run.initiated_by
    })
    const handles: LockHandle[] = []
    if (scope.lockKey !== null) {
      let got
      try {
        got = await this.#acquire(scope.lockKey, record.id)
      } catch (err) {
        await this.#abandon(record, 'the sync lock was unavailable', 'lock_unavailable')
        throw err
      }
      if (!got.ok) {
        // Lost a race between the holder check and the acquire: the record says why it never ran.
        await this.#abandon(record, `another run (${got.heldBy ?? 'unknown'}) took the lock first`, 'in_progress')
        return { ok: false, heldBy: got.heldBy }
      }
      handles.push(got.handle)
    }
    return { ok: true, run: { run: record, done: this.#launch(record, scope, handles) } }
  }

  async #abandon (record: SyncRunRecord, why: string, code: string): Promise<void> {
    const at = this.#now()
    await this.#d.store.updateSyncRun(record.id, {
      status: 'failed', completed_at: at, duration: 0, results: { ...record.results, errors: [{ error: why, code, occurred_at: at }] }
    }).catch(() => {})
  }

  #context (record: SyncRunRecord, handles: LockHandle[]): RunContext {
    return new RunContext(record, {
      store: this.#d.store,
      metrics: this.#d.metrics,
      log: this.#d.log,
      now: this.#now,
      heartbeatMs: this.#s.heartbeatMs,
      renewLocks: async () => {
        const renewed = await Promise.all(handles.map((h) => this.locks.renew(h)))
        return renewed.every(Boolean)
      }
    })
  }

  /** Runs a scope in the background; the returned promise settles with the final record and never rejects. */
  #launch (record: SyncRunRecord, scope: Scope, handles: LockHandle[], onGuilds?: (outcomes: Array<{ guild: GuildConfigRecord, outcome: GuildOutcome }>) => void): Promise<SyncRunRecord> {
    const ctx = this.#context(record, handles)
    this.#d.metrics.runStarted()
    ctx.startHeartbeat()
    const done = (async () => {
      let status: SyncRunStatus = 'failed'
      try {
        const outcomes = await this.#execute(ctx, scope, handles)
        onGuilds?.(outcomes)
        status = runStatus(ctx.results.guilds, ctx.signal.aborted)
        if (ctx.signal.aborted) ctx.error({ error: `interrupted: ${String((ctx.signal.reason as Error)?.message ?? 'cancelled')}`, code: 'interrupted' })
      } catch (err) {
        this.#d.log.error({ run_id: record.id, err: { name: (err as Error)?.name, code: (err as { code?: unknown })?.code } }, 'sync run failed')
        ctx.error({ error: `the run failed: ${(err as { code?: unknown })?.code === undefined ? 'internal error' : String((err as { code: unknown }).code)}`, code: 'internal' })
      }
      await Promise.all(handles.map((h) => this.locks.release(h).catch(() => {})))
      try {
        return await ctx.finish(status)
      } catch (err) {
        this.#d.log.error({ run_id: record.id, code: (err as { code?: unknown })?.code }, 'recording the end of a sync run failed')
        return { ...record, status }
      } finally {
        this.#active.delete(record.id)
      }
    })()
    this.#active.set(record.id, { ctx, done })
    return done
  }

  async #execute (ctx: RunContext, scope: Scope, handles: LockHandle[]): Promise<Array<{ guild: GuildConfigRecord, outcome: GuildOutcome }>> {
    ctx.progress.guilds_total = scope.guilds.length
    const deps = this.#guildDeps()
    const outcomes: Array<{ guild: GuildConfigRecord, outcome: GuildOutcome }> = []
    const limit = pLimit(this.#s.guildConcurrency)
    await Promise.all(scope.guilds.map((guild) => limit(async () => {
      if (ctx.signal.aborted) return this.#skipGuild(ctx, guild, 'the run was cancelled before reaching this guild')
      let handle: LockHandle | null = null
      if (scope.lockEachGuild) {
        const got = await this.#acquire(lockKeys.guild(guild.guild_id), ctx.id).catch(() => ({ ok: false as const, heldBy: null }))
        if (!got.ok) return this.#skipGuild(ctx, guild, got.heldBy === null ? 'the guild lock was unavailable' : `run ${got.heldBy} is syncing this guild`)
        handle = got.handle
        handles.push(handle)
      }
      try {
        const mappings = await this.#d.store.listMappings({ guild_id: guild.guild_id })
        const outcome = await syncGuild(deps, ctx, { guild, mappings, discordIds: scope.discordIds, onlyRoleIds: scope.onlyRoleIds, collect: scope.collect })
        outcomes.push({ guild, outcome })
      } finally {
        if (handle !== null) {
          handles.splice(handles.indexOf(handle), 1)
          await this.locks.release(handle).catch(() => {})
        }
      }
    })))
    // Same order as the guild list, whatever order they finished in.
    const order = new Map(scope.guilds.map((g, i) => [g.guild_id, i]))
    outcomes.sort((a, b) => (order.get(a.guild.guild_id) ?? 0) - (order.get(b.guild.guild_id) ?? 0))
    return outcomes
  }

  #skipGuild (ctx: RunContext, guild: GuildConfigRecord, reason: string): void {
    ctx.results.guilds.push({ ...emptyGuildResult(guild.guild_id), status: 'skipped', reason })
    ctx.progress.guilds_done++
  }

  /**
   * POST /sync/user/{user_id}: syncs every linked account of the user in every enabled guild
   * and answers in the seed's shape once done (a user touches a handful of members, so the
   * caller waits). No guild lock: each member is read right before it is written.
   */
  async syncUser (userId: string, initiatedBy: string): Promise<UserSyncResult> {
    this.#requireConfigured()
    const links = await this.#activeLinks(userId)
    if (links.length === 0) throw new UserNotLinkedError(userId)
    const guilds = await this.#d.store.listGuilds({ enabled: true })
    const scope: Scope = { syncType: 'user', targetId: userId, guilds, discordIds: links.map((l) => l.discord_user_id), onlyRoleIds: null, lockKey: null, lockEachGuild: false, collect: true }
    const record = await this.#d.store.createSyncRun({ sync_type: 'user', target_id: userId, status: 'running', started_at: this.#now(), initiated_by: initiatedBy })
    let outcomes: Array<{ guild: GuildConfigRecord, outcome: GuildOutcome }> = []
    const final = await this.#launch(record, scope, [], (o) => { outcomes = o })
    const syncedAt = final.completed_at ?? this.#now()
    await Promise.all(links.map((l) => this.#d.store.updateUser(l.discord_user_id, { last_sync: syncedAt }).catch(() => null)))
    return buildUserSyncResult(userId, links, outcomes, syncedAt)
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
    const pending = await this.#d.store.getSyncRun(runId)
    if (pending === null) return null
    const claimed = await this.#claimUnlink(pending)
    return claimed === null ? null : await claimed.done
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
    const record = await this.#d.store.createSyncRun({ sync_type: 'user', target_id: discordUserId, status: 'running', started_at: this.#now(), initiated_by: initiatedBy })
    const guilds = (await this.#d.store.listGuilds({ enabled: true })).filter((g) => g.settings.remove_roles_on_leave)
    const scope: Scope = { syncType: 'user', targetId: discordUserId, guilds, discordIds: [discordUserId], onlyRoleIds: null, lockKey: null, lockEachGuild: false, collect: false }
    return { run: record, done: this.#launch(record, scope, []) }
  }

  /** Claims and starts every pending unlink removal (start-up and scheduler ticks); returns how many started. */
  async processPending (): Promise<number> {
    let started = 0
    // Page after page: a claimed run is no longer pending, so each listing brings the next ones.
    // Stopping at one page would leave the rest to the start-up stale sweep, which fails them.
    for (;;) {
      const pending = await this.#d.store.listSyncRuns({ status: 'pending', limit: MAX_PAGE_SIZE })
      let claimed = 0
      for (const r of pending) {
        if (await this.#claimUnlink(r) !== null) claimed++
      }
      started += claimed
      if (pending.length < MAX_PAGE_SIZE || claimed === 0) return started
    }
  }

  /** Marks a pending unlink run running (fresh heartbeat, so a stale sweep spares it) and launches it. */
  async #claimUnlink (r: SyncRunRecord): Promise<{ done: Promise<SyncRunRecord> } | null> {
    // Without a provider the plugin manages no roles at all: the removal waits until one is configured.
    if (this.#closing || this.#d.membership === null) return null
    if (r.status !== 'pending' || r.target_id === null || !r.initiated_by.startsWith(UNLINK_INITIATOR_PREFIX)) return null
    if (this.#claimed.has(r.id) || this.#active.has(r.id)) return null
    this.#claimed.add(r.id)
    try {
      const now = this.#now()
      const claimed = await this.#d.store.updateSyncRun(r.id, { status: 'running', started_at: now, heartbeat_at: now })
      if (claimed === null) return null
      const guilds = (await this.#d.store.listGuilds({ enabled: true })).filter((g) => g.settings.remove_roles_on_leave)
      const scope: Scope = { syncType: 'user', targetId: claimed.target_id, guilds, discordIds: [r.target_id], onlyRoleIds: null, lockKey: null, lockEachGuild: false, collect: false }
      // Wrapped: an async function returning the promise itself would wait for the whole run.
      return { done: this.#launch(claimed, scope, []) }
    } finally {
      this.#claimed.delete(r.id)
    }
  }

  /**
   * Start-up recovery: pending unlink removals are resumed, then every run whose heartbeat
   * stopped (its instance crashed or was killed) is marked failed as interrupted.
   */
  async recoverStale (): Promise<{ resumed: number, failed: number }> {
    const resumed = await this.processPending()
    const before = new Date(this.#now().getTime() - this.#s.staleAfterMs)
    const failed = await this.#d.store.failStaleSyncRuns(before, `interrupted: no heartbeat since before ${before.toISOString()} (the instance running it stopped or crashed)`)
    if (failed > 0) this.#d.log.warn({ failed }, 'marked interrupted sync runs as failed')
    return { resumed, failed }
  }

  async getRun (id: string): Promise<RunView> {
    const run = await this.#d.store.getSyncRun(id)
    if (run === null) throw new NotFoundError(`sync run ${id} does not exist`)
    const active = this.#active.get(id)
    if (active === undefined) return { run, progress: null }
    // The stored record lags by up to one heartbeat: show this instance's live counters.
    return { run: { ...run, results: active.ctx.snapshot() }, progress: { ...active.ctx.progress } }
  }

  /** Waits for a run of this instance to finish, at most `timeoutMs`; null when it is still running. */
  async waitFor (id: string, timeoutMs: number): Promise<SyncRunRecord | null> {
    const active = this.#active.get(id)
    if (active === undefined) return await this.#d.store.getSyncRun(id)
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<null>((resolve) => { timer = setTimeout(() => resolve(null), timeoutMs); timer.unref() })
    try {
      return await Promise.race([active.done, timeout])
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

  listRuns (query: ListSyncRunsQuery): Promise<SyncRunRecord[]> {
    return this.#d.store.listSyncRuns(query)
  }

  listAudit (query: ListAuditQuery): Promise<Page<AuditEntryRecord>> {
    return this.#d.store.listAudit(query)
  }

  /** GET /sync/status: the seed's figures plus the runs in progress. */
  async status (): Promise<SyncStatus> {
    const store = this.#d.store
    const [runs, totalUsers, guilds, activeMappings] = await Promise.all([
      store.listSyncRuns({ limit: 100 }),
      store.countUsers({ is_active: true }),
      store.listGuilds({ enabled: true }),
      store.countMappings({ enabled: true })
    ])
    const finished = runs.filter((r) => FINISHED.has(r.status))

    // Each guild's latest finished coverage: its own guild run or a full run.
    const latest = new Map<string, { at: Date, result: SyncGuildResult }>()
    for (const r of finished) {
      if (r.sync_type !== 'guild' && r.sync_type !== 'full') continue
      for (const g of r.results.guilds ?? []) {
        if (g.status === 'skipped' || latest.has(g.guild_id)) continue
        latest.set(g.guild_id, { at: r.completed_at ?? r.created_at, result: g })
      }
    }
    const enabledIds = guilds.map((g) => g.guild_id)
    for (const id of enabledIds) {
      if (latest.has(id)) continue
      // Older than the newest 100 runs: ask for this guild's latest guild run.
      const [r] = (await store.listSyncRuns({ sync_type: 'guild', target_id: id, limit: 5 })).filter((x) => FINISHED.has(x.status))
      const g = r?.results.guilds?.find((x) => x.guild_id === id)
      if (r !== undefined && g !== undefined) latest.set(id, { at: r.completed_at ?? r.created_at, result: g })
    }
    let synced = 0
    let failed = 0
    for (const id of enabledIds) {
      const l = latest.get(id)
      if (l === undefined) continue
      failed += l.result.members_failed
      synced += Math.max(0, l.result.members_scanned - l.result.members_failed)
    }
    const lastFull = finished.find((r) => r.sync_type === 'full' && r.status === 'completed')?.completed_at ?? null
    // Every enabled guild completed since some moment: that moment counts as a full sync too.
    let coveredAt: Date | null = null
    if (enabledIds.length > 0 && enabledIds.every((id) => latest.get(id)?.result.status === 'completed')) {
      coveredAt = new Date(Math.min(...enabledIds.map((id) => (latest.get(id) as { at: Date }).at.getTime())))
    }
    const last = lastFull !== null && coveredAt !== null ? (lastFull > coveredAt ? lastFull : coveredAt) : (lastFull ?? coveredAt)

    const recent: SyncStatusRecentError[] = []
    for (const r of runs) {
      for (const e of [...r.results.errors].reverse()) {
        if (recent.length >= RECENT_ERRORS) break
        recent.push(toRecentError(r.id, e))
      }
      if (recent.length >= RECENT_ERRORS) break
    }
    recent.sort((a, b) => b.occurred_at.getTime() - a.occurred_at.getTime())

    const running = runs.filter((r) => r.status === 'running')
    for (const id of this.#active.keys()) if (!running.some((r) => r.id === id)) running.push(this.#active.get(id)?.ctx.record as SyncRunRecord)
    const current = running.map((run) => {
      const active = this.#active.get(run.id)
      return { run: active === undefined ? run : { ...run, results: active.ctx.snapshot() }, progress: active === undefined ? null : { ...active.ctx.progress } }
    })
    return {
      last_full_sync: last,
      sync_in_progress: current.length > 0,
      total_users: totalUsers,
      synced_users: synced,
      failed_users: failed,
      total_guilds: guilds.length,
      active_role_mappings: activeMappings,
      recent_errors: recent,
      current_runs: current
    }
  }

  /** Stops accepting runs, cancels those in progress (recorded as failed: interrupted) and waits for them to record it. */
  async close (): Promise<void> {
    this.#closing = true
    const runs = [...this.#active.values()]
    for (const r of runs) r.ctx.abort('the server is shutting down')
    await Promise.all(runs.map((r) => r.done))
  }
}

function toRecentError (runId: string, e: SyncRunError): SyncStatusRecentError {
  return {
    run_id: runId,
    user_id: e.user_id ?? null,
    discord_user_id: e.discord_user_id ?? null,
    guild_id: e.guild_id ?? null,
    error: e.error,
    code: e.code === undefined || e.code === null ? null : String(e.code),
    occurred_at: e.occurred_at
  }
}
