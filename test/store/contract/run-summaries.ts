import { beforeEach, describe, expect, it } from 'vitest'
import { summariseRun, type DiscordStore, type SyncRunResults } from '../../../src/store/port/index.js'
import { later, type ContractFixture } from './fixture.js'

/** Run lists read as counts (GET /sync/runs): the same runs as listSyncRuns, results counted. */
export function runSummariesContract (fx: ContractFixture): void {
  let store: DiscordStore
  beforeEach(() => {
    store = fx.store
  })

  const results = (errors: number, guilds: number | null): SyncRunResults => ({
    users_processed: 10 + errors,
    users_synced: 7,
    users_failed: errors,
    roles_added: 5,
    roles_removed: 2,
    guilds_processed: guilds ?? 0,
    errors: Array.from({ length: errors }, (_, i) => ({ user_id: `h${i}`, discord_user_id: String(40 + i), guild_id: '7', error: 'Missing Permissions', code: 50013, occurred_at: new Date() })),
    ...(guilds === null
      ? {}
      : { guilds: Array.from({ length: guilds }, (_, i) => ({ guild_id: String(i), status: 'completed' as const, members_scanned: 3, members_to_change: 1, planned_changes: 1, blocked_changes: 0, roles_added: 1, roles_removed: 0, members_failed: 0, reason: null })) })
  })

  describe('run summaries', () => {
    it('lists the runs listSyncRuns lists, in its order and with its filters, the results as counts', async () => {
      const a = await store.createSyncRun({ sync_type: 'guild', target_id: 'g1', initiated_by: 'system' })
      later()
      const b = await store.createSyncRun({ sync_type: 'full', status: 'running', started_at: new Date(), initiated_by: 'admin' })
      await store.updateSyncRun(b.id, { status: 'completed', completed_at: new Date(), duration: 40, results: results(3, 2) })
      later()
      const c = await store.createSyncRun({ sync_type: 'guild', target_id: 'g1', dry_run: true, initiated_by: 'system' })
      await store.updateSyncRun(c.id, { status: 'failed', results: results(1, null) })
      await store.updateSyncRun(c.id, { heartbeat_at: new Date() }) // no results in the patch: the counts stay
      for (const q of [{}, { sync_type: 'guild' as const }, { target_id: 'g1', limit: 1 }, { status: 'completed' as const }, { before: { created_at: c.created_at, id: c.id } }]) {
        expect(await store.listSyncRunSummaries?.(q)).toEqual((await store.listSyncRuns(q)).map(summariseRun))
      }
      const [newest, middle, oldest] = await store.listSyncRunSummaries?.() ?? []
      expect(newest?.results).toEqual({ users_processed: 11, users_synced: 7, users_failed: 1, roles_added: 5, roles_removed: 2, guilds_processed: 0, errors_count: 1, guilds_count: 0 })
      expect(middle?.results).toMatchObject({ errors_count: 3, guilds_count: 2, guilds_processed: 2 })
      expect(oldest).toMatchObject({ id: a.id, results: { users_processed: 0, errors_count: 0, guilds_count: 0 } })
      expect(Object.keys(middle?.results ?? {})).not.toContain('errors')
    })

    it('counts the error a stale run is failed with', async () => {
      const longAgo = new Date(Date.now() - 3_600_000)
      const stale = await store.createSyncRun({ sync_type: 'full', status: 'running', started_at: longAgo, initiated_by: 'system' })
      await store.updateSyncRun(stale.id, { heartbeat_at: longAgo, results: results(2, 1) })
      expect(await store.failStaleSyncRuns(new Date(Date.now() - 60_000), 'worker lost')).toBe(1)
      const [s] = await store.listSyncRunSummaries?.() ?? []
      expect(s).toMatchObject({ id: stale.id, status: 'failed', results: { errors_count: 3, guilds_count: 1 } })
      expect(s).toEqual(summariseRun(await store.getSyncRun(stale.id) as NonNullable<Awaited<ReturnType<DiscordStore['getSyncRun']>>>))
    })
  })
}
