import { afterEach, describe, expect, it, vi } from 'vitest'
import { createDiscordSimulator, GatewayIntent as Intent, PermissionFlags, type DiscordSimulator, type SimulatorOptions } from '../../src/testing/index.js'
import { RawGatewayClient } from './gateway-client.js'
import { validatorAt } from './openapi.js'
import { BOT_TOKEN, botFetch, IDS, OTHER_BOT_TOKEN, seedWorld } from './seed.js'

/*
 * The simulator's Gateway, driven by a bare WebSocket client: the handshake of docs/gateway.mdx,
 * its close codes (docs/opcodes-and-status-codes.mdx), dispatches of member and role changes
 * (docs/gateway-events.mdx), RESUME and the test controls.
 */

const sims: DiscordSimulator[] = []
const clients: RawGatewayClient[] = []

afterEach(async () => {
  for (const c of clients.splice(0)) c.close()
  for (const sim of sims.splice(0)) {
    expect(sim.internalErrors).toEqual([])
    await sim.close()
  }
})

async function start (options: SimulatorOptions = {}): Promise<DiscordSimulator> {
  const sim = await createDiscordSimulator({ rateLimits: { enabled: false }, ...options })
  sims.push(sim)
  seedWorld(sim)
  return sim
}

async function connect (url: string): Promise<RawGatewayClient> {
  const client = await RawGatewayClient.connect(url)
  clients.push(client)
  return client
}

const ALL = Intent.GUILDS | Intent.GUILD_MEMBERS

/** Connects, identifies, and returns the client after READY and the GUILD_CREATEs of `guilds`. */
async function identified (sim: DiscordSimulator, intents = ALL, token = BOT_TOKEN, guilds = 2): Promise<{ client: RawGatewayClient, ready: Record<string, unknown> }> {
  const client = await connect(`${sim.gateway.url}?v=10&encoding=json`)
  await client.op(10)
  client.send(2, { token, intents, properties: { os: 'linux', browser: 'test', device: 'test' } })
  const ready = (await client.dispatch('READY')).d as Record<string, unknown>
  for (let i = 0; i < guilds; i++) await client.dispatch('GUILD_CREATE')
  return { client, ready }
}

describe('GET /gateway/bot', () => {
  it('needs a bot token and answers url, shards and session_start_limit as openapi.json describes', async () => {
    const sim = await start()
    expect((await fetch(`${sim.apiBaseUrl}/gateway/bot`)).status).toBe(401)
    const res = await botFetch(sim, 'GET', '/gateway/bot')
    expect(res.status).toBe(200)
    const body = await res.json() as { url: string, shards: number, session_start_limit: Record<string, number> }
    expect(validatorAt('#/components/schemas/GatewayBotResponse')(body)).toBe(true)
    expect(body.url).toBe(sim.gateway.url)
    expect(body.url).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/gateway$/)
    expect(body.shards).toBe(1)
    expect(body.session_start_limit).toMatchObject({ total: 1000, remaining: 1000, max_concurrency: 1 })

    await identified(sim)
    const after = await (await botFetch(sim, 'GET', '/gateway/bot')).json() as typeof body
    expect(after.session_start_limit.remaining).toBe(999)
    expect((await (await fetch(`${sim.apiBaseUrl}/gateway`)).json() as { url: string }).url).toBe(sim.gateway.url)
  })
})

