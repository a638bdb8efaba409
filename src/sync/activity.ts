import type { SyncRunRecord, SyncRunStore } from '../store/port/index.js'

/*
 * One guild's sync runs per day, for the admin UI's 30-day chart: what was applied (roles added
 * and removed), planned only (dry runs), held by the safety brake, and how many members failed,
 * with the runs' durations. Read from the stored runs (each keeps a per-guild breakdown), newest
 * first, a page at a time, and bounded: at most `maxRuns` runs are read, and the answer says
 * when that bound cut the window short, so the chart never passes a partial month off as whole.
 */

/** One UTC day of a guild's runs. */
export interface GuildActivityDay {
  /** The day's start, epoch ms (UTC). */
  day: number
  runs: number
  /** Role changes written (real runs: roles added + removed). */
  applied: number
  /** Role changes a dry run planned (nothing written). */
  planned: number
  /** Role changes the safety brake held back (nothing written). */
  held: number
  /** Members whose changes failed. */
  failed: number
  /** Longest run of the day, ms (null: none finished). */
  max_duration_ms: number | null
  /** Mean run duration, ms (null: none finished). */
  mean_duration_ms: number | null
}

export interface GuildActivity {
  days: GuildActivityDay[]
  /** Runs read; `truncated` when the bound was reached before the window's start. */
  runs_read: number
  truncated: boolean
}

const DAY_MS = 86_400_000
const PAGE = 100

/** The last `days` UTC days (today included, oldest first) of the guild's runs. */
export async function guildActivity (store: Pick<SyncRunStore, 'listSyncRuns'>, guildId: string, o: { now: Date, days?: number, maxRuns?: number }): Promise<GuildActivity> {
  const dayCount = o.days ?? 30
  const maxRuns = o.maxRuns ?? 5_000
  const today = Math.floor(o.now.getTime() / DAY_MS) * DAY_MS
  const since = today - (dayCount - 1) * DAY_MS
  const days: GuildActivityDay[] = Array.from({ length: dayCount }, (_, i) => ({
    day: since + i * DAY_MS, runs: 0, applied: 0, planned: 0, held: 0, failed: 0, max_duration_ms: null, mean_duration_ms: null
  }))
  const durations = days.map(() => ({ sum: 0, n: 0 }))
  let read = 0
  let before: { created_at: Date, id: string } | undefined
  let reachedStart = false
  while (read < maxRuns) {
    const runs: SyncRunRecord[] = await store.listSyncRuns({ limit: Math.min(PAGE, maxRuns - read), ...(before === undefined ? {} : { before }) })
    for (const run of runs) {
      read++
      const at = run.created_at.getTime()
      if (at < since) { reachedStart = true; break }
      const g = run.results.guilds?.find((x) => x.guild_id === guildId)
      if (g === undefined) continue
      const i = Math.floor((at - since) / DAY_MS)
      const d = days[i]
      const dur = durations[i]
      if (d === undefined || dur === undefined) continue
      d.runs++
      if (run.dry_run) d.planned += g.planned_changes
      else if (g.status === 'blocked') d.held += g.planned_changes
      else d.applied += g.roles_added + g.roles_removed
      d.failed += g.members_failed
      if (run.duration !== null) {
        dur.sum += run.duration
        dur.n++
        d.max_duration_ms = Math.max(d.max_duration_ms ?? 0, run.duration)
      }
    }
    const last = runs.at(-1)
    if (reachedStart || last === undefined || runs.length < Math.min(PAGE, maxRuns - read + runs.length)) { reachedStart = true; break }
    before = { created_at: last.created_at, id: last.id }
  }
  days.forEach((d, i) => {
    const dur = durations[i]
    if (dur !== undefined && dur.n > 0) d.mean_duration_ms = Math.round(dur.sum / dur.n)
  })
  return { days, runs_read: read, truncated: !reachedStart }
}
