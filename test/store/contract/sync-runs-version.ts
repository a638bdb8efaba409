import { beforeEach, describe, expect, it } from 'vitest'
import type { DiscordStore, SyncRunRecord } from '../../../src/store/port/index.js'
import { byCreatedThenId, later, type ContractFixture } from './fixture.js'

/*
 * What GET /sync/status relies on to keep its summary instead of re-reading the runs: the
 * version rises with every change to the finished runs, whoever makes it, and stays put on a
 * running run's heartbeat. And the keyset cursor of the run list.
 */
export function syncRunsVersionContract (fx: ContractFixture): void {
  let store: DiscordStore
  let version: () => Promise<number>
  beforeEach(() => {
    store = fx.store
    const read = store.syncRunsVersion?.bind(store)
    if (read === undefined) throw new Error('the adapter must implement syncRunsVersion')
    version = read
  })

  describe('syncRunsVersion', () => {
    it('rises when a run is created, finishes or is changed after finishing; not on a heartbeat', async () => {
      const v0 = await version()
      const run = await store.createSyncRun({ sync_type: 'guild', target_id: '1', status: 'running', started_at: new Date(), initiated_by: 'system' })
      const v1 = await version()
      expect(v1).toBeGreaterThan(v0)
      await store.updateSyncRun(run.id, { heartbeat_at: new Date(), results: { ...run.results, users_processed: 3 } })
      expect(await version()).toBe(v1)
      await store.updateSyncRun(run.id, { status: 'completed', completed_at: new Date(), duration: 5 })
      const v2 = await version()
      expect(v2).toBeGreaterThan(v1)
      await store.updateSyncRun(run.id, { results: { ...run.results, users_failed: 1 } })
      expect(await version()).toBeGreaterThan(v2)
    })

    it('rises when stale runs are failed or finished runs pruned, and only then', async () => {
      const longAgo = new Date(Date.now() - 3_600_000)
      await store.createSyncRun({ sync_type: 'full', status: 'running', started_at: longAgo, initiated_by: 'system' })
      await store.createSyncRun({ sync_type: 'user', status: 'completed', initiated_by: 'system' })
      const v0 = await version()
      expect(await store.failStaleSyncRuns(new Date(Date.now() - 7_200_000), 'lost')).toBe(0)
      expect(await version()).toBe(v0)
      expect(await store.failStaleSyncRuns(new Date(Date.now() - 60_000), 'lost')).toBe(1)
      const v1 = await version()
      expect(v1).toBeGreaterThan(v0)
      expect(await store.pruneSyncRuns(new Date(Date.now() - 7_200_000))).toBe(0)
      expect(await version()).toBe(v1)
      expect(await store.pruneSyncRuns(new Date(Date.now() + 3_600_000))).toBe(2)
      expect(await version()).toBeGreaterThan(v1)
    })

    it('is shared by a second store over the same data', async () => {
      const other = await fx.harness.reopen(store, fx.secrets)
      try {
        const before = await other.syncRunsVersion?.()
        await store.createSyncRun({ sync_type: 'user', status: 'completed', initiated_by: 'system' })
        expect(await other.syncRunsVersion?.()).toBeGreaterThan(before as number)
      } finally {
        await other.close()
      }
    })
  })

  describe('listSyncRuns before (keyset cursor)', () => {
    it('pages through every run once, newest first, also across equal creation times', async () => {
      const made: SyncRunRecord[] = []
      for (let i = 0; i < 7; i++) {
        // Two runs per millisecond: the id breaks the tie, as the order says.
        if (i % 2 === 0) later()
        made.push(await store.createSyncRun({ sync_type: 'guild', target_id: String(i), initiated_by: 'system' }))
      }
      const expected = [...made].sort(byCreatedThenId).reverse().map((r) => r.id)
      const seen: string[] = []
      let before: { created_at: Date, id: string } | undefined
      for (let page = 0; page < 10; page++) {
        const runs = await store.listSyncRuns({ limit: 3, ...(before === undefined ? {} : { before }) })
        seen.push(...runs.map((r) => r.id))
        const last = runs.at(-1)
        if (runs.length < 3 || last === undefined) break
        before = { created_at: last.created_at, id: last.id }
      }
      expect(seen).toEqual(expected)
      const filtered = await store.listSyncRuns({ target_id: '3', before: { created_at: new Date(Date.now() + 60_000), id: '' } })
      expect(filtered.map((r) => r.target_id)).toEqual(['3'])
    })
  })
}
