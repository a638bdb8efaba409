/*
 * GET /sync/status: the seed's figures (last full sync, users synced and failed, guilds,
 * mappings, recent errors) computed from the stored runs, plus the runs in progress with the
 * live counters of those executing in this instance.
 *
 * The figures count what was applied only. A dry run changes nothing and a run the safety brake
 * held wrote nothing, so neither makes members "in sync" nor a full sync "done": the latest dry
 * run and the guilds held by the brake are reported on their own lines instead.
 */
import type { DiscordStore, SyncGuildResult, SyncRunError, SyncRunRecord, SyncRunStatus } from '../store/port/index.js'
import type { RunProgress } from './run.js'
import type { SyncRunner } from './runner.js'

export interface SyncStatusRecentError {
  run_id: string
  user_id: string | null
  discord_user_id: string | null
  guild_id: string | null
  error: string
  code: string | null
  occurred_at: Date
}

/** The latest finished dry run: what a real run would have changed (nothing was applied). */
export interface SyncStatusDryRun {
  run_id: string
  sync_type: SyncRunRecord['sync_type']
  target_id: string | null
  completed_at: Date
  planned_changes: number
  members_to_change: number
}

/** An enabled guild whose latest real run the safety brake held back (nothing written). */
export interface SyncStatusHeldGuild {
  guild_id: string
  run_id: string
  held_at: Date
  planned_changes: number
  members_to_change: number
  reason: string | null
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
  last_dry_run: SyncStatusDryRun | null
  held_guilds: SyncStatusHeldGuild[]
  current_runs: Array<{ run: SyncRunRecord, progress: RunProgress | null }>
}

/** The statuses a run ends in. */
export const FINISHED: ReadonlySet<SyncRunStatus> = new Set(['completed', 'failed', 'blocked'])
const RECENT_ERRORS = 20
/** Runs read to summarise the finished ones (and the running ones read per request). */
const RECENT_RUNS = 100
/**
 * How long a whole answer is reused while the sync-runs version is unchanged and no run executes
 * here: the counts of users, guilds and mappings (not covered by the version) lag by at most this.
 */
export const COUNTS_TTL_MS = 1000

/** What the finished runs say, for one set of enabled guilds: valid while the store's sync-runs version is unchanged. */
interface FinishedSummary {
  last_full_sync: Date | null
  synced_users: number
  failed_users: number
  recent_errors: SyncStatusRecentError[]
  last_dry_run: SyncStatusDryRun | null
  held_guilds: SyncStatusHeldGuild[]
}

interface Cached { version: number, guilds: string, summary: Promise<FinishedSummary> }

/**
 * GET /sync/status. Summarising the finished runs reads and revives up to a hundred run records;
 * that summary is kept and reused while the store's `syncRunsVersion` (one small read, raised
 * by every instance's run writes in the same store write: a run created, finishing, failed
 * stale, pruned) and the set of enabled guilds are unchanged, so a run starting or finishing
 * anywhere shows on the next request, here or on any instance sharing the store. The whole
 * answer is reused for up to COUNTS_TTL_MS while that version holds and no run executes in this
 * instance: only the counts (users, guilds, mappings) and other instances' heartbeats can lag,
 * by that much. A host store without `syncRunsVersion` gets everything recomputed per request.
 */
export class SyncStatusReader {
  readonly #store: DiscordStore
  readonly #runner: SyncRunner
  #cached: Cached | null = null
  #snapshot: { version: number, at: number, status: SyncStatus } | null = null

  constructor (store: DiscordStore, runner: SyncRunner) {
    this.#store = store
    this.#runner = runner
  }

