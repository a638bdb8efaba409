import { afterEach, describe, expect, it } from 'vitest'
import { EchoFilter } from '../../src/live/gateway/echo.js'
import { MemberEvents, parseMember } from '../../src/live/gateway/member-events.js'
import { RoleSyncTask } from '../../src/tasks/role-sync.js'
import type { SyncMetrics } from '../../src/sync/metrics.js'
import { ADMIN, BOT_TOKEN, buildSyncWorld, IDS, until, type SyncWorld } from '../sync/helpers.js'
import { buildLiveWorld, connectedOnce, gatewayCount, metricValue, nextLiveRun } from './helpers.js'

/*
 * The live Gateway (issue 13, parts 1 and 2) against the simulator's Gateway over a real
 * WebSocket: joins get their roles, hand edits of managed roles are reverted or reported, our own
 * writes never count as drift, leaves and removals are recorded.
 */

let w: SyncWorld | undefined
afterEach(async () => { await w?.close(); w = undefined })

const runsBy = async (world: SyncWorld, prefix: string): Promise<number> =>
  (await world.store.listSyncRuns({ limit: 100 })).filter((r) => r.initiated_by.startsWith(prefix)).length

/** A member-event handler of the world's own, outside its Gateway, to feed events by hand. */
function memberEvents (world: SyncWorld, concurrency: number): MemberEvents {
  return new MemberEvents({
    store: world.store,
    engine: world.app.discord.sync.engine,
    echo: new EchoFilter(),
    metrics: world.app.discord.sync.metrics as SyncMetrics,
    events: world.app.discord.events,
    log: world.app.log,
    concurrency,
    checkGuildHealth: async () => {}
  })
}

describe('live Gateway events', () => {
  it('applies managed roles when a linked member joins, and again when they return', async () => {
    w = await buildLiveWorld()
    let run = nextLiveRun(w, 'join', IDS.alice)
    w.sim.state.addMember(IDS.g1, IDS.alice)
    expect(await run).toMatchObject({ status: 'completed', dry_run: false })
    expect(w.roles(IDS.g1, IDS.alice)).toContain(IDS.pilot)
    const audit = await w.store.listAudit({ guild_id: IDS.g1, page_size: 50 })
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
    const audit = await w.store.listAudit({ guild_id: IDS.g1, page_size: 50 })
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
    const status = await w.inject({ method: 'GET', url: '/discord/status' })
    expect(status.json().gateway).toEqual({ leader: true, connections: 1, connected: 1, resumes: 0 })
    const guild = await w.inject({ method: 'GET', url: `/discord/guilds/${IDS.g1}`, as: ADMIN })
    expect(guild.json().gateway).toMatchObject({ connected: true, removed: false, resumes: 0, error: null })
  })
})

