import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { DiscordSimulator } from '../../src/testing/index.js'
import { toGroupList } from '../../src/sync/group-list.js'
import { buildWorld, type World } from '../helpers/world.js'
import { configureGuild, createMapping, expectDocumentedStatuses, IDS, routeWorld, SECRET_VALUES, startSimulator } from '../routes/helpers.js'

/*
 * The admin members page's API (issue 17): linked members with Discord names and avatars, keyset
 * pages with search and filters, one member's roles per guild with the reason for each managed
 * role, and the membership provider's group list for the mapping editor.
 */

let sim: DiscordSimulator
beforeAll(async () => { sim = await startSimulator() })
afterAll(async () => { await sim.close() })

let t: World
afterEach(async () => {
  for (const r of t.responses) for (const secret of SECRET_VALUES) expect(r.body + r.headers).not.toContain(secret)
  await t.close()
})

const AVATAR = '0123456789abcdef0123456789abcdef'

async function seedLinks (world: World, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    await world.store.createUser({ user_id: `host-${i}`, discord_user_id: `30000000000000000${String(i).padStart(2, '0')}`, username: `pilot${i}`, global_name: i === 3 ? 'Jane Doe' : null, avatar: i === 0 ? AVATAR : null, guilds: i % 2 === 0 ? [{ id: IDS.guild, name: 'x', permissions: '0' }] : [] })
  }
}

describe('GET /members', () => {
  it('pages every link once by keyset, with names, avatar URL on the configured CDN and state per enabled guild', async () => {
    t = await buildWorld(routeWorld(sim, { cdnBaseUrl: 'https://cdn.example.test/' }))
    await configureGuild(t, { guild_name: 'Falcon Wing' })
    await seedLinks(t, 7)
    const seen: string[] = []
    let cursor: string | null = null
    let pages = 0
    do {
      const res = await t.inject({ url: `/discord/members?limit=3${cursor === null ? '' : `&cursor=${cursor}`}`, as: 'admin' })
      expect(res.statusCode).toBe(200)
      const body = res.json() as { members: Array<Record<string, any>>, next_cursor: string | null }
      seen.push(...body.members.map((m) => m.username as string))
      cursor = body.next_cursor
      if (++pages > 5) throw new Error('the cursor never ends')
    } while (cursor !== null)
    // The store's order (created_at, then id: links made in one millisecond order by id), each link once.
    const all = (await t.store.listUsers({ page_size: 100 })).items.map((u) => u.username)
    expect(seen).toEqual(all)
    expect([...seen].sort()).toEqual(['pilot0', 'pilot1', 'pilot2', 'pilot3', 'pilot4', 'pilot5', 'pilot6'])
    const first = (await t.inject({ url: '/discord/members?q=pilot0', as: 'admin' })).json().members[0]
    expect(first).toMatchObject({
      discord_user_id: '3000000000000000000',
      user_id: 'host-0',
      username: 'pilot0',
      avatar_url: `https://cdn.example.test/avatars/3000000000000000000/${AVATAR}.png?size=64`,
      guilds: [{ guild_id: IDS.guild, guild_name: 'Falcon Wing', in_guild: true, held: false, failed: false }],
      not_in_guild: false,
      out_of_sync: true // never synced
    })
    await expectDocumentedStatuses(t)
  })

  it('searches by name part, Discord id and host user id, and filters', async () => {
    t = await buildWorld(routeWorld(sim))
    await configureGuild(t)
    await seedLinks(t, 6)
    await t.store.updateUser('3000000000000000004', { needs_reauth: true })
    const names = async (qs: string): Promise<string[]> => {
      const res = await t.inject({ url: `/discord/members?${qs}`, as: 'admin' })
      expect(res.statusCode).toBe(200)
      return (res.json().members as Array<{ username: string }>).map((m) => m.username).sort()
    }
    expect(await names('q=JANE')).toEqual(['pilot3'])
    expect(await names('q=3000000000000000005')).toEqual(['pilot5'])
    expect(await names('q=host-2')).toEqual(['pilot2'])
    expect(await names('filter=needs_reauth')).toEqual(['pilot4'])
    expect(await names('filter=not_in_guild')).toEqual(['pilot1', 'pilot3', 'pilot5'])
    expect(await names('filter=not_in_guild&q=pilot5')).toEqual(['pilot5'])
    expect(await names('filter=held')).toEqual([])
  })

  it.each([
    ['filter=everything', 'filter'],
    ['limit=0', 'limit'],
    ['limit=101', 'limit'],
    ['cursor=bm90LWEtY3Vyc29y', 'cursor'],
    ['sort=name', 'sort'],
    [`q=${'x'.repeat(101)}`, 'q']
  ])('refuses %s with 400 FST_DISCORD_VALIDATION', async (qs, field) => {
    t = await buildWorld(routeWorld(sim))
    const res = await t.inject({ url: `/discord/members?${qs}`, as: 'admin' })
    expect(res.statusCode).toBe(400)
    expect(res.json()).toMatchObject({ code: 'FST_DISCORD_VALIDATION', message: expect.stringContaining(field) })
  })

  it('is for admins only', async () => {
    t = await buildWorld(routeWorld(sim))
    expect((await t.inject({ url: '/discord/members', as: 'alice' })).statusCode).toBe(403)
    expect((await t.inject({ url: '/discord/members' })).statusCode).toBe(401)
    expect((await t.inject({ url: `/discord/members/${IDS.alice}`, as: 'alice' })).statusCode).toBe(403)
  })
})

