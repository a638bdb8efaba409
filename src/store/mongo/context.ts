import type { ClientSession, Collection, Db, MongoClient } from 'mongodb'
import { InvalidOptionsError, StoreUnavailableError } from '../../errors.js'
import type { SecretBox } from '../crypto.js'
import type { AccessLossDoc, AuditDoc, GuildDoc, LeaseDoc, MappingDoc, OAuthStateDoc, SyncRunDoc, SyncRunsVersionDoc, TaskRunDoc, UserDoc } from './documents.js'
import { toStoreError } from './errors.js'
import { COLLECTION_SUFFIXES, INDEXES, type CollectionKey } from './indexes.js'
import { importOptional } from '../../util/optional-import.js'

export interface MongoStoreOptions {
  /** The host's database handle. Never closed by the store. */
  db?: Db
  /** The host's client; `dbName` picks the database. Never closed by the store. */
  client?: MongoClient
  /** A connection string; the store opens its own client and closes it in `close()`. */
  uri?: string
  /** Required with `client` or `uri`. */
  dbName?: string
  secrets: SecretBox
  /** Prefix of every collection name. Default `discord_`. */
  collectionPrefix?: string
}

export interface Collections {
  users: Collection<UserDoc>
  guilds: Collection<GuildDoc>
  mappings: Collection<MappingDoc>
  syncRuns: Collection<SyncRunDoc>
  taskRuns: Collection<TaskRunDoc>
  oauthStates: Collection<OAuthStateDoc>
  audit: Collection<AuditDoc>
  leases: Collection<LeaseDoc>
  syncRunsVersion: Collection<SyncRunsVersionDoc>,
  accessLoss: Collection<AccessLossDoc>
}

const DEFAULT_PREFIX = 'discord_'

/** Passes `session` to a driver call only when there is one, so the no-transaction path sends no session option at all. */
export function withSession<T extends object> (options: T, session: ClientSession | undefined): T & { session?: ClientSession } {
  return session ? { ...options, session } : options
}

function invalid (message: string): Error {
  return new InvalidOptionsError(`mongodb: ${message}`)
}

/**
 * What every MongoDB aggregate shares: the database and its collections, the secrets,
 * the transaction probe, and the error mapping around every call.
 *
 * Only a store built from a `uri` needs the driver itself (to create its MongoClient);
 * it is imported then, and only then, so a host that never configures MongoDB never
 * loads `mongodb`. Until that client exists every call waits for it.
 */
export class MongoContext {
  readonly secrets: SecretBox
  readonly #prefix: string
  #db: Db | undefined
  #collections: Collections | undefined
  /** Used to start sessions; absent when the host handed us a bare Db without a client. */
  #client: MongoClient | undefined
  /** Set only when we created the client from `uri`, and therefore own its lifetime. */
  #ownedClient: MongoClient | undefined
  /** Pending while the client for a `uri` is being created; rejects with the option error for a malformed one. */
  readonly #opening: Promise<void> | undefined
  #transactions: Promise<boolean> | undefined

  constructor (options: MongoStoreOptions) {
    if (typeof options !== 'object' || options === null) throw invalid('options object is required')
    const { db, client, uri, dbName, secrets } = options
    const given = [db, client, uri].filter((v) => v !== undefined && v !== null).length
    if (given !== 1) throw invalid('exactly one of db, client or uri is required')
    // Duck-typed rather than instanceof: with a dual CJS/ESM build a host can hold a
    // SecretBox from the other module copy, which is just as valid.
    const box = secrets as Partial<SecretBox> | undefined
    if (typeof box?.seal !== 'function' || typeof box.open !== 'function') throw invalid('secrets must be a SecretBox')
    const prefix = options.collectionPrefix ?? DEFAULT_PREFIX
    if (typeof prefix !== 'string' || /[$\0]/.test(prefix) || prefix.startsWith('system.')) {
      throw invalid('collectionPrefix must be a string without "$" or NUL and must not start with "system."')
    }
    this.secrets = secrets
    this.#prefix = prefix

    if (db !== undefined && db !== null) {
      // A dbName next to db would be silently ignored; refusing it avoids writing to an unexpected database.
      if (dbName !== undefined) throw invalid('dbName is only used with client or uri')
      this.#client = (db as { client?: MongoClient }).client
      this.#use(db)
      return
    }
    if (typeof dbName !== 'string' || dbName.length === 0) throw invalid('dbName is required with client or uri')
    if (uri !== undefined && uri !== null) {
      if (typeof uri !== 'string' || uri.length === 0) throw invalid('uri must be a non-empty string')
      this.#opening = this.#open(uri, dbName)
      // Reported to whoever waits for it (init, any call, close); never an unhandled rejection.
      this.#opening.catch(() => {})
      return
    }
    this.#client = client as MongoClient
    this.#use(this.#client.db(dbName))
  }