describe('live Gateway faults and bad input', () => {
  it('resumes after a dropped socket and handles the events sent while it was down', async () => {
    w = await buildLiveWorld()
    const resumed = connectedOnce(w, (e) => e.resumes === 1)
    // Held dispatches are numbered and kept for RESUME, as Discord's are while a socket is down.
    w.sim.gateway.holdDispatches()
    w.sim.gateway.dropConnection()
    const joined = nextLiveRun(w, 'join', IDS.alice)
    w.sim.state.addMember(IDS.g1, IDS.alice)
    w.sim.gateway.releaseDispatches()
    await resumed
    expect(await joined).toMatchObject({ status: 'completed' })
    expect(w.roles(IDS.g1, IDS.alice)).toContain(IDS.pilot)
    expect(w.app.discord.gateway?.guildState(IDS.g1)).toMatchObject({ connected: true, resumes: 1 })
  })

  it('says what to do when the Server Members Intent is not enabled (4014), and keeps polling', async () => {
    w = await buildSyncWorld({ plugin: { gateway: { enabled: true } } })
    w.sim.state.setPrivilegedIntents(BOT_TOKEN, { guildMembers: false })
    await w.guild(IDS.g1, 'Alpha Guild')
    const failed = w.app.discord.events.next('gateway.state', (e) => e.status === 'failed')
    await w.app.discord.gateway?.reconcile()
    expect((await failed).error).toMatch(/Server Members Intent/)
    expect(w.app.discord.gateway?.guildState(IDS.g1)).toMatchObject({ connected: false, error: expect.stringMatching(/Developer Portal/) })
    // Polling stays as it was: the guild keeps its own interval.
    expect(w.app.discord.gateway?.cadence(IDS.g1, 60_000)).toBe(60_000)
  })

  it('ignores events of guilds that are not configured', async () => {
    w = await buildLiveWorld()
    const world = w
    w.sim.state.addMember(IDS.g2, IDS.alice)
    await until(async () => await gatewayCount(world, 'GUILD_MEMBER_ADD', 'ignored') >= 1 ? true : null)
    expect(await w.store.listSyncRuns({ limit: 10 })).toEqual([])
  })

  it('acts on nothing while the bot token is locked after a 401', async () => {
    w = await buildLiveWorld()
    const world = w
    // Discord refuses the token on a REST call: the client locks it (no further call with it).
    w.sim.state.revokeBotToken(BOT_TOKEN)
    await expect(w.app.discord.client.bot(BOT_TOKEN).getGuild(IDS.g1)).rejects.toMatchObject({ status: 401 })
    expect(w.app.discord.client.isTokenLocked(BOT_TOKEN)).toBe(true)
    w.sim.state.addMember(IDS.g1, IDS.alice)
    await until(async () => await gatewayCount(world, 'GUILD_MEMBER_ADD', 'ignored') >= 1 ? true : null)
    expect(await w.store.listSyncRuns({ limit: 10 })).toEqual([])
    expect(w.roles(IDS.g1, IDS.alice)).toEqual([])
  })

  it('re-checks health at once when a mapped role is deleted', async () => {
    w = await buildLiveWorld()
    await w.store.updateGuild(IDS.g1, { health_status: 'healthy' })
    w.sim.state.removeRole(IDS.g1, IDS.pilot)
    const guild = await until(async () => {
      const g = await w?.store.getGuild(IDS.g1)
      return g?.health_status !== 'healthy' ? g : null
    })
    expect(guild.last_error).toMatch(/role/i)
  })

  it('re-checks health at once when a mapped role is moved above the bot', async () => {
    w = await buildLiveWorld()
    await w.store.updateGuild(IDS.g1, { health_status: 'healthy' })
    // GUILD_ROLE_UPDATE: the mapped role now outranks the bot's role (position 10).
    w.sim.state.setRolePosition(IDS.g1, IDS.pilot, 15)
    const guild = await until(async () => {
      const g = await w?.store.getGuild(IDS.g1)
      return g?.health_status !== 'healthy' ? g : null
    })
    expect(guild.health_status).toBe('degraded')
    expect(await gatewayCount(w, 'GUILD_ROLE_UPDATE', 'handled')).toBe(1)
  })

  it('logs and skips malformed member events without throwing', async () => {
    w = await buildLiveWorld()
    const guild = await w.store.getGuild(IDS.g1)
    const handler = memberEvents(w, 1)
    for (const [t, d] of [['GUILD_MEMBER_ADD', null], ['GUILD_MEMBER_ADD', { guild_id: IDS.g1, user: { id: 'x' } }], ['GUILD_MEMBER_UPDATE', { guild_id: IDS.g1, user: { id: IDS.alice }, roles: [1] }],
      ['GUILD_MEMBER_REMOVE', 'text'], ['GUILD_ROLE_DELETE', { guild_id: IDS.g1 }], ['GUILD_ROLE_UPDATE', { guild_id: IDS.g1, role: null }]] as const) {
      await expect(handler.handle(guild as NonNullable<typeof guild>, t, d)).resolves.toBeUndefined()
    }
    expect(await gatewayCount(w, 'GUILD_MEMBER_ADD', 'invalid')).toBe(2)
    expect(await gatewayCount(w, 'GUILD_ROLE_DELETE', 'invalid')).toBe(1)
    expect(parseMember({ guild_id: IDS.g1, user: { id: IDS.alice }, roles: [IDS.pilot] })).toEqual({ guild_id: IDS.g1, user: { id: IDS.alice }, roles: [IDS.pilot] })
    expect(await w.store.listSyncRuns({ limit: 10 })).toEqual([])
  })
})

