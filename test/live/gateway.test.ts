import { afterEach, describe, expect, it } from 'vitest'
import { ADMIN, HOST, IDS, until, type SyncWorld } from '../sync/helpers.js'
import { buildLiveWorld, gatewayCount, metricValue, nextLiveRun } from './helpers.js'

/*
 * The live Gateway (issue 13, parts 1 and 2) against the simulator's Gateway over a real
 * WebSocket: joins get their roles, hand edits of managed roles are reverted or reported, our own
 * writes never count as drift, leaves and removals are recorded.
 */

let w: SyncWorld | undefined
afterEach(async () => { await w?.close(); w = undefined })

const runsBy = async (world: SyncWorld, prefix: string): Promise<number> =>
  (await world.store.listSyncRuns({ limit: 100 })).filter((r) => r.initiated_by.startsWith(prefix)).length

describe('live Gateway events', () => {
  it('applies managed roles when a linked member joins, and again when they return', async () => {
    w = await buildLiveWorld()
    let run = nextLiveRun(w, 'join', IDS.alice)
    w.sim.state.addMember(IDS.g1, IDS.alice)
    expect(await run).toMatchObject({ status: 'completed', dry_run: false })
    expect(w.roles(IDS.g1, IDS.alice)).toContain(IDS.pilot)
    const audit = await w.store.listAudit({ guild_id: IDS.g1, limit: 10 })
    expect(audit.items.some((a) => a.discord_user_id === IDS.alice && a.action === 'add' && a.outcome === 'applied')).toBe(true)

    // Leaves: the link no longer lists the guild. Comes back: roles again.
    w.sim.state.removeMember(IDS.g1, IDS.alice)
    run = nextLiveRun(w, 'join', IDS.alice)
    w.sim.state.addMember(IDS.g1, IDS.alice)
    await run
    expect(w.roles(IDS.g1, IDS.alice)).toContain(IDS.pilot)
    expect(await runsBy(w, 'join:')).toBe(2)
  })

  it('reverts a managed role removed by hand, and never takes its own writes for drift', async () => {
    w = await buildLiveWorld()
    const world = w
    const joined = nextLiveRun(w, 'join', IDS.alice)
    w.sim.state.addMember(IDS.g1, IDS.alice)
    await joined
    // The join's write comes back as GUILD_MEMBER_UPDATE: recognised as ours.
    await until(async () => await gatewayCount(world, 'GUILD_MEMBER_UPDATE', 'echo') >= 1 ? true : null)
    for (let i = 1; i <= 3; i++) {
      const drift = nextLiveRun(w, 'drift', IDS.alice)
      // An officer strips the managed role (and adds an unmanaged one, which stays).
      w.sim.state.setMemberRoles(IDS.g1, IDS.alice, [IDS.hand])
      expect(await drift).toMatchObject({ status: 'completed', dry_run: false })
      expect(w.roles(IDS.g1, IDS.alice).sort()).toEqual([IDS.pilot, IDS.hand].sort())
      await until(async () => await gatewayCount(world, 'GUILD_MEMBER_UPDATE', 'echo') >= 1 + i ? true : null)
    }
    // A nickname change moves nothing the plugin owns.
    w.sim.state.updateMember(IDS.g1, IDS.alice, { nick: 'Ally' })
    await until(async () => await gatewayCount(world, 'GUILD_MEMBER_UPDATE', 'ignored') >= 1 ? true : null)
    const runs = (await w.store.listSyncRuns({ limit: 100 })).filter((r) => r.initiated_by === `drift:${IDS.alice}`)
    expect(runs.map((r) => r.results.roles_added)).toEqual([1, 1, 1])
    expect(await metricValue(w, 'discord_sync_drift_total', { policy: 'revert' })).toBe(3)
    expect(await gatewayCount(w, 'GUILD_MEMBER_UPDATE', 'echo')).toBe(4)
  })

  it('only reports drift when the guild says so', async () => {
    w = await buildLiveWorld({ settings: { drift_policy: 'report' } })
    const joined = nextLiveRun(w, 'join', IDS.alice)
    w.sim.state.addMember(IDS.g1, IDS.alice)
    await joined
    const drift = nextLiveRun(w, 'drift', IDS.alice)
    w.sim.state.setMemberRoles(IDS.g1, IDS.alice, [])
    expect(await drift).toMatchObject({ dry_run: true })
    expect(w.roles(IDS.g1, IDS.alice)).not.toContain(IDS.pilot)
    const audit = await w.store.listAudit({ guild_id: IDS.g1, limit: 10 })
    expect(audit.items.some((a) => a.action === 'add' && a.outcome === 'dry_run' && a.role_id === IDS.pilot)).toBe(true)
  })

  it('leaves joins alone when sync_on_join is off, and ignores guilds that are not configured', async () => {
    w = await buildLiveWorld({ settings: { sync_on_join: false } })
    w.sim.state.addMember(IDS.g2, IDS.alice)
    w.sim.state.addMember(IDS.g1, IDS.alice)
    // A later change of a managed role of the same member is handled after the join: by then the join was skipped.
    const drift = nextLiveRun(w, 'drift', IDS.alice)
    w.sim.state.setMemberRoles(IDS.g1, IDS.alice, [IDS.pilot])
    await drift
    expect(await runsBy(w, 'join:')).toBe(0)
  })

  it('pauses a guild the bot was removed from and marks it unhealthy', async () => {
    w = await buildLiveWorld()
    w.sim.state.removeMember(IDS.g1, IDS.bot)
    const guild = await until(async () => {
      const g = await w?.store.getGuild(IDS.g1)
      return g?.health_status === 'unhealthy' ? g : null
    })
    expect(guild.last_error).toMatch(/removed/)
    expect(w.app.discord.gateway?.cadence(IDS.g1, 60_000)).toBeNull()
    expect(w.app.discord.gateway?.guildState(IDS.g1)).toMatchObject({ removed: true, connected: false })
    const res = await w.inject({ method: 'GET', url: `/discord/guilds/${IDS.g1}`, as: ADMIN })
    expect(res.json().health_status).toBe('unhealthy')
  })

  it('reports its connection in /status', async () => {
    w = await buildLiveWorld()
    expect(w.app.discord.gateway?.status()).toMatchObject({ enabled: true, leader: true, connections: [{ status: 'connected', guilds: 1 }] })
    expect(w.app.discord.gateway?.guildState(IDS.g1)).toMatchObject({ connected: true, removed: false })
    expect(HOST.alice).toBeTruthy()
  })
})
