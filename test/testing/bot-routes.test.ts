import { beforeEach, describe, expect, it } from 'vitest'
import { PermissionFlags, type DiscordSimulator } from '../../src/testing/index.js'
import { BOT_TOKEN, botFetch, IDS, json, OTHER_BOT_TOKEN, seededSimulators } from './seed.js'

const start = seededSimulators()
let sim: DiscordSimulator

beforeEach(async () => {
  // Generous limits: these tests are about route semantics, rate limits have their own suite.
  sim = await start({ rateLimits: { enabled: false } })
})

const member = (userId: string): string => `/guilds/${IDS.guild}/members/${userId}`
const memberRole = (userId: string, roleId: string): string => `${member(userId)}/roles/${roleId}`

describe('authentication', () => {
  it('401 with code 0 for a missing, unknown or malformed bot token', async () => {
    for (const headers of [{} as Record<string, string>, { authorization: 'Bot not-a-real-token' }, { authorization: BOT_TOKEN }]) {
      const res = await fetch(`${sim.apiBaseUrl}/guilds/${IDS.guild}`, { headers })
      expect(res.status).toBe(401)
      expect(await json(res)).toEqual({ message: '401: Unauthorized', code: 0 })
    }
  })

  it('a revoked bot token stops working', async () => {
    expect((await botFetch(sim, 'GET', '/users/@me')).status).toBe(200)
    sim.state.revokeBotToken(BOT_TOKEN)
    expect((await botFetch(sim, 'GET', '/users/@me')).status).toBe(401)
  })

  it('records a hash id of the token, never the token', async () => {
    await botFetch(sim, 'GET', `/guilds/${IDS.guild}`)
    const rec = sim.requests.at(-1)!
    expect(rec.auth).toBe('bot')
    expect(rec.tokenId).toMatch(/^[0-9a-f]{16}$/)
    expect(JSON.stringify(sim.requests)).not.toContain(BOT_TOKEN)
    expect(JSON.stringify([...sim.state.botsByKey.values()])).not.toContain(BOT_TOKEN)
  })
})

describe('GET /guilds/{guild.id}', () => {
  it('returns the guild with @everyone (id = guild id) and counts only when with_counts is true', async () => {
    const plain = await json(botFetch(sim, 'GET', `/guilds/${IDS.guild}`))
    expect(plain.id).toBe(IDS.guild)
    expect(plain.roles.find((r: { id: string }) => r.id === IDS.guild)).toMatchObject({ name: '@everyone', position: 0 })
    expect(plain).not.toHaveProperty('approximate_member_count')
    sim.state.getGuild(IDS.guild)!.presenceCount = 2
    const counted = await json(botFetch(sim, 'GET', `/guilds/${IDS.guild}?with_counts=true`))
    expect(counted.approximate_member_count).toBe(4)
    expect(counted.approximate_presence_count).toBe(2)
  })

  it('404 10004 for an unknown guild, 403 50001 when the bot is not in it', async () => {
    const unknown = await botFetch(sim, 'GET', '/guilds/1299999999999999999')
    expect(unknown.status).toBe(404)
    expect(await json(unknown)).toEqual({ message: 'Unknown Guild', code: 10004 })
    const foreign = await botFetch(sim, 'GET', `/guilds/${IDS.foreignGuild}/roles`)
    expect(foreign.status).toBe(403)
    expect(await json(foreign)).toEqual({ message: 'Missing Access', code: 50001 })
  })

  it('400 50035 for a path id that is not a snowflake', async () => {
    const res = await botFetch(sim, 'GET', '/guilds/not-a-snowflake')
    expect(res.status).toBe(400)
    const body = await json(res)
    expect(body.code).toBe(50035)
    expect(body.errors.guild_id._errors[0].code).toBe('NUMBER_TYPE_COERCE')
  })
})

describe('GET /guilds/{guild.id}/roles', () => {
  it('lists every role ordered by position', async () => {
    const roles = await json(botFetch(sim, 'GET', `/guilds/${IDS.guild}/roles`))
    expect(roles.map((r: { position: number }) => r.position)).toEqual([0, 3, 4, 5, 10, 10, 20])
    expect(roles.find((r: { id: string }) => r.id === IDS.roleManaged).managed).toBe(true)
  })
})

