import { randomUUID } from 'node:crypto'
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest'
import { MongoBulkWriteError, MongoClient, MongoNetworkError, MongoServerError, type BulkWriteResult, type Db } from 'mongodb'
import { SecretBox, generateKey } from '../../src/store/crypto.js'
import { MongoStore, type MongoStoreOptions } from '../../src/store/mongo/index.js'
import { toStoreError } from '../../src/store/mongo/errors.js'
import { summariseRun, type DiscordStore } from '../../src/store/port/index.js'
import { describeStoreContract, type StoreHarness } from './contract.js'
import { MongoDouble, type Doc } from './mongo-double.js'

/*
 * MongoStore runs the shared store contract against a real MongoDB when MONGODB_URI
 * is set (one database per test, dropped afterwards), and always against the
 * in-process double, which lets the adapter's own logic (index definitions, error
 * mapping, the no-transaction batch path and its rollback) run on every machine.
 */

const MONGODB_URI = process.env.MONGODB_URI

function box (): SecretBox {
  return new SecretBox(generateKey())
}

function asDb (double: MongoDouble): Db {
  return double as unknown as Db
}

// ------------------------------------------------------------ harnesses

function doubleHarness (): StoreHarness {
  const dbOf = new WeakMap<DiscordStore, MongoDouble>()
  return {
    async create (secrets) {
      const db = new MongoDouble(`fds_${randomUUID()}`)
      const store = new MongoStore({ db: asDb(db), secrets })
      await store.init()
      dbOf.set(store, db)
      return store
    },
    async reopen (store, secrets) {
      const db = dbOf.get(store)
      if (!db) throw new Error('reopen: unknown store')
      const again = new MongoStore({ db: asDb(db), secrets })
      await again.init()
      dbOf.set(again, db)
      return again
    },
    async rawDump (store) {
      const db = dbOf.get(store)
      if (!db) throw new Error('rawDump: unknown store')
      return db.collectionNames()
        .map((name) => JSON.stringify({ collection: name, documents: db.collection(name).rawDocuments() }))
        .join('\n')
    }
  }
}

/** A real server: one shared client, one database per test, dropped after each test. */
function realHarness (uri: string): { harness: StoreHarness, client: MongoClient, freshDbName: () => string } {
  const client = new MongoClient(uri)
  const created: string[] = []
  const dbOf = new WeakMap<DiscordStore, Db>()
  const freshDbName = (): string => {
    const name = `fds_test_${process.pid}_${randomUUID().slice(0, 8)}`
    created.push(name)
    return name
  }
  afterEach(async () => {
    while (created.length > 0) await client.db(created.pop() as string).dropDatabase()
  })
  afterAll(async () => {
    await client.close()
  })
  const harness: StoreHarness = {
    async create (secrets) {
      const dbName = freshDbName()
      const store = new MongoStore({ client, dbName, secrets })
      await store.init()
      dbOf.set(store, client.db(dbName))
      return store
    },
    async reopen (store, secrets) {
      const db = dbOf.get(store)
      if (!db) throw new Error('reopen: unknown store')
      const again = new MongoStore({ client, dbName: db.databaseName, secrets })
      await again.init()
      dbOf.set(again, db)
      return again
    },
    async rawDump (store) {
      const db = dbOf.get(store)
      if (!db) throw new Error('rawDump: unknown store')
      const names = (await db.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name).sort()
      const parts: string[] = []
      for (const name of names) {
        parts.push(JSON.stringify({ collection: name, documents: await db.collection(name).find({}).toArray() }))
      }
      return parts.join('\n')
    }
  }
  return { harness, client, freshDbName }
}

const real = MONGODB_URI ? realHarness(MONGODB_URI) : undefined

if (real) {
  describeStoreContract('mongodb', real.harness)
} else {
  console.log('\n[mongo] MONGODB_URI is unset: the store contract suite against a REAL MongoDB did not run (it is not registered). ' +
    'Only the in-process double (backend "mongodb-double") is tested here.\n')
  describeStoreContract('mongodb-double', doubleHarness())
}

// ------------------------------------------------------------ MongoDB-specific behaviour

const PREFIX = 'discord_'

