import type Database from 'better-sqlite3'
import type { SecretBox } from '../crypto.js'
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
import { SqliteAccounts } from './accounts.js'
import { SqliteContext } from './context.js'
import { SqliteGuilds } from './guilds.js'
import { SqliteMappings } from './mappings.js'
import { SqliteOAuthStates } from './oauth-states.js'
import { SqliteSyncRuns } from './sync-runs.js'
import { SqliteTaskRuns } from './task-runs.js'
import { SqliteLeases } from './leases.js'

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
export class SqliteStore implements DiscordStore {
  readonly kind = 'sqlite'

  readonly #ctx: SqliteContext
  readonly #accounts: SqliteAccounts
  readonly #guilds: SqliteGuilds
  readonly #mappings: SqliteMappings
  readonly #syncRuns: SqliteSyncRuns
  readonly #taskRuns: SqliteTaskRuns
  readonly #leases: SqliteLeases
  readonly #oauthStates: SqliteOAuthStates

  constructor (opts: SqliteStoreOptions) {
    this.#ctx = new SqliteContext({ path: opts.path, secrets: opts.secrets, database: opts.database })
    this.#accounts = new SqliteAccounts(this.#ctx)
    this.#guilds = new SqliteGuilds(this.#ctx)
    this.#mappings = new SqliteMappings(this.#ctx)
    this.#syncRuns = new SqliteSyncRuns(this.#ctx)
    this.#taskRuns = new SqliteTaskRuns(this.#ctx)
    this.#leases = new SqliteLeases(this.#ctx)
    this.#oauthStates = new SqliteOAuthStates(this.#ctx)
  }

  // -------------------------------------------------------------- lifecycle

  async init (): Promise<void> {
    await this.#ctx.init()
  }

  /** The database file, or null when it lives in memory. */
  get file (): string | null {
    return this.#ctx.file
  }

  async ping (): Promise<void> {
    this.#ctx.run(() => this.#ctx.get('SELECT 1'))
  }

  async close (): Promise<void> {
    this.#ctx.close()
  }

  /**
   * Copies WAL frames into the main file (PASSIVE: never waits for readers). Hosts
   * call it before a file-level backup; tests call it before reading the file.
   */
  checkpoint (): void {
    this.#ctx.run(() => this.#ctx.conn().pragma('wal_checkpoint(PASSIVE)'))
  }

  // -------------------------------------------------------------- linked accounts

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

  // -------------------------------------------------------------- guilds

  createGuild (input: CreateGuildConfigInput): Promise<GuildConfigRecord> { return this.#guilds.createGuild(input) }
  getGuild (guildId: string): Promise<GuildConfigRecord | null> { return this.#guilds.getGuild(guildId) }
  listGuilds (query?: { enabled?: boolean }): Promise<GuildConfigRecord[]> { return this.#guilds.listGuilds(query) }
  updateGuild (guildId: string, patch: UpdateGuildConfigInput): Promise<GuildConfigRecord | null> { return this.#guilds.updateGuild(guildId, patch) }
  deleteGuild (guildId: string): Promise<{ deleted: boolean, mappings_deleted: number }> { return this.#guilds.deleteGuild(guildId) }
  getBotToken (guildId: string): Promise<string | null> { return this.#guilds.getBotToken(guildId) }

  // -------------------------------------------------------------- role mappings

  createMapping (input: CreateRoleMappingInput): Promise<RoleMappingRecord> { return this.#mappings.createMapping(input) }
  getMapping (id: string): Promise<RoleMappingRecord | null> { return this.#mappings.getMapping(id) }
  listMappings (query?: ListRoleMappingsQuery): Promise<RoleMappingRecord[]> { return this.#mappings.listMappings(query) }
  updateMapping (id: string, patch: UpdateRoleMappingInput): Promise<RoleMappingRecord | null> { return this.#mappings.updateMapping(id, patch) }
  deleteMapping (id: string): Promise<boolean> { return this.#mappings.deleteMapping(id) }
  applyMappingBatch (guildId: string, batch: RoleMappingBatch): Promise<RoleMappingBatchResult> { return this.#mappings.applyMappingBatch(guildId, batch) }
  recordMappingSync (ids: string[], at: Date): Promise<void> { return this.#mappings.recordMappingSync(ids, at) }
  countMappings (query?: ListRoleMappingsQuery): Promise<number> { return this.#mappings.countMappings(query) }

  // -------------------------------------------------------------- sync runs and audit

  createSyncRun (input: CreateSyncRunInput): Promise<SyncRunRecord> { return this.#syncRuns.createSyncRun(input) }
  getSyncRun (id: string): Promise<SyncRunRecord | null> { return this.#syncRuns.getSyncRun(id) }
  updateSyncRun (id: string, patch: UpdateSyncRunInput): Promise<SyncRunRecord | null> { return this.#syncRuns.updateSyncRun(id, patch) }
  listSyncRuns (query?: ListSyncRunsQuery): Promise<SyncRunRecord[]> { return this.#syncRuns.listSyncRuns(query) }
  failStaleSyncRuns (before: Date, reason: string): Promise<number> { return this.#syncRuns.failStaleSyncRuns(before, reason) }
  pruneSyncRuns (before: Date): Promise<number> { return this.#syncRuns.pruneSyncRuns(before) }
  appendAudit (entries: CreateAuditEntryInput[]): Promise<number> { return this.#syncRuns.appendAudit(entries) }
  listAudit (query?: ListAuditQuery): Promise<Page<AuditEntryRecord>> { return this.#syncRuns.listAudit(query) }
  pruneAudit (before: Date): Promise<number> { return this.#syncRuns.pruneAudit(before) }

  // -------------------------------------------------------------- task runs

  recordTaskRun (input: CreateTaskRunInput): Promise<TaskRunRecord> { return this.#taskRuns.recordTaskRun(input) }
  listTaskRuns (query: ListTaskRunsQuery): Promise<TaskRunRecord[]> { return this.#taskRuns.listTaskRuns(query) }
  pruneTaskRuns (task: TaskName, before: Date): Promise<number> { return this.#taskRuns.pruneTaskRuns(task, before) }

  // -------------------------------------------------------------- leases

  claimLease (name: string, owner: string, ttlMs: number, opts?: ClaimLeaseOptions): Promise<boolean> { return this.#leases.claimLease(name, owner, ttlMs, opts) }
  releaseLease (name: string, owner: string): Promise<boolean> { return this.#leases.releaseLease(name, owner) }
  getLease (name: string): Promise<LeaseRecord | null> { return this.#leases.getLease(name) }

  // -------------------------------------------------------------- OAuth states

  createOAuthState (input: CreateOAuthStateInput): Promise<OAuthStateRecord> { return this.#oauthStates.createOAuthState(input) }
  consumeOAuthState (state: string, now?: Date): Promise<ConsumeOAuthStateResult> { return this.#oauthStates.consumeOAuthState(state, now) }
  purgeExpiredOAuthStates (now?: Date): Promise<number> { return this.#oauthStates.purgeExpiredOAuthStates(now) }
}