describe('the handshake', () => {
  it('HELLO, IDENTIFY, READY with unavailable guilds, then one GUILD_CREATE per guild, numbered from 1', async () => {
    const sim = await start()
    const client = await connect(`${sim.gateway.url}?v=10&encoding=json`)
    const hello = await client.op(10)
    expect(hello).toEqual({ op: 10, d: { heartbeat_interval: 45000 }, s: null, t: null })
    client.send(2, { token: BOT_TOKEN, intents: ALL, properties: { os: 'linux', browser: 'test', device: 'test' } })
    const ready = await client.dispatch('READY')
    expect(ready.s).toBe(1)
    const d = ready.d as Record<string, any>
    expect(d.v).toBe(10)
    expect(d.user.id).toBe(IDS.bot)
    expect(d.guilds).toEqual([{ id: IDS.guild, unavailable: true }, { id: IDS.guild2, unavailable: true }])
    expect(d.session_id).toMatch(/^[0-9a-f]{32}$/)
    expect(d.resume_gateway_url).toBe(sim.gateway.url)
    expect(d.application).toEqual({ id: IDS.app, flags: 0 })
    expect(d.shard).toBeUndefined()

    const first = await client.dispatch('GUILD_CREATE')
    const second = await client.dispatch('GUILD_CREATE')
    expect([first.s, second.s]).toEqual([2, 3])
    const g = first.d as Record<string, any>
    expect(g.id).toBe(IDS.guild)
    expect(g.unavailable).toBe(false)
    expect(g.member_count).toBe(4)
    expect(g.roles.map((r: { id: string }) => r.id)).toContain(IDS.roleA)
    // Without GUILD_PRESENCES the member list holds only the bot (docs/gateway-events.mdx "Guild Create").
    expect(g.members.map((m: { user: { id: string } }) => m.user.id)).toEqual([IDS.bot])
    expect(g.channels.map((c: { id: string }) => c.id)).toContain(IDS.channel)
    expect(sim.gateway.sessions()).toMatchObject([{ sessionId: d.session_id, botUserId: IDS.bot, intents: ALL, seq: 3, connected: true }])
  })

  it('sends the shard in READY and only the guilds of that shard', async () => {
    const sim = await start()
    const client = await connect(sim.gateway.url)
    await client.op(10)
    // (guild_id >> 22) % 2 for both seeded guilds:
    const shardOf = (id: string): number => Number((BigInt(id) >> 22n) % 2n)
    const shard = shardOf(IDS.guild)
    client.send(2, { token: BOT_TOKEN, intents: ALL, properties: {}, shard: [shard, 2] })
    const d = (await client.dispatch('READY')).d as Record<string, any>
    expect(d.shard).toEqual([shard, 2])
    expect(d.guilds.map((g: { id: string }) => g.id)).toEqual([IDS.guild, IDS.guild2].filter((id) => shardOf(id) === shard))
  })

  it('closes with 4004 for a bad token, 4013 for an unknown intent bit, 4012 for another API version, 4005 for a second IDENTIFY', async () => {
    const sim = await start()
    const bad = await connect(sim.gateway.url)
    await bad.op(10)
    bad.send(2, { token: 'not-a-token', intents: ALL, properties: {} })
    expect(await bad.closed).toBe(4004)

    const bits = await connect(sim.gateway.url)
    await bits.op(10)
    bits.send(2, { token: BOT_TOKEN, intents: 1 << 17, properties: {} })
    expect(await bits.closed).toBe(4013)

    const version = await connect(`${sim.gateway.url}?v=9&encoding=json`)
    expect(await version.closed).toBe(4012)

    const { client } = await identified(sim)
    client.send(2, { token: BOT_TOKEN, intents: ALL, properties: {} })
    expect(await client.closed).toBe(4005)
  })

  it('closes with 4014 when GUILD_MEMBERS is asked for but not enabled for the app, and accepts it once enabled', async () => {
    const sim = await start()
    sim.state.setPrivilegedIntents(BOT_TOKEN, { guildMembers: false })
    const refused = await connect(sim.gateway.url)
    await refused.op(10)
    refused.send(2, { token: BOT_TOKEN, intents: ALL, properties: {} })
    expect(await refused.closed).toBe(4014)

    // GUILDS alone needs no privilege.
    await identified(sim, Intent.GUILDS)
    sim.state.setPrivilegedIntents(BOT_TOKEN, { guildMembers: true })
    await identified(sim, ALL)
  })

  it('closes with 4010 for an impossible shard and 4002 for a payload over 4096 bytes', async () => {
    const sim = await start()
    const shard = await connect(sim.gateway.url)
    shard.send(2, { token: BOT_TOKEN, intents: ALL, properties: {}, shard: [2, 2] })
    expect(await shard.closed).toBe(4010)
    const big = await connect(sim.gateway.url)
    big.send(2, { token: BOT_TOKEN, intents: ALL, properties: { os: 'x'.repeat(4100) } })
    expect(await big.closed).toBe(4002)
  })

  it('GUILD_PRESENCES is privileged too (off for a new app); with it GUILD_CREATE lists every member', async () => {
    const sim = await start()
    const refused = await connect(sim.gateway.url)
    refused.send(2, { token: BOT_TOKEN, intents: Intent.GUILDS | Intent.GUILD_PRESENCES, properties: {} })
    expect(await refused.closed).toBe(4014)
    sim.state.setPrivilegedIntents(BOT_TOKEN, { guildPresences: true })
    const client = await connect(sim.gateway.url)
    client.send(2, { token: BOT_TOKEN, intents: Intent.GUILDS | Intent.GUILD_PRESENCES, properties: {} })
    const g = (await client.dispatch('GUILD_CREATE')).d as { id: string, members: Array<{ user: { id: string } }> }
    expect(g.id).toBe(IDS.guild)
    expect(g.members.map((m) => m.user.id).sort()).toEqual([IDS.bot, IDS.owner, IDS.alice, IDS.bob].sort())
  })

  it('answers a payload before IDENTIFY with 4003, an unknown opcode with 4001, and non-JSON with 4002', async () => {
    const sim = await start()
    const early = await connect(sim.gateway.url)
    await early.op(10)
    early.send(3, { status: 'online', since: null, activities: [], afk: false })
    expect(await early.closed).toBe(4003)
    const unknown = await connect(sim.gateway.url)
    unknown.send(5, null)
    expect(await unknown.closed).toBe(4001)
    const garbage = await connect(sim.gateway.url)
    garbage.sendRaw('{not json')
    expect(await garbage.closed).toBe(4002)
  })
})