/** The index set the adapter must create, written out here so a change to it is a visible test change. */
const EXPECTED_INDEXES: Record<string, Array<{ name: string, key: Record<string, number>, unique?: true, expireAfterSeconds?: number }>> = {
  discord_users: [
    { name: 'uniq_discord_user_id', key: { discord_user_id: 1 }, unique: true },
    { name: 'user_id', key: { user_id: 1 } },
    { name: 'created_at_id', key: { created_at: 1, _id: 1 } },
    { name: 'guilds_id', key: { 'guilds.id': 1 } },
    { name: 'token_expires_at', key: { token_expires_at: 1 } }
  ],
  discord_guild_configs: [
    { name: 'uniq_guild_id', key: { guild_id: 1 }, unique: true }
  ],
  discord_role_mappings: [
    { name: 'uniq_guild_group_role', key: { guild_id: 1, group_id: 1, discord_role_id: 1 }, unique: true },
    { name: 'guild_priority', key: { guild_id: 1, priority: 1 } }
  ],
  discord_sync_status: [
    { name: 'status_heartbeat', key: { status: 1, heartbeat_at: 1 } },
    { name: 'type_target_created', key: { sync_type: 1, target_id: 1, created_at: 1 } },
    { name: 'created_at', key: { created_at: 1 } }
  ],
  discord_task_runs: [
    { name: 'task_started_id', key: { task: 1, started_at: 1, _id: 1 } }
  ],
  discord_oauth_states: [
    { name: 'uniq_state', key: { state: 1 }, unique: true },
    { name: 'ttl_expires_at', key: { expires_at: 1 }, expireAfterSeconds: 0 }
  ],
  discord_audit_log: [
    { name: 'guild_created', key: { guild_id: 1, created_at: 1, _id: 1 } },
    { name: 'discord_user_created', key: { discord_user_id: 1, created_at: 1, _id: 1 } },
    { name: 'user_created', key: { user_id: 1, created_at: 1, _id: 1 } },
    { name: 'run_id', key: { run_id: 1 } },
    { name: 'created_at_id', key: { created_at: 1, _id: 1 } }
  ],
  // Leases are found by name (_id) only.
  discord_leases: [],
  discord_sync_runs_version: [],
  discord_access_loss: [
    { name: 'guild_member', key: { guild_id: 1, discord_user_id: 1 } },
    { name: 'guild_seen', key: { guild_id: 1, seen_at: 1 } }
  ]
}

interface CodedError { code?: unknown, statusCode?: unknown, message: string, cause?: unknown }

async function rejectionOf (p: Promise<unknown>): Promise<CodedError> {
  try {
    await p
  } catch (err) {
    return err as CodedError
  }
  throw new Error('expected the operation to reject, but it resolved')
}

async function doubleStore (options: Partial<MongoStoreOptions> = {}): Promise<{ store: MongoStore, db: MongoDouble }> {
  const db = new MongoDouble(`fds_${randomUUID()}`)
  const store = new MongoStore({ db: asDb(db), secrets: box(), ...options })
  await store.init()
  return { store, db }
}

function sortedById (docs: Doc[]): Doc[] {
  return [...docs].sort((a, b) => String(a._id) < String(b._id) ? -1 : 1)
}

describe('MongoStore: indexes', () => {
  it('creates exactly the expected indexes at init (double: what createIndex received)', async () => {
    const { db } = await doubleStore()
    expect(db.collectionNames()).toEqual(Object.keys(EXPECTED_INDEXES).sort())
    for (const [name, expected] of Object.entries(EXPECTED_INDEXES)) {
      const calls = db.collection(name).createIndexCalls.map((c) => ({ name: c.options.name, key: c.key, ...c.options }))
      expect(calls, name).toEqual(expected.map((e) => ({ ...e })))
    }
    const ttl = (await db.collection('discord_oauth_states').indexes()).find((i) => i.name === 'ttl_expires_at')
    expect(ttl).toEqual({ v: 2, key: { expires_at: 1 }, name: 'ttl_expires_at', expireAfterSeconds: 0 })
  })

  it('is idempotent: a second init() re-declares the same indexes without error', async () => {
    const { store, db } = await doubleStore()
    const before = await db.collection('discord_role_mappings').indexes()
    await store.init()
    expect(await db.collection('discord_role_mappings').indexes()).toEqual(before)
  })

  it('derives every collection name from collectionPrefix', async () => {
    const { db } = await doubleStore({ collectionPrefix: 'tenant7_' })
    expect(db.collectionNames()).toEqual(Object.keys(EXPECTED_INDEXES).map((n) => n.replace(PREFIX, 'tenant7_')).sort())
  })

  if (real) {
    const r = real
    it('creates the expected indexes on a real server', async () => {
      const dbName = r.freshDbName()
      const store = new MongoStore({ client: r.client, dbName, secrets: box() })
      await store.init()
      for (const [name, expected] of Object.entries(EXPECTED_INDEXES)) {
        const got = (await r.client.db(dbName).collection(name).indexes())
          .filter((i) => i.name !== '_id_')
          .map((i) => {
            const out: Record<string, unknown> = { name: i.name, key: i.key }
            if (i.unique === true) out.unique = true
            if (i.expireAfterSeconds !== undefined) out.expireAfterSeconds = i.expireAfterSeconds
            return out
          })
        expect(got, name).toEqual(expected.map((e) => ({ ...e })))
      }
      await store.close()
    })
  }
})

