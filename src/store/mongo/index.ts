import { randomUUID } from 'node:crypto'
import { MongoClient, type ClientSession, type Collection, type Db, type Filter } from 'mongodb'
import { InvalidOptionsError, NotFoundError, StoreUnavailableError } from '../../errors.js'
import { secretContext, type SecretBox } from '../crypto.js'
import {
  DEFAULT_GUILD_SETTINGS,
  DEFAULT_MAPPING_CONDITIONS,
  MAX_PAGE_SIZE,
  auditEntryFields,
  mergeKnown,
  normalisePage,
  pickKnown,
  runListLimit,
  taskRunCounts,
  taskRunErrorFields,
  type AuditEntryRecord,
  type ConsumeOAuthStateResult,
  type CreateAuditEntryInput,
  type CreateDiscordUserInput,
  type CreateGuildConfigInput,
  type CreateOAuthStateInput,
  type CreateRoleMappingInput,
  type CreateSyncRunInput,
  type CreateTaskRunInput,
  type DiscordStore,
  type DiscordUserRecord,
  type GuildConfigRecord,
  type ListAuditQuery,
  type ListDiscordUsersQuery,
  type ListRoleMappingsQuery,
  type ListSyncRunsQuery,
  type ListTaskRunsQuery,
  type OAuthStateRecord,
  type OAuthTokens,
  type Page,
  type RoleMappingBatch,
  type RoleMappingBatchResult,
  type RoleMappingRecord,
  type SyncRunRecord,
  type TaskName,
  type TaskRunRecord,
  type UpdateDiscordUserInput,
  type UpdateGuildConfigInput,
  type UpdateRoleMappingInput,
  type UpdateSyncRunInput
} from '../port/index.js'
import {
  GUILD_PUBLIC_PROJECTION,
  USER_PUBLIC_PROJECTION,
  definedOnly,
  toAuditRecord,
  toGuildRecord,
  toGuildSummaryDoc,
  toMappingRecord,
  toOAuthStateRecord,
  toSyncResultsDoc,
  toSyncRunRecord,
  toTaskRunRecord,
  toUserRecord,
  type AuditDoc,
  type GuildDoc,
  type MappingDoc,
  type OAuthStateDoc,
  type PublicGuildDoc,
  type PublicUserDoc,
  type SyncRunDoc,
  type TaskRunDoc,
  type UserDoc
} from './documents.js'
import { conflictError, toStoreError } from './errors.js'
import { COLLECTION_SUFFIXES, INDEXES, type CollectionKey } from './indexes.js'

export { COLLECTION_SUFFIXES, INDEXES } from './indexes.js'
export type { IndexSpec, CollectionKey } from './indexes.js'

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

interface Collections {
  users: Collection<UserDoc>
  guilds: Collection<GuildDoc>
  mappings: Collection<MappingDoc>
  syncRuns: Collection<SyncRunDoc>
  taskRuns: Collection<TaskRunDoc>
  oauthStates: Collection<OAuthStateDoc>
  audit: Collection<AuditDoc>
}

const DEFAULT_PREFIX = 'discord_'
const DEFAULT_SYNC_RUN_LIMIT = 20
const FINISHED_RUN_STATUSES: Array<SyncRunRecord['status']> = ['completed', 'failed', 'blocked']
const ACTIVE_RUN_STATUSES: Array<SyncRunRecord['status']> = ['pending', 'running']
const MAPPING_UNIQUE_FIELDS = Object.keys((INDEXES.mappings.find((i) => i.unique === true) ?? { key: {} }).key)

/** Passes `session` to a driver call only when there is one, so the no-transaction path sends no session option at all. */
function withSession<T extends object> (options: T, session: ClientSession | undefined): T & { session?: ClientSession } {
  return session ? { ...options, session } : options
}

function invalid (message: string): Error {
  return new InvalidOptionsError(`mongodb: ${message}`)
}

export class MongoStore implements DiscordStore {
  readonly kind = 'mongodb'

  readonly #db: Db
  /** Used to start sessions; absent when the host handed us a bare Db without a client. */
  readonly #client: MongoClient | undefined
  /** Set only when we created the client from `uri`, and therefore own its lifetime. */
  readonly #ownedClient: MongoClient | undefined
  readonly #secrets: SecretBox
  readonly #c: Collections
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

    if (db !== undefined && db !== null) {
      // A dbName next to db would be silently ignored; refusing it avoids writing to an unexpected database.
      if (dbName !== undefined) throw invalid('dbName is only used with client or uri')
      this.#db = db
      this.#client = (db as { client?: MongoClient }).client
      this.#ownedClient = undefined
    } else {
      if (typeof dbName !== 'string' || dbName.length === 0) throw invalid('dbName is required with client or uri')
      if (uri !== undefined && uri !== null) {
        if (typeof uri !== 'string' || uri.length === 0) throw invalid('uri must be a non-empty string')
        // The driver connects lazily on first use, so constructing here cannot fail on reachability,
        // only on a malformed string: an option error, reported without the string (it may hold a password).
        try {
          this.#ownedClient = new MongoClient(uri)
        } catch {
          throw new InvalidOptionsError('"store.uri": is not a valid MongoDB connection string (check the host list, ports and options)')
        }
        this.#client = this.#ownedClient
      } else {
        this.#client = client as MongoClient
        this.#ownedClient = undefined
      }
      this.#db = this.#client.db(dbName)
    }

