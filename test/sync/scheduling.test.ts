import { afterEach, describe, expect, it, vi } from 'vitest'
import { RoleSyncTask } from '../../src/tasks/role-sync.js'
import { SyncCleanupTask } from '../../src/tasks/cleanup.js'
import { resolveOptions } from '../../src/options/index.js'
import { TEST_KEY } from '../helpers/world.js'
import { buildSyncWorld, HOST, IDS, until, type SyncWorld } from './helpers.js'

/*
 * Scheduling: the role sync job is registered on ready (@fastify/schedule, fake interval
 * timers here), each enabled guild with auto_sync runs at its own sync_interval, and the job
 * stops with the app. Retention: old runs and audit entries are pruned.
 */

let w: SyncWorld | null = null
afterEach(async () => {
  vi.useRealTimers()
  if (w !== null) await w.close()
  w = null
})

async function seed (world: SyncWorld): Promise<void> {
  await world.guild(IDS.g1, 'Alpha Guild', { sync_interval: '15m' })
  await world.guild(IDS.g2, 'Beta Guild', { sync_interval: '1m' })
  await world.mapping({ group_id: 'pilots', discord_role_id: IDS.pilot })
  await world.mapping({ guild_id: IDS.g2, group_id: 'pilots', discord_role_id: IDS.pilot2 })
  world.sim.state.addMember(IDS.g1, IDS.alice)
  world.sim.state.addMember(IDS.g2, IDS.alice)
  await world.link(HOST.alice, IDS.alice, [IDS.g1, IDS.g2])
  world.membership.set(HOST.alice, ['pilots'])
}

describe('scheduled role sync', () => {
  it('registers on ready, ticks on the interval, syncs due guilds and stops with the app', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] })
    w = await buildSyncWorld({ plugin: { sync: { enabled: true, schedulerTick: '30s' } } })
    // The job calls tick() on the interval: each call's promise says when that tick is done.
    const ticks = vi.spyOn(w.app.discord.sync.scheduler as RoleSyncTask, 'tick')
    await seed(w)
    await w.store.updateGuild(IDS.g2, { settings: { auto_sync: false } })
    const store = w.store
    expect(await store.listSyncRuns()).toEqual([])

    vi.advanceTimersByTime(30_000)
    const [run] = await until(async () => {
      const runs = await store.listSyncRuns({ sync_type: 'guild' })
      return runs.length > 0 && runs.every((r) => r.status === 'completed') ? runs : null
    })
    expect(run).toMatchObject({ sync_type: 'guild', target_id: IDS.g1, initiated_by: 'system', status: 'completed' })
    expect(w.roles(IDS.g1, IDS.alice)).toEqual([IDS.pilot])
    // auto_sync off: never scheduled.
    expect(w.roles(IDS.g2, IDS.alice)).toEqual([])

    // The next tick finds guild 1 not due (15 minutes have not passed).
    vi.advanceTimersByTime(30_000)
    expect(ticks).toHaveBeenCalledTimes(2)
    expect((await ticks.mock.results[1]?.value)?.started).toEqual([])
    // The job's overrun guard clears in the microtasks after the tick: idle again, so a job that
    // outlived the app would tick below.
    await new Promise((resolve) => setImmediate(resolve))
    expect(await store.listSyncRuns({ sync_type: 'guild' })).toHaveLength(1)

    await w.app.close()
    const closed = w
    w = null
    const sent = closed.sim.requests.length
    vi.advanceTimersByTime(60 * 60_000)
    // Stopped with the app: an hour of ticks later, not one more tick and not one more call.
    expect(ticks).toHaveBeenCalledTimes(2)
    expect(closed.sim.requests.length).toBe(sent)
    await closed.sim.close()
  })

  it('each guild follows its own sync_interval', async () => {
    w = await buildSyncWorld()
    await seed(w)
    let now = new Date('2030-01-01T00:00:00.000Z').getTime()
    const task = new RoleSyncTask({ engine: w.app.discord.sync.engine, store: w.store, defaultIntervalMs: 15 * 60_000, log: w.app.log, now: () => new Date(now) })
    const wait = async (ids: Array<{ run_id: string }>): Promise<void> => {
      for (const s of ids) await w?.app.discord.sync.engine.waitFor(s.run_id, 10_000)
    }
    // Runs are stamped with the real clock: move the task's clock relative to it.
    now = Date.now()
    const t0 = await task.tick()
    expect(t0.started.map((s) => s.guild_id).sort()).toEqual([IDS.g1, IDS.g2])
    await wait(t0.started)

    now = Date.now() + 2 * 60_000
    const t1 = await task.tick()
    expect(t1.started.map((s) => s.guild_id)).toEqual([IDS.g2])
    await wait(t1.started)

    now = Date.now() + 16 * 60_000
    const t2 = await task.tick()
    expect(t2.started.map((s) => s.guild_id).sort()).toEqual([IDS.g1, IDS.g2])
    await wait(t2.started)
    expect(task.intervalOf('not-a-duration')).toBe(15 * 60_000)
  })

  it('a guild locked by another run is reported as locked, not started twice', async () => {
    w = await buildSyncWorld()
    await seed(w)
    const release = w.membership.hold()
    const manual = await w.call('POST', '/sync/manual', { body: { guild_id: IDS.g1 } })
    expect(manual.status).toBe(202)
    const task = new RoleSyncTask({ engine: w.app.discord.sync.engine, store: w.store, defaultIntervalMs: 60_000, log: w.app.log, now: () => new Date(Date.now() + 3_600_000) })
    const tick = await task.tick()
    expect(tick.locked).toEqual([IDS.g1])
    expect(tick.started.map((s) => s.guild_id)).toEqual([IDS.g2])
    release()
    for (const id of [manual.body.run_id, ...tick.started.map((s) => s.run_id)]) await w.app.discord.sync.engine.waitFor(id, 10_000)
  })
})

describe('retention', () => {
  it('prunes finished runs and audit entries older than the retention, keeps the rest', async () => {
    w = await buildSyncWorld()
    const store = w.store
    const old = await store.createSyncRun({ sync_type: 'guild', target_id: IDS.g1, status: 'completed', initiated_by: 'system' })
    const running = await store.createSyncRun({ sync_type: 'guild', target_id: IDS.g2, status: 'running', initiated_by: 'system' })
    await store.appendAudit([{ run_id: old.id, guild_id: IDS.g1, discord_user_id: IDS.alice, user_id: HOST.alice, role_id: IDS.pilot, role_name: 'EVE Pilot', action: 'add', mapping_id: null, outcome: 'applied', error_code: null }])
    const ninetyDays = 90 * 86_400_000
    const keep = new SyncCleanupTask({ store, retentionMs: ninetyDays, log: w.app.log, now: () => new Date(Date.now() + ninetyDays - 60_000) })
    expect(await keep.run()).toMatchObject({ runs: 0, audit: 0 })
    const prune = new SyncCleanupTask({ store, retentionMs: ninetyDays, log: w.app.log, now: () => new Date(Date.now() + ninetyDays + 60_000) })
    expect(await prune.run()).toMatchObject({ runs: 1, audit: 1 })
    expect(await store.getSyncRun(old.id)).toBeNull()
    expect((await store.getSyncRun(running.id))?.status).toBe('running')
    // The plugin's default retention is 90 days.
    expect(resolveOptions({ encryptionKey: TEST_KEY }).sync.retentionMs).toBe(ninetyDays)
  })
})