describe('MongoStore: duplicate keys become FST_DISCORD_CONFLICT', () => {
  it('names the field, never the value, for a duplicate guild', async () => {
    const { store } = await doubleStore()
    const guildId = `guild-${randomUUID()}`
    await store.createGuild({ guild_id: guildId, guild_name: 'One' })
    const err = await rejectionOf(store.createGuild({ guild_id: guildId, guild_name: 'Two' }))
    expect(err.code).toBe('FST_DISCORD_CONFLICT')
    expect(err.statusCode).toBe(409)
    expect(err.message).toContain('guild_id')
    expect(err.message).not.toContain(guildId)
    // The driver error quotes the value, so it must not travel along as the cause either.
    expect(err.cause).toBeUndefined()
  })

  it('does not echo an OAuth state value', async () => {
    const { store } = await doubleStore()
    const state = `secret-state-${randomUUID()}`
    const expires_at = new Date(Date.now() + 60_000)
    await store.createOAuthState({ state, flow: 'login', scopes: [], expires_at })
    const err = await rejectionOf(store.createOAuthState({ state, flow: 'login', scopes: [], expires_at }))
    expect(err.code).toBe('FST_DISCORD_CONFLICT')
    expect(err.message).toContain('state')
    expect(err.message).not.toContain(state)
  })

  it('recognises the shapes the driver uses: single write, bulk write error, index name only', () => {
    const single = new MongoServerError({ message: 'E11000 duplicate key error collection: x.discord_users index: uniq_discord_user_id dup key: { discord_user_id: "123" }', code: 11000, keyPattern: { discord_user_id: 1 }, keyValue: { discord_user_id: '123' } })
    const s = toStoreError(single, 'createUser', 'Discord user') as CodedError
    expect(s.code).toBe('FST_DISCORD_CONFLICT')
    expect(s.message).toBe('A Discord user with the same discord_user_id already exists')

    // insertMany / bulkWrite, as the driver builds it: the code is copied from the first
    // write error and the detail (keyPattern) lives on the write error's raw `err`.
    const raw = { index: 1, code: 11000, errmsg: 'E11000 duplicate key error collection: x.discord_role_mappings index: uniq_guild_group_role dup key: { guild_id: "1", group_id: "g", discord_role_id: "2" }', keyPattern: { guild_id: 1, group_id: 1, discord_role_id: 1 }, errInfo: {}, op: {} }
    const writeError = { err: raw, get code () { return raw.code }, get errmsg () { return raw.errmsg } }
    const bulk = new MongoBulkWriteError({ message: raw.errmsg, code: 11000, writeErrors: [writeError as never] }, {} as BulkWriteResult)
    const b = toStoreError(bulk, 'applyMappingBatch', 'role mapping') as CodedError
    expect(b.code).toBe('FST_DISCORD_CONFLICT')
    expect(b.message).toBe('A role mapping with the same guild_id, group_id, discord_role_id already exists')

    // Unordered bulk with several write errors: the top-level code is not 11000 and
    // no keyPattern is given; the index name in errmsg still identifies the fields.
    const rawNoPattern = { index: 0, code: 11000, errmsg: 'E11000 duplicate key error collection: x.discord_oauth_states index: uniq_state dup key: { state: "abc" }', errInfo: {}, op: {} }
    const weNoPattern = { err: rawNoPattern, get code () { return rawNoPattern.code }, get errmsg () { return rawNoPattern.errmsg } }
    const multi = new MongoBulkWriteError({ message: 'write operation failed', code: 65, writeErrors: [weNoPattern as never] }, {} as BulkWriteResult)
    const m = toStoreError(multi, 'x', 'OAuth state') as CodedError
    expect(m.code).toBe('FST_DISCORD_CONFLICT')
    expect(m.message).toBe('An OAuth state with the same state already exists')
    expect(m.message).not.toContain('abc')
  })

  it('maps other driver errors to FST_DISCORD_STORE_UNAVAILABLE and leaves non-driver errors alone', async () => {
    const { store, db } = await doubleStore()
    db.collection('discord_guild_configs').failOnCall('find', 1, new MongoServerError({ message: 'Executor error during find command :: caused by :: secret-ish detail', code: 2, codeName: 'BadValue' }))
    const err = await rejectionOf(store.listGuilds())
    expect(err.code).toBe('FST_DISCORD_STORE_UNAVAILABLE')
    expect(err.statusCode).toBe(503)
    expect(err.message).toBe('The Discord store is unavailable: MongoDB listGuilds failed (BadValue)')

    const bug = new TypeError('a programming error')
    expect(toStoreError(bug, 'x', 'y')).toBe(bug)
  })
})