describe('what the Gateway handler remembers', () => {
  it('keeps no entry for unlinked members without managed roles (most of a large guild), and forgets all when told', async () => {
    w = await buildLiveWorld()
    const guild = await w.store.getGuild(IDS.g1) as NonNullable<Awaited<ReturnType<SyncWorld['store']['getGuild']>>>
    const handler = memberEvents(w, 4)
    const stranger = (i: number): string => String(1700000000000000000n + BigInt(i))
    for (let i = 0; i < 100; i++) {
      await handler.handle(guild, 'GUILD_MEMBER_ADD', { guild_id: IDS.g1, user: { id: stranger(i) }, roles: [] })
      await handler.handle(guild, 'GUILD_MEMBER_UPDATE', { guild_id: IDS.g1, user: { id: stranger(i) }, roles: [IDS.hand] })
    }
    expect(handler.remembered).toBe(0)
    // An unlinked member holding a managed role is remembered: its removal by hand is drift.
    await handler.handle(guild, 'GUILD_MEMBER_ADD', { guild_id: IDS.g1, user: { id: stranger(100) }, roles: [IDS.pilot] })
    expect(handler.remembered).toBe(1)
    handler.forgetAll()
    expect(handler.remembered).toBe(0)
    expect(await w.store.listSyncRuns({ limit: 10 })).toEqual([])
  })

  it('forgets a guild\'s members once the guild is no longer configured, and all of them on close', async () => {
    w = await buildLiveWorld()
    const world = w
    const gateway = w.app.discord.gateway
    if (gateway === null) throw new Error('the live world runs the Gateway')
    // An unlinked member holding a managed role: remembered, so a hand edit of it would count as drift.
    w.sim.state.addMember(IDS.g1, IDS.carol, [IDS.pilot])
    await until(async () => gateway.rememberedMembers >= 1 ? true : null)
    await w.store.updateGuild(IDS.g1, { enabled: false })
    await gateway.reconcile()
    expect(gateway.rememberedMembers).toBe(0)
    await w.store.updateGuild(IDS.g1, { enabled: true })
    const connected = connectedOnce(world)
    await gateway.reconcile()
    await connected
    w.sim.state.addMember(IDS.g1, IDS.dave, [IDS.pilot])
    await until(async () => gateway.rememberedMembers >= 1 ? true : null)
    await gateway.close()
    expect(gateway.rememberedMembers).toBe(0)
  })
})

describe('the scheduled sync beside the Gateway', () => {
  it('stretches a connected guild to gateway.safetyNetInterval and pauses one the bot left', async () => {
    w = await buildLiveWorld({ plugin: { gateway: { safetyNetInterval: '1h' } } })
    const world = w
    const gateway = w.app.discord.gateway
    if (gateway === null) throw new Error('the Gateway is on in this world')
    // Twenty minutes after the guild's last run: due on its own 15 m, not on the stretched 1 h.
    const task = (cadence?: (id: string, ms: number) => number | null): RoleSyncTask => new RoleSyncTask({
      engine: world.app.discord.sync.engine, store: world.store, defaultIntervalMs: 15 * 60_000, log: world.app.log, now: () => new Date(Date.now() + 20 * 60_000), ...(cadence === undefined ? {} : { cadence })
    })
    const done = w.app.discord.events.next('sync.finished', (e) => e.sync_type === 'guild')
    await w.app.discord.sync.engine.startGuild(IDS.g1)
    await done
    const live = (id: string, ms: number): number | null => gateway.cadence(id, ms)
    expect((await task(live).tick()).started).toEqual([])
    // The same moment without the Gateway: due.
    expect((await task().tick()).started.map((x) => x.guild_id)).toEqual([IDS.g1])
    await w.app.discord.events.next('sync.finished', (e) => e.sync_type === 'guild')
    // The bot is removed: paused, however long ago the last run was.
    w.sim.state.removeMember(IDS.g1, IDS.bot)
    await until(async () => gateway.guildState(IDS.g1)?.removed === true ? true : null)
    const later = new RoleSyncTask({ engine: world.app.discord.sync.engine, store: world.store, defaultIntervalMs: 15 * 60_000, log: world.app.log, now: () => new Date(Date.now() + 86_400_000), cadence: live })
    const paused = await later.tick()
    expect(paused.started).toEqual([])
    expect(paused.claimed).toEqual([])
  })
})
