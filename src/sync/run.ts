/*
 * One sync run in progress: its counters, its errors, its audit entries and its heartbeat.
 * The run record in the store is the source of truth for other instances and for after a
 * crash, so it is rewritten on every heartbeat (results included): a run that stops beating
 * is failed as interrupted by the next scheduler tick (engine.sweepStale), never left "running" forever.
 */
import type { FastifyBaseLogger } from 'fastify'
import { triggerOf } from '../store/port/index.js'
import type {
  AuditAction, AuditOutcome, AuditTrigger, CreateAuditEntryInput, DiscordStore, InFlightWrite, SyncGuildResult, SyncRunError, SyncRunRecord, SyncRunResults, SyncRunStatus
} from '../store/port/index.js'
import type { SyncMetrics } from './metrics.js'

/**
 * One audited change: a role change (a PlannedChange), a nickname (`nick`: role_id empty,
 * role_name the new nickname) or a kick (`kick`: role_id empty, role_name null).
 */
export interface AuditChange {
  readonly role_id: string
  readonly role_name: string | null
  readonly action: AuditAction
  readonly mapping_id: string | null
}

/** Where a run is, for GET /sync/status and GET /sync/runs/{id} while it runs. */
export interface RunProgress {
  phase: 'starting' | 'planning' | 'applying' | 'finishing'
  guilds_total: number
  guilds_done: number
  current_guild_id: string | null
  members_scanned: number
  members_to_change: number
  members_applied: number
}

/** A run's errors are capped in the record: the audit log has every per-change outcome anyway. */
export const MAX_RUN_ERRORS = 100
const AUDIT_BATCH = 500

export class SyncAbortError extends Error {
  constructor (why: string) {
    super(why)
    this.name = 'AbortError'
  }
}

export interface RunContextDeps {
  store: DiscordStore
  metrics: SyncMetrics
  log: FastifyBaseLogger
  now: () => Date
  heartbeatMs: number
  /** Called on every heartbeat; false means a lock was lost (the run is then aborted). */
  renewLocks: () => Promise<boolean>
}

export class RunContext {
  readonly id: string
  readonly record: SyncRunRecord
  readonly dryRun: boolean
  readonly force: boolean
  /** What started the run, written on each of its audit entries. */
  readonly trigger: AuditTrigger
  readonly results: SyncRunResults & { guilds: SyncGuildResult[] }
  readonly progress: RunProgress = {
    phase: 'starting', guilds_total: 0, guilds_done: 0, current_guild_id: null, members_scanned: 0, members_to_change: 0, members_applied: 0
  }

  readonly #d: RunContextDeps
  readonly #abort = new AbortController()
  readonly #audit: CreateAuditEntryInput[] = []
  readonly #inFlight = new Map<string, InFlightWrite>()
  #droppedErrors = 0
  #timer: NodeJS.Timeout | null = null
  #beating: Promise<void> | null = null
  #flushing: Promise<void> = Promise.resolve()
  readonly #started: number

  constructor (record: SyncRunRecord, deps: RunContextDeps) {
    this.id = record.id
    this.record = record
    this.trigger = triggerOf(record.initiated_by)
    this.dryRun = record.dry_run
    this.force = record.force
    this.#d = deps
    this.#started = (record.started_at ?? deps.now()).getTime()
    this.results = { users_processed: 0, users_synced: 0, users_failed: 0, roles_added: 0, roles_removed: 0, guilds_processed: 0, errors: [], guilds: [] }
  }

  get signal (): AbortSignal {
    return this.#abort.signal
  }

  get log (): FastifyBaseLogger {
    return this.#d.log
  }

  now (): Date {
    return this.#d.now()
  }

  abort (why: string): void {
    if (!this.#abort.signal.aborted) this.#abort.abort(new SyncAbortError(why))
  }

  /** Starts the heartbeat. The timer is unref'd: a run never keeps the process alive by itself. */
  startHeartbeat (): void {
    this.#timer = setInterval(() => {
      // One beat at a time; finish() waits for the last one so a late beat never overwrites the final record.
      if (this.#beating !== null) return
      this.#beating = this.#beat().catch(() => {}).finally(() => { this.#beating = null })
    }, this.#d.heartbeatMs)
    this.#timer.unref()
  }

  async #beat (): Promise<void> {
    const held = await this.#d.renewLocks().catch(() => false)
    if (!held) {
      // Another instance may already be syncing the guild: stop writing rather than race it.
      this.#d.log.warn({ run_id: this.id }, 'sync lock lost; cancelling the run')
      this.abort('the sync lock was lost (expired while the run was stalled)')
    }
    await this.#d.store.updateSyncRun(this.id, { heartbeat_at: this.#d.now(), results: this.snapshot() })
  }

