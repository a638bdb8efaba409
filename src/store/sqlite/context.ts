import { mkdirSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import type Database from 'better-sqlite3'
import { StoreUnavailableError } from '../../errors.js'
import type { SecretBox } from '../crypto.js'
import { translate, type SqliteErrorClass } from './errors.js'
import { importOptional } from '../../util/optional-import.js'
import { migrate } from './migrations.js'

export type Params = Record<string, unknown>

export interface SqliteContextOptions {
  path: string
  secrets: SecretBox
  database?: Database.Database | undefined
}

/**
 * What every SQLite aggregate shares: the connection (opened by `init`, closed by
 * `close`), the statement cache, the secrets, and the error translation wrapped
 * around every call. The driver is imported on `init`, so a host that never uses a
 * SQLite store never loads the native module.
 */
export class SqliteContext {
  readonly secrets: SecretBox
  readonly #path: string
  readonly #hostDb: Database.Database | undefined
  #driver: typeof Database | undefined
  #db: Database.Database | undefined
  #closed = false
  // Statement texts come from a closed set (fixed queries plus filter combinations),
  // so this cache is bounded; each text is compiled once per connection.
  readonly #statements = new Map<string, Database.Statement>()
  #inTx: Database.Transaction<(work: () => unknown) => unknown> | undefined

  constructor (opts: SqliteContextOptions) {
    this.#path = opts.path
    this.secrets = opts.secrets
    this.#hostDb = opts.database
  }

  async init (): Promise<void> {
    if (this.#closed) throw new StoreUnavailableError('the SQLite store has been closed')
    this.#driver ??= (await importOptional('better-sqlite3', 'store.type "sqlite" (the default store)', async () => await import('better-sqlite3'))).default
    if (this.#db === undefined) this.#db = this.#open(this.#driver)
    try {
      migrate(this.#db)
    } catch (err) {
      throw this.#translate(err)
    }
  }

  close (): void {
    if (this.#closed) return
    this.#closed = true
    this.#statements.clear()
    this.#inTx = undefined
    if (this.#db !== undefined && this.#db !== this.#hostDb) this.#db.close()
    this.#db = undefined
  }

  #open (Driver: typeof Database): Database.Database {
    if (this.#hostDb !== undefined) {
      // Journal mode and durability are the host's decisions for its own handle;
      // foreign keys are not optional for us (mapping integrity depends on them).
      this.#hostDb.pragma('foreign_keys = ON')
      if (this.#hostDb.pragma('foreign_keys', { simple: true }) !== 1) {
        throw new StoreUnavailableError('foreign keys cannot be enabled on the provided SQLite handle (is a transaction open?)')
      }
      return this.#hostDb
    }
    const inMemory = this.#path === ':memory:' || this.#path === ''
    if (!inMemory) {
      const dir = dirname(resolve(this.#path))
      try {
        mkdirSync(dir, { recursive: true })
      } catch (err) {
        throw new StoreUnavailableError(`cannot create the SQLite directory ${dir} (${(err as NodeJS.ErrnoException).code ?? 'error'})`, { cause: err })
      }
    }
    let db: Database.Database
    try {
      db = new Driver(this.#path)
    } catch (err) {
      throw this.#translate(err)
    }
    try {
      // WAL lets the status routes read while a sync run writes; NORMAL is durable
      // across application crashes in WAL mode and only risks the last commits on power loss.
      db.pragma('journal_mode = WAL')
      db.pragma('synchronous = NORMAL')
      db.pragma('foreign_keys = ON')
      db.pragma('busy_timeout = 5000')
    } catch (err) {
      db.close()
      throw this.#translate(err)
    }
    return db
  }

  #translate (err: unknown): unknown {
    return translate(err, this.#driver?.SqliteError as SqliteErrorClass | undefined)
  }

  /** The database file, or null for an in-memory database (or before init). */
  get file (): string | null {
    const db = this.#db
    return db === undefined || db.memory ? null : db.name
  }

  conn (): Database.Database {
    if (this.#db === undefined) {
      throw new StoreUnavailableError(this.#closed ? 'the SQLite store has been closed' : 'the SQLite store is not initialised (call init() first)')
    }
    return this.#db
  }

  #stmt (sql: string): Database.Statement {
    let s = this.#statements.get(sql)
    if (s === undefined) {
      s = this.conn().prepare(sql)
      this.#statements.set(sql, s)
    }
    return s
  }

  get<T> (sql: string, params: Params | unknown[] = []): T | undefined {
    return (Array.isArray(params) ? this.#stmt(sql).get(...params) : this.#stmt(sql).get(params)) as T | undefined
  }

  all<T> (sql: string, params: Params | unknown[] = []): T[] {
    return (Array.isArray(params) ? this.#stmt(sql).all(...params) : this.#stmt(sql).all(params)) as T[]
  }

  /**
   * The rows of a query whose only column is one JSON object per row (`jsonRow`), parsed: for
   * lists. better-sqlite3 builds a row object one property at a time, which for a page of 20
   * rows of 15 columns cost twice what SQLite's json_object plus one JSON.parse per row does
   * (and JSON columns embedded with json() are parsed in the same pass).
   */
  allJson<T> (sql: string, params: Params | unknown[] = []): T[] {
    let s = this.#statements.get(`json:${sql}`)
    if (s === undefined) {
      s = this.conn().prepare(sql).pluck()
      this.#statements.set(`json:${sql}`, s)
    }
    const texts = (Array.isArray(params) ? s.all(...params) : s.all(params)) as string[]
    const out = new Array<T>(texts.length)
    for (let i = 0; i < texts.length; i++) out[i] = JSON.parse(texts[i] as string) as T
    return out
  }

  /**
   * data_version moves when another connection commits, total_changes() when this one does
   * (data_version ignores its own connection's commits): together they see every change.
   */
  changeMark (): string {
    const [version, changes] = this.run(() => this.#stmt('SELECT data_version, total_changes() FROM pragma_data_version').raw().get()) as [number, number]
    return `${version}.${changes}`
  }

  exec (sql: string, params: Params | unknown[] = []): number {
    return (Array.isArray(params) ? this.#stmt(sql).run(...params) : this.#stmt(sql).run(params)).changes
  }

  /** Runs `fn` and turns a driver error into the port's error. */
  run<T> (fn: () => T): T {
    try {
      return fn()
    } catch (err) {
      throw this.#translate(err)
    }
  }

  /** Runs `fn` in a transaction (a savepoint when nested) and translates errors once. */
  tx<T> (fn: () => T): T {
    return this.run(() => {
      // One transaction function per connection, given the work as its argument: building one
      // per call (four wrapped functions and their properties) was a visible share of a read.
      this.#inTx ??= this.conn().transaction((work: () => unknown) => work())
      return this.#inTx(fn) as T
    })
  }
}