describe('GET /guilds/{guild.id}/members (pagination)', () => {
  it('defaults to limit 1 from after=0', async () => {
    const page = await json(botFetch(sim, 'GET', `/guilds/${IDS.guild}/members`))
    expect(page).toHaveLength(1)
    expect(page[0].user.id).toBe(IDS.bot)
  })

  it('walks every member in ascending id order with after = highest id of the previous page', async () => {
    const seeded = sim.state.seedMembers(IDS.guild, 2500)
    const expected = [...sim.state.getGuild(IDS.guild)!.members.keys()].sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : 1))
    expect(expected).toHaveLength(2504)
    const seen: string[] = []
    let after = '0'
    let pages = 0
    for (;;) {
      const page = await json(botFetch(sim, 'GET', `/guilds/${IDS.guild}/members?limit=1000&after=${after}`)) as Array<{ user: { id: string } }>
      pages++
      seen.push(...page.map((m) => m.user.id))
      if (page.length < 1000) break
      after = page.at(-1)!.user.id
    }
    expect(pages).toBe(3)
    expect(seen).toEqual(expected)
    expect(seeded.every((id) => /^\d{18,19}$/.test(id))).toBe(true)
  })

  it('after is exclusive and compares numerically (a shorter id is smaller)', async () => {
    sim.state.addMember(IDS.guild, '99999999999999999') // 17 digits: smaller than every 19-digit id
    const first = await json(botFetch(sim, 'GET', `/guilds/${IDS.guild}/members?limit=2`))
    expect(first.map((m: { user: { id: string } }) => m.user.id)).toEqual(['99999999999999999', IDS.bot])
    const next = await json(botFetch(sim, 'GET', `/guilds/${IDS.guild}/members?limit=1&after=${IDS.bot}`))
    expect(next[0].user.id).toBe(IDS.owner)
  })

  it.each([['0', 'NUMBER_TYPE_MIN'], ['1001', 'NUMBER_TYPE_MAX'], ['ten', 'NUMBER_TYPE_COERCE']])('limit=%s is a 400 50035 on the limit field', async (limit, code) => {
    const res = await botFetch(sim, 'GET', `/guilds/${IDS.guild}/members?limit=${limit}`)
    expect(res.status).toBe(400)
    const body = await json(res)
    expect(body).toMatchObject({ code: 50035, message: 'Invalid Form Body' })
    expect(body.errors.limit._errors[0].code).toBe(code)
  })

  it('403 50001 when the bot lacks the GUILD_MEMBERS intent', async () => {
    sim.state.addBot({ token: 'no-intent-token', user: { id: '1100000000000000010' }, guildMembersIntent: false })
    sim.state.addMember(IDS.guild, '1100000000000000010')
    const res = await botFetch(sim, 'GET', `/guilds/${IDS.guild}/members?limit=5`, undefined, {}, 'no-intent-token')
    expect(res.status).toBe(403)
    expect((await json(res)).code).toBe(50001)
  })
})

describe('GET /guilds/{guild.id}/members/{user.id}', () => {
  it('returns the member, 404 10007 for a non-member', async () => {
    const ok = await json(botFetch(sim, 'GET', member(IDS.alice)))
    expect(ok.user.id).toBe(IDS.alice)
    expect(ok.roles).toEqual([IDS.roleA])
    const missing = await botFetch(sim, 'GET', member('1100000000000000099'))
    expect(missing.status).toBe(404)
    expect(await json(missing)).toEqual({ message: 'Unknown Member', code: 10007 })
  })
})

