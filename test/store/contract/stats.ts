import { beforeEach, describe, expect, it } from 'vitest'
import type { DiscordStore, StoreAggregateName, StoreStats } from '../../../src/store/port/index.js'
import type { ContractFixture } from './fixture.js'

/** Size and row counts (GET /status for admins): every aggregate counted, growth visible in bytes. */
export function storeStatsContract (fx: ContractFixture): void {
  let store: DiscordStore
  beforeEach(() => {
    store = fx.store
  })

  const statsOf = async (s: DiscordStore): Promise<StoreStats> => {
    if (s.stats === undefined) throw new Error('both built-in adapters implement stats()')
    return await s.stats()
  }
  const rows = (s: StoreStats, aggregate: StoreAggregateName): number =>
    s.tables.filter((t) => t.aggregate === aggregate).reduce((n, t) => n + t.rows, 0)
  // Every backend has one table or collection per aggregate; SQLite alone keeps a link's guilds apart.
  const AGGREGATES: StoreAggregateName[] = ['accounts', 'guilds', 'mappings', 'sync_runs', 'audit', 'task_runs', 'oauth_states', 'leases', 'access_loss']

  describe('stats', () => {
    it('names one table per aggregate, all empty in a new store', async () => {
      const s = await statsOf(store)
      for (const a of AGGREGATES) expect(s.tables.filter((t) => t.aggregate === a), a).toHaveLength(1)
      for (const t of s.tables) {
        expect(t.name).toMatch(/^discord_/)
        // The sync-runs version is a bookkeeping row (SQLite creates it with the table).
        if (t.aggregate !== 'sync_runs_version') expect(t.rows, t.name).toBe(0)
      }
      expect(s.bytes === null || (Number.isInteger(s.bytes) && s.bytes >= 0)).toBe(true)
    })

    it('counts the rows each aggregate holds, and the bytes grow with them', async () => {
      const stats = async (): Promise<StoreStats> => await statsOf(store)
      const before = await stats()
      const guildId = await fx.guild()
      const users = [await store.createUser(fx.userInput()), await store.createUser(fx.userInput())]
      await store.createMapping(fx.mappingInput(guildId))
      const run = await store.createSyncRun({ sync_type: 'guild', target_id: guildId, initiated_by: 'contract' })
      const entry = { run_id: run.id, guild_id: guildId, discord_user_id: users[0]?.discord_user_id as string, user_id: users[0]?.user_id ?? null, role_id: '1', role_name: 'r', action: 'add' as const, mapping_id: null, outcome: 'applied' as const, error_code: null }
      await store.appendAudit([entry, entry, entry])
      const now = new Date()
      await store.recordTaskRun({ task: 'token_refresh', status: 'completed', reason: null, started_at: now, finished_at: now, duration_ms: 0, counts: {}, errors: [] })
      for (let i = 0; i < 4; i++) await store.createOAuthState({ state: `stats-state-${i}-${'x'.repeat(32)}`, flow: 'login', scopes: [], expires_at: new Date(Date.now() + 60_000) })
      if (store.claimLease !== undefined) await store.claimLease('stats-contract', 'me', 60_000)
      // A bulk of audit rows, so the size moves even on a backend that allocates in large pages.
      for (let i = 0; i < 20; i++) await store.appendAudit(Array.from({ length: 50 }, () => entry))

      const after = await stats()
      expect(rows(after, 'accounts')).toBe(2)
      expect(rows(after, 'guilds')).toBe(1)
      expect(rows(after, 'mappings')).toBe(1)
      expect(rows(after, 'sync_runs')).toBe(1)
      expect(rows(after, 'audit')).toBe(1003)
      expect(rows(after, 'task_runs')).toBe(1)
      expect(rows(after, 'oauth_states')).toBe(4)
      expect(rows(after, 'leases')).toBe(store.claimLease === undefined ? 0 : 1)
      if (before.bytes !== null && after.bytes !== null) expect(after.bytes).toBeGreaterThan(before.bytes)
      expect(after.tables.map((t) => t.name)).toEqual(before.tables.map((t) => t.name))
    })
  })
}
