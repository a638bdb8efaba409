import type { AuditEntryRecord, CreateAuditEntryInput, ListAuditQuery } from './audit.js'
import type { Page } from './page.js'

export type SyncType = 'user' | 'guild' | 'mapping' | 'full'
export type SyncRunStatus = 'pending' | 'running' | 'completed' | 'failed' | 'blocked'

export interface SyncRunError {
  user_id?: string | null
  discord_user_id?: string | null
  guild_id?: string | null
  error: string
  code?: string | number | null
  occurred_at: Date
}

/** One guild's part of a run: what the sync engine found and did there. */
export interface SyncGuildResult {
  guild_id: string
  /** completed: planned changes applied (or none needed); blocked: the safety brake held them back; failed: stopped by an error; skipped: not attempted. */
  status: 'completed' | 'blocked' | 'failed' | 'skipped'
  members_scanned: number
  /** Members whose managed roles differ from the plan. */
  members_to_change: number
  /** Of those, users outside the guild to add (auto_join; a dry run only lists them). Absent in records from before it existed. */
  members_to_join?: number
  /** Role changes the plan asked for (adds + removes), before the brake. */
  planned_changes: number
  /** Changes the bot may not make (hierarchy, managed, missing role): reported, never applied. */
  blocked_changes: number
  roles_added: number
  roles_removed: number
  members_failed: number
  /** Why the guild was blocked, failed or skipped; null when completed. */
  reason: string | null
}

/**
 * A role write sent (or about to be sent) whose audit entries are not stored yet: what a crash
 * may leave unaudited. Kept in the stored results while in flight; the stale sweep reads the
 * member and audits what Discord holds.
 */
export interface InFlightWrite {
  guild_id: string
  discord_user_id: string
  user_id: string | null
  changes: Array<{ role_id: string, role_name: string, action: 'add' | 'remove', mapping_id: string }>
}

/** The counts every run's results carry, whole or summarised. */
export interface SyncRunCounts {
  users_processed: number
  users_synced: number
  users_failed: number
  roles_added: number
  roles_removed: number
  guilds_processed: number
}

export interface SyncRunResults extends SyncRunCounts {
  errors: SyncRunError[]
  /** Per-guild breakdown (absent on runs that never reached a guild). */
  guilds?: SyncGuildResult[]
  /** Writes in flight when the record was stored (internal: never shown by the API). */
  in_flight?: InFlightWrite[]
}

export const EMPTY_SYNC_RESULTS: Readonly<SyncRunResults> = Object.freeze({
  users_processed: 0,
  users_synced: 0,
  users_failed: 0,
  roles_added: 0,
  roles_removed: 0,
  guilds_processed: 0,
  errors: []
})

export interface SyncRunRecord {
  id: string
  sync_type: SyncType
  target_id: string | null
  status: SyncRunStatus
  dry_run: boolean
  force: boolean
  started_at: Date | null
  completed_at: Date | null
  /** Milliseconds. */
  duration: number | null
  heartbeat_at: Date | null
  results: SyncRunResults
  initiated_by: string
  created_at: Date
}

/** A run's results without their lists: the counts a run list shows. */
export interface SyncRunSummaryResults extends SyncRunCounts {
  /** Entries of `results.errors`. */
  errors_count: number
  /** Entries of `results.guilds` (0 when absent). */
  guilds_count: number
}

/** A run as a list shows it: every field of the record, the results as counts. */
export type SyncRunSummaryRecord = Omit<SyncRunRecord, 'results'> & { results: SyncRunSummaryResults }

/** The counts of a run's results: what adapters store next to them, and the fallback for stores that do not. */
export function summariseResults (r: SyncRunResults): SyncRunSummaryResults {
  return {
    users_processed: r.users_processed,
    users_synced: r.users_synced,
    users_failed: r.users_failed,
    roles_added: r.roles_added,
    roles_removed: r.roles_removed,
    guilds_processed: r.guilds_processed,
    errors_count: r.errors.length,
    guilds_count: r.guilds?.length ?? 0
  }
}

/** A run record as its summary. */
export function summariseRun (run: SyncRunRecord): SyncRunSummaryRecord {
  const { results, ...rest } = run
  return { ...rest, results: summariseResults(results) }
}

export interface CreateSyncRunInput {
  sync_type: SyncType
  target_id?: string | null
  status?: SyncRunStatus
  dry_run?: boolean
  force?: boolean
  started_at?: Date | null
  initiated_by: string
}

export interface UpdateSyncRunInput {
  status?: SyncRunStatus
  started_at?: Date | null
  completed_at?: Date | null
  duration?: number | null
  heartbeat_at?: Date | null
  results?: SyncRunResults
}

export interface ListSyncRunsQuery {
  sync_type?: SyncType
  status?: SyncRunStatus
  target_id?: string
  /** Newest first; default 20, at most MAX_PAGE_SIZE. */
  limit?: number
  /**
   * Keyset cursor: only runs strictly older than this one in the list's order (created_at desc,
   * id desc), i.e. the page after the run it names. Stable while runs are added.
   */
  before?: SyncRunCursor
}

/** A position in the run list: the last run of the previous page. */
export interface SyncRunCursor {
  created_at: Date
  id: string
}

/** Sync runs and the audit log of the role changes they made (`discord_sync_status`, `discord_audit_log`). */
export interface SyncRunStore {
  createSyncRun (input: CreateSyncRunInput): Promise<SyncRunRecord>
  getSyncRun (id: string): Promise<SyncRunRecord | null>
  updateSyncRun (id: string, patch: UpdateSyncRunInput): Promise<SyncRunRecord | null>
  listSyncRuns (query?: ListSyncRunsQuery): Promise<SyncRunRecord[]>
  /**
   * `listSyncRuns` with the results as counts, read from figures the store keeps next to the
   * results (no results document read or parsed). Same filters, order and limit. Optional for
   * host stores: without it GET /sync/runs summarises `listSyncRuns`.
   */
  listSyncRunSummaries? (query?: ListSyncRunsQuery): Promise<SyncRunSummaryRecord[]>
  /** Marks running/pending runs whose heartbeat (or start) is older than `before` as failed; returns how many. */
  failStaleSyncRuns (before: Date, reason: string): Promise<number>
  /** Deletes finished runs created before `before`; returns how many. */
  pruneSyncRuns (before: Date): Promise<number>
  /**
   * A counter the store raises, in the same write, whenever the finished runs change: a run
   * created, a run finishing (or failed stale), a finished run's record updated, runs pruned.
   * A heartbeat of a running run does not raise it. Shared by every instance on the store, so
   * a summary computed from the finished runs stays valid exactly as long as this is unchanged.
   * Optional for host stores: without it, GET /sync/status recomputes on every request.
   */
  syncRunsVersion? (): Promise<number>

  appendAudit (entries: CreateAuditEntryInput[]): Promise<number>
  /** Newest first (created_at desc, id desc). */
  listAudit (query?: ListAuditQuery): Promise<Page<AuditEntryRecord>>
  /** Deletes entries created before `before`; returns how many. */
  pruneAudit (before: Date): Promise<number>
}
