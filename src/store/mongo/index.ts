import type { Db } from 'mongodb'
import type {
  AuditEntryRecord,
  ConsumeOAuthStateResult,
  CreateAuditEntryInput,
  CreateDiscordUserInput,
  CreateGuildConfigInput,
  CreateOAuthStateInput,
  CreateRoleMappingInput,
  CreateSyncRunInput,
  CreateTaskRunInput,
  DiscordStore,
  DiscordUserRecord,
  GuildConfigRecord,
  ListAuditQuery,
  ListDiscordUsersQuery,
  ListRoleMappingsQuery,
  ListSyncRunsQuery,
  ClaimLeaseOptions,
  LeaseRecord,
  ListTaskRunsQuery,
  OAuthStateRecord,
  OAuthTokens,
  Page,
  RoleMappingBatch,
  RoleMappingBatchResult,
  RoleMappingRecord,
  SyncRunRecord,
  TaskName,
  TaskRunRecord,
  UpdateDiscordUserInput,
  UpdateGuildConfigInput,
  UpdateRoleMappingInput,
  UpdateSyncRunInput
} from '../port/index.js'
import { MongoAccounts } from './accounts.js'
import { MongoContext, type MongoStoreOptions } from './context.js'
import { MongoGuilds } from './guilds.js'
import { MongoMappings } from './mappings.js'
import { MongoOAuthStates } from './oauth-states.js'
import { MongoSyncRuns } from './sync-runs.js'
import { MongoTaskRuns } from './task-runs.js'
import { MongoLeases } from './leases.js'

export type { MongoStoreOptions } from './context.js'
export { COLLECTION_SUFFIXES, INDEXES } from './indexes.js'
export type { IndexSpec, CollectionKey } from './indexes.js'

/**
 * The MongoDB adapter: one object per aggregate over a shared context (database,
 * collections, transactions), and this class the port they make up together. Each
 * method hands the call to its aggregate. Options are checked here, synchronously;
 * a store built from a `uri` loads the driver and creates its client in the background.
 */
export class MongoStore implements DiscordStore {
  readonly kind = 'mongodb'

  readonly #ctx: MongoContext
  readonly #accounts: MongoAccounts
  readonly #guilds: MongoGuilds
  readonly #mappings: MongoMappings
  readonly #syncRuns: MongoSyncRuns
  readonly #taskRuns: MongoTaskRuns
  readonly #leases: MongoLeases
  readonly #oauthStates: MongoOAuthStates

