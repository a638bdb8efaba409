import { afterEach, describe, expect, it } from 'vitest'
import { PermissionFlags } from '../../src/testing/index.js'
import { buildSyncWorld, HOST, IDS, isWrite, type SyncWorld } from './helpers.js'

/*
 * Nickname templates against the simulator (docs/sync.md "Nicknames"): the nickname rides in
 * the same PATCH as the roles, only when it differs, never for the owner or a member at or above
 * the bot, never without Manage Nicknames; dry runs list it; the guild save refuses bad templates
 * and a bot without the permission.
 */

let w: SyncWorld
const BOT_PERMS = PermissionFlags.MANAGE_ROLES | PermissionFlags.VIEW_CHANNEL | PermissionFlags.SEND_MESSAGES
const TEMPLATE = '[{ticker}] {name}'

afterEach(async () => {
  expect(w.sim.internalErrors).toEqual([])
  await w.close()
})

function profileUser (host: string, groups: string[], profile: Record<string, string>): void {
  w.membership.users.set(host, { groups: groups.map((id) => ({ id, name: id })), character_count: 1, permissions: [], profile })
}

async function world (settings: Record<string, unknown> = { nickname_template: TEMPLATE }, nickPerm = true): Promise<void> {
  w = await buildSyncWorld()
  if (nickPerm) w.sim.state.setRolePermissions(IDS.g1, IDS.botRole, BOT_PERMS | PermissionFlags.MANAGE_NICKNAMES)
  await w.guild(IDS.g1, 'Alpha Guild', settings)
  await w.mapping({ group_id: 'pilots', discord_role_id: IDS.pilot })
  w.sim.state.addMember(IDS.g1, IDS.alice)
  await w.link(HOST.alice, IDS.alice)
  profileUser(HOST.alice, ['pilots'], { ticker: 'ABC', name: 'Alice Liddell' })
}

async function sync (extra: Record<string, unknown> = {}): Promise<any> {
  const res = await w.call('POST', '/sync/manual', { body: { guild_id: IDS.g1, wait: true, ...extra } })
  expect(res.status).toBe(200)
  return res.body
}

const nick = (id: string): string | null => w.sim.state.getGuild(IDS.g1)!.members.get(id)!.nick

describe('nicknames in the sync', () => {
  it('sends roles and nickname in one PATCH; a second run writes nothing', async () => {
    await world()
    const body = await sync()
    const writes = w.discordCalls(isWrite)
    expect(writes.map((c) => c.route)).toEqual(['PATCH /guilds/:guild_id/members/:user_id'])
    expect(w.roles(IDS.g1, IDS.alice)).toEqual([IDS.pilot])
    expect(nick(IDS.alice)).toBe('[ABC] Alice Liddell')
    expect(body.changes.map((c: any) => `${c.action}:${c.outcome}:${c.role_name}`).sort()).toEqual(['add:applied:EVE Pilot', 'nick:applied:[ABC] Alice Liddell'])
    await sync()
    expect(w.discordCalls(isWrite)).toHaveLength(1)
  })

  it('a nickname alone is one PATCH without a role list; the Discord audit entry carries it', async () => {
    await world()
    w.sim.state.setMemberRoles(IDS.g1, IDS.alice, [IDS.pilot])
    await sync()
    const writes = w.sim.requests.filter((r) => r.route === 'PATCH /guilds/:guild_id/members/:user_id')
    expect(writes).toHaveLength(1)
    expect(w.sim.state.auditLog.filter((e) => e.action_type === 24).map((e) => e.changes)).toEqual([[{ key: 'nick', old_value: null, new_value: '[ABC] Alice Liddell' }]])
    expect(w.sim.state.auditLog.filter((e) => e.action_type === 25)).toEqual([])
    expect(nick(IDS.alice)).toBe('[ABC] Alice Liddell')
  })

  it('follows the profile: a changed ticker renames at the next run; a hand-set nickname matching the template is left alone', async () => {
    await world()
    w.sim.state.updateMember(IDS.g1, IDS.alice, { roles: [IDS.pilot], nick: '[ABC] Alice Liddell' })
    await sync()
    expect(w.discordCalls(isWrite)).toEqual([])
    profileUser(HOST.alice, ['pilots'], { ticker: 'XYZ', name: 'Alice Liddell' })
    await sync()
    expect(nick(IDS.alice)).toBe('[XYZ] Alice Liddell')
    expect(w.discordCalls(isWrite)).toHaveLength(1)
  })

  it('never renames the owner or a member whose highest role is not below the bot\'s; their roles still sync', async () => {
    await world()
    await w.link('host-owner', IDS.owner)
    profileUser('host-owner', ['pilots'], { ticker: 'OWN', name: 'Owner' })
    w.sim.state.setMemberRoles(IDS.g1, IDS.alice, [IDS.admins])
    const body = await sync()
    expect(body.run.status).toBe('completed')
    expect(nick(IDS.owner)).toBeNull()
    expect(nick(IDS.alice)).toBeNull()
    expect(w.roles(IDS.g1, IDS.owner)).toEqual([IDS.pilot])
    expect(w.roles(IDS.g1, IDS.alice).sort()).toEqual([IDS.admins, IDS.pilot].sort())
    expect(body.changes.filter((c: any) => c.action === 'nick')).toEqual([])
    // No request was refused: a 50013 would have halted the guild.
    expect(w.sim.requests.filter((r) => r.status === 403)).toEqual([])
  })

  it('without Manage Nicknames the roles sync and no nickname is attempted', async () => {
    await world({ nickname_template: TEMPLATE }, false)
    const body = await sync()
    expect(body.run.status).toBe('completed')
    expect(w.roles(IDS.g1, IDS.alice)).toEqual([IDS.pilot])
    expect(nick(IDS.alice)).toBeNull()
    expect(w.discordCalls(isWrite).map((c) => c.route)).toEqual(['PUT /guilds/:guild_id/members/:user_id/roles/:role_id'])
  })

  it('a dry run lists the nickname beside the role changes and writes nothing', async () => {
    await world()
    const body = await sync({ dry_run: true })
    expect(w.discordCalls(isWrite)).toEqual([])
    expect(body.changes.map((c: any) => `${c.action}:${c.outcome}:${c.role_name}`).sort()).toEqual(['add:dry_run:EVE Pilot', 'nick:dry_run:[ABC] Alice Liddell'])
    expect(nick(IDS.alice)).toBeNull()
  })

  it('a member whose profile lacks a variable keeps its nickname; unlinked members are never renamed', async () => {
    await world()
    profileUser(HOST.alice, ['pilots'], { name: 'Alice' })
    w.sim.state.addMember(IDS.g1, IDS.bob)
    await sync()
    expect(nick(IDS.alice)).toBeNull()
    expect(nick(IDS.bob)).toBeNull()
    expect(w.roles(IDS.g1, IDS.alice)).toEqual([IDS.pilot])
  })
})

