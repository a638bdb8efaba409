import type { Collection } from 'mongodb'
import type { StoreAggregateName, StoreStats, StoreStatsSource } from '../port/index.js'
import type { MongoContext } from './context.js'
import type { CollectionKey } from './indexes.js'

/** Every collection of the adapter (context.ts), with the aggregate it stores. */
const COLLECTIONS: ReadonlyArray<{ key: CollectionKey, aggregate: StoreAggregateName }> = Object.freeze([
  { key: 'users', aggregate: 'accounts' },
  { key: 'guilds', aggregate: 'guilds' },
  { key: 'mappings', aggregate: 'mappings' },
  { key: 'syncRuns', aggregate: 'sync_runs' },
  { key: 'audit', aggregate: 'audit' },
  { key: 'taskRuns', aggregate: 'task_runs' },
  { key: 'oauthStates', aggregate: 'oauth_states' },
  { key: 'leases', aggregate: 'leases' },
  { key: 'accessLoss', aggregate: 'access_loss' },
  { key: 'syncRunsVersion', aggregate: 'sync_runs_version' }
])

/** Size and document counts of the MongoDB store. */
export class MongoStats implements StoreStatsSource {
  readonly #ctx: MongoContext

  constructor (ctx: MongoContext) {
    this.#ctx = ctx
  }

  async stats (): Promise<StoreStats> {
    return await this.#ctx.run('stats', 'store', async () => {
      const tables = []
      for (const { key, aggregate } of COLLECTIONS) {
        const c = this.#ctx.c[key] as unknown as Collection
        tables.push({ name: c.collectionName, aggregate, rows: await c.countDocuments({}) })
      }
      return { bytes: await this.#bytes(), tables }
    })
  }

  /** dbStats covers the whole database; a user without the dbStats privilege gets null, not an error. */
  async #bytes (): Promise<number | null> {
    try {
      const s = await this.#ctx.db.command({ dbStats: 1 })
      const storage = Number(s.storageSize)
      const indexes = Number(s.indexSize ?? 0)
      return Number.isFinite(storage) && Number.isFinite(indexes) ? storage + indexes : null
    } catch {
      return null
    }
  }
}
