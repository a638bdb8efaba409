import { statSync } from 'node:fs'
import type { StoreAggregateName, StoreStats, StoreStatsSource } from '../port/index.js'
import type { SqliteContext } from './context.js'

/** Every table of the schema (migrations.ts), with the aggregate it stores. */
const TABLES: ReadonlyArray<{ name: string, aggregate: StoreAggregateName }> = Object.freeze([
  { name: 'discord_users', aggregate: 'accounts' },
  { name: 'discord_user_guilds', aggregate: 'account_guilds' },
  { name: 'discord_guild_configs', aggregate: 'guilds' },
  { name: 'discord_role_mappings', aggregate: 'mappings' },
  { name: 'discord_sync_status', aggregate: 'sync_runs' },
  { name: 'discord_audit_log', aggregate: 'audit' },
  { name: 'discord_task_runs', aggregate: 'task_runs' },
  { name: 'discord_oauth_states', aggregate: 'oauth_states' },
  { name: 'discord_leases', aggregate: 'leases' },
  { name: 'discord_access_loss', aggregate: 'access_loss' },
  { name: 'discord_sync_runs_version', aggregate: 'sync_runs_version' }
])

/** Size and row counts of the SQLite store. */
export class SqliteStats implements StoreStatsSource {
  readonly #ctx: SqliteContext

  constructor (ctx: SqliteContext) {
    this.#ctx = ctx
  }

  async stats (): Promise<StoreStats> {
    return this.#ctx.run(() => {
      const db = this.#ctx.conn()
      // The main file's pages, free ones included: what the file holds on disk (an in-memory
      // database answers the same pragmas). Committed frames not yet checkpointed sit in the WAL.
      const pages = (db.pragma('page_count', { simple: true }) as number) * (db.pragma('page_size', { simple: true }) as number)
      const file = this.#ctx.file
      const tables = TABLES.map((t) => ({ ...t, rows: this.#ctx.get<{ n: number }>(`SELECT count(*) AS n FROM ${t.name}`)?.n ?? 0 }))
      return { bytes: pages + (file === null ? 0 : sizeOf(`${file}-wal`)), tables }
    })
  }
}

function sizeOf (path: string): number {
  try {
    return statSync(path).size
  } catch {
    // No WAL file: journal mode is not WAL (a host's handle) or nothing was written since a checkpoint truncated it.
    return 0
  }
}
