/*
 * The database and Redis handles a host may pass in, described by the members the plugin uses.
 *
 * The shipped declaration files must compile in a host that has not installed the optional
 * packages (`ioredis`, `mongodb`; `better-sqlite3` when another store is used), so the public types
 * cannot name the drivers' own types. An ioredis `Redis`, a mongodb `Db` / `MongoClient` and a
 * better-sqlite3 `Database` are each assignable to the interface below (test/package checks it),
 * and code inside the plugin narrows to the driver's type only where it calls the driver.
 */

/** An ioredis client (`new Redis(...)` or a `Cluster`), as far as the plugin calls it. */
export interface RedisConnection {
  /** ioredis's connection state: `wait`, `connecting`, `connect`, `ready`, `close`, `reconnecting`, `end`. */
  readonly status: string
  connect (): Promise<void>
  quit (): Promise<unknown>
  disconnect (reconnect?: boolean): void
  ping (): Promise<string>
  get (key: string): Promise<string | null>
  set (key: string, value: string, px: 'PX', milliseconds: number): Promise<unknown>
  set (key: string, value: string, px: 'PX', milliseconds: number, nx: 'NX'): Promise<unknown>
  del (...keys: string[]): Promise<number>
  eval (script: string, numKeys: number, ...args: Array<string | number>): Promise<unknown>
  evalsha (sha1: string, numKeys: number, ...args: Array<string | number>): Promise<unknown>
  on (event: string, listener: (...args: any[]) => void): this
  once (event: string, listener: (...args: any[]) => void): this
  off (event: string, listener: (...args: any[]) => void): this
}

/** A better-sqlite3 `Database` handle. */
export interface SqliteDatabase {
  readonly open: boolean
  readonly name: string
  readonly memory: boolean
  prepare (source: string): unknown
  exec (source: string): unknown
  pragma (source: string, options?: { simple?: boolean }): unknown
  close (): unknown
}

/** A mongodb `Db`. */
export interface MongoDatabase {
  readonly databaseName: string
  collection (name: string): unknown
}

/** A mongodb `MongoClient`. */
export interface MongoConnection {
  db (dbName?: string): unknown
  startSession (): unknown
}