describe('MongoStore: run summaries of runs stored before the summary field', () => {
  it('reads those runs whole (and only those), also once a stale failure left a partial summary', async () => {
    const { store, db } = await doubleStore()
    const at = new Date(1000)
    const results = { users_processed: 4, users_synced: 3, users_failed: 1, roles_added: 2, roles_removed: 1, guilds_processed: 1, errors: [{ error: 'x', occurred_at: at }], guilds: [] }
    const old = await store.createSyncRun({ sync_type: 'full', initiated_by: 'system' })
    await store.updateSyncRun(old.id, { status: 'completed', results })
    const stale = await store.createSyncRun({ sync_type: 'guild', target_id: 'g', status: 'running', started_at: new Date(Date.now() - 3_600_000), initiated_by: 'system' })
    await store.updateSyncRun(stale.id, { results })
    const fresh = await store.createSyncRun({ sync_type: 'user', target_id: 'u', initiated_by: 'system' })
    // Back to what an older version wrote: no summary field.
    await db.collection('discord_sync_status').updateMany({ _id: { $in: [old.id, stale.id] } }, { $unset: { summary: '' } })
    expect(await store.failStaleSyncRuns(new Date(Date.now() - 60_000), 'worker lost')).toBe(1)
    expect(db.collection('discord_sync_status').rawDocuments().find((d) => d._id === stale.id)?.summary).toEqual({ errors_count: 1 })

    const summaries = await store.listSyncRunSummaries()
    expect(summaries).toEqual((await store.listSyncRuns()).map(summariseRun))
    expect(summaries.find((r) => r.id === stale.id)?.results).toMatchObject({ errors_count: 2, users_processed: 4 })
    expect(summaries.find((r) => r.id === fresh.id)?.results.errors_count).toBe(0)
    // The list itself leaves the results out; only the two older runs were read whole.
    const reads = db.collection('discord_sync_status').reads
    expect(reads.at(-3)?.projection).toEqual({ results: 0 })
  })
})

describe('MongoStore: OAuth states and the TTL monitor', () => {
  it('keeps expired states until the TTL monitor runs, never returns them, and the monitor removes only those', async () => {
    const { store, db } = await doubleStore()
    const now = Date.now()
    const expired = `st-${randomUUID()}`
    const live = `st-${randomUUID()}`
    await store.createOAuthState({ state: expired, flow: 'login', scopes: [], expires_at: new Date(now - 5_000) })
    await store.createOAuthState({ state: live, flow: 'login', scopes: [], expires_at: new Date(now + 600_000) })

    // Like a real server between monitor passes: the document is still there...
    expect(db.collection('discord_oauth_states').rawDocuments().map((d) => d.state).sort()).toEqual([expired, live].sort())
    // ...and the adapter still refuses it, reporting why.
    expect(await store.consumeOAuthState(expired)).toEqual({ ok: false, reason: 'expired', redirect_url: null })

    expect(db.runTtlMonitor(new Date(now))).toBe(1)
    expect(db.collection('discord_oauth_states').rawDocuments().map((d) => d.state)).toEqual([live])
    expect(await store.consumeOAuthState(expired)).toEqual({ ok: false, reason: 'not_found' })
    expect((await store.consumeOAuthState(live)).ok).toBe(true)
    expect(db.runTtlMonitor(new Date(now))).toBe(0)
  })

  it('stores expires_at as a Date, which is what lets the TTL index act on it', async () => {
    const { store, db } = await doubleStore()
    await store.createOAuthState({ state: `st-${randomUUID()}`, flow: 'link', scopes: ['identify'], expires_at: new Date(Date.now() + 1_000) })
    const [doc] = db.collection('discord_oauth_states').rawDocuments()
    expect(doc?.expires_at).toBeInstanceOf(Date)
    expect(doc?.created_at).toBeInstanceOf(Date)
    expect(typeof doc?._id).toBe('string')
  })
})

