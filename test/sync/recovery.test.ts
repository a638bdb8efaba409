import { afterEach, describe, expect, it } from 'vitest'
import Database from 'better-sqlite3'
import { lockKeys } from '../../src/sync/locks.js'
import { aliceNeedsPilot, buildSyncWorld, HOST, IDS, until, type SyncWorld } from './helpers.js'

/*
 * No run stays "running" forever: at start-up, runs whose heartbeat stopped (their instance
 * crashed) are failed as interrupted, pending unlink removals are resumed, and a graceful
 * shutdown records the runs it cancels.
 */

const worlds: SyncWorld[] = []
afterEach(async () => {
  for (const w of worlds.splice(0).reverse()) {
    w.membership.gate = null
    await w.close()
  }
})

describe('start-up recovery', () => {
  it('fails runs whose heartbeat expired, spares live ones, resumes pending unlink removals', async () => {
    const db = new Database(':memory:')
    const first = await buildSyncWorld({ plugin: { store: { type: 'sqlite', database: db } } })
    await first.guild(IDS.g1, 'Alpha Guild')
    await first.mapping({ group_id: 'pilots', discord_role_id: IDS.pilot })
    const store = first.store
    const longAgo = new Date(Date.now() - 3_600_000)
    const crashed = await store.createSyncRun({ sync_type: 'guild', target_id: IDS.g1, status: 'running', started_at: longAgo, initiated_by: 'system' })
    await store.updateSyncRun(crashed.id, { heartbeat_at: longAgo })
    const live = await store.createSyncRun({ sync_type: 'full', status: 'running', started_at: longAgo, initiated_by: 'system' })
    await store.updateSyncRun(live.id, { heartbeat_at: new Date() })
    // Dave unlinked while the instance was down: his removal was queued, never executed.
    first.sim.state.addMember(IDS.g1, IDS.dave, [IDS.pilot, IDS.hand])
    const unlink = await store.createSyncRun({ sync_type: 'user', target_id: IDS.dave, status: 'pending', initiated_by: 'unlink:user-dave' })
    await store.updateSyncRun(unlink.id, { heartbeat_at: longAgo })
    // Simulate the crash: the app goes away without the engine seeing these runs.
    await first.app.close()

    const second = await buildSyncWorld({ sim: first.sim, plugin: { store: { type: 'sqlite', database: db } } })
    worlds.push(second)
    const failed = await second.store.getSyncRun(crashed.id)
    expect(failed?.status).toBe('failed')
    expect(failed?.completed_at).toBeInstanceOf(Date)
    expect(failed?.results.errors.at(-1)?.error).toMatch(/^interrupted: no heartbeat/)
    expect((await second.store.getSyncRun(live.id))?.status).toBe('running')

    const removal = await second.app.discord.sync.engine.waitFor(unlink.id, 10_000)
    expect(removal?.status).toBe('completed')
    expect(second.roles(IDS.g1, IDS.dave)).toEqual([IDS.hand])
    // Visible through the API too.
    const res = await second.call('GET', `/sync/runs/${crashed.id}`)
    expect(res.body).toMatchObject({ id: crashed.id, status: 'failed' })
  })

  it('resumes every pending unlink removal, not only the newest page of them, before the stale sweep', async () => {
    const db = new Database(':memory:')
    const first = await buildSyncWorld({ plugin: { store: { type: 'sqlite', database: db } } })
    await first.guild(IDS.g1, 'Alpha Guild')
    await first.mapping({ group_id: 'pilots', discord_role_id: IDS.pilot })
    const longAgo = new Date(Date.now() - 3_600_000)
    // 110 accounts unlinked while the instance was down (more than one page of 100).
    const ids = Array.from({ length: 110 }, (_, i) => String(1500000000000000000n + BigInt(i)))
    for (const id of ids) {
      first.sim.state.addUser({ id })
      first.sim.state.addMember(IDS.g1, id, [IDS.pilot, IDS.hand])
      const run = await first.store.createSyncRun({ sync_type: 'user', target_id: id, status: 'pending', initiated_by: `unlink:host-${id}` })
      await first.store.updateSyncRun(run.id, { heartbeat_at: longAgo })
    }
    await first.app.close()

    const second = await buildSyncWorld({ sim: first.sim, plugin: { store: { type: 'sqlite', database: db } } })
    worlds.push(second)
    // Straight from the host's database: the store's run listing stops at 100.
    const byStatus = (): Record<string, number> => Object.fromEntries(
      (db.prepare('SELECT status, count(*) AS n FROM discord_sync_status GROUP BY status').all() as Array<{ status: string, n: number }>).map((r) => [r.status, r.n]))
    const final = await until(async () => {
      const counts = byStatus()
      return (counts.pending ?? 0) + (counts.running ?? 0) === 0 ? counts : null
      // ~5 s on an idle machine; the bounds leave room for a loaded CI machine (the old 20 s
      // bound equalled the test timeout, so a slow run failed as a timeout, not on its counts).
    }, 60_000)
    expect(final).toEqual({ completed: 110 })
    for (const id of ids) expect(second.roles(IDS.g1, id)).toEqual([IDS.hand])
  }, 90_000)
})

