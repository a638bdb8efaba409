import { afterEach, describe, expect, it } from 'vitest'
import { PermissionFlags } from '../../src/testing/index.js'
import { BOT2_TOKEN, buildSyncWorld, HOST, IDS, isWrite, type SyncWorld } from './helpers.js'

/*
 * Failure handling against the simulator: per-member errors never stop a run; a guild whose
 * writes Discord refuses (50013, 401) stops at once, is marked unhealthy, and the run goes on
 * with the other guilds.
 */

let w: SyncWorld

afterEach(async () => {
  expect(w.sim.internalErrors).toEqual([])
  await w.close()
})

async function world (workers?: number): Promise<SyncWorld> {
  w = await buildSyncWorld(workers === undefined ? {} : { plugin: { sync: { workers } } })
  await w.guild(IDS.g1, 'Alpha Guild')
  await w.mapping({ group_id: 'pilots', discord_role_id: IDS.pilot })
  return w
}

/** Three linked members of guild 1 who should all gain EVE Pilot. */
async function threeToChange (): Promise<void> {
  for (const [host, id] of [[HOST.alice, IDS.alice], [HOST.bob, IDS.bob], [HOST.carol, IDS.carol]] as const) {
    w.sim.state.addMember(IDS.g1, id)
    await w.link(host, id)
    w.membership.set(host, ['pilots'])
  }
}

/** A dry run fills the role cache without writing anything. */
async function warmCache (): Promise<void> {
  const res = await w.call('POST', '/sync/manual', { body: { dry_run: true, wait: true } })
  expect(res.status).toBe(200)
  w.sim.clearRequests()
}

async function full (): Promise<any> {
  const res = await w.call('POST', '/sync/manual', { body: { wait: true } })
  expect(res.status).toBe(200)
  return res.body
}

describe('per-member errors', () => {
  it('10007 while applying: recorded, the link kept and marked not in the guild, the others applied', async () => {
    await world()
    await threeToChange()
    // Bob leaves between the listing and his write.
    const client = w.app.discord.client
    const original = client.bot.bind(client)
    client.bot = (token: string) => {
      const bot = original(token)
      const list = bot.listGuildMembers.bind(bot)
      bot.listGuildMembers = async function * (...args: Parameters<typeof list>) {
        for await (const page of list(...args)) {
          yield page
          w.sim.state.removeMember(IDS.g1, IDS.bob)
        }
      }
      return bot
    }
    const body = await full()
    expect(body.run.status).toBe('completed')
    expect(w.roles(IDS.g1, IDS.alice)).toEqual([IDS.pilot])
    expect(w.roles(IDS.g1, IDS.carol)).toEqual([IDS.pilot])
    const err = body.run.results.errors.find((e: any) => e.discord_user_id === IDS.bob)
    expect(err).toMatchObject({ code: '10007', guild_id: IDS.g1, user_id: HOST.bob })
    expect(err.error).toMatch(/no longer in the guild/)
    const link = await w.store.getUserByDiscordId(IDS.bob)
    expect(link).not.toBeNull()
    expect(link?.guilds.map((g) => g.id)).not.toContain(IDS.g1)
    expect(body.run.results.users_failed).toBe(0)
  })

  it('a 5xx that outlasts the retries fails that member only', async () => {
    await world(1)
    await threeToChange()
    w.sim.scriptFault({ kind: 'error', status: 500, route: 'PUT /guilds/:guild_id/members/:user_id/roles/:role_id', times: 4 })
    const body = await full()
    expect(body.run.status).toBe('completed')
    expect(body.run.results.users_failed).toBe(1)
    expect(body.run.results.roles_added).toBe(2)
    expect(body.run.results.errors.some((e: any) => e.code === '500')).toBe(true)
    const audit = await w.call('GET', `/sync/audit?run_id=${body.run_id}&page_size=100`)
    expect(audit.body.entries.map((e: any) => e.outcome).sort()).toEqual(['applied', 'applied', 'failed'])
  })

  it('10011 (a mapped role was deleted): the role cache is refreshed and the member re-planned', async () => {
    await world()
    await w.mapping({ group_id: 'pilots', discord_role_id: IDS.corp })
    w.sim.state.addMember(IDS.g1, IDS.alice, [IDS.hand])
    await w.link(HOST.alice, IDS.alice)
    w.membership.set(HOST.alice, ['pilots'])
    await warmCache()
    w.sim.state.removeRole(IDS.g1, IDS.pilot)
    const body = await full()
    // Corp was granted; Pilot (gone) is reported as a missing role instead of failing.
    expect(w.roles(IDS.g1, IDS.alice)).toEqual([IDS.corp, IDS.hand].sort())
    const statuses = w.discordCalls(isWrite).map((r) => r.status)
    expect(statuses).toEqual([404, 204])
    expect(body.run.results.users_failed).toBe(0)
    expect(w.discordCalls((r) => r.route === 'GET /guilds/:guild_id').length).toBe(1)
  })
})

