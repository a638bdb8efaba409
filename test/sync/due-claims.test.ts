import { afterEach, describe, expect, it } from 'vitest'
import Database from 'better-sqlite3'
import { RoleSyncTask, type RoleSyncTick } from '../../src/tasks/role-sync.js'
import { buildSyncWorld, HOST, IDS, type SyncWorld } from './helpers.js'

/*
 * Several instances on one store without Redis: each keeps its own guild locks, so only the
 * store can decide who starts a due guild sync. The claim (a lease per guild, one interval long)
 * makes N instances ticking at once start it exactly once.
 */

const worlds: SyncWorld[] = []
afterEach(async () => {
  for (const w of worlds.splice(0).reverse()) await w.close()
})

async function instances (n: number): Promise<SyncWorld[]> {
  const db = new Database(':memory:')
  const first = await buildSyncWorld({ plugin: { store: { type: 'sqlite', database: db } } })
  worlds.push(first)
  for (let i = 1; i < n; i++) worlds.push(await buildSyncWorld({ sim: first.sim, plugin: { store: { type: 'sqlite', database: db } } }))
  await first.guild(IDS.g1, 'Alpha Guild', { sync_interval: '15m' })
  await first.mapping({ group_id: 'pilots', discord_role_id: IDS.pilot })
  first.sim.state.addMember(IDS.g1, IDS.alice)
  await first.link(HOST.alice, IDS.alice)
  for (const w of worlds) w.membership.set(HOST.alice, ['pilots'])
  return [...worlds]
}

const taskOf = (w: SyncWorld, now?: () => Date): RoleSyncTask =>
  new RoleSyncTask({ engine: w.app.discord.sync.engine, store: w.store, defaultIntervalMs: 15 * 60_000, log: w.app.log, ...(now === undefined ? {} : { now }) })

describe('due guild syncs claimed in the store', () => {
  it('three instances ticking at once start the due guild once; the others see it claimed', async () => {
    const all = await instances(3)
    const ticks: RoleSyncTick[] = await Promise.all(all.map((w) => taskOf(w).tick()))
    expect(ticks.flatMap((t) => t.started)).toHaveLength(1)
    expect(ticks.flatMap((t) => t.claimed)).toEqual([IDS.g1, IDS.g1])
    const [first] = all as [SyncWorld]
    const run = ticks.flatMap((t) => t.started)[0] as { run_id: string }
    const done = ticks.findIndex((t) => t.started.length > 0)
    expect((await (all[done] as SyncWorld).app.discord.sync.engine.waitFor(run.run_id, 10_000))?.status).toBe('completed')
    expect(await first.store.listSyncRuns({ sync_type: 'guild' })).toHaveLength(1)
    expect(first.roles(IDS.g1, IDS.alice)).toEqual([IDS.pilot])
  })

  it('the claim lapses with the interval: the guild is due again one interval later, once', async () => {
    const all = await instances(2)
    let now = Date.now()
    const tasks = all.map((w) => taskOf(w, () => new Date(now)))
    const first = await Promise.all(tasks.map((t) => t.tick()))
    const started = first.flatMap((t) => t.started)
    expect(started).toHaveLength(1)
    const runner = all[first.findIndex((t) => t.started.length > 0)] as SyncWorld
    await runner.app.discord.sync.engine.waitFor((started[0] as { run_id: string }).run_id, 10_000)
    // Not due yet on the next tick, on any instance.
    expect((await Promise.all(tasks.map((t) => t.tick()))).flatMap((t) => t.started)).toEqual([])
    now += 15 * 60_000 + 1_000
    const again = await Promise.all(tasks.map((t) => t.tick()))
    expect(again.flatMap((t) => t.started)).toHaveLength(1)
    expect(again.flatMap((t) => t.claimed)).toEqual([IDS.g1])
  })

  it('a guild locked by a manual run is not left claimed: the next tick retries it', async () => {
    const [w] = await instances(1) as [SyncWorld]
    const release = w.membership.hold()
    const manual = await w.call('POST', '/sync/manual', { body: { guild_id: IDS.g1 } })
    expect(manual.status).toBe(202)
    // Past the manual run's interval, so the guild is due while the manual run still holds the lock.
    const task = taskOf(w, () => new Date(Date.now() + 3_600_000))
    expect((await task.tick()).locked).toEqual([IDS.g1])
    expect(await w.store.getLease?.(`due:guild:${IDS.g1}`)).toBeNull()
    release()
    await w.app.discord.sync.engine.waitFor(manual.body.run_id ?? manual.body.run?.id, 10_000)
    expect((await task.tick()).started).toHaveLength(1)
  })
})