describe('GET /members/{discord_user_id}', () => {
  it('explains each managed role from the provider\'s groups and the bot\'s reach', async () => {
    t = await buildWorld({ ...routeWorld(sim), membership: true })
    await configureGuild(t, { guild_name: 'Falcon Wing' })
    await createMapping(t, { group_id: 'pilots', group_name: 'Pilots', discord_role_id: IDS.pilotRole })
    await createMapping(t, { group_id: 'staff', group_name: 'Staff team', discord_role_id: IDS.staffRole })
    await t.store.createUser({ user_id: 'user-alice', discord_user_id: IDS.alice, username: 'alice', global_name: 'Alice A.', guilds: [{ id: IDS.guild, name: 'x', permissions: '0' }] })
    sim.state.setMemberRoles(IDS.guild, IDS.alice, [IDS.staffRole])
    t.membership.set('user-alice', ['pilots'])
    const res = await t.inject({ url: `/discord/members/${IDS.alice}`, as: 'admin' })
    expect(res.statusCode).toBe(200)
    const body = res.json()
    expect(body.member).toMatchObject({ username: 'alice', global_name: 'Alice A.', avatar_url: null })
    expect(body.groups).toEqual([{ id: 'pilots', name: 'Group pilots' }])
    const g = body.guilds[0]
    expect(g).toMatchObject({ guild_id: IDS.guild, guild_name: 'Falcon Wing', in_guild: true, error: null })
    expect(g.roles).toEqual([{ id: IDS.staffRole, name: 'Staff', color: 0, position: 4 }])
    // In mapping order: priority, then mapping id (both priority 1 here, so by random id).
    expect([...g.managed].sort((a: { role_id: string }, b: { role_id: string }) => a.role_id.localeCompare(b.role_id))).toEqual([
      expect.objectContaining({ role_id: IDS.pilotRole, role_name: 'EVE Pilot', held: false, wanted: true, state: 'to_add', reason: 'Member of group "Pilots"' }),
      expect.objectContaining({ role_id: IDS.staffRole, role_name: 'Staff', held: true, wanted: false, state: 'to_remove', reason: 'Not in group "Staff team"' })
    ])
    expect((await t.inject({ url: '/discord/members/3999999999999999999', as: 'admin' })).json()).toMatchObject({ code: 'FST_DISCORD_NOT_FOUND' })
    expect((await t.inject({ url: '/discord/members/abc', as: 'admin' })).json()).toMatchObject({ code: 'FST_DISCORD_VALIDATION' })
    await expectDocumentedStatuses(t)
  })
})

describe('GET /membership/groups', () => {
  it('says no list is available when the provider has no listGroups()', async () => {
    t = await buildWorld({ ...routeWorld(sim), membership: true })
    expect((await t.inject({ url: '/discord/membership/groups', as: 'admin' })).json()).toEqual({ available: false, groups: [] })
  })

  it('serves a validated, sorted list, and answers 502 FST_DISCORD_MEMBERSHIP_UNAVAILABLE for a bad or failing provider', async () => {
    let answer: unknown = [{ id: 'b', name: 'Bravo' }, { id: 'a', name: 'Alpha' }, { id: 'c' }]
    const provider = {
      getMembership: () => null,
      listGroups: async () => {
        if (answer instanceof Error) throw answer
        return answer as Array<{ id: string, name: string }>
      }
    }
    t = await buildWorld(routeWorld(sim, { membership: provider }))
    expect((await t.inject({ url: '/discord/membership/groups', as: 'admin' })).json()).toEqual({ available: true, groups: [{ id: 'a', name: 'Alpha' }, { id: 'b', name: 'Bravo' }, { id: 'c', name: 'c' }] })
    answer = [{ id: '' }]
    const bad = await t.inject({ url: '/discord/membership/groups', as: 'admin' })
    expect(bad.statusCode).toBe(502)
    expect(bad.json()).toMatchObject({ code: 'FST_DISCORD_MEMBERSHIP_UNAVAILABLE', message: expect.stringContaining('id of 1-256') })
    answer = new Error('postgres://secret@db down')
    const failing = await t.inject({ url: '/discord/membership/groups', as: 'admin' })
    expect(failing.statusCode).toBe(502)
    expect(failing.body).not.toContain('postgres')
    expect((await t.inject({ url: '/discord/membership/groups', as: 'alice' })).statusCode).toBe(403)
    await expectDocumentedStatuses(t)
  })
})

describe('toGroupList', () => {
  it('refuses what is not a list of groups, and duplicate ids', () => {
    expect(() => toGroupList({})).toThrow(/array/)
    expect(() => toGroupList([{ id: 'a' }, { id: 'a' }])).toThrow(/twice/)
    expect(() => toGroupList([{ id: 'a', name: 3 }])).toThrow(/name/)
    expect(() => toGroupList([{ id: 'x'.repeat(257) }])).toThrow(/1-256/)
    expect(toGroupList([{ id: 'z', name: '  ' }])).toEqual([{ id: 'z', name: 'z' }])
  })
})
