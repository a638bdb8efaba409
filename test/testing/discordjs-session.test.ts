import { REST } from '@discordjs/rest'
import { Routes, type APIGuild, type APIGuildMember } from 'discord-api-types/v10'
import { afterEach, describe, expect, it } from 'vitest'
import { createDiscordSimulator, type DiscordSimulator } from '../../src/testing/index.js'
import { BOT_TOKEN, IDS, seedWorld } from './seed.js'

/*
 * Fidelity check (b): @discordjs/rest, a real client written independently of this project
 * against the real Discord, completes a scripted session against the simulator. It is strict
 * about what it parses (bucket hashes, Retry-After, Reset-After, scopes, major parameters),
 * so a session that ends in the right state shows the simulator speaks Discord's protocol,
 * not just our own client's idea of it.
 *
 * Discord windows run 10x faster (timeScale 10): the member-write bucket is still 10 per
 * "10 s", which lasts one real second.
 */

const sims: DiscordSimulator[] = []
const clients: REST[] = []

function client (sim: DiscordSimulator): REST {
  const rest = new REST({ api: `${sim.url}/api`, version: '10', timeout: 10_000, retries: 2 }).setToken(BOT_TOKEN)
  clients.push(rest)
  return rest
}

afterEach(async () => {
  for (const rest of clients.splice(0)) {
    rest.clearHashSweeper()
    rest.clearHandlerSweeper()
  }
  for (const sim of sims.splice(0)) {
    expect(sim.internalErrors).toEqual([])
    await sim.close()
  }
})