    this.#secrets = secrets
    const name = (key: CollectionKey): string => `${prefix}${COLLECTION_SUFFIXES[key]}`
    this.#c = {
      users: this.#db.collection<UserDoc>(name('users')),
      guilds: this.#db.collection<GuildDoc>(name('guilds')),
      mappings: this.#db.collection<MappingDoc>(name('mappings')),
      syncRuns: this.#db.collection<SyncRunDoc>(name('syncRuns')),
      taskRuns: this.#db.collection<TaskRunDoc>(name('taskRuns')),
      oauthStates: this.#db.collection<OAuthStateDoc>(name('oauthStates')),
      audit: this.#db.collection<AuditDoc>(name('audit'))
    }
  }

  /** The database this store writes to (for hosts and tests that need the handle). */
  get db (): Db {
    return this.#db
  }

  async #run<T> (op: string, entity: string, fn: () => Promise<T>): Promise<T> {
    try {
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
  async #supportsTransactions (): Promise<boolean> {
    if (this.#client === undefined) return false
    this.#transactions ??= this.#db.command({ hello: 1 }).then((hello) =>
      (typeof hello.setName === 'string' || hello.msg === 'isdbgrid') && hello.logicalSessionTimeoutMinutes != null)
    try {
      return await this.#transactions
    } catch (err) {
      // Do not remember a failed probe: the next call asks again once the server is back.
      this.#transactions = undefined
      throw err
    }
  }

  async #inTransaction<T> (fn: (session: ClientSession) => Promise<T>): Promise<T> {
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
    await this.#run('init', 'index', async () => {
      for (const key of Object.keys(INDEXES) as CollectionKey[]) {
        const coll = this.#c[key] as unknown as Collection
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
    try {
      await this.#db.command({ ping: 1 })
    } catch (err) {
      // Connection errors can quote the host list; the message stays generic and the detail travels as cause.
      throw new StoreUnavailableError('MongoDB ping failed', { cause: err })
    }
  }

  async close (): Promise<void> {
    if (this.#ownedClient !== undefined) await this.#ownedClient.close()
  }

  // ------------------------------------------------------------ discord_users

  #sealTokens (discordUserId: string, tokens: OAuthTokens | null | undefined): Pick<UserDoc, 'access_token' | 'refresh_token' | 'has_tokens' | 'token_expires_at' | 'scopes'> {
    if (tokens === null || tokens === undefined) {
      return { access_token: null, refresh_token: null, has_tokens: false, token_expires_at: null, scopes: [] }
    }
    const refresh = tokens.refresh_token ?? null
    return {
      access_token: this.#secrets.seal(tokens.access_token, secretContext.accessToken(discordUserId)),
      refresh_token: refresh === null ? null : this.#secrets.seal(refresh, secretContext.refreshToken(discordUserId)),
      has_tokens: refresh !== null,
      token_expires_at: tokens.expires_at ?? null,
      scopes: [...tokens.scopes]
    }
  }

  async createUser (input: CreateDiscordUserInput): Promise<DiscordUserRecord> {
    return this.#run('createUser', 'Discord user', async () => {
      const now = new Date()
      const doc: UserDoc = {
        _id: randomUUID(),
        user_id: input.user_id,
        discord_user_id: input.discord_user_id,
        username: input.username,
        discriminator: input.discriminator ?? null,
        global_name: input.global_name ?? null,
        avatar: input.avatar ?? null,
        guilds: (input.guilds ?? []).map(toGuildSummaryDoc),
        ...this.#sealTokens(input.discord_user_id, input.tokens),
        needs_reauth: false,
        last_sync: null,
        is_active: input.is_active ?? true,
        created_at: now,
        updated_at: now
      }
      await this.#c.users.insertOne(doc)
      return toUserRecord(doc)
    })
  }

  async getUserByDiscordId (discordUserId: string): Promise<DiscordUserRecord | null> {
    return this.#run('getUserByDiscordId', 'Discord user', async () => {
      const doc = await this.#c.users.findOne({ discord_user_id: discordUserId }, { projection: USER_PUBLIC_PROJECTION })
      return doc ? toUserRecord(doc as PublicUserDoc) : null
    })
  }

  async listUsersByUserId (userId: string): Promise<DiscordUserRecord[]> {
    return this.#run('listUsersByUserId', 'Discord user', async () => {
      const docs = await this.#c.users.find({ user_id: userId })
        .sort({ created_at: 1, _id: 1 })
        .project<PublicUserDoc>(USER_PUBLIC_PROJECTION)
        .toArray()
      return docs.map(toUserRecord)
    })
  }

  async listUsersByDiscordIds (discordUserIds: readonly string[]): Promise<DiscordUserRecord[]> {
    return this.#run('listUsersByDiscordIds', 'Discord user', async () => {
      const ids = [...new Set(discordUserIds)]
      if (ids.length === 0) return []
      // discord_user_id is uniquely indexed, so $in is an index lookup per id.
      const docs = await this.#c.users.find({ discord_user_id: { $in: ids } })
        .project<PublicUserDoc>(USER_PUBLIC_PROJECTION)
        .toArray()
      return docs.map(toUserRecord)
    })
  }

  async listUsers (query: ListDiscordUsersQuery = {}): Promise<Page<DiscordUserRecord>> {
    return this.#run('listUsers', 'Discord user', async () => {
      const { page, page_size, offset } = normalisePage(query)
      const filter: Filter<UserDoc> = {}
      if (query.is_active !== undefined) filter.is_active = query.is_active
      if (query.user_id !== undefined) filter.user_id = query.user_id
      if (query.guild_id !== undefined) filter['guilds.id'] = query.guild_id
      const [docs, total] = await Promise.all([
        this.#c.users.find(filter)
          .sort({ created_at: 1, _id: 1 })
          .skip(offset)
          .limit(page_size)
          .project<PublicUserDoc>(USER_PUBLIC_PROJECTION)
          .toArray(),
        this.#c.users.countDocuments(filter)
      ])
      return { items: docs.map(toUserRecord), total, page, page_size }
    })
  }

  async updateUser (discordUserId: string, patch: UpdateDiscordUserInput): Promise<DiscordUserRecord | null> {
    return this.#run('updateUser', 'Discord user', async () => {
      const p = definedOnly(patch)
      const set: Partial<UserDoc> = {}
      if (p.username !== undefined) set.username = p.username
      if (p.discriminator !== undefined) set.discriminator = p.discriminator
      if (p.global_name !== undefined) set.global_name = p.global_name
      if (p.avatar !== undefined) set.avatar = p.avatar
      if (p.guilds !== undefined) set.guilds = p.guilds.map(toGuildSummaryDoc)
      if (p.is_active !== undefined) set.is_active = p.is_active
      if (p.needs_reauth !== undefined) set.needs_reauth = p.needs_reauth
      if (p.last_sync !== undefined) set.last_sync = p.last_sync
      set.updated_at = new Date()
      const doc = await this.#c.users.findOneAndUpdate(
        { discord_user_id: discordUserId },
        { $set: set },
        { returnDocument: 'after', projection: USER_PUBLIC_PROJECTION }
      )
      return doc ? toUserRecord(doc as PublicUserDoc) : null
    })
  }

  async deleteUser (discordUserId: string): Promise<boolean> {
    return this.#run('deleteUser', 'Discord user', async () => {
      const res = await this.#c.users.deleteOne({ discord_user_id: discordUserId })
      return res.deletedCount === 1
    })
  }

  async setUserTokens (discordUserId: string, tokens: OAuthTokens | null): Promise<boolean> {
    return this.#run('setUserTokens', 'Discord user', async () => {
      const res = await this.#c.users.updateOne(
        { discord_user_id: discordUserId },
        // New tokens end a "must authorise again" state; clearing tokens must not, so a
        // needs_reauth flag set alongside the removal survives it (same as SQLite).
        { $set: { ...this.#sealTokens(discordUserId, tokens), ...(tokens === null ? {} : { needs_reauth: false }), updated_at: new Date() } }
      )
      return res.matchedCount === 1
    })
  }

  async getUserTokens (discordUserId: string): Promise<OAuthTokens | null> {
    return this.#run('getUserTokens', 'Discord user', async () => {
      const doc = await this.#c.users.findOne(
        { discord_user_id: discordUserId },
        { projection: { access_token: 1, refresh_token: 1, token_expires_at: 1, scopes: 1 } }
      )
      if (!doc || typeof doc.access_token !== 'string') return null
      return {
        access_token: this.#secrets.open(doc.access_token, secretContext.accessToken(discordUserId)),
        refresh_token: typeof doc.refresh_token === 'string'
          ? this.#secrets.open(doc.refresh_token, secretContext.refreshToken(discordUserId))
          : null,
        expires_at: doc.token_expires_at ?? null,
        scopes: [...(doc.scopes ?? [])]
      }
    })
  }

  async listUsersWithTokensExpiringBefore (before: Date, limit: number): Promise<DiscordUserRecord[]> {
    return this.#run('listUsersWithTokensExpiringBefore', 'Discord user', async () => {
      const n = Math.floor(limit)
      // limit(0) means "no limit" to MongoDB; a caller asking for none must get none.
      if (!(n > 0)) return []
      const docs = await this.#c.users.find({
        is_active: true,
        has_tokens: true,
        needs_reauth: false,
        token_expires_at: { $lt: before }
      })
        .sort({ token_expires_at: 1, _id: 1 })
        .limit(n)
        .project<PublicUserDoc>(USER_PUBLIC_PROJECTION)
        .toArray()
      return docs.map(toUserRecord)
    })
  }

  async countUsers (query: { is_active?: boolean } = {}): Promise<number> {
    return this.#run('countUsers', 'Discord user', async () => {
      const filter: Filter<UserDoc> = {}
      if (query.is_active !== undefined) filter.is_active = query.is_active
      return this.#c.users.countDocuments(filter)
    })
  }

  // ------------------------------------------------------------ discord_guild_configs

  #sealBotToken (guildId: string, token: string | null): Pick<GuildDoc, 'bot_token' | 'has_bot_token'> {
    if (token === null) return { bot_token: null, has_bot_token: false }
    return { bot_token: this.#secrets.seal(token, secretContext.botToken(guildId)), has_bot_token: true }
  }

  async createGuild (input: CreateGuildConfigInput): Promise<GuildConfigRecord> {
    return this.#run('createGuild', 'guild config', async () => {
      const now = new Date()
      const doc: GuildDoc = {
        _id: randomUUID(),
        guild_id: input.guild_id,
        guild_name: input.guild_name,
        enabled: input.enabled ?? true,
        settings: mergeKnown(DEFAULT_GUILD_SETTINGS, input.settings),
        ...this.#sealBotToken(input.guild_id, input.bot_token ?? null),
        bot_permissions: input.bot_permissions ?? null,
        bot_user_id: input.bot_user_id ?? null,
        owner_id: input.owner_id ?? null,
        health_status: input.health_status ?? 'unknown',
        last_health_check: input.last_health_check ?? null,
        last_error: input.last_error ?? null,
        created_at: now,
        updated_at: now
      }
      await this.#c.guilds.insertOne(doc)
      return toGuildRecord(doc)
    })
  }

  async getGuild (guildId: string): Promise<GuildConfigRecord | null> {
    return this.#run('getGuild', 'guild config', async () => {
      const doc = await this.#c.guilds.findOne({ guild_id: guildId }, { projection: GUILD_PUBLIC_PROJECTION })
      return doc ? toGuildRecord(doc as PublicGuildDoc) : null
    })
  }

  async listGuilds (query: { enabled?: boolean } = {}): Promise<GuildConfigRecord[]> {
    return this.#run('listGuilds', 'guild config', async () => {
      const filter: Filter<GuildDoc> = {}
      if (query.enabled !== undefined) filter.enabled = query.enabled
      const docs = await this.#c.guilds.find(filter)
        .sort({ guild_name: 1, guild_id: 1 })
        .project<PublicGuildDoc>(GUILD_PUBLIC_PROJECTION)
        .toArray()
      return docs.map(toGuildRecord)
    })
  }

  async updateGuild (guildId: string, patch: UpdateGuildConfigInput): Promise<GuildConfigRecord | null> {
    return this.#run('updateGuild', 'guild config', async () => {
      const p = definedOnly(patch)
      const set: Record<string, unknown> = {}
      if (p.guild_name !== undefined) set.guild_name = p.guild_name
      if (p.enabled !== undefined) set.enabled = p.enabled
      // Dotted paths merge into the stored settings on the server, so concurrent
      // updates of different settings do not overwrite each other.
      for (const [k, v] of Object.entries(pickKnown(DEFAULT_GUILD_SETTINGS, p.settings))) set[`settings.${k}`] = v
      if (p.bot_token !== undefined) Object.assign(set, this.#sealBotToken(guildId, p.bot_token))
      if (p.bot_permissions !== undefined) set.bot_permissions = p.bot_permissions
      if (p.bot_user_id !== undefined) set.bot_user_id = p.bot_user_id
      if (p.owner_id !== undefined) set.owner_id = p.owner_id
      if (p.health_status !== undefined) set.health_status = p.health_status
      if (p.last_health_check !== undefined) set.last_health_check = p.last_health_check
      if (p.last_error !== undefined) set.last_error = p.last_error
      set.updated_at = new Date()
      const doc = await this.#c.guilds.findOneAndUpdate(
        { guild_id: guildId },
        { $set: set },
        { returnDocument: 'after', projection: GUILD_PUBLIC_PROJECTION }
      )
      return doc ? toGuildRecord(doc as PublicGuildDoc) : null
    })
  }

  async deleteGuild (guildId: string): Promise<{ deleted: boolean, mappings_deleted: number }> {
    return this.#run('deleteGuild', 'guild config', async () => {
      if (await this.#supportsTransactions()) {
        // Replica set / sharded cluster: guild and mappings go together or not at all,
        // and no reader sees the guild without its mappings or the reverse.
        return this.#inTransaction(async (session) => {
          const m = await this.#c.mappings.deleteMany({ guild_id: guildId }, { session })
          const g = await this.#c.guilds.deleteOne({ guild_id: guildId }, { session })
          return { deleted: g.deletedCount === 1, mappings_deleted: m.deletedCount }
        })
      }
      // Standalone server: no transactions. Mappings go first, so a crash between the
      // steps leaves a guild without mappings (harmless, the guild still shows and can be
      // deleted again) rather than mappings pointing at no guild. The final sweep removes
      // a mapping that a concurrent createMapping inserted after passing its guild check;
      // an insert landing after the sweep can still orphan one mapping (documented limit).
      const first = await this.#c.mappings.deleteMany({ guild_id: guildId })
      const g = await this.#c.guilds.deleteOne({ guild_id: guildId })
      const sweep = await this.#c.mappings.deleteMany({ guild_id: guildId })
      return { deleted: g.deletedCount === 1, mappings_deleted: first.deletedCount + sweep.deletedCount }
    })
  }

  async getBotToken (guildId: string): Promise<string | null> {
    return this.#run('getBotToken', 'guild config', async () => {
      const doc = await this.#c.guilds.findOne({ guild_id: guildId }, { projection: { bot_token: 1 } })
      if (!doc || typeof doc.bot_token !== 'string') return null
      return this.#secrets.open(doc.bot_token, secretContext.botToken(guildId))
    })
  }

  // ------------------------------------------------------------ discord_role_mappings

  #newMappingDoc (input: CreateRoleMappingInput, now: Date): MappingDoc {
    return {
      _id: randomUUID(),
      guild_id: input.guild_id,
      group_id: input.group_id,
      group_name: input.group_name ?? null,
      discord_role_id: input.discord_role_id,
      discord_role_name: input.discord_role_name ?? null,
      conditions: mergeKnown(DEFAULT_MAPPING_CONDITIONS, input.conditions),
      priority: input.priority ?? 1,
      exclusive_set: input.exclusive_set ?? null,
      enabled: input.enabled ?? true,
      created_by: input.created_by ?? null,
      last_sync: null,
      sync_count: 0,
      created_at: now,
      updated_at: now
    }
  }

  /** Top-level `$set` for a mapping patch; conditions as dotted paths so they merge. */
  #mappingSet (patch: UpdateRoleMappingInput, now: Date): Record<string, unknown> {
    const p = definedOnly(patch)
    const set: Record<string, unknown> = {}
    if (p.group_id !== undefined) set.group_id = p.group_id
    if (p.group_name !== undefined) set.group_name = p.group_name
    if (p.discord_role_id !== undefined) set.discord_role_id = p.discord_role_id
    if (p.discord_role_name !== undefined) set.discord_role_name = p.discord_role_name
    for (const [k, v] of Object.entries(pickKnown(DEFAULT_MAPPING_CONDITIONS, p.conditions))) set[`conditions.${k}`] = v
    if (p.priority !== undefined) set.priority = p.priority
    if (p.exclusive_set !== undefined) set.exclusive_set = p.exclusive_set
    if (p.enabled !== undefined) set.enabled = p.enabled
    set.updated_at = now
    return set
  }

  async #requireGuild (guildId: string, session?: ClientSession): Promise<void> {
    const g = await this.#c.guilds.findOne({ guild_id: guildId }, withSession({ projection: { _id: 1 } }, session))
    if (!g) throw new NotFoundError(`Guild ${guildId} is not configured`)
  }

  async createMapping (input: CreateRoleMappingInput): Promise<RoleMappingRecord> {
    return this.#run('createMapping', 'role mapping', async () => {
      // Check-then-insert: a guild deleted in between can orphan this mapping on a
      // standalone server; deleteGuild's final sweep narrows that window.
      await this.#requireGuild(input.guild_id)
      const doc = this.#newMappingDoc(input, new Date())
      await this.#c.mappings.insertOne(doc)
      return toMappingRecord(doc)
    })
  }

  async getMapping (id: string): Promise<RoleMappingRecord | null> {
    return this.#run('getMapping', 'role mapping', async () => {
      const doc = await this.#c.mappings.findOne({ _id: id })
      return doc ? toMappingRecord(doc) : null
    })
  }

  #mappingFilter (query: ListRoleMappingsQuery): Filter<MappingDoc> {
    const filter: Filter<MappingDoc> = {}
    if (query.guild_id !== undefined) filter.guild_id = query.guild_id
    if (query.enabled !== undefined) filter.enabled = query.enabled
    return filter
  }

  async listMappings (query: ListRoleMappingsQuery = {}): Promise<RoleMappingRecord[]> {
    return this.#run('listMappings', 'role mapping', async () => {
      const docs = await this.#c.mappings.find(this.#mappingFilter(query))
        .sort({ guild_id: 1, priority: 1, _id: 1 })
        .toArray()
      return docs.map(toMappingRecord)
    })
  }

  async updateMapping (id: string, patch: UpdateRoleMappingInput): Promise<RoleMappingRecord | null> {
    return this.#run('updateMapping', 'role mapping', async () => {
      const doc = await this.#c.mappings.findOneAndUpdate(
        { _id: id },
        { $set: this.#mappingSet(patch, new Date()) },
        { returnDocument: 'after' }
      )
      return doc ? toMappingRecord(doc) : null
    })
  }

  async deleteMapping (id: string): Promise<boolean> {
    return this.#run('deleteMapping', 'role mapping', async () => {
      const res = await this.#c.mappings.deleteOne({ _id: id })
      return res.deletedCount === 1
    })
  }

  /*
   * applyMappingBatch guarantees, per path:
   *
   * - Replica set or sharded cluster (transactions): validation and every write run in
   *   one snapshot transaction. Atomic for all readers and writers; a concurrent write
   *   to the same documents aborts the transaction (the driver retries transient
   *   conflicts), and a crash leaves nothing behind.
   *
   * - Standalone server (and the in-process test double): MongoDB has no
   *   multi-document atomicity there. The batch is validated in full first (guild,
   *   every id belongs to it, the final set of mappings is unique), which rejects every
   *   error a single writer can cause before anything is written. Writes then record
   *   their pre-images, and any failure undoes them in reverse order (remove created,
   *   restore updated, re-insert deleted with their original ids). So for a single
   *   writer the result is all-or-nothing once the call returns or throws. Not
   *   guaranteed: readers may observe the intermediate state while the batch runs; a
   *   process crash mid-batch leaves it partly applied; a concurrent writer can make the
   *   undo itself fail, which is reported as StoreUnavailableError rather than hidden.
   */
  async applyMappingBatch (guildId: string, batch: RoleMappingBatch): Promise<RoleMappingBatchResult> {
    return this.#run('applyMappingBatch', 'role mapping', async () => {
      if (await this.#supportsTransactions()) {
        return this.#inTransaction((session) => this.#applyBatch(guildId, batch, session, undefined))
      }
      const undo: Array<() => Promise<unknown>> = []
      try {
        return await this.#applyBatch(guildId, batch, undefined, undo)
      } catch (err) {
        try {
          for (const step of undo.reverse()) await step()
        } catch (undoErr) {
          throw new StoreUnavailableError('role mapping batch failed and could not be fully rolled back', {
            cause: toStoreError(undoErr, 'applyMappingBatch rollback', 'role mapping')
          })
        }
        throw err
      }
    })
  }

  async #applyBatch (
    guildId: string,
    batch: RoleMappingBatch,
    session: ClientSession | undefined,
    undo: Array<() => Promise<unknown>> | undefined
  ): Promise<RoleMappingBatchResult> {
    const mappings = this.#c.mappings
    await this.#requireGuild(guildId, session)
    const existing = await mappings.find({ guild_id: guildId }, withSession({}, session)).toArray()

    // Plan: the guild's mappings as they will be after the batch, to prove uniqueness up front.
    const final = new Map(existing.map((d) => [d._id, d]))
    const missing = (id: string): Error => new NotFoundError(`Role mapping ${id} not found in guild ${guildId}`)
    const deleteIds = [...new Set(batch.delete)]
    for (const id of deleteIds) {
      if (!final.delete(id)) throw missing(id)
    }
    const now = new Date()
    const updates = batch.update.map(({ id, patch }) => {
      const current = final.get(id)
      if (!current) throw missing(id)
      const p = definedOnly(patch)
      final.set(id, {
        ...current,
        group_id: p.group_id ?? current.group_id,
        discord_role_id: p.discord_role_id ?? current.discord_role_id
      })
      return { id, set: this.#mappingSet(patch, now) }
    })
    const creates = batch.create.map((input) => {
      if (input.guild_id !== guildId) throw new NotFoundError(`Guild ${input.guild_id} is not the guild of this batch (${guildId})`)
      const doc = this.#newMappingDoc(input, now)
      final.set(doc._id, doc)
      return doc
    })
    const seen = new Set<string>()
    for (const d of final.values()) {
      const key = JSON.stringify([d.group_id, d.discord_role_id])
      if (seen.has(key)) throw conflictError('role mapping', MAPPING_UNIQUE_FIELDS)
      seen.add(key)
    }

    // Apply: deletes first so a batch may replace a mapping with one on the same key.
    for (const id of deleteIds) {
      const before = await mappings.findOneAndDelete({ _id: id, guild_id: guildId }, withSession({}, session))
      if (!before) throw missing(id)
      undo?.push(() => mappings.insertOne(before))
    }
    for (const u of updates) {
      const before = await mappings.findOneAndUpdate(
        { _id: u.id, guild_id: guildId },
        { $set: u.set },
        withSession({ returnDocument: 'before' as const }, session)
      )
      if (!before) throw missing(u.id)
      undo?.push(() => mappings.replaceOne({ _id: u.id }, before))
    }
    for (const doc of creates) {
      await mappings.insertOne(doc, withSession({}, session))
      undo?.push(() => mappings.deleteOne({ _id: doc._id }))
    }

    const updatedIds = [...new Set(updates.map((u) => u.id))]
    const updatedDocs = updatedIds.length === 0
      ? []
      : await mappings.find({ _id: { $in: updatedIds } }, withSession({}, session)).toArray()
    const byId = new Map(updatedDocs.map((d) => [d._id, d]))
    return {
      created: creates.map(toMappingRecord),
      updated: updatedIds.flatMap((id) => {
        const d = byId.get(id)
        return d ? [toMappingRecord(d)] : []
      }),
      deleted: deleteIds
    }
  }

  async recordMappingSync (ids: string[], at: Date): Promise<void> {
    await this.#run('recordMappingSync', 'role mapping', async () => {
      if (ids.length === 0) return
      await this.#c.mappings.updateMany({ _id: { $in: ids } }, { $inc: { sync_count: 1 }, $set: { last_sync: at } })
    })
  }

  async countMappings (query: ListRoleMappingsQuery = {}): Promise<number> {
    return this.#run('countMappings', 'role mapping', async () => this.#c.mappings.countDocuments(this.#mappingFilter(query)))
  }

  // ------------------------------------------------------------ discord_sync_status

  async createSyncRun (input: CreateSyncRunInput): Promise<SyncRunRecord> {
    return this.#run('createSyncRun', 'sync run', async () => {
      const doc: SyncRunDoc = {
        _id: randomUUID(),
        sync_type: input.sync_type,
        target_id: input.target_id ?? null,
        status: input.status ?? 'pending',
        dry_run: input.dry_run ?? false,
        force: input.force ?? false,
        started_at: input.started_at ?? null,
        completed_at: null,
        duration: null,
        heartbeat_at: null,
        results: toSyncResultsDoc(undefined),
        initiated_by: input.initiated_by,
        created_at: new Date()
      }
      await this.#c.syncRuns.insertOne(doc)
      return toSyncRunRecord(doc)
    })
  }

  async getSyncRun (id: string): Promise<SyncRunRecord | null> {
    return this.#run('getSyncRun', 'sync run', async () => {
      const doc = await this.#c.syncRuns.findOne({ _id: id })
      return doc ? toSyncRunRecord(doc) : null
    })
  }

  async updateSyncRun (id: string, patch: UpdateSyncRunInput): Promise<SyncRunRecord | null> {
    return this.#run('updateSyncRun', 'sync run', async () => {
      const p = definedOnly(patch)
      const set: Partial<SyncRunDoc> = {}
      if (p.status !== undefined) set.status = p.status
      if (p.started_at !== undefined) set.started_at = p.started_at
      if (p.completed_at !== undefined) set.completed_at = p.completed_at
      if (p.duration !== undefined) set.duration = p.duration
      if (p.heartbeat_at !== undefined) set.heartbeat_at = p.heartbeat_at
      if (p.results !== undefined) set.results = toSyncResultsDoc(p.results)
      // An empty $set is an error to the server; an empty patch is a read.
      const doc = Object.keys(set).length === 0
        ? await this.#c.syncRuns.findOne({ _id: id })
        : await this.#c.syncRuns.findOneAndUpdate({ _id: id }, { $set: set }, { returnDocument: 'after' })
      return doc ? toSyncRunRecord(doc) : null
    })
  }

  async listSyncRuns (query: ListSyncRunsQuery = {}): Promise<SyncRunRecord[]> {
    return this.#run('listSyncRuns', 'sync run', async () => {
      const filter: Filter<SyncRunDoc> = {}
      if (query.sync_type !== undefined) filter.sync_type = query.sync_type
      if (query.status !== undefined) filter.status = query.status
      if (query.target_id !== undefined) filter.target_id = query.target_id
      const requested = Number.isInteger(query.limit) && (query.limit as number) >= 1 ? query.limit as number : DEFAULT_SYNC_RUN_LIMIT
      const docs = await this.#c.syncRuns.find(filter)
        .sort({ created_at: -1, _id: -1 })
        .limit(Math.min(requested, MAX_PAGE_SIZE))
        .toArray()
      return docs.map(toSyncRunRecord)
    })
  }

  async failStaleSyncRuns (before: Date, reason: string): Promise<number> {
    return this.#run('failStaleSyncRuns', 'sync run', async () => {
      const now = new Date()
      // "Last sign of life" is the heartbeat, else the start, else (never started) creation.
      const res = await this.#c.syncRuns.updateMany(
        {
          status: { $in: ACTIVE_RUN_STATUSES },
          $or: [
            { heartbeat_at: { $lt: before } },
            { heartbeat_at: null, started_at: { $lt: before } },
            { heartbeat_at: null, started_at: null, created_at: { $lt: before } }
          ]
        },
        {
          $set: { status: 'failed', completed_at: now },
          $push: { 'results.errors': { error: reason, occurred_at: now } }
        }
      )
      return res.modifiedCount
    })
  }

  async pruneSyncRuns (before: Date): Promise<number> {
    return this.#run('pruneSyncRuns', 'sync run', async () => {
      const res = await this.#c.syncRuns.deleteMany({ status: { $in: FINISHED_RUN_STATUSES }, created_at: { $lt: before } })
      return res.deletedCount
    })
  }

  // ------------------------------------------------------------ discord_task_runs

  async recordTaskRun (input: CreateTaskRunInput): Promise<TaskRunRecord> {
    return this.#run('recordTaskRun', 'task run', async () => {
      const doc: TaskRunDoc = {
        _id: randomUUID(),
        task: input.task,
        status: input.status,
        reason: input.reason ?? null,
        started_at: input.started_at,
        finished_at: input.finished_at,
        duration_ms: Math.max(0, Math.round(input.duration_ms)),
        counts: taskRunCounts(input.counts),
        errors: input.errors.map(taskRunErrorFields)
      }
      await this.#c.taskRuns.insertOne(doc)
      return toTaskRunRecord(doc)
    })
  }

  async listTaskRuns (query: ListTaskRunsQuery): Promise<TaskRunRecord[]> {
    return this.#run('listTaskRuns', 'task run', async () => {
      const docs = await this.#c.taskRuns.find({ task: query.task })
        .sort({ started_at: -1, _id: -1 })
        .limit(runListLimit(query.limit))
        .toArray()
      return docs.map(toTaskRunRecord)
    })
  }

  async pruneTaskRuns (task: TaskName, before: Date): Promise<number> {
    return this.#run('pruneTaskRuns', 'task run', async () => {
      const res = await this.#c.taskRuns.deleteMany({ task, started_at: { $lt: before } })
      return res.deletedCount
    })
  }

  // ------------------------------------------------------------ discord_oauth_states

  async createOAuthState (input: CreateOAuthStateInput): Promise<OAuthStateRecord> {
    return this.#run('createOAuthState', 'OAuth state', async () => {
      const doc: OAuthStateDoc = {
        _id: randomUUID(),
        state: input.state,
        flow: input.flow,
        user_id: input.user_id ?? null,
        redirect_url: input.redirect_url ?? null,
        scopes: [...input.scopes],
        code_verifier: input.code_verifier ?? null,
        created_at: new Date(),
        expires_at: input.expires_at,
        used: false
      }
      await this.#c.oauthStates.insertOne(doc)
      return toOAuthStateRecord(doc)
    })
  }

  async consumeOAuthState (state: string, now: Date = new Date()): Promise<ConsumeOAuthStateResult> {
    return this.#run('consumeOAuthState', 'OAuth state', async () => {
      // One conditional write decides the winner: the server applies it to one document
      // atomically, so of any number of concurrent consumers exactly one matches used:false.
      // expires_at is checked here because the TTL monitor only purges periodically.
      const doc = await this.#c.oauthStates.findOneAndUpdate(
        { state, used: false, expires_at: { $gt: now } },
        { $set: { used: true } },
        { returnDocument: 'after' }
      )
      if (doc) return { ok: true, record: toOAuthStateRecord(doc) }
      const seen = await this.#c.oauthStates.findOne({ state }, { projection: { used: 1, expires_at: 1, redirect_url: 1 } })
      if (!seen) return { ok: false, reason: 'not_found' }
      const redirect_url = seen.redirect_url ?? null
      if (seen.used === true) return { ok: false, reason: 'used', redirect_url }
      if (seen.expires_at.getTime() <= now.getTime()) return { ok: false, reason: 'expired', redirect_url }
      // Created between our two reads: it was not there when we tried to consume it.
      return { ok: false, reason: 'not_found' }
    })
  }

  async purgeExpiredOAuthStates (now: Date = new Date()): Promise<number> {
    return this.#run('purgeExpiredOAuthStates', 'OAuth state', async () => {
      // <= matches consumeOAuthState, which treats expires_at == now as expired.
      const res = await this.#c.oauthStates.deleteMany({ expires_at: { $lte: now } })
      return res.deletedCount
    })
  }

  // ------------------------------------------------------------ audit log

  async appendAudit (entries: CreateAuditEntryInput[]): Promise<number> {
    return this.#run('appendAudit', 'audit entry', async () => {
      // The driver rejects an empty insertMany.
      if (entries.length === 0) return 0
      const now = new Date()
      const docs: AuditDoc[] = entries.map((e) => ({
        _id: randomUUID(),
        ...auditEntryFields(e),
        created_at: e.created_at ?? now
      }))
      const res = await this.#c.audit.insertMany(docs, { ordered: true })
      return res.insertedCount
    })
  }

  async listAudit (query: ListAuditQuery = {}): Promise<Page<AuditEntryRecord>> {
    return this.#run('listAudit', 'audit entry', async () => {
      const { page, page_size, offset } = normalisePage(query)
      const filter: Filter<AuditDoc> = {}
      if (query.guild_id !== undefined) filter.guild_id = query.guild_id
      if (query.discord_user_id !== undefined) filter.discord_user_id = query.discord_user_id
      if (query.user_id !== undefined) filter.user_id = query.user_id
      if (query.run_id !== undefined) filter.run_id = query.run_id
      const [docs, total] = await Promise.all([
        this.#c.audit.find(filter).sort({ created_at: -1, _id: -1 }).skip(offset).limit(page_size).toArray(),
        this.#c.audit.countDocuments(filter)
      ])
      return { items: docs.map(toAuditRecord), total, page, page_size }
    })
  }

  async pruneAudit (before: Date): Promise<number> {
    return this.#run('pruneAudit', 'audit entry', async () => {
      const res = await this.#c.audit.deleteMany({ created_at: { $lt: before } })
      return res.deletedCount
    })
  }
}