describe('the stale sweep', () => {
  it('frees the lock of every stale run, not only of the newest page of them', async () => {
    const w = await buildSyncWorld()
    worlds.push(w)
    const engine = w.app.discord.sync.engine
    const longAgo = new Date(Date.now() - 3_600_000)
    // 110 guild runs a crash of many workers left running, each still holding its guild's lock.
    const guilds = Array.from({ length: 110 }, (_, i) => String(1600000000000000000n + BigInt(i)))
    for (const g of guilds) {
      const run = await w.store.createSyncRun({ sync_type: 'guild', target_id: g, status: 'running', started_at: longAgo, initiated_by: 'system' })
      await w.store.updateSyncRun(run.id, { heartbeat_at: longAgo })
      expect((await engine.locks.acquire(lockKeys.guild(g), run.id)).ok).toBe(true)
    }
    expect(await engine.sweepStale()).toBe(110)
    const held = await Promise.all(guilds.map(async (g) => await engine.locks.holder(lockKeys.guild(g))))
    expect(held.filter((h) => h !== null)).toEqual([])
  })
})

describe('a dead run whose lock lapsed', () => {
  it('still holds its guild until it is stale; then the next start sweeps it (failed, stale) and runs alone', async () => {
    const w = await aliceNeedsPilot(await buildSyncWorld())
    worlds.push(w)
    const engine = w.app.discord.sync.engine
    // Another instance's run, SIGKILLed: its lock (sync.lockTtl) lapsed, its record is not stale yet.
    const dead = await w.store.createSyncRun({ sync_type: 'guild', target_id: IDS.g1, status: 'running', started_at: new Date(), initiated_by: 'system' })
    await w.store.updateSyncRun(dead.id, { heartbeat_at: new Date() })
    expect(await engine.locks.holder(`guild:${IDS.g1}`)).toBeNull()

    expect(await engine.startGuild(IDS.g1)).toBeNull()
    await expect(engine.startManual({ guild_id: IDS.g1 }, 'admin')).rejects.toMatchObject({ code: 'FST_DISCORD_SYNC_IN_PROGRESS', statusCode: 409, run_id: dead.id })
    expect((await w.store.listSyncRuns({ sync_type: 'guild', target_id: IDS.g1, status: 'running' })).map((r) => r.id)).toEqual([dead.id])

    // Its heartbeat is now older than sync.staleAfter (default 2 min).
    await w.store.updateSyncRun(dead.id, { heartbeat_at: new Date(Date.now() - 3_600_000) })
    const started = await engine.startGuild(IDS.g1)
    expect(started).not.toBeNull()
    const swept = await w.store.getSyncRun(dead.id)
    expect(swept?.status).toBe('failed')
    expect(swept?.results.errors.map((e) => e.code)).toContain('stale')
    expect((await started?.done)?.status).toBe('completed')
    expect(w.roles(IDS.g1, IDS.alice)).toContain(IDS.pilot)
  })
})

describe('heartbeat', () => {
  it('a running run rewrites its heartbeat and progress in the store, so other instances and restarts see it alive', async () => {
    const w = await buildSyncWorld()
    worlds.push(w)
    await aliceNeedsPilot(w)
    const release = w.membership.hold()
    const started = await w.call('POST', '/sync/manual', { body: { guild_id: IDS.g1 } })
    const first = await w.store.getSyncRun(started.body.run_id)
    expect(first?.heartbeat_at).toBeNull()
    // The first beat (heartbeatInterval is 1 s in these worlds), as the store shows it.
    const beating = await until(async () => {
      const run = await w.store.getSyncRun(started.body.run_id)
      return run?.heartbeat_at === null ? null : run
    })
    expect(beating?.status).toBe('running')
    expect(beating?.heartbeat_at).toBeInstanceOf(Date)
    expect(Date.now() - (beating?.heartbeat_at as Date).getTime()).toBeLessThan(1_500)
    // A start-up sweep in another instance now would spare it.
    expect(await w.store.failStaleSyncRuns(new Date(Date.now() - 2_000), 'test sweep')).toBe(0)
    release()
    const done = await w.app.discord.sync.engine.waitFor(started.body.run_id, 10_000)
    expect(done?.status).toBe('completed')
    expect((await w.store.getSyncRun(started.body.run_id))?.status).toBe('completed')
  })
})

describe('shutdown', () => {
  it('cancels runs in progress and records them as interrupted, even while the host provider hangs', async () => {
    const db = new Database(':memory:')
    const w = await buildSyncWorld({ plugin: { store: { type: 'sqlite', database: db } } })
    await aliceNeedsPilot(w)
    w.membership.hold()
    const started = await w.call('POST', '/sync/manual', { body: { guild_id: IDS.g1 } })
    expect(started.status).toBe(202)
    await w.app.close()
    // The host's database outlives the plugin: read the record there.
    const after = await buildSyncWorld({ sim: w.sim, plugin: { store: { type: 'sqlite', database: db } } })
    worlds.push(after)
    const run = await after.store.getSyncRun(started.body.run_id)
    expect(run?.status).toBe('failed')
    expect(run?.results.errors.map((e) => e.error)).toContain('interrupted: the server is shutting down')
    expect(after.roles(IDS.g1, IDS.alice)).toEqual([])
    // The lock died with the instance: the guild can be synced again at once.
    after.membership.set(HOST.alice, ['pilots'])
    const again = await after.call('POST', '/sync/manual', { body: { guild_id: IDS.g1, wait: true } })
    expect(again.status).toBe(200)
    expect(after.roles(IDS.g1, IDS.alice)).toEqual([IDS.pilot])
  })
})
