import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { buildSyncWorld, HOST, IDS, isWrite, type SyncWorld } from './helpers.js'

/*
 * The safety brake and dry runs. A misconfigured mapping (here: a group nobody is in any more)
 * would strip a role from everyone; the brake must hold that back until an admin forces it,
 * and a dry run must show every planned change without writing anything.
 */

let w: SyncWorld
const MEMBERS = 6

beforeEach(async () => {
  w = await buildSyncWorld()
  await w.guild(IDS.g1, 'Alpha Guild', { max_role_changes_per_sync: 4 })
  await w.mapping({ group_id: 'pilots', discord_role_id: IDS.pilot })
  await w.mapping({ group_id: 'admins', discord_role_id: IDS.admins })
  // Six linked pilots hold the role; the host now reports them in no group.
  for (let i = 0; i < MEMBERS; i++) {
    const id = `15000000000000000${i}0`
    w.sim.state.addUser({ id })
    w.sim.state.addMember(IDS.g1, id, [IDS.pilot, IDS.hand])
    await w.link(`host-${i}`, id)
    w.membership.set(`host-${i}`, [])
  }
  // One member would get a role above the bot: blocked by the hierarchy, whatever the brake says.
  w.sim.state.addMember(IDS.g1, IDS.alice)
  await w.link(HOST.alice, IDS.alice)
  w.membership.set(HOST.alice, ['admins'])
})

afterEach(async () => {
  expect(w.sim.internalErrors).toEqual([])
  await w.close()
})

function pilots (): number {
  let n = 0
  for (let i = 0; i < MEMBERS; i++) if (w.roles(IDS.g1, `15000000000000000${i}0`).includes(IDS.pilot)) n++
  return n
}

describe('safety brake', () => {
  it('holds back a guild whose planned changes exceed max_role_changes_per_sync: nothing written, status blocked, counts recorded', async () => {
    const res = await w.call('POST', '/sync/manual', { body: { guild_id: IDS.g1, wait: true } })
    expect(res.status).toBe(200)
    expect(res.body.run.status).toBe('blocked')
    const g = res.body.run.results.guilds[0]
    expect(g).toMatchObject({ status: 'blocked', planned_changes: MEMBERS, members_to_change: MEMBERS, blocked_changes: 1, roles_added: 0, roles_removed: 0 })
    expect(g.reason).toMatch(/6 planned role changes .* exceed max_role_changes_per_sync \(4\)/)
    expect(res.body.run.results.errors.some((e: any) => e.code === 'brake')).toBe(true)
    expect(w.discordCalls(isWrite)).toEqual([])
    expect(pilots()).toBe(MEMBERS)
    // Every held-back change is in the audit log with its reason.
    expect(res.body.changes_total).toBe(MEMBERS + 1)
    const byOutcome = res.body.changes.map((c: any) => `${c.outcome}:${c.error_code}`).sort()
    expect(byOutcome).toEqual([...Array(MEMBERS).fill('blocked:brake'), 'blocked:blocked_hierarchy'].sort())
  })

  it('a later run with force: true applies it', async () => {
    await w.call('POST', '/sync/manual', { body: { guild_id: IDS.g1, wait: true } })
    const forced = await w.call('POST', '/sync/manual', { body: { guild_id: IDS.g1, force: true, wait: true } })
    expect(forced.status).toBe(200)
    expect(forced.body.run).toMatchObject({ status: 'completed', force: true })
    expect(forced.body.run.results.roles_removed).toBe(MEMBERS)
    expect(pilots()).toBe(0)
    // Hand Picked (not managed) survived everywhere.
    for (let i = 0; i < MEMBERS; i++) expect(w.roles(IDS.g1, `15000000000000000${i}0`)).toEqual([IDS.hand])
  })

  it('a full run reports blocked when one guild is held back, and still syncs the others', async () => {
    await w.guild(IDS.g2, 'Beta Guild')
    await w.mapping({ guild_id: IDS.g2, group_id: 'pilots', discord_role_id: IDS.pilot2 })
    w.sim.state.addMember(IDS.g2, IDS.bob)
    await w.link(HOST.bob, IDS.bob, [IDS.g2])
    w.membership.set(HOST.bob, ['pilots'])
    const res = await w.call('POST', '/sync/manual', { body: { wait: true } })
    expect(res.body.run.status).toBe('blocked')
    expect(res.body.run.results.guilds.map((g: any) => `${g.guild_id}:${g.status}`).sort()).toEqual([`${IDS.g1}:blocked`, `${IDS.g2}:completed`])
    expect(w.roles(IDS.g2, IDS.bob)).toEqual([IDS.pilot2])
  })
})

describe('dry run', () => {
  it('writes nothing and lists every planned change with its status', async () => {
    const res = await w.call('POST', '/sync/manual', { body: { guild_id: IDS.g1, dry_run: true, wait: true } })
    expect(res.status).toBe(200)
    expect(res.body.run).toMatchObject({ status: 'completed', dry_run: true })
    expect(w.discordCalls(isWrite)).toEqual([])
    expect(pilots()).toBe(MEMBERS)
    const g = res.body.run.results.guilds[0]
    expect(g.planned_changes).toBe(MEMBERS)
    // Not blocked (nothing is written anyway) but the brake is named.
    expect(g.reason).toMatch(/a real run would be blocked unless forced/)
    const changes = res.body.changes
    expect(res.body.changes_total).toBe(MEMBERS + 1)
    expect(changes.filter((c: any) => c.outcome === 'dry_run')).toHaveLength(MEMBERS)
    for (const c of changes.filter((x: any) => x.outcome === 'dry_run')) {
      expect(c).toMatchObject({ action: 'remove', role_id: IDS.pilot, role_name: 'EVE Pilot', guild_id: IDS.g1, run_id: res.body.run_id })
      expect(c.mapping_id).toEqual(expect.any(String))
    }
    expect(changes.find((c: any) => c.outcome === 'blocked')).toMatchObject({ action: 'add', role_name: 'Admins', error_code: 'blocked_hierarchy', discord_user_id: IDS.alice, user_id: HOST.alice })
  })

  it('pages through every planned change of a large dry run with the audit query', async () => {
    const res = await w.call('POST', '/sync/manual', { body: { guild_id: IDS.g1, dry_run: true, wait: true } })
    const seen = new Set<string>()
    for (let page = 1; page <= 4; page++) {
      const p = await w.call('GET', `/sync/audit?run_id=${res.body.run_id}&page=${page}&page_size=2`)
      expect(p.status).toBe(200)
      expect(p.body.total).toBe(MEMBERS + 1)
      for (const e of p.body.entries) seen.add(e.id)
    }
    expect(seen.size).toBe(MEMBERS + 1)
  })

  it('without wait the run answers 202 at once with its id, and finishes in the background', async () => {
    const res = await w.call('POST', '/sync/manual', { body: { guild_id: IDS.g1, dry_run: true } })
    expect(res.status).toBe(202)
    expect(res.body.changes).toBeNull()
    expect(res.body.run).toMatchObject({ id: res.body.run_id, status: 'running', sync_type: 'guild', target_id: IDS.g1, initiated_by: 'admin-1' })
    await w.app.discord.sync.engine.waitFor(res.body.run_id, 10_000)
    const run = await w.call('GET', `/sync/runs/${res.body.run_id}`)
    expect(run.body).toMatchObject({ status: 'completed', dry_run: true, progress: null })
  })
})
