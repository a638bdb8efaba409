import { afterEach, describe, expect, it } from 'vitest'
import { PermissionFlags } from '../../src/testing/index.js'
import { authorizeAs } from '../helpers/world.js'
import { buildSyncWorld, HOST, IDS, isWrite, OAUTH_APP, until, type SyncWorld } from './helpers.js'

/*
 * Join on link (guild setting auto_join): a linked user entitled to a managed role but outside
 * the guild is added with one Add Guild Member request carrying their token and roles. Each rule
 * is checked against the simulator's state and request log.
 */

const worlds: SyncWorld[] = []
afterEach(async () => {
  while (worlds.length > 0) await worlds.pop()?.close()
})

const ADD_MEMBER = 'PUT /guilds/:guild_id/members/:user_id'
const BOT_PERMS = PermissionFlags.MANAGE_ROLES | PermissionFlags.VIEW_CHANNEL | PermissionFlags.SEND_MESSAGES

async function world (settings: { auto_join: boolean }, invite = true): Promise<SyncWorld> {
  const w = await buildSyncWorld({ oauth: true })
  worlds.push(w)
  if (invite) w.sim.state.setRolePermissions(IDS.g1, IDS.botRole, BOT_PERMS | PermissionFlags.CREATE_INSTANT_INVITE)
  await w.guild(IDS.g1, 'Alpha Guild', settings)
  await w.mapping({ group_id: 'pilots', discord_role_id: IDS.pilot })
  return w
}

/** Links Alice with tokens the simulator issued for `scopes` (the store keeps what Discord granted). */
async function linkAlice (w: SyncWorld, scopes: string[], storedExpiry = new Date(Date.now() + 3_600_000)): Promise<{ access_token: string }> {
  const t = w.sim.state.issueUserToken({ clientId: OAUTH_APP.clientId, userId: IDS.alice, scopes })
  await w.store.createUser({
    user_id: HOST.alice,
    discord_user_id: IDS.alice,
    username: 'alice',
    tokens: { access_token: t.access_token, refresh_token: t.refresh_token ?? null, expires_at: storedExpiry, scopes }
  })
  return t
}

