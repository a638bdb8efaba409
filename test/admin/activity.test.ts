import { afterEach, describe, expect, it } from 'vitest'
import { RequestActivity } from '../../src/discord/request-activity.js'
import { guildActivity } from '../../src/sync/activity.js'
import { EMPTY_SYNC_RESULTS, type ListSyncRunsQuery, type SyncRunRecord } from '../../src/store/port/index.js'
import { buildSyncWorld, HOST, IDS, type SyncWorld } from '../sync/helpers.js'

/*
 * The series behind the admin UI's charts: Discord requests and 429s per minute in a fixed ring
 * (bounded whatever the traffic), and a guild's runs per day from the stored runs (applied,
 * planned, held kept apart), served by GET /guilds/{id}/activity.
 */

describe('RequestActivity: requests and 429s per minute', () => {
  it('counts per minute, fills quiet minutes with 0, and forgets a minute when its slot comes round', () => {
    let now = Date.UTC(2026, 0, 1, 12, 0, 10)
    const a = new RequestActivity({ minutes: 3, now: () => now })
    a.record(false)
    a.record(true)
    now += 60_000
    a.record(false)
    expect(a.series().map((m) => [m.requests, m.rate_limited])).toEqual([[0, 0], [2, 1], [1, 0]])
    expect(a.series().at(-1)?.minute).toBe(Date.UTC(2026, 0, 1, 12, 1))
    // Three minutes on, the 12:00 slot is reused for 12:03: its old counts are gone, not added.
    now += 2 * 60_000
    a.record(false)
    expect(a.series().map((m) => [m.requests, m.rate_limited])).toEqual([[1, 0], [0, 0], [1, 0]])
    // An hour later nothing old shows through.
    now += 3_600_000
    expect(a.series().every((m) => m.requests === 0)).toBe(true)
    expect(a.series()).toHaveLength(3)
  })

  it('keeps each guild\'s requests apart from the others, and at most maxGuilds guilds (the one heard from longest ago goes)', () => {
    const now = Date.UTC(2026, 0, 1, 12, 0, 10)
    const a = new RequestActivity({ minutes: 2, maxGuilds: 2, now: () => now })
    a.record(false, '101')
    a.record(true, '101')
    a.record(false, '202')
    a.record(false)
    const total = (s: Array<{ requests: number, rate_limited: number }>): number[] => [s.reduce((n, m) => n + m.requests, 0), s.reduce((n, m) => n + m.rate_limited, 0)]
    expect(total(a.series('101'))).toEqual([2, 1])
    expect(total(a.series('202'))).toEqual([1, 0])
    expect(total(a.series())).toEqual([4, 1])
    // 101 was heard from again, so a third guild pushes out 202, not 101.
    a.record(false, '101')
    a.record(false, '303')
    expect(total(a.series('202'))).toEqual([0, 0])
    expect(total(a.series('101'))).toEqual([3, 1])
    expect(total(a.series('303'))).toEqual([1, 0])
    expect(a.series('404')).toHaveLength(2)
  })
})

function run (over: Partial<SyncRunRecord> & { created_at: Date }, guild: Partial<NonNullable<SyncRunRecord['results']['guilds']>[number]>): SyncRunRecord {
  return {
    id: `run-${over.created_at.getTime()}-${Math.random()}`,
    sync_type: 'guild',
    target_id: 'g1',
    status: 'completed',
    dry_run: false,
    force: false,
    started_at: over.created_at,
    completed_at: over.created_at,
    duration: 1_000,
    heartbeat_at: null,
    initiated_by: 'system',
    results: {
      ...EMPTY_SYNC_RESULTS,
      guilds_processed: 1,
      errors: [],
      guilds: [{ guild_id: 'g1', status: 'completed', members_scanned: 10, members_to_change: 0, planned_changes: 0, blocked_changes: 0, roles_added: 0, roles_removed: 0, members_failed: 0, reason: null, ...guild }]
    },
    ...over
  }
}

/** A run list as the store answers it: newest first, keyset paged. */
function storeOf (runs: SyncRunRecord[]): { listSyncRuns: (q?: ListSyncRunsQuery) => Promise<SyncRunRecord[]>, calls: number } {
  const sorted = [...runs].sort((a, b) => b.created_at.getTime() - a.created_at.getTime())
  const s = {
    calls: 0,
    async listSyncRuns (q: ListSyncRunsQuery = {}) {
      s.calls++
      const from = q.before === undefined ? 0 : sorted.findIndex((r) => r.id === q.before?.id) + 1
      return sorted.slice(from, from + (q.limit ?? 20))
    }
  }
  return s
}

