import { randomUUID } from 'node:crypto'
import {
  auditEntryFields,
  normalisePage,
  runListLimit,
  summariseResults,
  type AuditEntryRecord,
  type CreateAuditEntryInput,
  type CreateSyncRunInput,
  type ListAuditQuery,
  type ListSyncRunsQuery,
  type Page,
  type SyncRunRecord,
  type SyncRunResults,
  type SyncRunSummaryRecord,
  type SyncRunStore,
  type UpdateSyncRunInput
} from '../port/index.js'
import { newSyncRunFields } from '../records.js'
import type { Params, SqliteContext } from './context.js'
import { AUDIT_COLUMNS, jsonRow } from './json-rows.js'
import { bit, ms, msOrNull, RUN_SUMMARY_COLUMNS, toAudit, toSyncRun, toSyncRunSummary, type AuditRow, type SyncRunRow, type SyncRunSummaryRow } from './rows.js'

const FINISHED_RUN_STATUSES = "('completed', 'failed', 'blocked')"
const AUDIT_JSON = jsonRow(AUDIT_COLUMNS)
const RUN_SUMMARY_JSON = jsonRow(RUN_SUMMARY_COLUMNS)
const FINISHED: ReadonlySet<string> = new Set(['completed', 'failed', 'blocked'])

/** The WHERE clause and parameters of a run list (both lists share filters, order and limit). */
function runFilter (query: ListSyncRunsQuery): { clause: string, params: Params } {
  const where: string[] = []
  const params: Params = {}
  if (query.sync_type !== undefined) { where.push('sync_type = @sync_type'); params.sync_type = query.sync_type }
  if (query.target_id !== undefined) { where.push('target_id = @target_id'); params.target_id = query.target_id }
  if (query.status !== undefined) { where.push('status = @status'); params.status = query.status }
  params.limit = runListLimit(query.limit)
  if (query.before !== undefined) {
    where.push('(created_at < @before_at OR (created_at = @before_at AND id < @before_id))')
    params.before_at = ms(query.before.created_at)
    params.before_id = query.before.id
  }
  return { clause: where.length > 0 ? `WHERE ${where.join(' AND ')}` : '', params }
}

/** Sync runs (discord_sync_status) and the audit log of their role changes (discord_audit_log). */
export class SqliteSyncRuns implements SyncRunStore {
  readonly #ctx: SqliteContext

  constructor (ctx: SqliteContext) {
    this.#ctx = ctx
  }