  constructor (options: MongoStoreOptions) {
    this.#ctx = new MongoContext(options)
    this.#accounts = new MongoAccounts(this.#ctx)
    this.#guilds = new MongoGuilds(this.#ctx)
    this.#mappings = new MongoMappings(this.#ctx)
    this.#syncRuns = new MongoSyncRuns(this.#ctx)
    this.#taskRuns = new MongoTaskRuns(this.#ctx)
    this.#leases = new MongoLeases(this.#ctx)
    this.#oauthStates = new MongoOAuthStates(this.#ctx)
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

  // ------------------------------------------------------------ linked accounts

  createUser (input: CreateDiscordUserInput): Promise<DiscordUserRecord> { return this.#accounts.createUser(input) }
  getUserByDiscordId (discordUserId: string): Promise<DiscordUserRecord | null> { return this.#accounts.getUserByDiscordId(discordUserId) }
  listUsersByUserId (userId: string): Promise<DiscordUserRecord[]> { return this.#accounts.listUsersByUserId(userId) }
  listUsersByDiscordIds (discordUserIds: readonly string[]): Promise<DiscordUserRecord[]> { return this.#accounts.listUsersByDiscordIds(discordUserIds) }
  listUsers (query?: ListDiscordUsersQuery): Promise<Page<DiscordUserRecord>> { return this.#accounts.listUsers(query) }
  updateUser (discordUserId: string, patch: UpdateDiscordUserInput): Promise<DiscordUserRecord | null> { return this.#accounts.updateUser(discordUserId, patch) }
  deleteUser (discordUserId: string): Promise<boolean> { return this.#accounts.deleteUser(discordUserId) }
  setUserTokens (discordUserId: string, tokens: OAuthTokens | null): Promise<boolean> { return this.#accounts.setUserTokens(discordUserId, tokens) }
  getUserTokens (discordUserId: string): Promise<OAuthTokens | null> { return this.#accounts.getUserTokens(discordUserId) }
  listUsersWithTokensExpiringBefore (before: Date, limit: number): Promise<DiscordUserRecord[]> { return this.#accounts.listUsersWithTokensExpiringBefore(before, limit) }
  countUsers (query?: { is_active?: boolean }): Promise<number> { return this.#accounts.countUsers(query) }

  // ------------------------------------------------------------ guilds

  createGuild (input: CreateGuildConfigInput): Promise<GuildConfigRecord> { return this.#guilds.createGuild(input) }
  getGuild (guildId: string): Promise<GuildConfigRecord | null> { return this.#guilds.getGuild(guildId) }
  listGuilds (query?: { enabled?: boolean }): Promise<GuildConfigRecord[]> { return this.#guilds.listGuilds(query) }
  updateGuild (guildId: string, patch: UpdateGuildConfigInput): Promise<GuildConfigRecord | null> { return this.#guilds.updateGuild(guildId, patch) }
  deleteGuild (guildId: string): Promise<{ deleted: boolean, mappings_deleted: number }> { return this.#guilds.deleteGuild(guildId) }
  getBotToken (guildId: string): Promise<string | null> { return this.#guilds.getBotToken(guildId) }

  // ------------------------------------------------------------ role mappings

  createMapping (input: CreateRoleMappingInput): Promise<RoleMappingRecord> { return this.#mappings.createMapping(input) }
  getMapping (id: string): Promise<RoleMappingRecord | null> { return this.#mappings.getMapping(id) }
  listMappings (query?: ListRoleMappingsQuery): Promise<RoleMappingRecord[]> { return this.#mappings.listMappings(query) }
  updateMapping (id: string, patch: UpdateRoleMappingInput): Promise<RoleMappingRecord | null> { return this.#mappings.updateMapping(id, patch) }
  deleteMapping (id: string): Promise<boolean> { return this.#mappings.deleteMapping(id) }
  applyMappingBatch (guildId: string, batch: RoleMappingBatch): Promise<RoleMappingBatchResult> { return this.#mappings.applyMappingBatch(guildId, batch) }
  recordMappingSync (ids: string[], at: Date): Promise<void> { return this.#mappings.recordMappingSync(ids, at) }
  countMappings (query?: ListRoleMappingsQuery): Promise<number> { return this.#mappings.countMappings(query) }

  // ------------------------------------------------------------ sync runs and audit

  createSyncRun (input: CreateSyncRunInput): Promise<SyncRunRecord> { return this.#syncRuns.createSyncRun(input) }
  getSyncRun (id: string): Promise<SyncRunRecord | null> { return this.#syncRuns.getSyncRun(id) }
  updateSyncRun (id: string, patch: UpdateSyncRunInput): Promise<SyncRunRecord | null> { return this.#syncRuns.updateSyncRun(id, patch) }
  listSyncRuns (query?: ListSyncRunsQuery): Promise<SyncRunRecord[]> { return this.#syncRuns.listSyncRuns(query) }
  failStaleSyncRuns (before: Date, reason: string): Promise<number> { return this.#syncRuns.failStaleSyncRuns(before, reason) }
  pruneSyncRuns (before: Date): Promise<number> { return this.#syncRuns.pruneSyncRuns(before) }
  appendAudit (entries: CreateAuditEntryInput[]): Promise<number> { return this.#syncRuns.appendAudit(entries) }
  listAudit (query?: ListAuditQuery): Promise<Page<AuditEntryRecord>> { return this.#syncRuns.listAudit(query) }
  pruneAudit (before: Date): Promise<number> { return this.#syncRuns.pruneAudit(before) }

  // ------------------------------------------------------------ task runs

  recordTaskRun (input: CreateTaskRunInput): Promise<TaskRunRecord> { return this.#taskRuns.recordTaskRun(input) }
  listTaskRuns (query: ListTaskRunsQuery): Promise<TaskRunRecord[]> { return this.#taskRuns.listTaskRuns(query) }
  pruneTaskRuns (task: TaskName, before: Date): Promise<number> { return this.#taskRuns.pruneTaskRuns(task, before) }

  // ------------------------------------------------------------ leases

  claimLease (name: string, owner: string, ttlMs: number, opts?: ClaimLeaseOptions): Promise<boolean> { return this.#leases.claimLease(name, owner, ttlMs, opts) }
  releaseLease (name: string, owner: string): Promise<boolean> { return this.#leases.releaseLease(name, owner) }
  getLease (name: string): Promise<LeaseRecord | null> { return this.#leases.getLease(name) }

  // ------------------------------------------------------------ OAuth states

  createOAuthState (input: CreateOAuthStateInput): Promise<OAuthStateRecord> { return this.#oauthStates.createOAuthState(input) }
  consumeOAuthState (state: string, now?: Date): Promise<ConsumeOAuthStateResult> { return this.#oauthStates.consumeOAuthState(state, now) }
  purgeExpiredOAuthStates (now?: Date): Promise<number> { return this.#oauthStates.purgeExpiredOAuthStates(now) }
}