describe('PATCH /guilds/{guild.id}/members/{user.id}', () => {
  it('replaces the whole role list and answers 200 with the member', async () => {
    const res = await botFetch(sim, 'PATCH', member(IDS.alice), { roles: [IDS.roleB] })
    expect(res.status).toBe(200)
    expect((await json(res)).roles).toEqual([IDS.roleB])
    expect(sim.state.memberRoles(IDS.guild, IDS.alice)).toEqual([IDS.roleB])
    await botFetch(sim, 'PATCH', member(IDS.alice), { roles: [] })
    expect(sim.state.memberRoles(IDS.guild, IDS.alice)).toEqual([])
  })

  it('lets a member keep a managed or higher role untouched while other roles change', async () => {
    sim.state.setMemberRoles(IDS.guild, IDS.alice, [IDS.roleManaged, IDS.roleHigh])
    const res = await botFetch(sim, 'PATCH', member(IDS.alice), { roles: [IDS.roleManaged, IDS.roleHigh, IDS.roleA] })
    expect(res.status).toBe(200)
    expect(sim.state.memberRoles(IDS.guild, IDS.alice)).toEqual([IDS.roleManaged, IDS.roleHigh, IDS.roleA])
  })

  it.each([
    ['a role above the bot', IDS.roleHigh],
    ['a role at the bot\'s own position', IDS.roleEqual],
    ['the bot\'s own highest role', IDS.botRole],
    ['a managed role', IDS.roleManaged]
  ])('403 50013 when adding %s', async (_what, roleId) => {
    const res = await botFetch(sim, 'PATCH', member(IDS.alice), { roles: [IDS.roleA, roleId] })
    expect(res.status).toBe(403)
    expect(await json(res)).toEqual({ message: 'Missing Permissions', code: 50013 })
    expect(sim.state.memberRoles(IDS.guild, IDS.alice)).toEqual([IDS.roleA])
  })

  it('403 50013 when removing a managed role', async () => {
    sim.state.setMemberRoles(IDS.guild, IDS.alice, [IDS.roleManaged])
    expect((await botFetch(sim, 'PATCH', member(IDS.alice), { roles: [] })).status).toBe(403)
  })

  it('404 10011 for a role that does not exist', async () => {
    const res = await botFetch(sim, 'PATCH', member(IDS.alice), { roles: ['1219999999999999999'] })
    expect(res.status).toBe(404)
    expect((await json(res)).code).toBe(10011)
  })

  it.each([
    [{ roles: 'nope' }, ['roles']],
    [{ roles: ['abc'] }, ['roles', '0']],
    [{ roles: [IDS.roleA, IDS.roleA] }, ['roles']],
    [{ nick: 'x'.repeat(33) }, ['nick']]
  ])('400 50035 for a malformed body %j', async (body, path) => {
    const res = await botFetch(sim, 'PATCH', member(IDS.alice), body)
    expect(res.status).toBe(400)
    const parsed = await json(res)
    expect(parsed.code).toBe(50035)
    let node = parsed.errors
    for (const key of path) node = node[key]
    expect(node._errors.length).toBeGreaterThan(0)
  })

  it('400 50109 for invalid JSON', async () => {
    const res = await fetch(`${sim.apiBaseUrl}${member(IDS.alice)}`, { method: 'PATCH', headers: { authorization: `Bot ${BOT_TOKEN}`, 'content-type': 'application/json' }, body: '{"roles": [' })
    expect(res.status).toBe(400)
    expect((await json(res)).code).toBe(50109)
  })

  it('400 50035 for a content type Discord does not accept', async () => {
    const res = await fetch(`${sim.apiBaseUrl}${member(IDS.alice)}`, { method: 'PATCH', headers: { authorization: `Bot ${BOT_TOKEN}`, 'content-type': 'text/plain' }, body: 'roles' })
    expect(res.status).toBe(400)
    expect((await json(res)).code).toBe(50035)
  })

  it('sets and clears a nickname (MANAGE_NICKNAMES, target below the bot); never the owner\'s', async () => {
    expect((await json(botFetch(sim, 'PATCH', member(IDS.alice), { nick: 'Ally' }))).nick).toBe('Ally')
    expect((await json(botFetch(sim, 'PATCH', member(IDS.alice), { nick: null }))).nick).toBeNull()
    expect((await botFetch(sim, 'PATCH', member(IDS.owner), { nick: 'Boss' })).status).toBe(403)
  })

  it('records the URL-decoded X-Audit-Log-Reason with the change', async () => {
    const reason = 'Group sync: élan → Members'
    await botFetch(sim, 'PATCH', member(IDS.bob), { roles: [IDS.roleA] }, { 'x-audit-log-reason': encodeURIComponent(reason) })
    expect(sim.requests.at(-1)!.reason).toBe(reason)
    const entry = sim.state.auditLog.at(-1)!
    expect(entry).toMatchObject({ guild_id: IDS.guild, action_type: 25, user_id: IDS.bot, target_id: IDS.bob, reason })
    expect(entry.changes).toEqual([{ key: '$add', new_value: [{ id: IDS.roleA, name: 'Members' }] }])
  })
})

