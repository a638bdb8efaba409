import { afterEach, describe, expect, it } from 'vitest'
import { buildSyncWorld, HOST, IDS, isWrite, type SyncWorld } from './helpers.js'

/*
 * GET /sync/status counts what was applied. A dry run and a run the safety brake held wrote
 * nothing: they are reported on their own lines (last_dry_run, held_guilds), never as members
 * in sync or as the last full sync. And `sync.writeDelay` spaces the writes to one guild (its
 * default, 0, adds no wait: test/sync/write-pacer.test.ts).
 */

let w: SyncWorld
afterEach(async () => { await w?.close() })

/** Guild 1 with a Pilot mapping and three linked pilots without the role: three changes to make. */
async function threePilots (plugin: Parameters<typeof buildSyncWorld>[0] = {}): Promise<SyncWorld> {
  w = await buildSyncWorld(plugin)
  await w.guild(IDS.g1, 'Alpha Guild', { max_role_changes_per_sync: 2 })
  await w.mapping({ group_id: 'pilots', discord_role_id: IDS.pilot })
  for (const [host, id] of [[HOST.alice, IDS.alice], [HOST.bob, IDS.bob], [HOST.carol, IDS.carol]] as const) {
    w.sim.state.addMember(IDS.g1, id)
    await w.link(host, id)
    w.membership.set(host, ['pilots'])
  }
  return w
}

async function manual (body: Record<string, unknown>): Promise<any> {
  const res = await w.call('POST', '/sync/manual', { body: { ...body, wait: true } })
  expect(res.status).toBe(200)
  return res.body.run
}

async function status (): Promise<any> {
  const res = await w.call('GET', '/sync/status')
  expect(res.status).toBe(200)
  return res.body
}

describe('GET /sync/status counts applied changes only', () => {
  it('a dry full run is reported as the last dry run, not as a full sync or members in sync', async () => {
    await threePilots()
    const dry = await manual({ dry_run: true, force: true })
    expect(dry.status).toBe('completed')
    const s = await status()
    expect(s).toMatchObject({ last_full_sync: null, synced_users: 0, failed_users: 0, held_guilds: [] })
    expect(s.last_dry_run).toMatchObject({ run_id: dry.id, sync_type: 'full', target_id: null, planned_changes: 3, members_to_change: 3 })
    expect(Date.parse(s.last_dry_run.completed_at)).toBeGreaterThan(0)
  })

  it('a run held by the brake is listed under held_guilds and counts nobody as synced; an applied run then does', async () => {
    await threePilots()
    const held = await manual({})
    expect(held.status).toBe('blocked')
    let s = await status()
    expect(s).toMatchObject({ last_full_sync: null, synced_users: 0, last_dry_run: null })
    expect(s.held_guilds).toEqual([{
      guild_id: IDS.g1, run_id: held.id, held_at: expect.any(String), planned_changes: 3, members_to_change: 3, reason: expect.stringMatching(/max_role_changes_per_sync/)
    }])

    const applied = await manual({ force: true })
    expect(applied.status).toBe('completed')
    s = await status()
    expect(s.held_guilds).toEqual([])
    expect(s.synced_users).toBe(4) // the three pilots and the guild owner, all scanned and in sync
    expect(Date.parse(s.last_full_sync)).toBe(Date.parse(applied.completed_at))
    // A dry run afterwards does not move the last full sync.
    await manual({ dry_run: true })
    const after = await status()
    expect(after.last_full_sync).toBe(s.last_full_sync)
    expect(after.last_dry_run.planned_changes).toBe(0)
  })
})

describe('sync.writeDelay', () => {
  it('spaces the writes to one guild by at least the delay, whatever the workers', async () => {
    await threePilots({ plugin: { sync: { writeDelay: '300ms', workers: 5 } } })
    const run = await manual({ force: true })
    expect(run.results.roles_added).toBe(3)
    const at = w.sim.requests.filter(isWrite).map((r) => r.at).sort((a, b) => a - b)
    expect(at).toHaveLength(3)
    // Arrival times at the simulator: the pacer lets each write go a full delay after the one
    // before (test/sync/write-pacer.test.ts), but the hop to the simulator varies under load;
    // without the option the three writes arrive within milliseconds of each other.
    for (let i = 1; i < at.length; i++) expect((at[i] as number) - (at[i - 1] as number)).toBeGreaterThanOrEqual(200)
  })
})
