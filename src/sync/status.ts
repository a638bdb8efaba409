/*
 * GET /sync/status: the seed's figures (last full sync, users synced and failed, guilds,
 * mappings, recent errors) computed from the stored runs, plus the runs in progress with the
 * live counters of those executing in this instance.
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

/** The statuses a run ends in. */
export const FINISHED: ReadonlySet<SyncRunStatus> = new Set(['completed', 'failed', 'blocked'])
const RECENT_ERRORS = 20

/** GET /sync/status from the stored runs; `runner` adds the live state of this instance's runs. */
export async function readSyncStatus (store: DiscordStore, runner: SyncRunner): Promise<SyncStatus> {
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
  for (const record of runner.records()) if (!running.some((r) => r.id === record.id)) running.push(record)
  const current = running.map((run) => runner.view(run))
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
