import { find as mingoFind, Query, update as mingoUpdate } from 'mingo'
import { MongoBulkWriteError, MongoServerError, type BulkWriteResult } from 'mongodb'

/*
 * An in-process stand-in for the slice of the MongoDB driver's Db/Collection API that
 * MongoStore calls, so the adapter's own logic runs in every test even without a
 * server. Query, projection and update operators come from mingo (a MongoDB query
 * language implementation) instead of being re-implemented here. What mingo does not
 * cover is emulated deliberately and minimally:
 *
 * - unique indexes (including compound and the implicit `_id` index): a violation
 *   throws the driver's own MongoServerError (code 11000, keyPattern, keyValue, and a
 *   server-style message that quotes the value, as a real server does); insertMany
 *   throws the driver's MongoBulkWriteError with a write error, like an ordered bulk;
 * - TTL indexes: nothing expires on its own. `runTtlMonitor()` deletes what MongoDB's
 *   background monitor would on one pass; between passes expired documents remain,
 *   exactly as on a real server, so code must not rely on them being gone;
 * - documents are deep-cloned on the way in and out (a real database never shares
 *   object identity with the caller), and Dates stay Dates.
 *
 * It behaves as a standalone server: `hello` reports no replica set, so the adapter
 * takes its no-transaction path, and sessions are not supported. Anything else (an
 * unknown method, option or command) throws instead of silently doing something.
 */

export type Doc = Record<string, unknown>

export interface IndexDescription {
  v: 2
  key: Record<string, 1 | -1>
  name: string
  unique?: boolean
  expireAfterSeconds?: number
}

export interface ReadCall {
  method: 'find' | 'findOne' | 'findOneAndUpdate' | 'findOneAndDelete'
  projection: Doc | undefined
}

export interface CreateIndexCall {
  key: Record<string, 1 | -1>
  options: Record<string, unknown>
}

function clone<T> (value: T): T {
  return structuredClone(value)
}

function unsupported (what: string): never {
  throw new Error(`MongoDouble: ${what} is not supported by the test double`)
}

function allowOptions (method: string, options: unknown, allowed: readonly string[]): Record<string, unknown> {
  if (options === undefined) return {}
  if (typeof options !== 'object' || options === null) unsupported(`${method} options of type ${typeof options}`)
  for (const key of Object.keys(options)) {
    if (!allowed.includes(key)) unsupported(`${method} option "${key}"`)
  }
  return options as Record<string, unknown>
}

function getPath (doc: Doc, path: string): unknown {
  let cur: unknown = doc
  for (const part of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined
    cur = (cur as Doc)[part]
  }
  return cur
}

/** Index key equality as MongoDB sees it for the scalar types we store (missing equals null). */
function canonical (value: unknown): string {
  if (value === undefined || value === null) return 'null'
  if (value instanceof Date) return `date:${value.getTime()}`
  if (typeof value === 'number') return `num:${value}`
  if (typeof value === 'string') return `str:${value}`
  if (typeof value === 'boolean') return `bool:${value}`
  return `json:${JSON.stringify(value)}`
}

function defaultIndexName (key: Record<string, 1 | -1>): string {
  return Object.entries(key).map(([k, v]) => `${k}_${v}`).join('_')
}

function isOperatorUpdate (update: unknown): update is Doc {
  if (typeof update !== 'object' || update === null || Array.isArray(update)) return false
  const keys = Object.keys(update)
  return keys.length > 0 && keys.every((k) => k.startsWith('$'))
}

function serverError (fields: Doc): MongoServerError {
  return new MongoServerError({ ok: 0, ...fields } as ConstructorParameters<typeof MongoServerError>[0])
}

interface IndexState {
  name: string
  key: Record<string, 1 | -1>
  unique: boolean
  expireAfterSeconds?: number
}

interface FaultPlan { method: string, remaining: number, error: Error }