describe('join on link', () => {
  it('a link with auto_join asks for guilds.join and costs exactly one Add Guild Member request, ending with the right roles', async () => {
    const w = await world({ auto_join: true })
    w.membership.set(HOST.alice, ['pilots'])
    const as = { id: HOST.alice, permissions: [] }
    const started = await w.call('POST', '/auth/link', { as, body: {} })
    expect(started.status).toBe(200)
    expect(new URL(started.body.auth_url).searchParams.get('scope')?.split(' ')).toContain('guilds.join')
    const { code, state } = await authorizeAs(w.sim, started.body.auth_url, IDS.alice)
    expect((await w.call('POST', '/auth/link', { as, body: { code, state } })).status).toBe(200)
    await until(async () => (await w.store.listSyncRuns({ sync_type: 'user', status: 'completed' }))[0])

    expect(w.roles(IDS.g1, IDS.alice)).toEqual([IDS.pilot])
    const g1 = w.discordCalls((r) => r.majorId === IDS.g1 && r.method !== 'GET')
    expect(g1).toEqual([{ method: 'PUT', route: ADD_MEMBER, majorId: IDS.g1, status: 201 }])
    expect(w.discordCalls(isWrite)).toEqual([])
    const audit = await w.store.listAudit({ discord_user_id: IDS.alice })
    expect(audit.items).toMatchObject([{ guild_id: IDS.g1, role_id: IDS.pilot, action: 'add', outcome: 'applied', error_code: 'joined' }])
    // The link now knows it is in the guild.
    expect((await w.store.getUserByDiscordId(IDS.alice))?.guilds.map((g) => g.id)).toContain(IDS.g1)
  })

  it('the join carries the nickname the guild\'s template gives, still in one request', async () => {
    const w = await world({ auto_join: true })
    w.sim.state.setRolePermissions(IDS.g1, IDS.botRole, BOT_PERMS | PermissionFlags.CREATE_INSTANT_INVITE | PermissionFlags.MANAGE_NICKNAMES)
    await w.store.updateGuild(IDS.g1, { settings: { nickname_template: '[{ticker}] {name}' } })
    w.membership.users.set(HOST.alice, { groups: [{ id: 'pilots', name: 'Pilots' }], character_count: 1, permissions: [], profile: { ticker: 'FALC', name: 'Alice Pilot' } })
    await linkAlice(w, ['identify', 'guilds.join'])
    const res = await w.call('POST', `/sync/user/${HOST.alice}`)
    expect(res.status).toBe(200)
    expect(w.sim.state.getMember(IDS.g1, IDS.alice)).toMatchObject({ nick: '[FALC] Alice Pilot', roles: [IDS.pilot] })
    const g1 = w.discordCalls((r) => r.majorId === IDS.g1 && r.method !== 'GET')
    expect(g1).toEqual([{ method: 'PUT', route: ADD_MEMBER, majorId: IDS.g1, status: 201 }])
  })

  it('without a guild with auto_join the flow does not ask for guilds.join, and a sync adds no one', async () => {
    const w = await world({ auto_join: false })
    const started = await w.call('POST', '/auth/link', { as: { id: HOST.alice, permissions: [] }, body: {} })
    expect(new URL(started.body.auth_url).searchParams.get('scope')?.split(' ')).not.toContain('guilds.join')
    await linkAlice(w, ['identify', 'guilds.join'])
    w.membership.set(HOST.alice, ['pilots'])
    const res = await w.call('POST', `/sync/user/${HOST.alice}`)
    expect(res.status).toBe(200)
    expect(res.body.sync_results).toEqual([])
    expect(w.sim.state.getMember(IDS.g1, IDS.alice)).toBeUndefined()
    expect(w.discordCalls((r) => r.route === ADD_MEMBER)).toEqual([])
  })

  it('adds no one whose token lacks guilds.join, nor a user entitled to no managed role here', async () => {
    const w = await world({ auto_join: true })
    await linkAlice(w, ['identify'])
    w.membership.set(HOST.alice, ['pilots'])
    await w.call('POST', `/sync/user/${HOST.alice}`)
    await w.store.deleteUser(IDS.alice)
    await linkAlice(w, ['identify', 'guilds.join'])
    w.membership.set(HOST.alice, ['nobody'])
    await w.call('POST', `/sync/user/${HOST.alice}`)
    expect(w.discordCalls((r) => r.route === ADD_MEMBER)).toEqual([])
    expect(w.sim.state.getMember(IDS.g1, IDS.alice)).toBeUndefined()
  })

  it('204 (a member after all): the member is read again and planned like any other, one role write', async () => {
    const w = await world({ auto_join: true })
    await linkAlice(w, ['identify', 'guilds.join'])
    w.membership.set(HOST.alice, ['pilots'])
    // Alice joins by herself between the read that missed her and the join: the provider call in between is held.
    const release = w.membership.hold()
    const calls = w.membership.calls
    const pending = w.call('POST', `/sync/user/${HOST.alice}`)
    await until(async () => w.membership.calls > calls ? true : null)
    w.sim.state.addMember(IDS.g1, IDS.alice, [IDS.hand])
    release()
    const res = await pending
    expect(res.body.sync_results).toMatchObject([{ guild_id: IDS.g1, roles_added: ['EVE Pilot'], errors: [] }])
    expect(w.discordCalls((r) => r.route === ADD_MEMBER).map((r) => r.status)).toEqual([204])
    expect(w.discordCalls(isWrite)).toHaveLength(1)
    expect(w.roles(IDS.g1, IDS.alice)).toEqual([IDS.pilot, IDS.hand].sort())
  })

  it('an access token Discord refuses is refreshed once and the join tried again', async () => {
    const w = await world({ auto_join: true })
    const t = await linkAlice(w, ['identify', 'guilds.join'])
    // Discord no longer accepts it, though the store still thinks it is valid for an hour.
    w.sim.state.expireAccessToken(t.access_token)
    w.membership.set(HOST.alice, ['pilots'])
    const res = await w.call('POST', `/sync/user/${HOST.alice}`)
    expect(res.body.sync_results).toMatchObject([{ guild_id: IDS.g1, roles_added: ['EVE Pilot'], errors: [] }])
    expect(w.discordCalls((r) => r.route === ADD_MEMBER).map((r) => r.status)).toEqual([403, 201])
    expect(w.discordCalls((r) => r.route === 'POST /oauth2/token')).toHaveLength(1)
    expect(w.roles(IDS.g1, IDS.alice)).toEqual([IDS.pilot])
    expect((await w.store.getUserTokens(IDS.alice))?.access_token).not.toBe(t.access_token)
  })

  it('an expired stored token is refreshed before the join, not after a refusal', async () => {
    const w = await world({ auto_join: true })
    await linkAlice(w, ['identify', 'guilds.join'], new Date(Date.now() - 1000))
    w.membership.set(HOST.alice, ['pilots'])
    await w.call('POST', `/sync/user/${HOST.alice}`)
    expect(w.discordCalls((r) => r.route === 'POST /oauth2/token')).toHaveLength(1)
    expect(w.discordCalls((r) => r.route === ADD_MEMBER).map((r) => r.status)).toEqual([201])
  })

  it('Discord\'s maximum number of guilds (30001) is reported on the user\'s result and audit, not retried', async () => {
    const w = await world({ auto_join: true })
    await linkAlice(w, ['identify', 'guilds.join'])
    w.membership.set(HOST.alice, ['pilots'])
    w.sim.state.userGuildLimit = 0
    const res = await w.call('POST', `/sync/user/${HOST.alice}`)
    expect(res.status).toBe(200)
    expect(res.body.failed_guilds).toBe(1)
    expect(res.body.sync_results[0].errors[0]).toMatch(/maximum number of Discord guilds \(30001\)/)
    expect(w.discordCalls((r) => r.route === ADD_MEMBER).map((r) => r.status)).toEqual([400])
    const audit = await w.store.listAudit({ discord_user_id: IDS.alice })
    expect(audit.items).toMatchObject([{ role_id: IDS.pilot, outcome: 'failed', error_code: '30001' }])
    // Role sync of the guild is not halted by one user's refusal.
    expect((await w.store.getGuild(IDS.g1))?.health_status).not.toBe('unhealthy')
  })
})