  async read (): Promise<SyncStatus> {
    const store = this.#store
    // The version is read before any run: a change landing after it makes the next request recompute.
    const version = store.syncRunsVersion === undefined ? null : await store.syncRunsVersion()
    const snap = this.#snapshot
    // Runs executing here change by the millisecond (live progress): never answered from the snapshot.
    const quiet = this.#runner.records().length === 0
    if (quiet && snap !== null && snap.version === version && Date.now() - snap.at < COUNTS_TTL_MS) return snap.status
    const at = Date.now()
    const status = await this.#compute(version)
    if (version !== null && quiet && this.#runner.records().length === 0) this.#snapshot = { version, at, status }
    return status
  }

  async #compute (version: number | null): Promise<SyncStatus> {
    const store = this.#store
    const [running, totalUsers, guilds, activeMappings] = await Promise.all([
      store.listSyncRuns({ status: 'running', limit: RECENT_RUNS }),
      store.countUsers({ is_active: true }),
      store.listGuilds({ enabled: true }),
      store.countMappings({ enabled: true })
    ])
    const enabledIds = guilds.map((g) => g.guild_id)
    const summary = await this.#summary(version, enabledIds)

    const recent = [...summary.recent_errors]
    for (const r of running) for (const e of r.results.errors.slice(-RECENT_ERRORS)) recent.push(toRecentError(r.id, e))
    recent.sort((a, b) => b.occurred_at.getTime() - a.occurred_at.getTime())

    const current = [...running]
    for (const record of this.#runner.records()) if (!current.some((r) => r.id === record.id)) current.push(record)
    return {
      last_full_sync: summary.last_full_sync,
      sync_in_progress: current.length > 0,
      total_users: totalUsers,
      synced_users: summary.synced_users,
      failed_users: summary.failed_users,
      total_guilds: guilds.length,
      active_role_mappings: activeMappings,
      recent_errors: recent.slice(0, RECENT_ERRORS),
      last_dry_run: summary.last_dry_run,
      held_guilds: summary.held_guilds,
      current_runs: current.map((run) => this.#runner.view(run))
    }
  }

  #summary (version: number | null, enabledIds: string[]): Promise<FinishedSummary> {
    if (version === null) return summariseFinished(this.#store, enabledIds)
    const key = enabledIds.join(',')
    const c = this.#cached
    // A newer version wins; concurrent requests at the same version share one computation.
    if (c !== null && c.version === version && c.guilds === key) return c.summary
    if (c !== null && c.version > version) return summariseFinished(this.#store, enabledIds)
    const summary = summariseFinished(this.#store, enabledIds)
    const entry: Cached = { version, guilds: key, summary }
    this.#cached = entry
    summary.catch(() => { if (this.#cached === entry) this.#cached = null })
    return summary
  }
}

/** The figures of the finished runs for these enabled guilds (newest first, real runs for coverage). */
async function summariseFinished (store: DiscordStore, enabledIds: readonly string[]): Promise<FinishedSummary> {
  const runs = await store.listSyncRuns({ limit: RECENT_RUNS })
  const finished = runs.filter((r) => FINISHED.has(r.status))
  const real = finished.filter((r) => !r.dry_run)

  // Each guild's latest real coverage (its own guild run or a full run): `applied` is the latest
  // that wrote (completed or failed), `latest` the latest of any outcome (a brake hold included).
  const latest = new Map<string, Coverage>()
  const applied = new Map<string, Coverage>()
  for (const r of real) collect(r, latest, applied)
  for (const id of enabledIds) {
    if (applied.has(id)) continue
    // Older than the newest 100 runs: ask for this guild's latest guild runs.
    for (const r of (await store.listSyncRuns({ sync_type: 'guild', target_id: id, limit: 5 })).filter((x) => FINISHED.has(x.status) && !x.dry_run)) {
      collect(r, latest, applied, id)
    }
  }
  let synced = 0
  let failed = 0
  const held: SyncStatusHeldGuild[] = []
  for (const id of enabledIds) {
    const a = applied.get(id)
    if (a !== undefined) {
      failed += a.result.members_failed
      synced += Math.max(0, a.result.members_scanned - a.result.members_failed)
    }
    const l = latest.get(id)
    if (l?.result.status === 'blocked') {
      held.push({ guild_id: id, run_id: l.runId, held_at: l.at, planned_changes: l.result.planned_changes, members_to_change: l.result.members_to_change, reason: l.result.reason })
    }
  }
  const lastFull = real.find((r) => r.sync_type === 'full' && r.status === 'completed')?.completed_at ?? null
  // Every enabled guild's latest real run completed since some moment: that moment counts as a full sync too.
  let coveredAt: Date | null = null
  if (enabledIds.length > 0 && enabledIds.every((id) => latest.get(id)?.result.status === 'completed')) {
    coveredAt = new Date(Math.min(...enabledIds.map((id) => (latest.get(id) as Coverage).at.getTime())))
  }
  const last = lastFull !== null && coveredAt !== null ? (lastFull > coveredAt ? lastFull : coveredAt) : (lastFull ?? coveredAt)

  const recent: SyncStatusRecentError[] = []
  for (const r of finished) {
    for (const e of [...r.results.errors].reverse()) {
      if (recent.length >= RECENT_ERRORS) break
      recent.push(toRecentError(r.id, e))
    }
    if (recent.length >= RECENT_ERRORS) break
  }
  return { last_full_sync: last, synced_users: synced, failed_users: failed, recent_errors: recent, last_dry_run: lastDryRun(finished), held_guilds: held }
}

interface Coverage { at: Date, runId: string, result: SyncGuildResult }

/** Records a real run's guild results as each guild's latest (runs come newest first); `only` limits it to one guild. */
function collect (r: SyncRunRecord, latest: Map<string, Coverage>, applied: Map<string, Coverage>, only?: string): void {
  if (r.sync_type !== 'guild' && r.sync_type !== 'full') return
  for (const g of r.results.guilds ?? []) {
    if (g.status === 'skipped' || (only !== undefined && g.guild_id !== only)) continue
    const c = { at: r.completed_at ?? r.created_at, runId: r.id, result: g }
    if (!latest.has(g.guild_id)) latest.set(g.guild_id, c)
    if (g.status !== 'blocked' && !applied.has(g.guild_id)) applied.set(g.guild_id, c)
  }
}

function lastDryRun (finished: readonly SyncRunRecord[]): SyncStatusDryRun | null {
  const r = finished.find((x) => x.dry_run)
  if (r === undefined) return null
  const guilds = r.results.guilds ?? []
  return {
    run_id: r.id,
    sync_type: r.sync_type,
    target_id: r.target_id,
    completed_at: r.completed_at ?? r.created_at,
    planned_changes: guilds.reduce((n, g) => n + g.planned_changes, 0),
    members_to_change: guilds.reduce((n, g) => n + g.members_to_change, 0)
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