describe('PUT / DELETE /guilds/{guild.id}/members/{user.id}/roles/{role.id}', () => {
  it('204 with an empty body, idempotent', async () => {
    for (let i = 0; i < 2; i++) {
      const res = await botFetch(sim, 'PUT', memberRole(IDS.bob, IDS.roleB))
      expect(res.status).toBe(204)
      expect(await res.text()).toBe('')
    }
    expect(sim.state.memberRoles(IDS.guild, IDS.bob)).toEqual([IDS.roleB])
    const del = await botFetch(sim, 'DELETE', memberRole(IDS.bob, IDS.roleB))
    expect(del.status).toBe(204)
    expect(await del.text()).toBe('')
    expect(sim.state.memberRoles(IDS.guild, IDS.bob)).toEqual([])
    expect(sim.state.auditLog.map((e) => e.changes[0]!.key)).toEqual(['$add', '$remove'])
  })

  it('accepts an empty body sent with a JSON content type', async () => {
    const res = await fetch(`${sim.apiBaseUrl}${memberRole(IDS.bob, IDS.roleA)}`, { method: 'PUT', headers: { authorization: `Bot ${BOT_TOKEN}`, 'content-type': 'application/json' } })
    expect(res.status).toBe(204)
  })

  it('404 10007 / 10011 / 10004 and 403 50001', async () => {
    expect((await json(botFetch(sim, 'PUT', memberRole('1100000000000000099', IDS.roleA)))).code).toBe(10007)
    expect((await json(botFetch(sim, 'PUT', memberRole(IDS.bob, '1219999999999999999')))).code).toBe(10011)
    expect((await json(botFetch(sim, 'PUT', `/guilds/1299999999999999999/members/${IDS.bob}/roles/${IDS.roleA}`))).code).toBe(10004)
    expect((await json(botFetch(sim, 'PUT', `/guilds/${IDS.foreignGuild}/members/${IDS.bob}/roles/${IDS.roleA}`))).code).toBe(50001)
  })

  it('403 50013: above or at the bot\'s highest role, managed, or without MANAGE_ROLES', async () => {
    for (const roleId of [IDS.roleHigh, IDS.roleEqual, IDS.roleManaged]) {
      const res = await botFetch(sim, 'PUT', memberRole(IDS.bob, roleId))
      expect(res.status).toBe(403)
      expect((await json(res)).code).toBe(50013)
    }
    sim.state.setRolePermissions(IDS.guild, IDS.botRole, 0n)
    expect((await botFetch(sim, 'DELETE', memberRole(IDS.alice, IDS.roleA))).status).toBe(403)
    expect(sim.state.memberRoles(IDS.guild, IDS.alice)).toEqual([IDS.roleA])
  })

  it('hierarchy follows live role positions', async () => {
    expect((await botFetch(sim, 'PUT', memberRole(IDS.bob, IDS.roleHigh))).status).toBe(403)
    sim.state.setRolePosition(IDS.guild, IDS.botRole, 30)
    expect((await botFetch(sim, 'PUT', memberRole(IDS.bob, IDS.roleHigh))).status).toBe(204)
  })

  it('ADMINISTRATOR grants MANAGE_ROLES but not the hierarchy; @everyone permissions count', async () => {
    sim.state.setRolePermissions(IDS.guild, IDS.botRole, 0n)
    sim.state.setRolePermissions(IDS.guild, IDS.guild, 1n << 3n)
    expect((await botFetch(sim, 'PUT', memberRole(IDS.bob, IDS.roleA))).status).toBe(204)
    expect((await botFetch(sim, 'PUT', memberRole(IDS.bob, IDS.roleHigh))).status).toBe(403)
  })

  it('the guild owner is not bound by the hierarchy but still cannot assign managed roles', async () => {
    sim.state.addMember(IDS.foreignGuild, IDS.otherBot)
    sim.state.addRole(IDS.foreignGuild, { id: '1230000000000000001', position: 50 })
    sim.state.addRole(IDS.foreignGuild, { id: '1230000000000000002', position: 1, managed: true })
    sim.state.addMember(IDS.foreignGuild, IDS.bob)
    sim.state.getGuild(IDS.foreignGuild)!.owner_id = IDS.otherBot
    const path = `/guilds/${IDS.foreignGuild}/members/${IDS.bob}/roles`
    expect((await botFetch(sim, 'PUT', `${path}/1230000000000000001`, undefined, {}, OTHER_BOT_TOKEN)).status).toBe(204)
    expect((await botFetch(sim, 'PUT', `${path}/1230000000000000002`, undefined, {}, OTHER_BOT_TOKEN)).status).toBe(403)
  })
})