class CursorDouble {
  readonly #source: () => Doc[]
  readonly #filter: Doc
  #projection: Doc | undefined
  #sort: Doc | undefined
  #skip = 0
  #limit = 0

  readonly #onRead: (projection: Doc | undefined) => void

  constructor (source: () => Doc[], filter: Doc, projection: Doc | undefined, onRead: (projection: Doc | undefined) => void) {
    this.#source = source
    this.#filter = filter
    this.#projection = projection
    this.#onRead = onRead
  }

  sort (spec: Doc): this {
    if (typeof spec !== 'object' || spec === null || Array.isArray(spec)) unsupported('sort with a non-object spec')
    this.#sort = spec
    return this
  }

  skip (n: number): this {
    this.#skip = n
    return this
  }

  limit (n: number): this {
    this.#limit = n
    return this
  }

  project (projection: Doc): this {
    this.#projection = projection
    return this
  }

  async toArray (): Promise<Doc[]> {
    // mingo's cursor, like MongoDB's, applies sort, then skip, then limit, whatever the call order.
    this.#onRead(this.#projection)
    const cursor = mingoFind(this.#source(), this.#filter, this.#projection)
    if (this.#sort) cursor.sort(this.#sort)
    if (this.#skip > 0) cursor.skip(this.#skip)
    // limit(0) means "no limit" in MongoDB.
    if (this.#limit > 0) cursor.limit(this.#limit)
    return cursor.all().map((d) => clone(d as Doc))
  }
}

export class CollectionDouble {
  readonly collectionName: string
  readonly #dbName: string
  #docs: Doc[] = []
  readonly #indexes: IndexState[] = [{ name: '_id_', key: { _id: 1 }, unique: true }]
  readonly #faults: FaultPlan[] = []
  /** Every createIndex call, verbatim, for tests that pin the adapter's index definitions. */
  readonly createIndexCalls: CreateIndexCall[] = []
  /** Every read that returns documents, with the projection it used, so tests can check what was fetched. */
  readonly reads: ReadCall[] = []

  constructor (dbName: string, name: string) {
    this.#dbName = dbName
    this.collectionName = name
  }

  /**
   * Makes the `nth` next call of `method` (1 = the very next) throw `error` instead of
   * running, to exercise failure paths a real server produces only under load or faults.
   */
  failOnCall (method: string, nth: number, error: Error): void {
    this.#faults.push({ method, remaining: nth, error })
  }

  #checkFault (method: string): void {
    for (let i = 0; i < this.#faults.length; i++) {
      const f = this.#faults[i] as FaultPlan
      if (f.method !== method) continue
      f.remaining -= 1
      if (f.remaining === 0) {
        this.#faults.splice(i, 1)
        throw f.error
      }
    }
  }

  /** Raw stored documents (clones), in natural order. */
  rawDocuments (): Doc[] {
    return this.#docs.map(clone)
  }

  // ------------------------------------------------------------ uniqueness

  #keyOf (doc: Doc, index: IndexState): string {
    return JSON.stringify(Object.keys(index.key).map((path) => {
      const v = getPath(doc, path)
      if (Array.isArray(v)) unsupported(`a unique index over the array field "${path}"`)
      return canonical(v)
    }))
  }

  #duplicateKeyError (doc: Doc, index: IndexState): MongoServerError {
    const keyValue: Doc = {}
    for (const path of Object.keys(index.key)) keyValue[path] = getPath(doc, path) ?? null
    const shown = Object.entries(keyValue).map(([k, v]) => `${k}: ${JSON.stringify(v)}`).join(', ')
    return serverError({
      errmsg: `E11000 duplicate key error collection: ${this.#dbName}.${this.collectionName} index: ${index.name} dup key: { ${shown} }`,
      code: 11000,
      codeName: 'DuplicateKey',
      keyPattern: { ...index.key },
      keyValue
    })
  }

  /** Throws like the server when `candidate` would collide with any document other than the one at `selfIndex`. */
  #assertUnique (candidate: Doc, selfIndex: number): void {
    for (const index of this.#indexes) {
      if (!index.unique) continue
      const key = this.#keyOf(candidate, index)
      this.#docs.forEach((other, i) => {
        if (i !== selfIndex && this.#keyOf(other, index) === key) throw this.#duplicateKeyError(candidate, index)
      })
    }
  }

  #insert (doc: Doc): void {
    if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) unsupported('inserting a non-object')
    // The real driver would generate an ObjectId; the adapter always supplies its own UUID.
    if (doc._id === undefined) unsupported('insert without _id')
    const stored = clone(doc)
    this.#assertUnique(stored, -1)
    this.#docs.push(stored)
  }

  #firstIndex (filter: Doc): number {
    const q = new Query(filter)
    return this.#docs.findIndex((d) => q.test(d))
  }

  /** Applies an operator update to a copy, checks it like the server, then commits it. Returns [before, after]. */
  #updateAt (i: number, update: unknown): [Doc, Doc, boolean] {
    if (!isOperatorUpdate(update)) unsupported('replacement documents or pipelines in an update (use replaceOne)')
    const before = this.#docs[i] as Doc
    const after = clone(before)
    const changed = mingoUpdate(after, clone(update))
    if (canonical(after._id) !== canonical(before._id)) {
      throw serverError({ errmsg: "Performing an update on the path '_id' would modify the immutable field '_id'", code: 66, codeName: 'ImmutableField' })
    }
    this.#assertUnique(after, i)
    this.#docs[i] = after
    return [before, after, changed.length > 0]
  }

  #project (doc: Doc, projection: unknown): Doc {
    if (projection === undefined) return clone(doc)
    return clone(mingoFind([doc], {}, projection as Doc).all()[0] as Doc)
  }

  // ------------------------------------------------------------ driver API subset

  async insertOne (doc: Doc, options?: unknown): Promise<{ acknowledged: true, insertedId: unknown }> {
    this.#checkFault('insertOne')
    allowOptions('insertOne', options, [])
    this.#insert(doc)
    return { acknowledged: true, insertedId: doc._id }
  }

  async insertMany (docs: Doc[], options?: unknown): Promise<{ acknowledged: true, insertedCount: number, insertedIds: Record<number, unknown> }> {
    this.#checkFault('insertMany')
    const opts = allowOptions('insertMany', options, ['ordered'])
    if (opts.ordered === false) unsupported('insertMany with ordered: false')
    if (!Array.isArray(docs) || docs.length === 0) unsupported('insertMany without documents (the driver rejects it)')
    const insertedIds: Record<number, unknown> = {}
    for (let i = 0; i < docs.length; i++) {
      const doc = docs[i] as Doc
      try {
        this.#insert(doc)
      } catch (err) {
        if (!(err instanceof MongoServerError)) throw err
        // An ordered bulk stops at the first failure and reports it as a write error,
        // with the documents before it already inserted.
        const raw = { index: i, code: err.code, errmsg: err.message, keyPattern: err.keyPattern, keyValue: err.keyValue, op: doc }
        const writeError = { err: raw, get code () { return raw.code }, get index () { return raw.index }, get errmsg () { return raw.errmsg } }
        const result = { insertedCount: i, matchedCount: 0, modifiedCount: 0, deletedCount: 0, upsertedCount: 0, insertedIds, upsertedIds: {}, ok: 1 }
        throw new MongoBulkWriteError(
          { message: raw.errmsg, code: raw.code as number, writeErrors: [writeError as never] },
          result as unknown as BulkWriteResult
        )
      }
      insertedIds[i] = doc._id
    }
    return { acknowledged: true, insertedCount: docs.length, insertedIds }
  }

  async findOne (filter: Doc, options?: unknown): Promise<Doc | null> {
    this.#checkFault('findOne')
    const opts = allowOptions('findOne', options, ['projection'])
    this.reads.push({ method: 'findOne', projection: clone(opts.projection as Doc | undefined) })
    const i = this.#firstIndex(filter)
    return i === -1 ? null : this.#project(this.#docs[i] as Doc, opts.projection)
  }

  find (filter: Doc = {}, options?: unknown): CursorDouble {
    this.#checkFault('find')
    const opts = allowOptions('find', options, ['projection'])
    // The cursor reads at toArray() time, like a real cursor's first batch.
    return new CursorDouble(() => this.#docs, filter, opts.projection as Doc | undefined, (projection) => {
      this.reads.push({ method: 'find', projection: clone(projection) })
    })
  }

  async countDocuments (filter: Doc = {}, options?: unknown): Promise<number> {
    this.#checkFault('countDocuments')
    allowOptions('countDocuments', options, [])
    const q = new Query(filter)
    return this.#docs.filter((d) => q.test(d)).length
  }

  async findOneAndUpdate (filter: Doc, update: unknown, options?: unknown): Promise<Doc | null> {
    this.#checkFault('findOneAndUpdate')
    const opts = allowOptions('findOneAndUpdate', options, ['returnDocument', 'projection'])
    this.reads.push({ method: 'findOneAndUpdate', projection: clone(opts.projection as Doc | undefined) })
    const i = this.#firstIndex(filter)
    if (i === -1) return null
    const [before, after] = this.#updateAt(i, update)
    return this.#project(opts.returnDocument === 'after' ? after : before, opts.projection)
  }

  async findOneAndDelete (filter: Doc, options?: unknown): Promise<Doc | null> {
    this.#checkFault('findOneAndDelete')
    const opts = allowOptions('findOneAndDelete', options, ['projection'])
    this.reads.push({ method: 'findOneAndDelete', projection: clone(opts.projection as Doc | undefined) })
    const i = this.#firstIndex(filter)
    if (i === -1) return null
    const [removed] = this.#docs.splice(i, 1)
    return this.#project(removed as Doc, opts.projection)
  }

  async updateOne (filter: Doc, update: unknown, options?: unknown): Promise<{ acknowledged: true, matchedCount: number, modifiedCount: number, upsertedCount: 0, upsertedId: null }> {
    this.#checkFault('updateOne')
    allowOptions('updateOne', options, [])
    const i = this.#firstIndex(filter)
    if (i === -1) return { acknowledged: true, matchedCount: 0, modifiedCount: 0, upsertedCount: 0, upsertedId: null }
    const [, , modified] = this.#updateAt(i, update)
    return { acknowledged: true, matchedCount: 1, modifiedCount: modified ? 1 : 0, upsertedCount: 0, upsertedId: null }
  }

  async updateMany (filter: Doc, update: unknown, options?: unknown): Promise<{ acknowledged: true, matchedCount: number, modifiedCount: number, upsertedCount: 0, upsertedId: null }> {
    this.#checkFault('updateMany')
    allowOptions('updateMany', options, [])
    const q = new Query(filter)
    const targets = this.#docs.flatMap((d, i) => q.test(d) ? [i] : [])
    let modifiedCount = 0
    // One document at a time, like the server: a failure part-way leaves earlier documents updated.
    for (const i of targets) {
      const [, , modified] = this.#updateAt(i, update)
      if (modified) modifiedCount += 1
    }
    return { acknowledged: true, matchedCount: targets.length, modifiedCount, upsertedCount: 0, upsertedId: null }
  }

  async replaceOne (filter: Doc, replacement: Doc, options?: unknown): Promise<{ acknowledged: true, matchedCount: number, modifiedCount: number, upsertedCount: 0, upsertedId: null }> {
    this.#checkFault('replaceOne')
    allowOptions('replaceOne', options, [])
    if (typeof replacement !== 'object' || replacement === null || Object.keys(replacement).some((k) => k.startsWith('$'))) {
      unsupported('replaceOne with update operators')
    }
    const i = this.#firstIndex(filter)
    if (i === -1) return { acknowledged: true, matchedCount: 0, modifiedCount: 0, upsertedCount: 0, upsertedId: null }
    const current = this.#docs[i] as Doc
    const next = clone(replacement)
    if (next._id !== undefined && canonical(next._id) !== canonical(current._id)) {
      throw serverError({ errmsg: "After applying the update, the (immutable) field '_id' was found to have been altered", code: 66, codeName: 'ImmutableField' })
    }
    next._id = current._id
    this.#assertUnique(next, i)
    this.#docs[i] = next
    return { acknowledged: true, matchedCount: 1, modifiedCount: 1, upsertedCount: 0, upsertedId: null }
  }

  async deleteOne (filter: Doc, options?: unknown): Promise<{ acknowledged: true, deletedCount: number }> {
    this.#checkFault('deleteOne')
    allowOptions('deleteOne', options, [])
    const i = this.#firstIndex(filter)
    if (i !== -1) this.#docs.splice(i, 1)
    return { acknowledged: true, deletedCount: i === -1 ? 0 : 1 }
  }

  async deleteMany (filter: Doc, options?: unknown): Promise<{ acknowledged: true, deletedCount: number }> {
    this.#checkFault('deleteMany')
    allowOptions('deleteMany', options, [])
    const q = new Query(filter)
    const before = this.#docs.length
    this.#docs = this.#docs.filter((d) => !q.test(d))
    return { acknowledged: true, deletedCount: before - this.#docs.length }
  }

  async createIndex (key: Record<string, 1 | -1>, options?: unknown): Promise<string> {
    this.#checkFault('createIndex')
    const opts = allowOptions('createIndex', options, ['name', 'unique', 'expireAfterSeconds'])
    this.createIndexCalls.push({ key: clone(key), options: clone(opts) })
    const spec: IndexState = {
      name: typeof opts.name === 'string' ? opts.name : defaultIndexName(key),
      key: clone(key),
      unique: opts.unique === true
    }
    if (opts.expireAfterSeconds !== undefined) {
      if (Object.keys(key).length !== 1) {
        throw serverError({ errmsg: 'TTL indexes are single-field indexes, compound indexes do not support TTL', code: 67, codeName: 'CannotCreateIndex' })
      }
      spec.expireAfterSeconds = opts.expireAfterSeconds as number
    }
    const existing = this.#indexes.find((i) => i.name === spec.name)
    if (existing) {
      // Same name, same definition: a no-op, which is what makes init() idempotent on a real server.
      if (JSON.stringify(existing.key) !== JSON.stringify(spec.key)) {
        throw serverError({ errmsg: `An existing index has the same name as the requested index: ${spec.name}`, code: 86, codeName: 'IndexKeySpecsConflict' })
      }
      if (existing.unique !== spec.unique || existing.expireAfterSeconds !== spec.expireAfterSeconds) {
        throw serverError({ errmsg: `Index with name: ${spec.name} already exists with different options`, code: 85, codeName: 'IndexOptionsConflict' })
      }
      return spec.name
    }
    if (spec.unique) {
      const seen = new Map<string, Doc>()
      for (const d of this.#docs) {
        const k = this.#keyOf(d, spec)
        if (seen.has(k)) throw this.#duplicateKeyError(d, spec)
        seen.set(k, d)
      }
    }
    this.#indexes.push(spec)
    return spec.name
  }

  /** Same shape as the driver's `collection.indexes()`. */
  async indexes (): Promise<IndexDescription[]> {
    return this.#indexes.map((i) => {
      const out: IndexDescription = { v: 2, key: clone(i.key), name: i.name }
      // listIndexes does not flag the implicit _id index as unique.
      if (i.unique && i.name !== '_id_') out.unique = true
      if (i.expireAfterSeconds !== undefined) out.expireAfterSeconds = i.expireAfterSeconds
      return out
    })
  }

  /** One pass of the TTL monitor over this collection; returns how many documents it removed. */
  runTtlMonitor (now: Date): number {
    let removed = 0
    for (const index of this.#indexes) {
      if (index.expireAfterSeconds === undefined) continue
      const field = Object.keys(index.key)[0] as string
      // Only Date values (or arrays holding one) expire; the monitor ignores other types.
      const cutoff = new Date(now.getTime() - index.expireAfterSeconds * 1000)
      const q = new Query({ [field]: { $lt: cutoff } })
      const before = this.#docs.length
      this.#docs = this.#docs.filter((d) => !q.test(d))
      removed += before - this.#docs.length
    }
    return removed
  }

  // Everything else the driver offers is deliberately absent; calling it fails loudly.
  bulkWrite (): never { return unsupported('Collection.bulkWrite') }
  aggregate (): never { return unsupported('Collection.aggregate') }
  distinct (): never { return unsupported('Collection.distinct') }
  estimatedDocumentCount (): never { return unsupported('Collection.estimatedDocumentCount') }
  createIndexes (): never { return unsupported('Collection.createIndexes') }
  findOneAndReplace (): never { return unsupported('Collection.findOneAndReplace') }
  watch (): never { return unsupported('Collection.watch') }
}