  error (e: Omit<SyncRunError, 'occurred_at'>): void {
    if (this.results.errors.length < MAX_RUN_ERRORS) this.results.errors.push({ ...e, occurred_at: this.#d.now() })
    else this.#droppedErrors++
  }

  /** Queues audit entries for the changes of one member; flushed in batches. */
  audit<C extends AuditChange> (base: { guild_id: string, discord_user_id: string, user_id: string | null }, changes: readonly C[], outcome: AuditOutcome, errorCode: string | null | ((c: C) => string | null)): void {
    for (const c of changes) {
      const action: AuditAction = c.action
      this.#audit.push({
        run_id: this.id,
        guild_id: base.guild_id,
        discord_user_id: base.discord_user_id,
        user_id: base.user_id,
        role_id: c.role_id,
        role_name: c.role_name,
        action,
        mapping_id: c.mapping_id,
        outcome,
        error_code: typeof errorCode === 'function' ? errorCode(c) : errorCode,
        trigger: this.trigger
      })
      this.#d.metrics.roleChange(action, outcome)
    }
    if (this.#audit.length >= AUDIT_BATCH) this.#flushing = this.#flushing.then(() => this.#flushAudit())
  }

  async #flushAudit (): Promise<void> {
    while (this.#audit.length > 0) {
      const batch = this.#audit.splice(0, AUDIT_BATCH)
      try {
        await this.#d.store.appendAudit(batch)
      } catch (err) {
        // The changes happened; losing their audit lines is reported, not hidden.
        this.#d.log.error({ run_id: this.id, entries: batch.length, code: (err as { code?: unknown }).code }, 'writing sync audit entries failed')
        this.error({ error: `${batch.length} audit entries could not be stored`, code: 'audit_write_failed' })
      }
    }
  }

  async flushAudit (): Promise<void> {
    this.#flushing = this.#flushing.then(() => this.#flushAudit())
    await this.#flushing
  }

  /**
   * Records, durably, that a write to this member is about to be sent: if the process dies
   * before the write's audit entry is stored, the stale sweep finds it here and audits what
   * Discord holds. Cleared by `writeSettled` (the entry goes with the next stored record).
   */
  async writeStarting (w: InFlightWrite): Promise<void> {
    this.#inFlight.set(`${w.guild_id}:${w.discord_user_id}`, w)
    await this.#d.store.updateSyncRun(this.id, { heartbeat_at: this.#d.now(), results: this.snapshot() })
  }

  writeSettled (guildId: string, discordUserId: string): void {
    this.#inFlight.delete(`${guildId}:${discordUserId}`)
  }

  /** The results as they are now (a copy, safe to store). */
  snapshot (): SyncRunResults {
    const errors = [...this.results.errors]
    if (this.#droppedErrors > 0) errors.push({ error: `${this.#droppedErrors} more errors not recorded (see the audit log)`, code: 'errors_truncated', occurred_at: this.#d.now() })
    const inFlight = this.#inFlight.size === 0 ? {} : { in_flight: [...this.#inFlight.values()] }
    return { ...this.results, errors, guilds: this.results.guilds.map((g) => ({ ...g })), ...inFlight }
  }

  /** Stops the heartbeat, writes the audit tail and the final record. */
  async finish (status: SyncRunStatus): Promise<SyncRunRecord> {
    if (this.#timer !== null) clearInterval(this.#timer)
    this.#timer = null
    await this.#beating
    this.progress.phase = 'finishing'
    await this.flushAudit()
    const completedAt = this.#d.now()
    const duration = Math.max(0, completedAt.getTime() - this.#started)
    const results = this.snapshot()
    const saved = await this.#d.store.updateSyncRun(this.id, { status, completed_at: completedAt, duration, heartbeat_at: completedAt, results })
    this.#d.metrics.runFinished(this.record.sync_type, status, duration / 1000)
    return saved ?? { ...this.record, status, completed_at: completedAt, duration, heartbeat_at: completedAt, results }
  }
}