describe('heartbeats', () => {
  it('ACKs each heartbeat and asks for one when told to', async () => {
    const sim = await start({ gateway: { heartbeatIntervalMs: 60_000 } })
    const { client } = await identified(sim)
    client.send(1, 3)
    expect(await client.op(11)).toEqual({ op: 11, d: null, s: null, t: null })
    expect(sim.gateway.requestHeartbeat()).toBe(1)
    expect(await client.op(1)).toMatchObject({ op: 1, d: null })
    expect(sim.gateway.sessions()[0]?.heartbeats).toBe(1)
  })

  it('closes a connection that stops heartbeating, and the session stays resumable', async () => {
    // Real time is the point here: the server's deadline is a timer, kept short (600 ms after HELLO).
    const sim = await start({ gateway: { heartbeatIntervalMs: 400, heartbeatTimeoutMs: 600 } })
    const client = await connect(sim.gateway.url)
    expect((await client.op(10)).d).toEqual({ heartbeat_interval: 400 })
    client.send(2, { token: BOT_TOKEN, intents: ALL, properties: {} })
    await client.dispatch('READY')
    expect(await client.closed).toBe(4000)
    await vi.waitFor(() => expect(sim.gateway.sessions()[0]?.connected).toBe(false))
  })
})

describe('dispatches of member and role changes', () => {
  it('a REST role write becomes GUILD_MEMBER_UPDATE for GUILD_MEMBERS sessions only', async () => {
    const sim = await start()
    const { client: members } = await identified(sim, ALL)
    const { client: guildsOnly } = await identified(sim, Intent.GUILDS)

    expect((await botFetch(sim, 'PUT', `/guilds/${IDS.guild}/members/${IDS.bob}/roles/${IDS.roleA}`)).status).toBe(204)
    const update = await members.dispatch('GUILD_MEMBER_UPDATE')
    expect(update.s).toBe(4)
    expect(update.d).toMatchObject({ guild_id: IDS.guild, roles: [IDS.roleA], user: { id: IDS.bob } })

    // The GUILDS-only session got nothing: everything written to it before this barrier is in the list.
    expect(await guildsOnly.until(() => sim.gateway.requestHeartbeat())).toEqual([])

    // One PATCH of roles and nick is one update.
    const patch = await botFetch(sim, 'PATCH', `/guilds/${IDS.guild}/members/${IDS.alice}`, { roles: [IDS.roleB], nick: 'Al' })
    expect(patch.status).toBe(200)
    const patched = await members.dispatch('GUILD_MEMBER_UPDATE')
    expect(patched.d).toMatchObject({ guild_id: IDS.guild, roles: [IDS.roleB], nick: 'Al', user: { id: IDS.alice } })
    expect(await members.until(() => sim.gateway.requestHeartbeat())).toEqual([])

    // A role change reaches both (GUILDS).
    sim.state.setRolePosition(IDS.guild, IDS.roleB, 6)
    for (const c of [members, guildsOnly]) {
      expect((await c.dispatch('GUILD_ROLE_UPDATE')).d).toMatchObject({ guild_id: IDS.guild, role: { id: IDS.roleB, position: 6 } })
    }
  })

  it('a REST kick becomes GUILD_MEMBER_REMOVE for GUILD_MEMBERS sessions only', async () => {
    const sim = await start()
    sim.state.setRolePermissions(IDS.guild, IDS.botRole, PermissionFlags.MANAGE_ROLES | PermissionFlags.MANAGE_NICKNAMES | PermissionFlags.KICK_MEMBERS)
    const { client: members } = await identified(sim, ALL)
    const { client: guildsOnly } = await identified(sim, Intent.GUILDS)
    expect((await botFetch(sim, 'DELETE', `/guilds/${IDS.guild}/members/${IDS.bob}`)).status).toBe(204)
    expect((await members.dispatch('GUILD_MEMBER_REMOVE')).d).toMatchObject({ guild_id: IDS.guild, user: { id: IDS.bob } })
    expect(await guildsOnly.until(() => sim.gateway.requestHeartbeat())).toEqual([])
  })

  it('the state helpers dispatch too: member add, roles by hand, remove; role create and delete; the bot leaving and joining', async () => {
    const sim = await start()
    const { client } = await identified(sim, ALL)
    const carol = '1100000000000000077'

    sim.state.addMember(IDS.guild, carol, [IDS.roleA])
    expect((await client.dispatch('GUILD_MEMBER_ADD')).d).toMatchObject({ guild_id: IDS.guild, roles: [IDS.roleA], user: { id: carol } })
    sim.state.setMemberRoles(IDS.guild, carol, [IDS.roleB])
    expect((await client.dispatch('GUILD_MEMBER_UPDATE')).d).toMatchObject({ guild_id: IDS.guild, roles: [IDS.roleB] })
    sim.state.removeMember(IDS.guild, carol)
    expect((await client.dispatch('GUILD_MEMBER_REMOVE')).d).toMatchObject({ guild_id: IDS.guild, user: { id: carol } })

    sim.state.addRole(IDS.guild, { id: '1210000000000000099', name: 'New', position: 1 })
    expect((await client.dispatch('GUILD_ROLE_CREATE')).d).toMatchObject({ guild_id: IDS.guild, role: { id: '1210000000000000099', name: 'New' } })
    sim.state.removeRole(IDS.guild, '1210000000000000099')
    expect((await client.dispatch('GUILD_ROLE_DELETE')).d).toEqual({ guild_id: IDS.guild, role_id: '1210000000000000099' })

    // Events of a guild the bot is not in go nowhere.
    sim.state.addMember(IDS.foreignGuild, carol)
    expect(await client.until(() => sim.gateway.requestHeartbeat())).toEqual([])

    // "If the unavailable field is not set, the user was removed from the guild."
    sim.state.removeMember(IDS.guild2, IDS.bot)
    expect((await client.dispatch('GUILD_DELETE')).d).toEqual({ id: IDS.guild2 })
    sim.state.addMember(IDS.guild2, IDS.bot)
    expect((await client.dispatch('GUILD_CREATE')).d).toMatchObject({ id: IDS.guild2, unavailable: false })
  })

  it('sends a bot its own member update even without GUILD_MEMBERS', async () => {
    const sim = await start()
    const { client } = await identified(sim, Intent.GUILDS)
    sim.state.setMemberRoles(IDS.guild, IDS.alice, [])
    sim.state.setMemberRoles(IDS.guild, IDS.bot, [IDS.botRole, IDS.roleA])
    const seen = await client.until(() => sim.gateway.requestHeartbeat())
    expect(seen.map((p) => [p.t, (p.d as { user: { id: string } }).user.id])).toEqual([['GUILD_MEMBER_UPDATE', IDS.bot]])
  })

  it('sends another bot\'s sessions only the guilds that bot is in', async () => {
    const sim = await start()
    sim.state.addMember(IDS.guild2, IDS.otherBot)
    const { client } = await identified(sim, ALL, OTHER_BOT_TOKEN, 1)
    sim.state.setMemberRoles(IDS.guild, IDS.alice, [])
    sim.state.setMemberRoles(IDS.guild2, IDS.alice, [])
    const seen = await client.until(() => sim.gateway.requestHeartbeat())
    expect(seen.map((p) => (p.d as { guild_id: string }).guild_id)).toEqual([IDS.guild2])
  })
})

