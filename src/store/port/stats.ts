/** The aggregate a table or collection belongs to (SQLite keeps a link's guilds in a table of their own). */
export type StoreAggregateName =
  | 'accounts'
  | 'account_guilds'
  | 'guilds'
  | 'mappings'
  | 'sync_runs'
  | 'audit'
  | 'task_runs'
  | 'oauth_states'
  | 'leases'
  | 'access_loss'
  | 'sync_runs_version'

/** Rows of one table (SQLite) or documents of one collection (MongoDB). */
export interface StoreTableStats {
  /** The table or collection name as the backend has it (`discord_audit_log`; with MongoDB, the collection prefix included). */
  name: string
  aggregate: StoreAggregateName
  rows: number
}

/** How large the store is, so an operator sees growth (GET /status for admins). */
export interface StoreStats {
  /**
   * Bytes the store occupies. SQLite: page_count × page_size of the main file plus its WAL file;
   * MongoDB: dbStats storageSize + indexSize of the whole database (collections of the host's
   * included when it shares the database). Null when the backend would not say.
   */
  bytes: number | null
  /** Every table or collection of the module, in a fixed order. */
  tables: StoreTableStats[]
}

/**
 * Store size and row counts. Optional on the port, so a host-provided store written before it
 * keeps working (GET /status then reports no figures); both built-in adapters implement it.
 * Counts every row, so it costs a scan on large tables: only admins' status reads call it.
 */
export interface StoreStatsSource {
  stats (): Promise<StoreStats>
}
