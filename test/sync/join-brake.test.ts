import { afterEach, describe, expect, it } from 'vitest'
import { PermissionFlags } from '../../src/testing/index.js'
import { buildSyncWorld, HOST, IDS, isWrite, OAUTH_APP, type SyncWorld } from './helpers.js'

/*
 * Joins (auto_join) are writes like any other: their role adds count toward the guild's
 * max_role_changes_per_sync, so the brake holds them back with everything else, and a dry run
 * lists the joins it would make (audited dry_run, code join; counted in members_to_join)
 * instead of making them. The user sync answer counts nicknames and kicks.
 */

const worlds: SyncWorld[] = []
afterEach(async () => {
  for (const w of worlds.splice(0)) {
    expect(w.sim.internalErrors).toEqual([])
    await w.close()
  }
})

const ADD_MEMBER = 'PUT /guilds/:guild_id/members/:user_id'
const BOT_PERMS = PermissionFlags.MANAGE_ROLES | PermissionFlags.VIEW_CHANNEL | PermissionFlags.SEND_MESSAGES | PermissionFlags.CREATE_INSTANT_INVITE

/** Alice linked with guilds.join, entitled to Pilot and Corporation Member, not in guild 1. */
async function world (settings: Record<string, unknown>): Promise<SyncWorld> {
  const w = await buildSyncWorld({ oauth: true })
  worlds.push(w)
  w.sim.state.setRolePermissions(IDS.g1, IDS.botRole, BOT_PERMS)
  await w.guild(IDS.g1, 'Alpha Guild', { auto_join: true, ...settings })
  await w.mapping({ group_id: 'pilots', discord_role_id: IDS.pilot })
  await w.mapping({ group_id: 'corp', discord_role_id: IDS.corp })
  const scopes = ['identify', 'guilds.join']
  const t = w.sim.state.issueUserToken({ clientId: OAUTH_APP.clientId, userId: IDS.alice, scopes })
  await w.store.createUser({
    user_id: HOST.alice,
    discord_user_id: IDS.alice,
    username: 'alice',
    tokens: { access_token: t.access_token, refresh_token: t.refresh_token ?? null, expires_at: new Date(Date.now() + 3_600_000), scopes }
  })
  w.membership.set(HOST.alice, ['pilots', 'corp'])
  return w
}

const joins = (w: SyncWorld): number[] => w.discordCalls((r) => r.route === ADD_MEMBER).map((r) => r.status)

describe('joins and the safety brake', () => {
  it('a join whose role adds exceed max_role_changes_per_sync is held back: no request, audited blocked:brake; force sends it', async () => {
    const w = await world({ max_role_changes_per_sync: 1 })
    const res = await w.call('POST', '/sync/manual', { body: { user_ids: [HOST.alice], wait: true } })
    expect(res.status).toBe(200)
    expect(res.body.run.status).toBe('blocked')
    expect(res.body.run.results.guilds[0]).toMatchObject({ status: 'blocked', planned_changes: 2, members_to_change: 1, members_to_join: 1, roles_added: 0 })
    expect(joins(w)).toEqual([])
    expect(w.sim.state.getMember(IDS.g1, IDS.alice)).toBeUndefined()
    expect(res.body.changes.map((c: any) => `${c.role_id}:${c.outcome}:${c.error_code}`).sort()).toEqual([`${IDS.pilot}:blocked:brake`, `${IDS.corp}:blocked:brake`].sort())

    const forced = await w.call('POST', '/sync/manual', { body: { user_ids: [HOST.alice], force: true, wait: true } })
    expect(forced.body.run.status).toBe('completed')
    expect(joins(w)).toEqual([201])
    expect(w.roles(IDS.g1, IDS.alice)).toEqual([IDS.pilot, IDS.corp].sort())
  })

  it('the user sync answer names the brake for a held join', async () => {
    const w = await world({ max_role_changes_per_sync: 1 })
    const res = await w.call('POST', `/sync/user/${HOST.alice}`)
    expect(res.status).toBe(200)
    expect(joins(w)).toEqual([])
    expect(w.sim.state.getMember(IDS.g1, IDS.alice)).toBeUndefined()
    expect(res.body.sync_results).toMatchObject([{ guild_id: IDS.g1, roles_added: [], total_roles: 0 }])
    expect(res.body.sync_results[0].errors).toEqual([expect.stringMatching(/exceed max_role_changes_per_sync \(1\)/)])
    expect(res.body.failed_guilds).toBe(1)
  })

  it('a join within the limit is sent as before: one request', async () => {
    const w = await world({ max_role_changes_per_sync: 2 })
    const res = await w.call('POST', '/sync/manual', { body: { user_ids: [HOST.alice], wait: true } })
    expect(res.body.run.status).toBe('completed')
    expect(joins(w)).toEqual([201])
    expect(res.body.run.results.guilds[0]).toMatchObject({ members_to_join: 1, roles_added: 2 })
  })
})

