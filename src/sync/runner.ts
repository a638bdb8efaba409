/*
 * Run bookkeeping: the runs executing in this instance. A scope becomes a run record, takes the
 * lock that keeps one sync per guild, runs its guilds with bounded concurrency (guild-sync.ts
 * does each guild), and always ends with a final record, whatever failed on the way. The
 * engine decides what to run; this decides how a run is carried out and recorded.
 */
import pLimit from 'p-limit'
import type { FastifyBaseLogger } from 'fastify'
import type { DiscordSyncEvents } from '../events.js'
import type { DiscordRestClient } from '../discord/client.js'
import type { ResolvedSyncOptions } from '../options/index.js'
import { SyncLockUnavailableError } from '../errors.js'
import type { DiscordStore, GuildConfigRecord, SyncGuildResult, SyncRunRecord, SyncRunStatus, SyncType } from '../store/port/index.js'
import { emptyGuildResult, syncGuild, type GuildOutcome, type GuildSyncDeps } from './guild-sync.js'
import type { EntitlementsObserver, RoleWriteObserver, UserTokenSource } from './guild-context.js'
import { lockKeys, type LockHandle, type SyncLocks } from './locks.js'
import type { MembershipProvider } from './membership.js'
import type { SyncMetrics } from './metrics.js'
import type { RoleCache } from './role-cache.js'
import { RunContext, type RunProgress } from './run.js'
import type { WritePacer } from './write-pacer.js'

/** What a run covers and how it is locked. */
export interface Scope {
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

/**
 * Guilds one run syncs at once: `sync.guildConcurrency` when set, else one per request per second
 * of the bot's global budget (Discord's 50). A guild is held back by its own member-write bucket
 * (Discord: about one write per second per guild, each write preceded by a re-read), so fewer
 * guilds than that leave the budget idle while the others wait their turn (the old fixed 2 took
 * 10.7x the floor on 20 guilds); more would only hold more member lists in memory. Guilds in
 * flight share the budget through the client's global arbiter, which never lets them exceed it.
 */
export function guildConcurrency (explicit: number | undefined, globalRequestsPerSecond: number): number {
  return explicit ?? Math.max(1, Math.floor(globalRequestsPerSecond))
}

export type GuildOutcomes = Array<{ guild: GuildConfigRecord, outcome: GuildOutcome }>

export interface SyncRunnerDeps {
  store: DiscordStore
  client: DiscordRestClient
  roleCache: RoleCache
  locks: SyncLocks
  membership: MembershipProvider | null
  metrics: SyncMetrics
  log: FastifyBaseLogger
  settings: Pick<ResolvedSyncOptions, 'workers' | 'guildConcurrency' | 'heartbeatMs' | 'auditChannel'> & Partial<Pick<ResolvedSyncOptions, 'guildTimeoutMs'>>
  /** `sync.writeDelay` pacing, shared by every run of this instance. */
  pacer?: WritePacer
  now: () => Date
  /** Each launched run's end is announced as `sync.finished`. */
  events: DiscordSyncEvents
  onWrite?: RoleWriteObserver
  /** Users' OAuth tokens (join on link); null without an OAuth application. */
  userTokens?: UserTokenSource | null
  onEntitlements?: EntitlementsObserver
}

interface ActiveRun {
  ctx: RunContext
  done: Promise<SyncRunRecord>
}

function runStatus (guilds: readonly SyncGuildResult[], aborted: boolean): SyncRunStatus {
  if (aborted) return 'failed'
  if (guilds.some((g) => g.status === 'blocked')) return 'blocked'
  if (guilds.length > 0 && guilds.every((g) => g.status === 'failed' || g.status === 'skipped') && guilds.some((g) => g.status === 'failed')) return 'failed'
  return 'completed'
}

export class SyncRunner {
  readonly #d: SyncRunnerDeps
  readonly #active = new Map<string, ActiveRun>()

  constructor (deps: SyncRunnerDeps) {
    this.#d = deps
  }

  /** Ids of the runs executing in this instance. */
  get ids (): string[] {
    return [...this.#active.keys()]
  }

  isActive (id: string): boolean {
    return this.#active.has(id)
  }

  /** The final record of a run of this instance; undefined when it does not run here. */
  done (id: string): Promise<SyncRunRecord> | undefined {
    return this.#active.get(id)?.done
  }

  /** The records of the runs executing here, as they were when they started. */
  records (): SyncRunRecord[] {
    return [...this.#active.values()].map((a) => a.ctx.record)
  }

  /**
   * The run as routes show it. The stored record lags by up to one heartbeat, so a run of
   * this instance shows its live counters and progress.
   */
  view (run: SyncRunRecord): { run: SyncRunRecord, progress: RunProgress | null } {
    const active = this.#active.get(run.id)
    if (active === undefined) return { run, progress: null }
    return { run: { ...run, results: active.ctx.snapshot() }, progress: { ...active.ctx.progress } }
  }

  async acquire (key: string, runId: string): Promise<{ ok: true, handle: LockHandle } | { ok: false, heldBy: string | null }> {
    try {
      return await this.#d.locks.acquire(key, runId)
    } catch (err) {
      throw new SyncLockUnavailableError((err as Error).name ?? 'error')
    }
  }

  /** Records a run for the scope, takes its lock and launches it; not ok when another run took the lock first. */
  async start (scope: Scope, run: { dry_run: boolean, force: boolean, initiated_by: string }): Promise<{ ok: true, run: SyncRunRecord, done: Promise<SyncRunRecord> } | { ok: false, heldBy: string | null }> {
    const now = this.#d.now()
    const record = await this.#d.store.createSyncRun({
      sync_type: scope.syncType, target_id: scope.targetId, status: 'running', dry_run: run.dry_run, force: run.force, started_at: now, initiated_by: run.initiated_by
    })
    const handles: LockHandle[] = []
    if (scope.lockKey !== null) {
      let got
      try {
        got = await this.acquire(scope.lockKey, record.id)
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
    return { ok: true, run: record, done: this.launch(record, scope, handles) }
  }

  async #abandon (record: SyncRunRecord, why: string, code: string): Promise<void> {
    const at = this.#d.now()
    await this.#d.store.updateSyncRun(record.id, {
      status: 'failed', completed_at: at, duration: 0, results: { ...record.results, errors: [{ error: why, code, occurred_at: at }] }
    }).catch(() => {})
  }