describe('guild-level errors stop writes to that guild at once', () => {
  it('50013: one refused write, the rest skipped, guild unhealthy, the other guild synced', async () => {
    await world(1)
    await w.guild(IDS.g2, 'Beta Guild')
    await w.mapping({ guild_id: IDS.g2, group_id: 'pilots', discord_role_id: IDS.pilot2 })
    await threeToChange()
    w.sim.state.addMember(IDS.g2, IDS.alice)
    await warmCache()
    // The bot loses Manage Roles after the role cache was filled: Discord now refuses writes.
    w.sim.state.setRolePermissions(IDS.g1, IDS.botRole, PermissionFlags.VIEW_CHANNEL)
    const body = await full()
    const g1 = body.run.results.guilds.find((g: any) => g.guild_id === IDS.g1)
    const g2 = body.run.results.guilds.find((g: any) => g.guild_id === IDS.g2)
    expect(g1.status).toBe('failed')
    expect(g1.reason).toMatch(/writes to this guild stopped/)
    expect(g2).toMatchObject({ status: 'completed', roles_added: 1 })
    expect(body.run.status).toBe('completed')
    // Exactly one invalid request toward Discord for guild 1.
    const forbidden = w.discordCalls((r) => r.status === 403)
    expect(forbidden).toHaveLength(1)
    expect(w.discordCalls((r) => isWrite(r) && r.status === 204)).toHaveLength(1) // guild 2's
    const guild = await w.store.getGuild(IDS.g1)
    expect(guild?.health_status).toBe('unhealthy')
    expect(guild?.last_error).toMatch(/50013|Missing Permissions/i)
    const audit = await w.call('GET', `/sync/audit?run_id=${body.run_id}&guild_id=${IDS.g1}&page_size=100`)
    expect(audit.body.entries.map((e: any) => `${e.outcome}:${e.error_code}`).sort()).toEqual(['failed:50013', 'skipped:guild_halted', 'skipped:guild_halted'])

    // The 50013 dropped the cached roles: the next run reads them again, sees the missing
    // permission and sends no write to guild 1 at all.
    w.sim.clearRequests()
    const next = await full()
    expect(w.discordCalls((r) => r.route === 'GET /guilds/:guild_id' && r.majorId === IDS.g1)).toHaveLength(1)
    expect(w.discordCalls((r) => r.majorId === IDS.g1 && (isWrite(r) || r.status === 403))).toEqual([])
    expect(next.run.results.guilds.find((g: any) => g.guild_id === IDS.g1).reason).toMatch(/Manage Roles/)
  })

  it('50013 with several workers: no write starts after the first refusal is known', async () => {
    await world(3)
    for (let i = 0; i < 20; i++) {
      const id = `15000000000000000${String(i).padStart(2, '0')}`
      w.sim.state.addUser({ id })
      w.sim.state.addMember(IDS.g1, id)
      await w.link(`host-${i}`, id)
      w.membership.set(`host-${i}`, ['pilots'])
    }
    await warmCache()
    w.sim.state.setRolePermissions(IDS.g1, IDS.botRole, PermissionFlags.VIEW_CHANNEL)
    await full()
    // At most the writes already in flight (one per worker) reach Discord.
    expect(w.discordCalls((r) => r.status === 403).length).toBeLessThanOrEqual(3)
    expect(w.discordCalls(isWrite).length).toBeLessThanOrEqual(3)
  })

  it('401: the guild stops at its first call, later runs send nothing with that token, other guilds go on', async () => {
    await world()
    await w.guild(IDS.g2, 'Beta Guild', {}, BOT2_TOKEN)
    await w.mapping({ guild_id: IDS.g2, group_id: 'pilots', discord_role_id: IDS.pilot2 })
    await threeToChange()
    w.sim.state.addMember(IDS.g2, IDS.alice)
    await warmCache()
    w.sim.state.revokeBotToken(BOT2_TOKEN)
    const first = await full()
    const g2 = first.run.results.guilds.find((g: any) => g.guild_id === IDS.g2)
    expect(g2.status).toBe('failed')
    expect(first.run.results.guilds.find((g: any) => g.guild_id === IDS.g1).roles_added).toBe(3)
    expect(w.discordCalls((r) => r.status === 401)).toHaveLength(1)
    expect((await w.store.getGuild(IDS.g2))?.health_status).toBe('unhealthy')

    w.sim.clearRequests()
    const second = await full()
    expect(second.run.results.guilds.find((g: any) => g.guild_id === IDS.g2).status).toBe('failed')
    expect(w.discordCalls((r) => r.status === 401)).toHaveLength(0)
  })

  it('a bot without Manage Roles is refused before any write is sent', async () => {
    await world()
    await threeToChange()
    w.sim.state.setRolePermissions(IDS.g1, IDS.botRole, PermissionFlags.VIEW_CHANNEL)
    const body = await full()
    expect(body.run.status).toBe('failed')
    expect(body.run.results.guilds[0].reason).toMatch(/Manage Roles/)
    expect(w.discordCalls(isWrite)).toEqual([])
    expect(w.discordCalls((r) => r.status === 403)).toEqual([])
  })
})