describe('joins in a dry run', () => {
  it('are listed, not made: no request, audited dry_run with code join, counted in members_to_join', async () => {
    const w = await world({})
    const res = await w.call('POST', '/sync/manual', { body: { user_ids: [HOST.alice], dry_run: true, wait: true } })
    expect(res.status).toBe(200)
    expect(res.body.run).toMatchObject({ status: 'completed', dry_run: true })
    expect(joins(w)).toEqual([])
    expect(w.discordCalls(isWrite)).toEqual([])
    expect(w.sim.state.getMember(IDS.g1, IDS.alice)).toBeUndefined()
    expect(res.body.run.results.guilds[0]).toMatchObject({ members_to_change: 1, members_to_join: 1, planned_changes: 2, roles_added: 0 })
    expect(res.body.changes.map((c: any) => `${c.discord_user_id}:${c.action}:${c.role_id}:${c.outcome}:${c.error_code}`).sort())
      .toEqual([`${IDS.alice}:add:${IDS.pilot}:dry_run:join`, `${IDS.alice}:add:${IDS.corp}:dry_run:join`].sort())
  })

  it('name the brake when a real run would hold the join back', async () => {
    const w = await world({ max_role_changes_per_sync: 1 })
    const res = await w.call('POST', '/sync/manual', { body: { user_ids: [HOST.alice], dry_run: true, wait: true } })
    expect(res.body.run.results.guilds[0].reason).toMatch(/2 planned role changes exceed max_role_changes_per_sync \(1\)/)
    expect(joins(w)).toEqual([])
  })

  it('leave out a user whose link lacks guilds.join (nothing would be sent)', async () => {
    const w = await world({})
    await w.store.updateUser(IDS.alice, { needs_reauth: true })
    const res = await w.call('POST', '/sync/manual', { body: { user_ids: [HOST.alice], dry_run: true, wait: true } })
    expect(res.body.run.results.guilds[0]).toMatchObject({ members_to_join: 0, planned_changes: 0 })
    expect(res.body.changes).toEqual([])
  })
})

describe('user sync counts', () => {
  it('count the nickname set from the template, per guild and in total', async () => {
    const w = await world({ nickname_template: '[{ticker}] {name}' })
    w.sim.state.setRolePermissions(IDS.g1, IDS.botRole, BOT_PERMS | PermissionFlags.MANAGE_NICKNAMES)
    w.sim.state.addMember(IDS.g1, IDS.alice, [IDS.pilot, IDS.corp])
    w.membership.users.set(HOST.alice, { groups: [{ id: 'pilots', name: 'Pilots' }, { id: 'corp', name: 'Corp' }], character_count: 1, permissions: [], profile: { ticker: 'FALC', name: 'Alice' } })
    const res = await w.call('POST', `/sync/user/${HOST.alice}`)
    expect(res.status).toBe(200)
    expect(w.sim.state.getMember(IDS.g1, IDS.alice)?.nick).toBe('[FALC] Alice')
    expect(res.body.sync_results).toMatchObject([{ guild_id: IDS.g1, roles_added: [], nickname_changes: 1, kicks: 0, errors: [] }])
    expect(res.body).toMatchObject({ nickname_changes: 1, kicks: 0 })
    // Nothing left to change: nothing counted.
    const again = await w.call('POST', `/sync/user/${HOST.alice}`)
    expect(again.body).toMatchObject({ nickname_changes: 0, kicks: 0 })
  })

  it('count a join\'s nickname', async () => {
    const w = await world({ nickname_template: '{name}' })
    w.sim.state.setRolePermissions(IDS.g1, IDS.botRole, BOT_PERMS | PermissionFlags.MANAGE_NICKNAMES)
    w.membership.users.set(HOST.alice, { groups: [{ id: 'pilots', name: 'Pilots' }], character_count: 1, permissions: [], profile: { name: 'Alice' } })
    const res = await w.call('POST', `/sync/user/${HOST.alice}`)
    expect(joins(w)).toEqual([201])
    expect(res.body.sync_results).toMatchObject([{ guild_id: IDS.g1, roles_added: ['EVE Pilot'], nickname_changes: 1, kicks: 0 }])
  })

  it('list and count a kick (on_access_lost kick), though the member is no longer in the guild', async () => {
    const w = await world({ on_access_lost: 'kick', auto_join: false })
    w.sim.state.setRolePermissions(IDS.g1, IDS.botRole, BOT_PERMS | PermissionFlags.KICK_MEMBERS)
    w.sim.state.addMember(IDS.g1, IDS.alice, [IDS.hand])
    w.membership.set(HOST.alice, [])
    const res = await w.call('POST', `/sync/user/${HOST.alice}`)
    expect(res.status).toBe(200)
    expect(w.sim.state.getMember(IDS.g1, IDS.alice)).toBeUndefined()
    expect(res.body.sync_results).toMatchObject([{ guild_id: IDS.g1, kicks: 1, nickname_changes: 0, total_roles: 0, errors: [] }])
    expect(res.body).toMatchObject({ total_guilds: 1, kicks: 1, nickname_changes: 0 })
  })
})