describe('MongoStore: secrets at rest and record mapping', () => {
  it('stores only envelopes in secret fields and never returns fields it does not know', async () => {
    const { store, db } = await doubleStore()
    const u = await store.createUser({ user_id: 'host', discord_user_id: '42', username: 'p', tokens: { access_token: 'AT', refresh_token: 'RT', expires_at: null, scopes: ['identify'] } })
    await store.createGuild({ guild_id: 'g', guild_name: 'G', bot_token: 'BT' })
    const [userDoc] = db.collection('discord_users').rawDocuments()
    const [guildDoc] = db.collection('discord_guild_configs').rawDocuments()
    expect(String(userDoc?.access_token)).toMatch(/^dsenc:v1:/)
    expect(String(userDoc?.refresh_token)).toMatch(/^dsenc:v1:/)
    expect(String(guildDoc?.bot_token)).toMatch(/^dsenc:v1:/)

    // A field someone else added to the document does not leak through a record.
    await db.collection('discord_users').updateOne({ _id: u.id }, { $set: { unexpected: 'x' } })
    await db.collection('discord_guild_configs').updateOne({ guild_id: 'g' }, { $set: { unexpected: 'x' } })
    expect(Object.keys(await store.getUserByDiscordId('42') ?? {})).not.toContain('unexpected')
    expect(Object.keys(await store.getGuild('g') ?? {})).not.toContain('unexpected')
  })
  it('fetches secret fields only in getUserTokens and getBotToken', async () => {
    const { store, db } = await doubleStore()
    const tokens = { access_token: 'AT', refresh_token: 'RT', expires_at: new Date(Date.now() + 60_000), scopes: ['identify'] }
    await store.createUser({ user_id: 'host', discord_user_id: '42', username: 'p', guilds: [{ id: 'g', name: 'G', permissions: '0' }], tokens })
    await store.createGuild({ guild_id: 'g', guild_name: 'G', bot_token: 'BT' })
    const users = db.collection('discord_users')
    const guilds = db.collection('discord_guild_configs')
    users.reads.length = 0
    guilds.reads.length = 0

    await store.getUserByDiscordId('42')
    await store.listUsersByUserId('host')
    await store.listUsers({ guild_id: 'g' })
    await store.updateUser('42', { username: 'q' })
    await store.listUsersWithTokensExpiringBefore(new Date(Date.now() + 3_600_000), 5)
    await store.getGuild('g')
    await store.listGuilds()
    await store.updateGuild('g', { guild_name: 'H' })
    const publicReads = [...users.reads, ...guilds.reads]
    expect(publicReads.length).toBe(8)
    for (const r of publicReads) {
      // An exclusion projection that drops every secret field this collection has.
      expect(r.projection, r.method).toBeDefined()
      for (const [field, v] of Object.entries(r.projection ?? {})) expect(v, field).toBe(0)
    }
    expect(users.reads.every((r) => r.projection?.access_token === 0 && r.projection?.refresh_token === 0)).toBe(true)
    expect(guilds.reads.every((r) => r.projection?.bot_token === 0)).toBe(true)

    users.reads.length = 0
    guilds.reads.length = 0
    expect(await store.getUserTokens('42')).toEqual(tokens)
    expect(await store.getBotToken('g')).toBe('BT')
    // The dedicated readers fetch the secret and nothing they do not need.
    expect(users.reads).toEqual([{ method: 'findOne', projection: { access_token: 1, refresh_token: 1, token_expires_at: 1, scopes: 1 } }])
    expect(guilds.reads).toEqual([{ method: 'findOne', projection: { bot_token: 1 } }])
  })
})