  /** Called inside the write's transaction, so a reader never sees the change without the new version. */
  #bump (): void {
    this.#ctx.exec('UPDATE discord_sync_runs_version SET version = version + 1 WHERE id = 1')
  }

  /** The result counts kept next to the results (v7): written in the same transaction as they are. */
  #writeCounts (id: string, results: SyncRunResults): void {
    this.#ctx.exec(`UPDATE discord_sync_status SET users_processed = @users_processed, users_synced = @users_synced,
        users_failed = @users_failed, roles_added = @roles_added, roles_removed = @roles_removed,
        guilds_processed = @guilds_processed, errors_count = @errors_count, guilds_count = @guilds_count
      WHERE id = @id`, { id, ...summariseResults(results) })
  }

  #syncRow (id: string): SyncRunRow | undefined {
    return this.#ctx.get<SyncRunRow>('SELECT * FROM discord_sync_status WHERE id = ?', [id])
  }

  async createSyncRun (input: CreateSyncRunInput): Promise<SyncRunRecord> {
    return this.#ctx.tx(() => {
      const id = randomUUID()
      const run = newSyncRunFields(input)
      this.#ctx.exec(`INSERT INTO discord_sync_status (id, sync_type, target_id, status, dry_run, force, started_at, completed_at,
          duration, heartbeat_at, results, initiated_by, created_at)
        VALUES (@id, @sync_type, @target_id, @status, @dry_run, @force, @started_at, @completed_at, @duration, @heartbeat_at, @results, @initiated_by, @now)`, {
        id,
        ...run,
        dry_run: bit(run.dry_run),
        force: bit(run.force),
        started_at: msOrNull(run.started_at),
        completed_at: msOrNull(run.completed_at),
        heartbeat_at: msOrNull(run.heartbeat_at),
        results: JSON.stringify(run.results),
        now: Date.now()
      })
      this.#writeCounts(id, run.results)
      this.#bump()
      return toSyncRun(this.#syncRow(id) as SyncRunRow)
    })
  }

  async getSyncRun (id: string): Promise<SyncRunRecord | null> {
    return this.#ctx.run(() => {
      const row = this.#syncRow(id)
      return row === undefined ? null : toSyncRun(row)
    })
  }

  async updateSyncRun (id: string, patch: UpdateSyncRunInput): Promise<SyncRunRecord | null> {
    return this.#ctx.tx(() => {
      const row = this.#syncRow(id)
      if (row === undefined) return null
      const date = (k: 'started_at' | 'completed_at' | 'heartbeat_at'): number | null =>
        patch[k] !== undefined ? msOrNull(patch[k]) : row[k]
      this.#ctx.exec(`UPDATE discord_sync_status SET status = @status, started_at = @started_at, completed_at = @completed_at,
          duration = @duration, heartbeat_at = @heartbeat_at, results = @results
        WHERE id = @id`, {
        id,
        status: patch.status ?? row.status,
        started_at: date('started_at'),
        completed_at: date('completed_at'),
        duration: patch.duration !== undefined ? patch.duration : row.duration,
        heartbeat_at: date('heartbeat_at'),
        results: patch.results !== undefined ? JSON.stringify(patch.results) : row.results
      })
      if (patch.results !== undefined) this.#writeCounts(id, patch.results)
      // A running run's heartbeat (same status, still running) leaves the finished runs as they were.
      if (patch.status !== undefined || FINISHED.has(row.status)) this.#bump()
      return toSyncRun(this.#syncRow(id) as SyncRunRow)
    })
  }

  async listSyncRuns (query: ListSyncRunsQuery = {}): Promise<SyncRunRecord[]> {
    const { clause, params } = runFilter(query)
    return this.#ctx.run(() => this.#ctx.all<SyncRunRow>(
      `SELECT * FROM discord_sync_status ${clause} ORDER BY created_at DESC, id DESC LIMIT @limit`, params
    ).map(toSyncRun))
  }

  async listSyncRunSummaries (query: ListSyncRunsQuery = {}): Promise<SyncRunSummaryRecord[]> {
    const { clause, params } = runFilter(query)
    return this.#ctx.run(() => this.#ctx.allJson<SyncRunSummaryRow>(
      `SELECT ${RUN_SUMMARY_JSON} FROM discord_sync_status ${clause} ORDER BY created_at DESC, id DESC LIMIT @limit`, params
    ).map(toSyncRunSummary))
  }

  async failStaleSyncRuns (before: Date, reason: string): Promise<number> {
    const now = Date.now()
    // One statement: a run whose heartbeat lands between a read and a write here
    // could otherwise be failed while alive. created_at is the last resort for
    // runs that never started.
    return this.#ctx.tx(() => this.#bumpIf(this.#ctx.exec(`UPDATE discord_sync_status
        SET status = 'failed',
            completed_at = @now,
            duration = CASE WHEN started_at IS NULL THEN duration ELSE @now - started_at END,
            results = json_insert(results, '$.errors[#]', json(@error)),
            errors_count = errors_count + 1
      WHERE status IN ('pending', 'running') AND COALESCE(heartbeat_at, started_at, created_at) < @before`, {
      now,
      before: ms(before),
      error: JSON.stringify({ error: reason, code: 'stale', occurred_at: new Date(now) })
    })))
  }

  async pruneSyncRuns (before: Date): Promise<number> {
    return this.#ctx.tx(() => this.#bumpIf(this.#ctx.exec(
      `DELETE FROM discord_sync_status WHERE status IN ${FINISHED_RUN_STATUSES} AND created_at < ?`, [ms(before)]
    )))
  }

  async syncRunsVersion (): Promise<number> {
    return this.#ctx.run(() => (this.#ctx.get<{ version: number }>('SELECT version FROM discord_sync_runs_version WHERE id = 1', []) as { version: number }).version)
  }

  #bumpIf (changed: number): number {
    if (changed > 0) this.#bump()
    return changed
  }

  // -------------------------------------------------------------- audit log

  async appendAudit (entries: CreateAuditEntryInput[]): Promise<number> {
    if (entries.length === 0) return 0
    return this.#ctx.tx(() => {
      const now = Date.now()
      for (const e of entries) {
        this.#ctx.exec(`INSERT INTO discord_audit_log (id, run_id, guild_id, discord_user_id, user_id, role_id, role_name, action,
            mapping_id, outcome, error_code, "trigger", created_at)
          VALUES (@id, @run_id, @guild_id, @discord_user_id, @user_id, @role_id, @role_name, @action,
            @mapping_id, @outcome, @error_code, @trigger, @created_at)`, {
          id: randomUUID(),
          ...auditEntryFields(e),
          created_at: e.created_at === undefined ? now : ms(e.created_at)
        })
      }
      return entries.length
    })
  }

  async listAudit (query: ListAuditQuery = {}): Promise<Page<AuditEntryRecord>> {
    const { page, page_size, offset } = normalisePage(query)
    const where: string[] = []
    const params: Params = {}
    for (const k of ['guild_id', 'discord_user_id', 'user_id', 'run_id'] as const) {
      if (query[k] !== undefined) { where.push(`${k} = @${k}`); params[k] = query[k] }
    }
    for (const k of ['outcome', 'action', 'trigger'] as const) {
      const values = query[k]
      if (values === undefined) continue
      // Bound one by one: the values never become SQL text.
      const names = values.map((v, i) => { params[`${k}_${i}`] = v; return `@${k}_${i}` })
      where.push(names.length === 0 ? '0' : `"${k}" IN (${names.join(', ')})`)
    }
    if (query.from !== undefined) { where.push('created_at >= @from'); params.from = ms(query.from) }
    if (query.to !== undefined) { where.push('created_at < @to'); params.to = ms(query.to) }
    if (query.effects_only === true) where.push("outcome <> 'dry_run' AND NOT (outcome = 'blocked' AND error_code IS 'brake')")
    const clause = where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''
    const order = query.order === 'member'
      ? 'user_id IS NULL, user_id, discord_user_id, role_name IS NULL, role_name, role_id, created_at, id'
      : 'created_at DESC, id DESC'
    return this.#ctx.tx(() => {
      const total = (this.#ctx.get<{ n: number }>(`SELECT COUNT(*) AS n FROM discord_audit_log ${clause}`, params) as { n: number }).n
      const items = this.#ctx.allJson<AuditRow>(
        `SELECT ${AUDIT_JSON} FROM discord_audit_log ${clause} ORDER BY ${order} LIMIT @limit OFFSET @offset`,
        { ...params, limit: page_size, offset }
      ).map(toAudit)
      return { items, total, page, page_size }
    })
  }

  async pruneAudit (before: Date): Promise<number> {
    return this.#ctx.run(() => this.#ctx.exec('DELETE FROM discord_audit_log WHERE created_at < ?', [ms(before)]))
  }
}
