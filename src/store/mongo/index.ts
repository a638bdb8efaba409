import type { Db } from 'mongodb'
import type { DiscordStore } from '../port/index.js'
import { AggregateStore } from '../aggregate-store.js'
import { MongoAccounts } from './accounts.js'
import { MongoContext, type MongoStoreOptions } from './context.js'
import { MongoGuilds } from './guilds.js'
import { MongoMappings } from './mappings.js'
import { MongoLeases } from './leases.js'
import { MongoAccessLoss } from './access-loss.js'
import { MongoOAuthStates } from './oauth-states.js'
import { MongoSyncRuns } from './sync-runs.js'
import { MongoTaskRuns } from './task-runs.js'
import { MongoStats } from './stats.js'

export type { MongoStoreOptions } from './context.js'
export { COLLECTION_SUFFIXES, INDEXES } from './indexes.js'
export type { IndexSpec, CollectionKey } from './indexes.js'

/**
 * The MongoDB adapter: one object per aggregate over a shared context (database,
 * collections, transactions), and this class the port they make up together (AggregateStore forwards each
 * method to its aggregate). Options are checked here, synchronously;
 * a store built from a `uri` loads the driver and creates its client in the background.
 */
export class MongoStore extends AggregateStore implements DiscordStore {
  readonly kind = 'mongodb'

  readonly #ctx: MongoContext

  constructor (options: MongoStoreOptions) {
    const ctx = new MongoContext(options)
    super({
      accounts: new MongoAccounts(ctx),
      guilds: new MongoGuilds(ctx),
      mappings: new MongoMappings(ctx),
      syncRuns: new MongoSyncRuns(ctx),
      taskRuns: new MongoTaskRuns(ctx),
      oauthStates: new MongoOAuthStates(ctx),
      leases: new MongoLeases(ctx),
      accessLoss: new MongoAccessLoss(ctx),
      stats: new MongoStats(ctx)
    })
    this.#ctx = ctx
  }

  /** The database this store writes to (for hosts and tests that need the handle); a `uri` store has it once `init()` resolved. */
  get db (): Db {
    return this.#ctx.db
  }

  // ------------------------------------------------------------ lifecycle

  async init (): Promise<void> {
    await this.#ctx.init()
  }

  async ping (): Promise<void> {
    await this.#ctx.ping()
  }

  async close (): Promise<void> {
    await this.#ctx.close()
  }
}
