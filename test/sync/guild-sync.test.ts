import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { buildSyncWorld, HOST, IDS, isWrite, type SyncWorld } from './helpers.js'

/*
 * Guild sync semantics end to end: the plugin (over real HTTP) against the simulator.
 * The planner's own rules are pinned by the planner suites; these tests prove the engine feeds
 * it the right inputs (links, membership, leave policy, current roles) and applies exactly
 * what it plans, with minimal writes.
 */

let w: SyncWorld

beforeEach(async () => {
  w = await buildSyncWorld()
  await w.guild(IDS.g1, 'Alpha Guild')
})

afterEach(async () => {
  expect(w.sim.internalErrors).toEqual([])
  await w.close()
})

async function runGuild (guildId: string = IDS.g1, extra: Record<string, unknown> = {}): Promise<any> {
  const res = await w.call('POST', '/sync/manual', { body: { guild_id: guildId, wait: true, ...extra } })
  expect(res.status).toBe(200)
  return res.body
}

describe('guild sync: semantics', () => {
  it('adds desired managed roles, removes undeserved ones and never touches unmanaged roles', async () => {
    await w.mapping({ group_id: 'pilots', discord_role_id: IDS.pilot, priority: 1 })
    await w.mapping({ group_id: 'corp', discord_role_id: IDS.corp, priority: 2 })
    // alice: should gain Pilot, keeps Hand Picked and Server Booster untouched.
    w.sim.state.addMember(IDS.g1, IDS.alice, [IDS.hand, IDS.booster])
    await w.link(HOST.alice, IDS.alice)
    w.membership.set(HOST.alice, ['pilots'])
    // bob: holds Corp without being in the group: loses it, keeps Hand Picked.
    w.sim.state.addMember(IDS.g1, IDS.bob, [IDS.corp, IDS.hand])
    await w.link(HOST.bob, IDS.bob)
    w.membership.set(HOST.bob, [])
    // carol: already right.
    w.sim.state.addMember(IDS.g1, IDS.carol, [IDS.pilot, IDS.corp])
    await w.link(HOST.carol, IDS.carol)
    w.membership.set(HOST.carol, ['pilots', 'corp'])

    const body = await runGuild()
    expect(body.run.status).toBe('completed')
    expect(w.roles(IDS.g1, IDS.alice)).toEqual([IDS.pilot, IDS.booster, IDS.hand].sort())
    expect(w.roles(IDS.g1, IDS.bob)).toEqual([IDS.hand])
    expect(w.roles(IDS.g1, IDS.carol)).toEqual([IDS.pilot, IDS.corp].sort())
    const g = body.run.results.guilds[0]
    expect(g).toMatchObject({ guild_id: IDS.g1, status: 'completed', members_to_change: 2, planned_changes: 2, roles_added: 1, roles_removed: 1, members_failed: 0 })
    // Owner, alice, bob, carol (the bot itself is never planned).
    expect(g.members_scanned).toBe(4)
    // Exactly one write per member that changes: a single change goes through PUT/DELETE.
    const writes = w.discordCalls(isWrite)
    expect(writes.map((r) => r.route).sort()).toEqual([
      'DELETE /guilds/:guild_id/members/:user_id/roles/:role_id',
      'PUT /guilds/:guild_id/members/:user_id/roles/:role_id'
    ])
  })

  it('writes one PATCH with the full role list when a member needs several changes', async () => {
    await w.mapping({ group_id: 'pilots', discord_role_id: IDS.pilot, priority: 1 })
    await w.mapping({ group_id: 'corp', discord_role_id: IDS.corp, priority: 2 })
    await w.mapping({ group_id: 'inactive', discord_role_id: IDS.inactive, priority: 3 })
    w.sim.state.addMember(IDS.g1, IDS.alice, [IDS.inactive, IDS.hand, IDS.booster])
    await w.link(HOST.alice, IDS.alice)
    w.membership.set(HOST.alice, ['pilots', 'corp'])
    const body = await runGuild()
    expect(body.run.results.roles_added).toBe(2)
    expect(body.run.results.roles_removed).toBe(1)
    expect(w.roles(IDS.g1, IDS.alice)).toEqual([IDS.pilot, IDS.corp, IDS.hand, IDS.booster].sort())
    const writes = w.discordCalls(isWrite)
    expect(writes).toHaveLength(1)
    expect(writes[0]?.route).toBe('PATCH /guilds/:guild_id/members/:user_id')
    // The reason names the plugin, the run and each mapping.
    expect(writes[0]?.reason).toContain('fastify-discord-sync')
    expect(writes[0]?.reason).toContain(body.run_id)
    expect(writes[0]?.reason).toMatch(/\+EVE Pilot \(mapping [0-9a-f-]+\)/)
    expect(writes[0]?.reason).toMatch(/-Inactive \(mapping [0-9a-f-]+\)/)
  })

  it('an excluded group wins over membership; exclusive sets grant only the best priority', async () => {
    await w.mapping({ group_id: 'pilots', discord_role_id: IDS.pilot, priority: 1, conditions: { excluded_groups: ['banned'] } })
    await w.mapping({ group_id: 'cadets', discord_role_id: IDS.cadet, priority: 5, exclusive_set: 'rank' })
    await w.mapping({ group_id: 'officers', discord_role_id: IDS.officer, priority: 3, exclusive_set: 'rank' })
    w.sim.state.addMember(IDS.g1, IDS.alice, [IDS.pilot, IDS.cadet])
    await w.link(HOST.alice, IDS.alice)
    w.membership.set(HOST.alice, ['pilots', 'banned', 'cadets', 'officers'])
    await runGuild()
    expect(w.roles(IDS.g1, IDS.alice)).toEqual([IDS.officer])
  })

  it('honours character count bounds and required permissions (all or any)', async () => {
    await w.mapping({ group_id: 'pilots', discord_role_id: IDS.pilot, conditions: { character_count_min: 2, character_count_max: 5 } })
    await w.mapping({ group_id: 'pilots', discord_role_id: IDS.corp, conditions: { required_permissions: ['a', 'b'], require_all: true } })
    await w.mapping({ group_id: 'pilots', discord_role_id: IDS.inactive, conditions: { required_permissions: ['a', 'z'], require_all: false } })
    w.sim.state.addMember(IDS.g1, IDS.alice)
    w.sim.state.addMember(IDS.g1, IDS.bob)
    await w.link(HOST.alice, IDS.alice)
    await w.link(HOST.bob, IDS.bob)
    w.membership.set(HOST.alice, ['pilots'], 3, ['a'])
    w.membership.set(HOST.bob, ['pilots'], 6, ['a', 'b'])
    await runGuild()
    expect(w.roles(IDS.g1, IDS.alice)).toEqual([IDS.pilot, IDS.inactive].sort())
    expect(w.roles(IDS.g1, IDS.bob)).toEqual([IDS.corp, IDS.inactive].sort())
  })

  it('unlinked members lose managed roles when remove_roles_on_leave is on, and keep them when off', async () => {
    await w.mapping({ group_id: 'pilots', discord_role_id: IDS.pilot })
    w.sim.state.addMember(IDS.g1, IDS.dave, [IDS.pilot, IDS.hand])
    await runGuild()
    expect(w.roles(IDS.g1, IDS.dave)).toEqual([IDS.hand])

    w.sim.state.setMemberRoles(IDS.g1, IDS.dave, [IDS.pilot, IDS.hand])
    await w.store.updateGuild(IDS.g1, { settings: { remove_roles_on_leave: false } })
    w.sim.clearRequests()
    const body = await runGuild()
    expect(w.roles(IDS.g1, IDS.dave)).toEqual([IDS.pilot, IDS.hand].sort())
    expect(w.discordCalls(isWrite)).toEqual([])
    expect(body.run.results.guilds[0].members_to_change).toBe(0)
  })

  it('treats an inactive link as no link, and a user the host does not know as entitled to nothing', async () => {
    await w.mapping({ group_id: 'pilots', discord_role_id: IDS.pilot })
    w.sim.state.addMember(IDS.g1, IDS.alice, [IDS.pilot])
    w.sim.state.addMember(IDS.g1, IDS.bob, [IDS.pilot])
    await w.link(HOST.alice, IDS.alice)
    await w.store.updateUser(IDS.alice, { is_active: false })
    w.membership.set(HOST.alice, ['pilots'])
    await w.link(HOST.bob, IDS.bob) // no membership entry: the provider answers null
    await runGuild()
    expect(w.roles(IDS.g1, IDS.alice)).toEqual([])
    expect(w.roles(IDS.g1, IDS.bob)).toEqual([])
  })

  it('reports roles the bot may not change as blocked, never writes them, and audits them', async () => {
    await w.mapping({ group_id: 'admins', discord_role_id: IDS.admins })
    await w.mapping({ group_id: 'pilots', discord_role_id: IDS.pilot })
    w.sim.state.addMember(IDS.g1, IDS.alice)
    await w.link(HOST.alice, IDS.alice)
    w.membership.set(HOST.alice, ['admins', 'pilots'])
    const body = await runGuild()
    expect(w.roles(IDS.g1, IDS.alice)).toEqual([IDS.pilot])
    expect(body.run.results.guilds[0].blocked_changes).toBe(1)
    const audit = await w.call('GET', `/sync/audit?run_id=${body.run_id}`)
    const outcomes = audit.body.entries.map((e: any) => `${e.role_name}:${e.action}:${e.outcome}:${e.error_code}`).sort()
    expect(outcomes).toEqual(['Admins:add:blocked:blocked_hierarchy', 'EVE Pilot:add:applied:null'])
  })

  it('a membership provider failure keeps the member as it is and records the error without leaking it', async () => {
    await w.mapping({ group_id: 'pilots', discord_role_id: IDS.pilot })
    w.sim.state.addMember(IDS.g1, IDS.alice, [IDS.pilot])
    await w.link(HOST.alice, IDS.alice)
    w.membership.failing.add(HOST.alice)
    const body = await runGuild()
    expect(w.roles(IDS.g1, IDS.alice)).toEqual([IDS.pilot])
    expect(body.run.results.users_failed).toBe(1)
    const err = body.run.results.errors.find((e: any) => e.discord_user_id === IDS.alice)
    expect(err.code).toBe('membership_unavailable')
    expect(JSON.stringify(body)).not.toContain('postgres://')
  })

  it('re-reads each member before writing: a concurrent fix means no write', async () => {
    await w.mapping({ group_id: 'pilots', discord_role_id: IDS.pilot })
    w.sim.state.addMember(IDS.g1, IDS.alice)
    await w.link(HOST.alice, IDS.alice)
    w.membership.set(HOST.alice, ['pilots'])
    // Fault: the list shows alice without the role, then someone grants it before the write.
    const original = w.app.discord.client.bot.bind(w.app.discord.client)
    let patched = false
    w.app.discord.client.bot = (token: string) => {
      const bot = original(token)
      const list = bot.listGuildMembers.bind(bot)
      bot.listGuildMembers = async function * (...args: Parameters<typeof list>) {
        for await (const page of list(...args)) {
          yield page
          if (!patched) {
            patched = true
            w.sim.state.setMemberRoles(IDS.g1, IDS.alice, [IDS.pilot])
          }
        }
      }
      return bot
    }
    const body = await runGuild()
    expect(patched).toBe(true)
    expect(w.discordCalls(isWrite)).toEqual([])
    expect(body.run.results.roles_added).toBe(0)
    expect(w.discordCalls((r) => r.route === 'GET /guilds/:guild_id/members/:user_id').length).toBeGreaterThan(0)
  })

  it('a mapping run changes only that mapping\'s role', async () => {
    const pilot = await w.mapping({ group_id: 'pilots', discord_role_id: IDS.pilot })
    await w.mapping({ group_id: 'corp', discord_role_id: IDS.corp })
    w.sim.state.addMember(IDS.g1, IDS.alice, [IDS.corp])
    await w.link(HOST.alice, IDS.alice)
    w.membership.set(HOST.alice, ['pilots'])
    const res = await w.call('POST', '/sync/manual', { body: { mapping_id: pilot.id, wait: true } })
    expect(res.status).toBe(200)
    expect(res.body.run).toMatchObject({ sync_type: 'mapping', target_id: pilot.id, status: 'completed' })
    expect(w.roles(IDS.g1, IDS.alice)).toEqual([IDS.pilot, IDS.corp].sort())
    expect((await w.store.getMapping(pilot.id))?.sync_count).toBe(1)
  })

  it('a guild without enabled mappings lists nobody', async () => {
    await w.mapping({ group_id: 'pilots', discord_role_id: IDS.pilot, enabled: false })
    const body = await runGuild()
    expect(body.run.results.guilds[0].reason).toMatch(/no enabled role mappings/)
    expect(w.discordCalls((r) => r.route === 'GET /guilds/:guild_id/members')).toEqual([])
  })
})