describe('MongoStore: applyMappingBatch without transactions (standalone / double)', () => {
  async function seeded (): Promise<{ store: MongoStore, db: MongoDouble, guildId: string, ids: { keep: string, change: string, drop: string } }> {
    const { store, db } = await doubleStore()
    const guildId = 'g1'
    await store.createGuild({ guild_id: guildId, guild_name: 'G' })
    const keep = await store.createMapping({ guild_id: guildId, group_id: 'a', discord_role_id: '1' })
    const change = await store.createMapping({ guild_id: guildId, group_id: 'b', discord_role_id: '2' })
    const drop = await store.createMapping({ guild_id: guildId, group_id: 'c', discord_role_id: '3' })
    await store.recordMappingSync([change.id], new Date('2025-01-01T00:00:00.000Z'))
    return { store, db, guildId, ids: { keep: keep.id, change: change.id, drop: drop.id } }
  }

  function batch (guildId: string, ids: { change: string, drop: string }) {
    return {
      create: [
        { guild_id: guildId, group_id: 'new-1', discord_role_id: '10' },
        { guild_id: guildId, group_id: 'new-2', discord_role_id: '11' }
      ],
      update: [{ id: ids.change, patch: { priority: 9, conditions: { require_all: true } } }],
      delete: [ids.drop]
    }
  }

  it('undoes deletes, updates and creates when a write fails part-way (a concurrent writer took a key)', async () => {
    const { store, db, guildId, ids } = await seeded()
    const mappings = db.collection('discord_role_mappings')
    const before = sortedById(mappings.rawDocuments())
    // The second create fails at the server, after the delete, the update and the first create.
    mappings.failOnCall('insertOne', 2, new MongoServerError({ message: 'E11000 duplicate key error collection: x.discord_role_mappings index: uniq_guild_group_role dup key: { guild_id: "g1", group_id: "new-2", discord_role_id: "11" }', code: 11000, keyPattern: { guild_id: 1, group_id: 1, discord_role_id: 1 } }))
    const err = await rejectionOf(store.applyMappingBatch(guildId, batch(guildId, ids)))
    expect(err.code).toBe('FST_DISCORD_CONFLICT')
    // Byte-for-byte the same documents: same ids, same sync_count, same timestamps.
    expect(sortedById(mappings.rawDocuments())).toEqual(before)
  })

  it('undoes partial work on a non-conflict failure too, and reports the store as unavailable', async () => {
    const { store, db, guildId, ids } = await seeded()
    const mappings = db.collection('discord_role_mappings')
    const before = sortedById(mappings.rawDocuments())
    mappings.failOnCall('insertOne', 1, new MongoNetworkError('connection reset'))
    const err = await rejectionOf(store.applyMappingBatch(guildId, batch(guildId, ids)))
    expect(err.code).toBe('FST_DISCORD_STORE_UNAVAILABLE')
    expect(sortedById(mappings.rawDocuments())).toEqual(before)
  })

  it('says so when the rollback itself fails, instead of claiming nothing changed', async () => {
    const { store, db, guildId, ids } = await seeded()
    const mappings = db.collection('discord_role_mappings')
    mappings.failOnCall('insertOne', 2, new MongoNetworkError('connection reset'))
    mappings.failOnCall('replaceOne', 1, new MongoNetworkError('still down'))
    const err = await rejectionOf(store.applyMappingBatch(guildId, batch(guildId, ids)))
    expect(err.code).toBe('FST_DISCORD_STORE_UNAVAILABLE')
    expect(err.message).toContain('could not be fully rolled back')
  })

  it('applies the whole batch when nothing fails, without asking for a session', async () => {
    const startSession = vi.fn()
    const close = vi.fn()
    const double = new MongoDouble(`fds_${randomUUID()}`, { client: { startSession, close } })
    const store = new MongoStore({ db: asDb(double), secrets: box() })
    await store.init()
    await store.createGuild({ guild_id: 'g1', guild_name: 'G' })
    const change = await store.createMapping({ guild_id: 'g1', group_id: 'b', discord_role_id: '2' })
    const drop = await store.createMapping({ guild_id: 'g1', group_id: 'c', discord_role_id: '3' })
    const res = await store.applyMappingBatch('g1', batch('g1', { change: change.id, drop: drop.id }))
    expect(res.created.map((m) => m.group_id)).toEqual(['new-1', 'new-2'])
    expect(res.updated.map((m) => [m.id, m.priority, m.conditions.require_all])).toEqual([[change.id, 9, true]])
    expect(res.deleted).toEqual([drop.id])
    // The server said it is standalone, so no transaction was attempted.
    expect(double.commands).toContainEqual({ hello: 1 })
    expect(startSession).not.toHaveBeenCalled()
  })
})