describe('RESUME and the test controls', () => {
  it('replays what a dropped session missed, in order, then RESUMED', async () => {
    const sim = await start()
    const { client, ready } = await identified(sim)
    sim.gateway.dropConnection()
    expect(await client.closed).toBe(1006)
    await vi.waitFor(() => expect(sim.gateway.sessions()[0]?.connected).toBe(false))

    sim.state.setMemberRoles(IDS.guild, IDS.bob, [IDS.roleA])
    sim.state.removeMember(IDS.guild, IDS.bob)

    const again = await connect(`${ready.resume_gateway_url as string}?v=10&encoding=json`)
    await again.op(10)
    again.send(6, { token: BOT_TOKEN, session_id: ready.session_id, seq: 3 })
    const replayed = [await again.next(), await again.next(), await again.next()]
    expect(replayed.map((p) => [p.s, p.t])).toEqual([[4, 'GUILD_MEMBER_UPDATE'], [5, 'GUILD_MEMBER_REMOVE'], [6, 'RESUMED']])
    expect(sim.gateway.sessions()).toMatchObject([{ sessionId: ready.session_id, seq: 6, connected: true }])

    // Resuming from an earlier seq replays from there.
    sim.gateway.dropConnection({ code: 4000 })
    expect(await again.closed).toBe(4000)
    const third = await connect(sim.gateway.url)
    third.send(6, { token: BOT_TOKEN, session_id: ready.session_id, seq: 5 })
    expect((await third.next((p) => p.op === 0)).t).toBe('RESUMED')
  })

  it('refuses a resume with op 9 d:false when told to, and for unknown sessions; a seq never sent closes with 4007', async () => {
    const sim = await start()
    const { client, ready } = await identified(sim)
    client.close(4999)
    await client.closed
    await vi.waitFor(() => expect(sim.gateway.sessions()[0]?.connected).toBe(false))

    const ahead = await connect(sim.gateway.url)
    ahead.send(6, { token: BOT_TOKEN, session_id: ready.session_id, seq: 99 })
    expect(await ahead.closed).toBe(4007)

    const stranger = await connect(sim.gateway.url)
    stranger.send(6, { token: BOT_TOKEN, session_id: 'f'.repeat(32), seq: 1 })
    expect(await stranger.op(9)).toEqual({ op: 9, d: false, s: null, t: null })

    sim.gateway.refuseResumes()
    const refused = await connect(sim.gateway.url)
    refused.send(6, { token: BOT_TOKEN, session_id: ready.session_id, seq: 3 })
    expect((await refused.op(9)).d).toBe(false)
    expect(sim.gateway.sessions()).toEqual([])
    // The client may start over on the same socket.
    refused.send(2, { token: BOT_TOKEN, intents: ALL, properties: {} })
    expect((await refused.dispatch('READY')).s).toBe(1)
  })

  it('a client closing with 1000 ends its session', async () => {
    const sim = await start()
    const { client } = await identified(sim)
    client.close(1000)
    await client.closed
    await vi.waitFor(() => expect(sim.gateway.sessions()).toEqual([]))
  })

  it('sends op 7 RECONNECT and op 9 on request', async () => {
    const sim = await start()
    const { client, ready } = await identified(sim)
    expect(sim.gateway.requestReconnect(ready.session_id as string)).toBe(1)
    expect(await client.op(7)).toEqual({ op: 7, d: null, s: null, t: null })
    expect(sim.gateway.invalidateSession(undefined, true)).toBe(1)
    expect((await client.op(9)).d).toBe(true)
    expect(sim.gateway.sessions()).toHaveLength(1)
    sim.gateway.invalidateSession()
    expect((await client.op(9)).d).toBe(false)
    expect(sim.gateway.sessions()).toEqual([])
  })

  it('holds dispatches until released, numbered as they happened', async () => {
    const sim = await start()
    const { client } = await identified(sim)
    const release = sim.gateway.holdDispatches()
    sim.state.setMemberRoles(IDS.guild, IDS.bob, [IDS.roleA])
    expect(await client.until(() => sim.gateway.requestHeartbeat())).toEqual([])
    expect(sim.gateway.sessions()[0]?.seq).toBe(4)
    release()
    expect((await client.dispatch('GUILD_MEMBER_UPDATE')).s).toBe(4)

    // With a duration, the hold ends by itself.
    sim.gateway.holdDispatches({ ms: 20 })
    sim.state.setMemberRoles(IDS.guild, IDS.bob, [])
    expect((await client.dispatch('GUILD_MEMBER_UPDATE')).s).toBe(5)
  })
})