  #context (record: SyncRunRecord, handles: LockHandle[]): RunContext {
    return new RunContext(record, {
      store: this.#d.store,
      metrics: this.#d.metrics,
      log: this.#d.log,
      now: this.#d.now,
      heartbeatMs: this.#d.settings.heartbeatMs,
      renewLocks: async () => {
        const kept = await Promise.all(handles.map(async (h, i) => await this.#d.locks.renew(h) || await this.#retake(handles, i, h)))
        return kept.every(Boolean)
      }
    })
  }

  /**
   * A lock that could not be renewed was lost (its store restarted empty, or it expired while
   * the run stalled). When nobody else took it, taking it again lets the run go on: every
   * member is re-read right before it is written, so nothing written meanwhile is overwritten.
   */
  async #retake (handles: LockHandle[], i: number, lost: LockHandle): Promise<boolean> {
    const got = await this.#d.locks.acquire(lost.key, lost.runId).catch(() => null)
    if (got === null || !got.ok) return false
    // The slot may have shifted if a guild released its lock meanwhile.
    const at = handles[i] === lost ? i : handles.findIndex((h) => h.key === lost.key)
    if (at === -1) {
      await this.#d.locks.release(got.handle).catch(() => {})
      return true
    }
    handles[at] = got.handle
    this.#d.log.warn({ run_id: lost.runId, key: lost.key }, 'sync lock was lost and taken again; the run goes on')
    return true
  }

  /** Runs a scope in the background; the returned promise settles with the final record and never rejects. */
  launch (record: SyncRunRecord, scope: Scope, handles: LockHandle[], onGuilds?: (outcomes: GuildOutcomes) => void): Promise<SyncRunRecord> {
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
      await Promise.all(handles.map((h) => this.#d.locks.release(h).catch(() => {})))
      let final: SyncRunRecord
      try {
        final = await ctx.finish(status)
      } catch (err) {
        this.#d.log.error({ run_id: record.id, code: (err as { code?: unknown })?.code }, 'recording the end of a sync run failed')
        final = { ...record, status }
      } finally {
        this.#active.delete(record.id)
      }
      this.#d.events.emit('sync.finished', {
        run_id: final.id, sync_type: final.sync_type, target_id: final.target_id, status: final.status, dry_run: final.dry_run, initiated_by: final.initiated_by
      })
      return final
    })()
    this.#active.set(record.id, { ctx, done })
    return done
  }

  #guildDeps (): GuildSyncDeps {
    const d = this.#d
    return {
      store: d.store,
      client: d.client,
      roleCache: d.roleCache,
      membership: d.membership,
      log: d.log,
      workers: d.settings.workers,
      auditChannel: d.settings.auditChannel,
      ...(d.settings.guildTimeoutMs === undefined ? {} : { guildTimeoutMs: d.settings.guildTimeoutMs }),
      ...(d.pacer === undefined ? {} : { pacer: d.pacer }),
      ...(d.onWrite === undefined ? {} : { onWrite: d.onWrite }),
      ...(d.onEntitlements === undefined ? {} : { onEntitlements: d.onEntitlements }),
      userTokens: d.userTokens ?? null
    }
  }

  async #execute (ctx: RunContext, scope: Scope, handles: LockHandle[]): Promise<GuildOutcomes> {
    ctx.progress.guilds_total = scope.guilds.length
    const deps = this.#guildDeps()
    const outcomes: GuildOutcomes = []
    const limit = pLimit(guildConcurrency(this.#d.settings.guildConcurrency, this.#d.client.options.globalRequestsPerSecond))
    await Promise.all(scope.guilds.map((guild) => limit(async () => {
      if (ctx.signal.aborted) return this.#skipGuild(ctx, guild, 'the run was cancelled before reaching this guild')
      let handle: LockHandle | null = null
      if (scope.lockEachGuild) {
        const got = await this.acquire(lockKeys.guild(guild.guild_id), ctx.id).catch(() => ({ ok: false as const, heldBy: null }))
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
          // By key: a lock taken again after a loss (#retake) has a new handle in the list.
          const key = handle.key
          const at = handles.findIndex((h) => h.key === key)
          const held = at === -1 ? handle : (handles.splice(at, 1)[0] as LockHandle)
          await this.#d.locks.release(held).catch(() => {})
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

  /** Cancels every run of this instance (each records itself as failed: interrupted) and waits for them to finish. */
  async cancelAll (why: string): Promise<void> {
    const runs = [...this.#active.values()]
    for (const r of runs) r.ctx.abort(why)
    await Promise.all(runs.map((r) => r.done))
  }
}