  async #open (uri: string, dbName: string): Promise<void> {
    const { MongoClient } = await importOptional('mongodb', 'store.type "mongodb" with store.uri', async () => await import('mongodb'))
    let client: MongoClient
    // The driver connects lazily on first use, so constructing here cannot fail on reachability,
    // only on a malformed string: an option error, reported without the string (it may hold a password).
    try {
      client = new MongoClient(uri)
    } catch {
      throw new InvalidOptionsError('"store.uri": is not a valid MongoDB connection string (check the host list, ports and options)')
    }
    this.#ownedClient = client
    this.#client = client
    this.#use(client.db(dbName))
  }

  #use (db: Db): void {
    this.#db = db
    const name = (key: CollectionKey): string => `${this.#prefix}${COLLECTION_SUFFIXES[key]}`
    this.#collections = {
      users: db.collection<UserDoc>(name('users')),
      guilds: db.collection<GuildDoc>(name('guilds')),
      mappings: db.collection<MappingDoc>(name('mappings')),
      syncRuns: db.collection<SyncRunDoc>(name('syncRuns')),
      taskRuns: db.collection<TaskRunDoc>(name('taskRuns')),
      oauthStates: db.collection<OAuthStateDoc>(name('oauthStates')),
      audit: db.collection<AuditDoc>(name('audit')),
      leases: db.collection<LeaseDoc>(name('leases')),
      syncRunsVersion: db.collection<SyncRunsVersionDoc>(name('syncRunsVersion')),
      accessLoss: db.collection<AccessLossDoc>(name('accessLoss'))
    }
  }

  /** The database; for a `uri` store, once its client exists (after `init()`). */
  get db (): Db {
    if (this.#db === undefined) throw new StoreUnavailableError('the MongoDB store is not initialised (call init() first)')
    return this.#db
  }

  get c (): Collections {
    if (this.#collections === undefined) throw new StoreUnavailableError('the MongoDB store is not initialised (call init() first)')
    return this.#collections
  }

  /** Runs `fn` once the database is there, and maps driver errors to the port's. */
  async run<T> (op: string, entity: string, fn: () => Promise<T>): Promise<T> {
    try {
      if (this.#opening !== undefined) await this.#opening
      return await fn()
    } catch (err) {
      throw toStoreError(err, op, entity)
    }
  }

  /**
   * Multi-document transactions need a replica set or a sharded cluster, and a client
   * to start sessions from. A standalone server accepts sessions but rejects
   * transactions, so we ask the server what it is rather than trying and failing.
   */
  async supportsTransactions (): Promise<boolean> {
    if (this.#client === undefined) return false
    this.#transactions ??= this.db.command({ hello: 1 }).then((hello) =>
      (typeof hello.setName === 'string' || hello.msg === 'isdbgrid') && hello.logicalSessionTimeoutMinutes != null)
    try {
      return await this.#transactions
    } catch (err) {
      // Do not remember a failed probe: the next call asks again once the server is back.
      this.#transactions = undefined
      throw err
    }
  }

  async inTransaction<T> (fn: (session: ClientSession) => Promise<T>): Promise<T> {
    const session = (this.#client as MongoClient).startSession()
    try {
      // withTransaction retries the callback on transient errors, so callbacks must be re-runnable.
      return await session.withTransaction(fn, {
        readConcern: { level: 'snapshot' },
        writeConcern: { w: 'majority' },
        readPreference: 'primary'
      })
    } finally {
      await session.endSession()
    }
  }

  // ------------------------------------------------------------ lifecycle

  async init (): Promise<void> {
    await this.run('init', 'index', async () => {
      for (const key of Object.keys(INDEXES) as CollectionKey[]) {
        const coll = this.c[key] as unknown as Collection
        for (const spec of INDEXES[key]) {
          const opts: { name: string, unique?: boolean, expireAfterSeconds?: number } = { name: spec.name }
          if (spec.unique) opts.unique = true
          if (spec.expireAfterSeconds !== undefined) opts.expireAfterSeconds = spec.expireAfterSeconds
          await coll.createIndex(spec.key, opts)
        }
      }
    })
  }

  async ping (): Promise<void> {
    if (this.#opening !== undefined) await this.#opening
    try {
      await this.db.command({ ping: 1 })
    } catch (err) {
      // Connection errors can quote the host list; the message stays generic and the detail travels as cause.
      throw new StoreUnavailableError('MongoDB ping failed', { cause: err })
    }
  }

  async close (): Promise<void> {
    // A client still being created is ours to close as soon as it exists; one that could not be created needs nothing.
    if (this.#opening !== undefined) await this.#opening.catch(() => {})
    if (this.#ownedClient !== undefined) await this.#ownedClient.close()
  }
}
