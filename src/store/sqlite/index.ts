import type Database from 'better-sqlite3'
import type { SecretBox } from '../crypto.js'
import type { DiscordStore } from '../port/index.js'
import { AggregateStore } from '../aggregate-store.js'
import { SqliteAccounts } from './accounts.js'
import { SqliteContext } from './context.js'
import { SqliteGuilds } from './guilds.js'
import { SqliteMappings } from './mappings.js'
import { SqliteLeases } from './leases.js'
import { SqliteAccessLoss } from './access-loss.js'
import { SqliteOAuthStates } from './oauth-states.js'
import { SqliteSyncRuns } from './sync-runs.js'
import { SqliteTaskRuns } from './task-runs.js'
import { SqliteStats } from './stats.js'

export { MIGRATIONS, migrate, schemaVersion } from './migrations.js'
export type { Migration, MigrationOutcome } from './migrations.js'

export interface SqliteStoreOptions {
  /** Database file (its directory is created if missing) or ':memory:'. Ignored when `database` is given. */
  path: string
  secrets: SecretBox
  /** A handle owned by the host: used as is, never closed by the store. */
  database?: Database.Database
}

/**
 * The SQLite adapter: one object per aggregate over a shared connection context, and
 * this class the port they make up together. Each method hands the call to its aggregate.
 */
export class SqliteStore extends AggregateStore implements DiscordStore {
  readonly kind = 'sqlite'

  readonly #ctx: SqliteContext

  constructor (opts: SqliteStoreOptions) {
    const ctx = new SqliteContext({ path: opts.path, secrets: opts.secrets, database: opts.database })
    super({
      accounts: new SqliteAccounts(ctx),
      guilds: new SqliteGuilds(ctx),
      mappings: new SqliteMappings(ctx),
      syncRuns: new SqliteSyncRuns(ctx),
      taskRuns: new SqliteTaskRuns(ctx),
      oauthStates: new SqliteOAuthStates(ctx),
      leases: new SqliteLeases(ctx),
      accessLoss: new SqliteAccessLoss(ctx),
      stats: new SqliteStats(ctx)
    })
    this.#ctx = ctx
  }

  /** The database file, or null when it lives in memory. */
  get file (): string | null {
    return this.#ctx.file
  }

  // -------------------------------------------------------------- lifecycle

  async init (): Promise<void> {
    await this.#ctx.init()
  }

  async ping (): Promise<void> {
    this.#ctx.run(() => this.#ctx.get('SELECT 1'))
  }

  async close (): Promise<void> {
    this.#ctx.close()
  }

  changeMark (): string {
    return this.#ctx.changeMark()
  }

  /**
   * Copies WAL frames into the main file (PASSIVE: never waits for readers). Hosts
   * call it before a file-level backup; tests call it before reading the file.
   */
  checkpoint (): void {
    this.#ctx.run(() => this.#ctx.conn().pragma('wal_checkpoint(PASSIVE)'))
  }
}