describe('guildActivity: a guild\'s runs per day', () => {
  const now = new Date(Date.UTC(2026, 5, 30, 15))
  const day = (d: number, h = 10): Date => new Date(Date.UTC(2026, 5, d, h))

  it('keeps applied, planned (dry runs) and held (brake) apart, per UTC day, and ignores other guilds and older runs', async () => {
    const store = storeOf([
      run({ created_at: day(30) }, { roles_added: 3, roles_removed: 2, members_failed: 1 }),
      run({ created_at: day(30, 11), duration: 3_000 }, { roles_added: 1 }),
      run({ created_at: day(29), dry_run: true }, { planned_changes: 7, roles_added: 0 }),
      run({ created_at: day(28), status: 'blocked' }, { status: 'blocked', planned_changes: 40 }),
      run({ created_at: day(28, 12) }, { guild_id: 'other', roles_added: 99 }),
      run({ created_at: new Date(Date.UTC(2026, 4, 20)) }, { roles_added: 50 })
    ])
    const a = await guildActivity(store, 'g1', { now })
    expect(a.days).toHaveLength(30)
    expect(a.truncated).toBe(false)
    const byDay = Object.fromEntries(a.days.map((d) => [new Date(d.day).getUTCDate(), d]))
    expect(byDay[30]).toMatchObject({ runs: 2, applied: 6, planned: 0, held: 0, failed: 1, max_duration_ms: 3_000, mean_duration_ms: 2_000 })
    expect(byDay[29]).toMatchObject({ runs: 1, applied: 0, planned: 7, held: 0 })
    expect(byDay[28]).toMatchObject({ runs: 1, applied: 0, planned: 0, held: 40 })
    expect(a.days.reduce((n, d) => n + d.applied, 0)).toBe(6)
    expect(new Date(a.days[0]?.day ?? 0).toISOString().slice(0, 10)).toBe('2026-06-01')
  })

  it('reads at most maxRuns runs and says when that cut the window short', async () => {
    const runs = Array.from({ length: 250 }, (_, i) => run({ created_at: new Date(now.getTime() - i * 60_000) }, { roles_added: 1 }))
    const store = storeOf(runs)
    const a = await guildActivity(store, 'g1', { now, maxRuns: 120 })
    expect(a).toMatchObject({ runs_read: 120, truncated: true })
    expect(a.days.reduce((n, d) => n + d.applied, 0)).toBe(120)
    expect(store.calls).toBe(2)
    const all = await guildActivity(storeOf(runs), 'g1', { now })
    expect(all).toMatchObject({ runs_read: 250, truncated: false })
  })
})

describe('GET /guilds/{guild_id}/activity', () => {
  let w: SyncWorld
  afterEach(async () => { await w.close() })

  it('serves the guild\'s days and the requests per minute to admins only; 404 for an unknown guild', async () => {
    w = await buildSyncWorld()
    await w.guild(IDS.g1, 'Alpha Guild')
    await w.mapping({ group_id: 'pilots', discord_role_id: IDS.pilot })
    w.sim.state.addMember(IDS.g1, IDS.alice)
    await w.link(HOST.alice, IDS.alice)
    w.membership.set(HOST.alice, ['pilots'])
    await w.call('POST', '/sync/manual', { body: { guild_id: IDS.g1, dry_run: true, wait: true } })
    await w.call('POST', '/sync/manual', { body: { guild_id: IDS.g1, wait: true } })

    const res = await w.call('GET', `/guilds/${IDS.g1}/activity`)
    expect(res.status).toBe(200)
    expect(res.body.days).toHaveLength(30)
    const today = res.body.days.at(-1)
    expect(today).toMatchObject({ day: new Date().toISOString().slice(0, 10), runs: 2, applied: 1, planned: 1, held: 0 })
    expect(res.body.requests).toHaveLength(60)
    const guildRequests = (body: { requests: Array<{ requests: number }> }): number => body.requests.reduce((n, m) => n + m.requests, 0)
    expect(guildRequests(res.body)).toBeGreaterThan(0)
    // Only this guild's requests: a second guild's sync adds to its own chart, not to this one.
    await w.guild(IDS.g2, 'Beta Guild')
    const before = guildRequests(res.body)
    await w.call('POST', `/guilds/${IDS.g2}/health-check`)
    const other = await w.call('GET', `/guilds/${IDS.g2}/activity`)
    expect(guildRequests(other.body)).toBeGreaterThan(0)
    expect(guildRequests((await w.call('GET', `/guilds/${IDS.g1}/activity`)).body)).toBe(before)

    expect((await w.call('GET', `/guilds/${IDS.g1}/activity`, { as: { id: HOST.alice, permissions: [] } })).status).toBe(403)
    expect((await w.call('GET', '/guilds/1999999999999999999/activity')).body.code).toBe('FST_DISCORD_NOT_FOUND')
    expect((await w.call('GET', '/guilds/not-an-id/activity')).status).toBe(400)
  })
})