export interface MongoDoubleOptions {
  /** Exposed as `db.client`, the way a real Db carries its MongoClient. Absent by default. */
  client?: unknown
}

export class MongoDouble {
  readonly databaseName: string
  readonly client: unknown
  readonly #collections = new Map<string, CollectionDouble>()
  /** Commands received, in order, for tests that check what was asked of the server. */
  readonly commands: Doc[] = []

  constructor (databaseName: string, options: MongoDoubleOptions = {}) {
    this.databaseName = databaseName
    this.client = options.client
  }

  collection (name: string, options?: unknown): CollectionDouble {
    allowOptions('Db.collection', options, [])
    let c = this.#collections.get(name)
    if (!c) {
      c = new CollectionDouble(this.databaseName, name)
      this.#collections.set(name, c)
    }
    return c
  }

  async command (cmd: Doc, options?: unknown): Promise<Doc> {
    allowOptions('Db.command', options, [])
    this.commands.push(clone(cmd))
    const [name] = Object.keys(cmd)
    if (name === 'ping') return { ok: 1 }
    // A standalone server's answer: no setName, no msg 'isdbgrid', so no transactions.
    if (name === 'hello') return { isWritablePrimary: true, maxWireVersion: 21, logicalSessionTimeoutMinutes: 30, ok: 1 }
    if (name === 'dbStats') return this.#dbStats()
    return unsupported(`Db.command(${String(name)})`)
  }

  /**
   * The double's best equivalent of dbStats: JSON bytes of every stored document as storage
   * (a real server stores compressed BSON pages, so only growth is comparable), no index bytes.
   */
  #dbStats (): Doc {
    let dataSize = 0
    let objects = 0
    for (const c of this.#collections.values()) {
      for (const d of c.rawDocuments()) { dataSize += Buffer.byteLength(JSON.stringify(d)); objects++ }
    }
    return { db: this.databaseName, collections: this.#collections.size, objects, dataSize, storageSize: dataSize, indexSize: 0, ok: 1 }
  }

  /**
   * Every collection name asked for through collection(). A real server lists a
   * collection only once it has been written to or indexed; the adapter indexes all of
   * its collections in init(), so for an initialised store the two agree.
   */
  collectionNames (): string[] {
    return [...this.#collections.keys()].sort()
  }

  /** One pass of MongoDB's TTL monitor over every collection. */
  runTtlMonitor (now: Date = new Date()): number {
    let removed = 0
    for (const c of this.#collections.values()) removed += c.runTtlMonitor(now)
    return removed
  }

  dropDatabase (): never { return unsupported('Db.dropDatabase') }
  listCollections (): never { return unsupported('Db.listCollections (use collectionNames())') }
}