describe('MongoStore: lifecycle and ownership', () => {
  afterEach(() => {
    vi.restoreAllMocks()
  })

  it('pings with { ping: 1 } and turns a failure into FST_DISCORD_STORE_UNAVAILABLE', async () => {
    const { store, db } = await doubleStore()
    await expect(store.ping()).resolves.toBeUndefined()
    expect(db.commands).toContainEqual({ ping: 1 })
    vi.spyOn(db, 'command').mockRejectedValueOnce(new MongoNetworkError('connect ECONNREFUSED 10.1.2.3:27017'))
    const err = await rejectionOf(store.ping())
    expect(err.code).toBe('FST_DISCORD_STORE_UNAVAILABLE')
    expect(err.message).not.toContain('10.1.2.3')
  })

  it('never closes a host Db (or the client behind it)', async () => {
    const close = vi.fn()
    const double = new MongoDouble(`fds_${randomUUID()}`, { client: { close } })
    const store = new MongoStore({ db: asDb(double), secrets: box() })
    await store.init()
    await store.close()
    expect(close).not.toHaveBeenCalled()
    // The host's handle is still usable after our close().
    await expect(double.command({ ping: 1 })).resolves.toEqual({ ok: 1 })
  })

  it('never closes a host MongoClient, and uses the named database on it', async () => {
    const hostClient = new MongoClient('mongodb://127.0.0.1:9/?serverSelectionTimeoutMS=200')
    const dbSpy = vi.spyOn(hostClient, 'db')
    const closeSpy = vi.spyOn(hostClient, 'close')
    const store = new MongoStore({ client: hostClient, dbName: 'host_db', secrets: box() })
    expect(dbSpy).toHaveBeenCalledWith('host_db')
    await store.close()
    expect(closeSpy).not.toHaveBeenCalled()
    await hostClient.close()
  })

  it('closes the client it opened from a uri', async () => {
    const closeSpy = vi.spyOn(MongoClient.prototype, 'close')
    const store = new MongoStore({ uri: 'mongodb://127.0.0.1:9/?serverSelectionTimeoutMS=200', dbName: 'own_db', secrets: box() })
    await store.close()
    expect(closeSpy).toHaveBeenCalledTimes(1)
  })

  it('reports a uri the driver cannot parse from init() (the driver loads lazily), without echoing it, and still closes', async () => {
    const store = new MongoStore({ uri: 'mongodb://admin:hunter2@h1:27017,h2:badport/app', dbName: 'own_db', secrets: box() })
    const err = await rejectionOf(store.init())
    expect(err.code).toBe('FST_DISCORD_INVALID_OPTIONS')
    expect(err.message).toMatch(/"store.uri": is not a valid MongoDB connection string/)
    expect(err.message).not.toContain('hunter2')
    // Every call waits for the client, so each reports the same option error.
    expect((await rejectionOf(store.countUsers())).code).toBe('FST_DISCORD_INVALID_OPTIONS')
    await expect(store.close()).resolves.toBeUndefined()
  })

  if (real) {
    const r = real
    it('leaves a real host client connected after close()', async () => {
      const store = new MongoStore({ client: r.client, dbName: r.freshDbName(), secrets: box() })
      await store.init()
      await store.ping()
      await store.close()
      await expect(r.client.db('admin').command({ ping: 1 })).resolves.toMatchObject({ ok: 1 })
    })
  }
})