describe('guild settings', () => {
  it('refuses an unknown variable, a template over 100 characters, a syntax error (400, naming the field)', async () => {
    await world({})
    for (const template of ['[{corp}] {name}', `{name}${'x'.repeat(95)}`, '{name']) {
      const res = await w.call('PUT', `/guilds/${IDS.g1}`, { body: { settings: { nickname_template: template } } })
      expect(res.status).toBe(400)
      expect(JSON.stringify(res.body)).toContain('nickname_template')
    }
    expect((await w.store.getGuild(IDS.g1))?.settings.nickname_template).toBeNull()
  })

  it('refuses a template when the bot lacks Manage Nicknames, and kick without Kick Members (422 naming the permission)', async () => {
    await world({}, false)
    const nickRes = await w.call('PUT', `/guilds/${IDS.g1}`, { body: { settings: { nickname_template: TEMPLATE } } })
    expect(nickRes.status).toBe(422)
    expect(nickRes.body.code).toBe('FST_DISCORD_BOT_MISSING_PERMISSION')
    expect(nickRes.body.message).toMatch(/settings\.nickname_template .*Manage Nicknames/)
    const kickRes = await w.call('PUT', `/guilds/${IDS.g1}`, { body: { settings: { on_access_lost: 'kick' } } })
    expect(kickRes.status).toBe(422)
    expect(kickRes.body.message).toMatch(/settings\.on_access_lost .*Kick Members/)
    expect((await w.store.getGuild(IDS.g1))?.settings).toMatchObject({ nickname_template: null, on_access_lost: 'remove_roles' })

    w.sim.state.setRolePermissions(IDS.g1, IDS.botRole, BOT_PERMS | PermissionFlags.MANAGE_NICKNAMES | PermissionFlags.KICK_MEMBERS)
    const ok = await w.call('PUT', `/guilds/${IDS.g1}`, { body: { settings: { nickname_template: TEMPLATE, on_access_lost: 'kick', access_lost_grace: '1d' } } })
    expect(ok.status).toBe(200)
    expect(ok.body.settings).toMatchObject({ nickname_template: TEMPLATE, on_access_lost: 'kick', access_lost_grace: '1d' })
    const bad = await w.call('PUT', `/guilds/${IDS.g1}`, { body: { settings: { access_lost_grace: '100d' } } })
    expect(bad.status).toBe(400)
  })

  it('the health check reports a setting the bot lacks the permission for', async () => {
    await world({ nickname_template: TEMPLATE, on_access_lost: 'kick' }, false)
    const res = await w.call('POST', `/guilds/${IDS.g1}/health-check`)
    expect(res.status).toBe(200)
    const g = await w.store.getGuild(IDS.g1)
    expect(g?.health_status).toBe('degraded')
    expect(g?.last_error).toMatch(/Manage Nicknames.*Kick Members/)
  })
})
