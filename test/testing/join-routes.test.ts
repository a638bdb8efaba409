import { beforeEach, describe, expect, it } from 'vitest'
import { DiscordRestClient } from '../../src/discord/index.js'
import { PermissionFlags, type DiscordSimulator } from '../../src/testing/index.js'
import { BOT_TOKEN, botFetch, IDS, json, OAUTH, seededSimulators } from './seed.js'

/*
 * The simulator's Add Guild Member (docs/guild.mdx): the user's token of the bot's own application
 * with guilds.join, CREATE_INSTANT_INVITE, 201 with roles and nickname applied in one step, 204 for
 * a member already there, and the user's guild limit (30001).
 */

const start = seededSimulators()
let sim: DiscordSimulator
const CAROL = '1100000000000000005'
const path = (userId: string): string => `/guilds/${IDS.guild}/members/${userId}`
const BOT_PERMS = PermissionFlags.MANAGE_ROLES | PermissionFlags.MANAGE_NICKNAMES

beforeEach(async () => {
  sim = await start({ rateLimits: { enabled: false } })
  sim.state.addUser({ id: CAROL, username: 'carol' })
  sim.state.setRolePermissions(IDS.guild, IDS.botRole, BOT_PERMS | PermissionFlags.CREATE_INSTANT_INVITE)
})

function token (userId = CAROL, scopes = ['identify', 'guilds.join']): string {
  return sim.state.issueUserToken({ clientId: OAUTH.clientId, userId, scopes }).access_token
}

describe('PUT /guilds/{guild.id}/members/{user.id}', () => {
  it('201: the member is added with its roles and nickname in one step (a single member-add event)', async () => {
    const events: string[] = []
    sim.state.events.on('memberAdd', (e) => events.push(`add:${e.member.roles.join(',')}:${e.member.nick ?? ''}`))
    sim.state.events.on('memberUpdate', () => events.push('update'))
    const res = await botFetch(sim, 'PUT', path(CAROL), { access_token: token(), roles: [IDS.roleA, IDS.roleB], nick: 'Carol [TEST]' })
    expect(res.status).toBe(201)
    expect(await json(res)).toMatchObject({ user: { id: CAROL }, roles: [IDS.roleA, IDS.roleB], nick: 'Carol [TEST]' })
    expect(events).toEqual([`add:${IDS.roleA},${IDS.roleB}:Carol [TEST]`])
  })

  it('204 with no body and nothing applied when the user is already a member', async () => {
    const res = await botFetch(sim, 'PUT', path(IDS.alice), { access_token: token(IDS.alice), roles: [IDS.roleB] })
    expect(res.status).toBe(204)
    expect(await res.text()).toBe('')
    expect(sim.state.memberRoles(IDS.guild, IDS.alice)).toEqual([IDS.roleA])
  })

  it('refuses a token without guilds.join (50001), of another user or application, or revoked (50025)', async () => {
    const noScope = await botFetch(sim, 'PUT', path(CAROL), { access_token: token(CAROL, ['identify']) })
    expect(noScope.status).toBe(403)
    expect(await json(noScope)).toEqual({ message: 'Missing Access', code: 50001 })
    sim.state.addOAuthApp({ client_id: '1900000000000000009', client_secret: 'other-secret', redirect_uris: ['http://127.0.0.1:9/x'], name: 'Other', owner_id: IDS.owner })
    const otherApp = sim.state.issueUserToken({ clientId: '1900000000000000009', userId: CAROL, scopes: ['guilds.join'] }).access_token
    const revoked = token()
    sim.state.expireAccessToken(revoked)
    for (const t of [token(IDS.bob), otherApp, revoked, 'not-a-token']) {
      const res = await botFetch(sim, 'PUT', path(CAROL), { access_token: t })
      expect(res.status).toBe(403)
      expect((await json(res)).code).toBe(50025)
    }
    expect(sim.state.getMember(IDS.guild, CAROL)).toBeUndefined()
  })

  it('needs CREATE_INSTANT_INVITE, roles the bot may give (50013) that exist (10011), and MANAGE_NICKNAMES for a nick', async () => {
    const tries: Array<[unknown, number, number]> = [
      [{ roles: [IDS.roleHigh] }, 403, 50013],
      [{ roles: ['1210000000000000099'] }, 404, 10011],
      [{ roles: 'x' }, 400, 50035]
    ]
    for (const [body, status, code] of tries) {
      const res = await botFetch(sim, 'PUT', path(CAROL), { access_token: token(), ...(body as object) })
      expect([res.status, (await json(res)).code]).toEqual([status, code])
    }
    sim.state.setRolePermissions(IDS.guild, IDS.botRole, PermissionFlags.MANAGE_ROLES | PermissionFlags.CREATE_INSTANT_INVITE)
    const nick = await botFetch(sim, 'PUT', path(CAROL), { access_token: token(), nick: 'Carol' })
    expect([nick.status, (await json(nick)).code]).toEqual([403, 50013])
    sim.state.setRolePermissions(IDS.guild, IDS.botRole, BOT_PERMS)
    const noInvite = await botFetch(sim, 'PUT', path(CAROL), { access_token: token() })
    expect([noInvite.status, (await json(noInvite)).code]).toEqual([403, 50013])
    expect(sim.state.getMember(IDS.guild, CAROL)).toBeUndefined()
  })

  it('30001 once the user is in the maximum number of guilds', async () => {
    sim.state.userGuildLimit = 2
    // Alice is in both seeded guilds: the third is refused.
    const guild = '1200000000000000010'
    sim.state.addGuild({ id: guild, name: 'Third', owner_id: IDS.owner })
    sim.state.addRole(guild, { id: '1230000000000000001', name: 'syncbot', position: 1, permissions: PermissionFlags.CREATE_INSTANT_INVITE })
    sim.state.addMember(guild, IDS.bot, ['1230000000000000001'])
    const res = await botFetch(sim, 'PUT', `/guilds/${guild}/members/${IDS.alice}`, { access_token: token(IDS.alice) })
    expect(res.status).toBe(400)
    expect(await json(res)).toEqual({ message: 'Maximum number of guilds reached (100)', code: 30001 })
  })

  it('the client answers the new member on 201 and null on 204', async () => {
    const client = new DiscordRestClient({ baseUrl: sim.apiBaseUrl })
    try {
      const bot = client.bot(BOT_TOKEN)
      const added = await bot.addGuildMember(IDS.guild, CAROL, { access_token: token(), roles: [IDS.roleA] })
      expect(added?.roles).toEqual([IDS.roleA])
      expect(await bot.addGuildMember(IDS.guild, CAROL, { access_token: token() })).toBeNull()
    } finally {
      await client.close()
    }
  })
})
