import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { buildSyncWorld, HOST, IDS, type SyncWorld } from './helpers.js'

/*
 * The audit query separates intent from effect (issue 17): a dry run and a run the safety brake
 * held fill the log with entries that changed nothing in Discord; effects_only leaves them out,
 * the trigger says what started a change, and a run's changes read member by member.
 */

let w: SyncWorld
const MEMBERS = 6

beforeEach(async () => {
  w = await buildSyncWorld()
  await w.guild(IDS.g1, 'Alpha Guild', { max_role_changes_per_sync: 4 })
  await w.mapping({ group_id: 'pilots', discord_role_id: IDS.pilot })
  for (let i = 0; i < MEMBERS; i++) {
    const id = `15000000000000000${i}0`
    w.sim.state.addUser({ id })
    w.sim.state.addMember(IDS.g1, id, [IDS.pilot])
    await w.link(`host-${i}`, id)
    w.membership.set(`host-${i}`, [])
  }
})

afterEach(async () => {
  expect(w.sim.internalErrors).toEqual([])
  await w.close()
})

describe('GET /sync/audit filters', () => {
  it('effects_only hides dry runs and brake-held changes; outcome, trigger and order filter the rest', async () => {
    const dry = await w.call('POST', '/sync/manual', { body: { guild_id: IDS.g1, dry_run: true, wait: true } })
    const held = await w.call('POST', '/sync/manual', { body: { guild_id: IDS.g1, wait: true } })
    expect(held.body.run.status).toBe('blocked')
    const forced = await w.call('POST', '/sync/manual', { body: { guild_id: IDS.g1, force: true, wait: true } })
    expect(forced.body.run.status).toBe('completed')

    expect((await w.call('GET', `/sync/audit?guild_id=${IDS.g1}`)).body.total).toBe(3 * MEMBERS)
    const effects = await w.call('GET', `/sync/audit?guild_id=${IDS.g1}&effects_only=true&page_size=100`)
    expect(effects.status).toBe(200)
    expect(effects.body.total).toBe(MEMBERS)
    expect(new Set(effects.body.entries.map((e: any) => e.run_id))).toEqual(new Set([forced.body.run_id]))
    // Every run here was started by an admin's request.
    expect(new Set(effects.body.entries.map((e: any) => e.trigger))).toEqual(new Set(['manual']))
    expect((await w.call('GET', '/sync/audit?trigger=schedule,join')).body.total).toBe(0)
    expect((await w.call('GET', '/sync/audit?outcome=dry_run,blocked')).body.total).toBe(2 * MEMBERS)
    expect((await w.call('GET', `/sync/audit?outcome=blocked&run_id=${dry.body.run_id}`)).body.total).toBe(0)
    expect((await w.call('GET', '/sync/audit?action=add')).body.total).toBe(0)

    const byMember = await w.call('GET', `/sync/audit?run_id=${forced.body.run_id}&order=member`)
    const users = byMember.body.entries.map((e: any) => e.user_id)
    expect(users).toEqual([...users].sort())

    const future = new Date(Date.now() + 60_000).toISOString()
    expect((await w.call('GET', `/sync/audit?from=${encodeURIComponent(future)}`)).body.total).toBe(0)
  })

  it('a scheduled guild sync is recorded with trigger schedule', async () => {
    await w.app.discord.sync.engine.startGuild(IDS.g1).then(async (s) => await s?.done)
    const page = await w.call('GET', '/sync/audit?trigger=schedule')
    expect(page.body.total).toBe(MEMBERS)
    expect(page.body.entries.every((e: any) => e.trigger === 'schedule' && e.outcome === 'blocked')).toBe(true)
  })

  it('refuses unknown words, bad times and an empty window with 400 FST_DISCORD_VALIDATION', async () => {
    for (const q of ['outcome=applied,exploded', 'trigger=cron', 'action=', 'from=yesterday', 'effects_only=maybe', 'order=random', `outcome=${'applied,'.repeat(40)}applied`]) {
      const res = await w.call('GET', `/sync/audit?${q}`)
      expect(res.status, q).toBe(400)
      expect(res.body.code, q).toBe('FST_DISCORD_VALIDATION')
    }
    const to = new Date(Date.now() - 60_000).toISOString()
    const from = new Date().toISOString()
    const reversed = await w.call('GET', `/sync/audit?from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`)
    expect(reversed.status).toBe(400)
    expect(reversed.body).toMatchObject({ code: 'FST_DISCORD_VALIDATION', message: expect.stringContaining('later than') })
    // A user reading their own audit may filter it too.
    expect((await w.call('GET', `/sync/audit?user_id=${HOST.alice}&effects_only=true`, { as: { id: HOST.alice, permissions: [] } })).status).toBe(200)
  })
})