describe('auto_join in guild health', () => {
  it('a bot without Create Invite leaves an auto_join guild degraded, naming the permission', async () => {
    const w = await world({ auto_join: true }, false)
    const res = await w.call('POST', `/guilds/${IDS.g1}/health-check`)
    expect(res.status).toBe(200)
    const guild = await w.store.getGuild(IDS.g1)
    expect(guild?.health_status).toBe('degraded')
    expect(guild?.last_error).toMatch(/Create Invite/)
  })
})

describe('auto_join at save', () => {
  it('is refused with 422 naming Create Invite when the bot lacks it, accepted once it has it', async () => {
    const w = await world({ auto_join: false }, false)
    const refused = await w.call('PUT', `/guilds/${IDS.g1}`, { body: { settings: { auto_join: true } } })
    expect(refused.status).toBe(422)
    expect(refused.body.code).toBe('FST_DISCORD_BOT_MISSING_PERMISSION')
    expect(refused.body.message).toMatch(/Create Invite.*auto_join/)
    expect((await w.store.getGuild(IDS.g1))?.settings.auto_join).toBe(false)
    w.sim.state.setRolePermissions(IDS.g1, IDS.botRole, BOT_PERMS | PermissionFlags.CREATE_INSTANT_INVITE)
    const ok = await w.call('PUT', `/guilds/${IDS.g1}`, { body: { settings: { auto_join: true } } })
    expect(ok.status).toBe(200)
    expect(ok.body.settings.auto_join).toBe(true)
  })
})