describe('POST /channels/{channel.id}/messages', () => {
  it('stores the message and answers the message object', async () => {
    const res = await botFetch(sim, 'POST', `/channels/${IDS.channel}/messages`, { content: 'Synced 3 members', embeds: [{ title: 'Sync', fields: [{ name: 'added', value: '3' }] }] })
    expect(res.status).toBe(200)
    const msg = await json(res)
    expect(msg).toMatchObject({ channel_id: IDS.channel, content: 'Synced 3 members', author: { id: IDS.bot, bot: true } })
    expect(msg.embeds[0]).toMatchObject({ type: 'rich', title: 'Sync', fields: [{ name: 'added', value: '3', inline: false }] })
    expect(sim.state.channelMessages(IDS.channel)).toHaveLength(1)
  })

  it('404 10003 unknown channel, 403 50001 without VIEW_CHANNEL, 403 50013 without SEND_MESSAGES, 400 50006 empty', async () => {
    expect((await json(botFetch(sim, 'POST', '/channels/1399999999999999999/messages', { content: 'x' }))).code).toBe(10003)
    expect((await json(botFetch(sim, 'POST', `/channels/${IDS.hiddenChannel}/messages`, { content: 'x' }))).code).toBe(50001)
    expect((await json(botFetch(sim, 'POST', `/channels/${IDS.readOnlyChannel}/messages`, { content: 'x' }))).code).toBe(50013)
    const empty = await botFetch(sim, 'POST', `/channels/${IDS.channel}/messages`, { content: '  ' })
    expect(empty.status).toBe(400)
    expect((await json(empty)).code).toBe(50006)
    expect(sim.state.messages).toHaveLength(0)
  })
})

describe('unknown routes', () => {
  it('404 with code 0', async () => {
    const res = await botFetch(sim, 'GET', '/nope')
    expect(res.status).toBe(404)
    expect(await json(res)).toEqual({ message: '404: Not Found', code: 0 })
  })

  it('405 with code 0 for a known path with another method', async () => {
    const res = await botFetch(sim, 'POST', `/guilds/${IDS.guild}/members/${IDS.alice}`, {})
    expect(res.status).toBe(405)
    expect(await json(res)).toEqual({ message: '405: Method Not Allowed', code: 0 })
  })

  it('records the User-Agent so client tests can check it', async () => {
    await botFetch(sim, 'GET', '/users/@me', undefined, { 'user-agent': 'DiscordBot (https://example.test, 1.2.3)' })
    expect(sim.requests.at(-1)!.userAgent).toBe('DiscordBot (https://example.test, 1.2.3)')
  })

  it('percent-encoded @ in a path is decoded, as Discord does (discord-api-types sends /users/%40me)', async () => {
    const res = await botFetch(sim, 'GET', '/users/%40me')
    expect(res.status).toBe(200)
    expect((await json(res)).id).toBe(IDS.bot)
  })

  it('the unversioned /api prefix is an alias of /api/v10', async () => {
    const res = await fetch(`${sim.url}/api/guilds/${IDS.guild}`, { headers: { authorization: `Bot ${BOT_TOKEN}` } })
    expect(res.status).toBe(200)
  })
})

describe('DELETE /guilds/{guild.id}/members/{user.id} (kick)', () => {
  const grantKick = (): void => {
    sim.state.setRolePermissions(IDS.guild, IDS.botRole, PermissionFlags.MANAGE_ROLES | PermissionFlags.MANAGE_NICKNAMES | PermissionFlags.KICK_MEMBERS)
  }

  it('403 50013 without KICK_MEMBERS, and the member stays', async () => {
    const res = await botFetch(sim, 'DELETE', member(IDS.bob))
    expect(res.status).toBe(403)
    expect((await json(res)).code).toBe(50013)
    expect(sim.state.getGuild(IDS.guild)!.members.has(IDS.bob)).toBe(true)
  })

  it('204 with KICK_MEMBERS: the member is gone, audited as MEMBER_KICK with the reason; a second kick is 10007', async () => {
    grantKick()
    const res = await botFetch(sim, 'DELETE', member(IDS.bob), undefined, { 'x-audit-log-reason': 'access lost' })
    expect(res.status).toBe(204)
    expect(await res.text()).toBe('')
    expect(sim.state.getGuild(IDS.guild)!.members.has(IDS.bob)).toBe(false)
    expect(sim.state.auditLog.at(-1)).toMatchObject({ action_type: 20, user_id: IDS.bot, target_id: IDS.bob, reason: 'access lost' })
    const again = await botFetch(sim, 'DELETE', member(IDS.bob))
    expect(again.status).toBe(404)
    expect((await json(again)).code).toBe(10007)
  })

  it('never the owner, nor a member whose highest role is not below the bot\'s', async () => {
    grantKick()
    sim.state.setMemberRoles(IDS.guild, IDS.bob, [IDS.roleEqual])
    for (const id of [IDS.owner, IDS.bob]) {
      const res = await botFetch(sim, 'DELETE', member(id))
      expect(res.status).toBe(403)
      expect((await json(res)).code).toBe(50013)
    }
    expect(sim.state.getGuild(IDS.guild)!.members.has(IDS.bob)).toBe(true)
    sim.state.setMemberRoles(IDS.guild, IDS.bob, [IDS.roleA])
    expect((await botFetch(sim, 'DELETE', member(IDS.bob))).status).toBe(204)
  })
})