describe('MongoStore: constructor options', () => {
  const secrets = box()
  const db = asDb(new MongoDouble('opts'))
  const client = new MongoClient('mongodb://127.0.0.1:9')
  afterAll(async () => {
    await client.close()
  })

  const cases: Array<[string, unknown, string]> = [
    ['none of db/client/uri', { secrets }, 'exactly one of db, client or uri is required'],
    ['db and client', { db, client, dbName: 'x', secrets }, 'exactly one of db, client or uri is required'],
    ['db and uri', { db, uri: 'mongodb://127.0.0.1:9', secrets }, 'exactly one of db, client or uri is required'],
    ['client without dbName', { client, secrets }, 'dbName is required with client or uri'],
    ['uri without dbName', { uri: 'mongodb://127.0.0.1:9', secrets }, 'dbName is required with client or uri'],
    ['db with a dbName it would ignore', { db, dbName: 'other', secrets }, 'dbName is only used with client or uri'],
    ['missing secrets', { db }, 'secrets must be a SecretBox'],
    ['a prefix with $', { db, secrets, collectionPrefix: 'bad$' }, 'collectionPrefix'],
    ['a system. prefix', { db, secrets, collectionPrefix: 'system.' }, 'collectionPrefix']
  ]

  for (const [label, options, message] of cases) {
    it(`rejects ${label}`, () => {
      let caught: CodedError | undefined
      try {
        // eslint-disable-next-line no-new
        new MongoStore(options as MongoStoreOptions)
      } catch (err) {
        caught = err as CodedError
      }
      expect(caught?.code).toBe('FST_DISCORD_INVALID_OPTIONS')
      expect(caught?.message).toContain(message)
    })
  }

  it('accepts each single source', () => {
    expect(new MongoStore({ db, secrets }).kind).toBe('mongodb')
    expect(new MongoStore({ client, dbName: 'x', secrets }).kind).toBe('mongodb')
    expect(new MongoStore({ uri: 'mongodb://127.0.0.1:9', dbName: 'x', secrets }).kind).toBe('mongodb')
  })
})

describe('the MongoDB double itself', () => {
  it('enforces compound unique indexes with an error shaped like the server\'s', async () => {
    const db = new MongoDouble('d')
    const c = db.collection('things')
    await c.createIndex({ a: 1, b: 1 }, { name: 'a_b', unique: true })
    await c.insertOne({ _id: '1', a: 'x', b: 'y' })
    await c.insertOne({ _id: '2', a: 'x', b: 'z' })
    const err = await rejectionOf(c.insertOne({ _id: '3', a: 'x', b: 'y' })) as unknown as MongoServerError
    expect(err).toBeInstanceOf(MongoServerError)
    expect(err.code).toBe(11000)
    expect(err.keyPattern).toEqual({ a: 1, b: 1 })
    expect(err.keyValue).toEqual({ a: 'x', b: 'y' })
    expect(err.message).toContain('index: a_b')
    // The implicit _id index is unique too, and updates are checked as well.
    expect((await rejectionOf(c.insertOne({ _id: '1', a: 'q', b: 'q' })) as unknown as MongoServerError).code).toBe(11000)
    expect((await rejectionOf(c.updateOne({ _id: '2' }, { $set: { b: 'y' } })) as unknown as MongoServerError).code).toBe(11000)
    expect(c.rawDocuments()).toEqual([{ _id: '1', a: 'x', b: 'y' }, { _id: '2', a: 'x', b: 'z' }])
  })

  it('never shares object identity with the caller and keeps Dates as Dates', async () => {
    const c = new MongoDouble('d').collection('things')
    const when = new Date('2025-01-01T00:00:00.000Z')
    const doc = { _id: '1', when, nested: { list: [1, 2] } }
    await c.insertOne(doc)
    doc.nested.list.push(3)
    const out = await c.findOne({ _id: '1' })
    expect(out).toEqual({ _id: '1', when, nested: { list: [1, 2] } })
    expect(out?.when).toBeInstanceOf(Date)
    expect(out?.when).not.toBe(when);
    (out?.nested as { list: number[] }).list.push(4)
    expect(await c.findOne({ _id: '1' })).toEqual({ _id: '1', when, nested: { list: [1, 2] } })
  })

  it('fails loudly on anything it does not implement', async () => {
    const db = new MongoDouble('d')
    const c = db.collection('things')
    expect(() => c.find({}, { session: {} })).toThrow(/not supported/)
    await expect(c.updateOne({}, { $set: { a: 1 } }, { upsert: true })).rejects.toThrow(/not supported/)
    await expect(db.command({ serverStatus: 1 })).rejects.toThrow(/not supported/)
    expect(() => c.aggregate()).toThrow(/not supported/)
  })
})