describe('@discordjs/rest session against the simulator', () => {
  it('gets the guild, lists every member, patches roles, and waits out the 429s it provokes', async () => {
    const sim = await createDiscordSimulator({ timeScale: 10 })
    sims.push(sim)
    seedWorld(sim)
    const seeded = sim.state.seedMembers(IDS.guild, 2300)
    const rest = client(sim)

    // 1. Guild with counts.
    const guild = await rest.get(Routes.guild(IDS.guild), { query: new URLSearchParams({ with_counts: 'true' }) }) as APIGuild
    expect(guild.id).toBe(IDS.guild)
    expect(guild.approximate_member_count).toBe(2304)

    // 2. Every member, 1000 per page, paging with `after`.
    const listed: string[] = []
    let after = '0'
    for (;;) {
      const page = await rest.get(Routes.guildMembers(IDS.guild), { query: new URLSearchParams({ limit: '1000', after }) }) as APIGuildMember[]
      listed.push(...page.map((m) => m.user.id))
      if (page.length < 1000) break
      after = page.at(-1)!.user.id
    }
    expect(listed).toHaveLength(2304)
    expect(new Set(listed).size).toBe(2304)

    // 3. PATCH a member's roles (replaces the list), with an audit-log reason.
    const patched = await rest.patch(Routes.guildMember(IDS.guild, IDS.alice), { body: { roles: [IDS.roleB] }, reason: 'sync: Staff group' }) as APIGuildMember
    expect(patched.roles).toEqual([IDS.roleB])
    expect(sim.state.auditLog.at(-1)).toMatchObject({ target_id: IDS.alice, reason: 'sync: Staff group' })

    // 4. Provoke 429s: two client instances sharing the token (as two processes would) write roles in
    //    one guild. Each only knows its own traffic, so together they overrun the shared bucket;
    //    @discordjs/rest must honour Retry-After and finish every write.
    const other = client(sim)
    const targets = seeded.slice(0, 30)
    sim.clearRequests()
    const t0 = performance.now()
    await Promise.all(targets.map((userId, i) => (i % 2 === 0 ? rest : other).put(Routes.guildMemberRole(IDS.guild, userId, IDS.roleA))))
    const elapsed = performance.now() - t0

    const writes = sim.requests.filter((r) => r.route === 'PUT /guilds/:guild_id/members/:user_id/roles/:role_id')
    const limited = writes.filter((r) => r.status === 429)
    expect(limited.length).toBeGreaterThan(0)
    expect(limited.every((r) => r.scope === 'user')).toBe(true)
    expect(writes.filter((r) => r.status === 204)).toHaveLength(30)
    // 30 writes at 10 per (scaled) 10 s need at least two window resets: about 2 real seconds.
    expect(elapsed).toBeGreaterThan(1500)
    // No window ever admitted more than the limit.
    const admittedPerWindow = new Map<number, number>()
    for (const r of writes.filter((w) => w.status === 204)) {
      const bucket = Math.floor(r.at / 1000)
      admittedPerWindow.set(bucket, (admittedPerWindow.get(bucket) ?? 0) + 1)
    }
    expect(Math.max(...admittedPerWindow.values())).toBeLessThanOrEqual(20)

    // 5. A shared-resource 429 is waited out too, and does not count toward the invalid-request limit.
    const invalidBefore = sim.invalidRequestCount()
    sim.forceSharedRateLimit({ route: 'GET /guilds/:guild_id/members/:user_id', majorId: IDS.guild, retryAfterSeconds: 2 })
    const member = await rest.get(Routes.guildMember(IDS.guild, IDS.alice)) as APIGuildMember
    expect(member.roles).toEqual([IDS.roleB])
    expect(sim.requests.some((r) => r.scope === 'shared')).toBe(true)
    expect(sim.invalidRequestCount()).toBe(invalidBefore)

    // Final state, read from the simulator itself.
    expect(sim.state.memberRoles(IDS.guild, IDS.alice)).toEqual([IDS.roleB])
    for (const userId of targets) expect(sim.state.memberRoles(IDS.guild, userId)).toEqual([IDS.roleA])
    for (const userId of seeded.slice(30, 40)) expect(sim.state.memberRoles(IDS.guild, userId)).toEqual([])
    expect(JSON.stringify(sim.requests)).not.toContain(BOT_TOKEN)
  }, 30_000)

  it('surfaces Discord errors the way it does for the real API (DiscordAPIError with code and status)', async () => {
    const sim = await createDiscordSimulator()
    sims.push(sim)
    seedWorld(sim)
    const rest = client(sim)
    await expect(rest.put(Routes.guildMemberRole(IDS.guild, IDS.bob, IDS.roleHigh))).rejects.toMatchObject({ status: 403, code: 50013, name: expect.stringContaining('DiscordAPIError') })
    await expect(rest.get(Routes.guildMember(IDS.guild, '1100000000000000099'))).rejects.toMatchObject({ status: 404, code: 10007 })
    await expect(rest.get(Routes.guild(IDS.foreignGuild))).rejects.toMatchObject({ status: 403, code: 50001 })
    await expect(rest.get(Routes.guildMembers(IDS.guild), { query: new URLSearchParams({ limit: '0' }) })).rejects.toMatchObject({ status: 400, code: 50035 })
    const bad = new REST({ api: `${sim.url}/api`, version: '10' }).setToken('wrong-token')
    clients.push(bad)
    await expect(bad.get(Routes.user('@me'))).rejects.toMatchObject({ status: 401, code: 0 })
    expect(sim.state.memberRoles(IDS.guild, IDS.bob)).toEqual([])
  })

  it('retries a 5xx and a reset connection, then succeeds', async () => {
    const sim = await createDiscordSimulator()
    sims.push(sim)
    seedWorld(sim)
    const rest = client(sim)
    sim.scriptFault({ kind: 'error', status: 502, route: 'GET /guilds/:guild_id/roles' })
    const roles = await rest.get(Routes.guildRoles(IDS.guild)) as unknown[]
    expect(roles).toHaveLength(7)
    expect(sim.requests.filter((r) => r.route === 'GET /guilds/:guild_id/roles').map((r) => r.status)).toEqual([502, 200])
    sim.scriptFault({ kind: 'reset', route: 'GET /guilds/:guild_id/members/:user_id' })
    const member = await rest.get(Routes.guildMember(IDS.guild, IDS.alice)) as APIGuildMember
    expect(member.user.id).toBe(IDS.alice)
    expect(sim.requests.filter((r) => r.route === 'GET /guilds/:guild_id/members/:user_id').map((r) => r.fault ?? r.status)).toEqual(['reset', 200])
  })
})
