import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { buildSyncWorld, IDS, isWrite, type SyncWorld } from './helpers.js'

/*
 * The hard invariants, end to end through the engine, the HTTP client and the simulator, over
 * random guilds: a sync never changes a role no enabled mapping references (nor a managed or
 * too-high one), leaves every member with exactly the managed roles a simple reference model
 * says, and a second sync right after writes nothing.
 */

let w: SyncWorld
const MEMBER_IDS = Array.from({ length: 8 }, (_, i) => `16000000000000000${i}1`)
const MANAGED: string[] = [IDS.pilot, IDS.corp, IDS.inactive]
const ALL_ROLES = [IDS.pilot, IDS.corp, IDS.inactive, IDS.hand, IDS.booster, IDS.officer, IDS.admins]
const GROUPS = ['pilots', 'corp', 'inactive', 'other']

beforeAll(async () => {
  w = await buildSyncWorld()
  await w.guild(IDS.g1, 'Alpha Guild', { max_role_changes_per_sync: 1000 })
  await w.mapping({ group_id: 'pilots', discord_role_id: IDS.pilot, priority: 1 })
  await w.mapping({ group_id: 'corp', discord_role_id: IDS.corp, priority: 2 })
  await w.mapping({ group_id: 'inactive', discord_role_id: IDS.inactive, priority: 3, conditions: { excluded_groups: ['corp'] } })
  // Managed by a mapping but above the bot: must never change either.
  await w.mapping({ group_id: 'other', discord_role_id: IDS.admins, priority: 4 })
  for (const id of MEMBER_IDS) w.sim.state.addUser({ id })
})

afterAll(async () => {
  await w.close()
})

interface MemberCase { roles: string[], linked: boolean, groups: string[] }

/** The reference model: which of the assignable managed roles a member should end with. */
function expected (m: MemberCase): string[] {
  if (!m.linked) return []
  const out: string[] = []
  if (m.groups.includes('pilots')) out.push(IDS.pilot)
  if (m.groups.includes('corp')) out.push(IDS.corp)
  if (m.groups.includes('inactive') && !m.groups.includes('corp')) out.push(IDS.inactive)
  return out.sort()
}

const memberCase = fc.record({
  roles: fc.subarray(ALL_ROLES),
  linked: fc.boolean(),
  groups: fc.subarray(GROUPS)
})

describe('sync invariants (property)', () => {
  it('never touches unmanaged or unassignable roles, reaches the reference state, and is idempotent', async () => {
    await fc.assert(fc.asyncProperty(fc.array(memberCase, { minLength: 1, maxLength: MEMBER_IDS.length }), async (cases) => {
      // Fresh guild membership and links for this case.
      for (const id of MEMBER_IDS) {
        w.sim.state.removeMember(IDS.g1, id)
        await w.store.deleteUser(id)
      }
      cases.forEach((c, i) => {
        w.sim.state.addMember(IDS.g1, MEMBER_IDS[i] as string, c.roles)
      })
      for (const [i, c] of cases.entries()) {
        if (!c.linked) continue
        await w.link(`prop-${i}`, MEMBER_IDS[i] as string)
        w.membership.set(`prop-${i}`, c.groups)
      }
      const res = await w.call('POST', '/sync/manual', { body: { guild_id: IDS.g1, wait: true } })
      expect(res.status).toBe(200)
      expect(res.body.run.status).toBe('completed')
      for (const [i, c] of cases.entries()) {
        const after = w.roles(IDS.g1, MEMBER_IDS[i] as string)
        const untouched = (r: string): boolean => !MANAGED.includes(r)
        expect(after.filter(untouched)).toEqual(c.roles.filter(untouched).sort())
        expect(after.filter((r) => MANAGED.includes(r))).toEqual(expected(c))
      }
      w.sim.clearRequests()
      const again = await w.call('POST', '/sync/manual', { body: { guild_id: IDS.g1, wait: true } })
      expect(again.body.run.results.roles_added + again.body.run.results.roles_removed).toBe(0)
      expect(w.discordCalls(isWrite)).toEqual([])
    }), { numRuns: 40, seed: 20260601 })
  }, 120_000)
})
