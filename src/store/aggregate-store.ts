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
  DiscordUserRecord,
  GuildConfigRecord,
  ListAuditQuery,
  ListDiscordUsersQuery,
  ListRoleMappingsQuery,
  ListRoleMappingsPage,
  ListSyncRunsQuery,
  ListTaskRunsQuery,
  OAuthStateRecord,
  OAuthTokens,
  Page,
  RoleMappingBatch,
  RoleMappingBatchResult,
  RoleMappingRecord,
  SyncRunRecord,
  SyncRunSummaryRecord,
  TaskName,
  TaskRunRecord,
  UpdateDiscordUserInput,
  UpdateGuildConfigInput,
  UpdateRoleMappingInput,
  UpdateSyncRunInput
} from './port/index.js'
import type { LinkedAccountSearch, LinkedAccountStore, SearchUsersQuery } from './port/accounts.js'
import type { GuildConfigStore } from './port/guilds.js'
import type { RoleMappingStore } from './port/mappings.js'
import type { OAuthStateStore } from './port/oauth-states.js'
import type { SyncRunStore } from './port/sync-runs.js'
import type { TaskRunStore } from './port/task-runs.js'
import type { ClaimLeaseOptions, LeaseRecord, LeaseStore } from './port/leases.js'
import type { AccessLossStore } from './port/access-loss.js'
import type { StoreStats, StoreStatsSource } from './port/stats.js'
import type { AccountNames, GuildName, NameLookup } from './port/names.js'

/** One implementation of each aggregate's port, as an adapter builds them over its connection. */
export interface StoreAggregates {
  accounts: LinkedAccountStore & LinkedAccountSearch & Pick<NameLookup, 'listAccountNames'>
  guilds: GuildConfigStore & Pick<NameLookup, 'listGuildNames'>
  mappings: RoleMappingStore
  syncRuns: SyncRunStore & Required<Pick<SyncRunStore, 'syncRunsVersion' | 'listSyncRunSummaries'>>
  taskRuns: TaskRunStore
  oauthStates: OAuthStateStore
  leases: LeaseStore
  accessLoss: AccessLossStore
  stats: StoreStatsSource
}

/**
 * The port as the sum of its aggregates: each method hands the call to the aggregate that owns
 * it. Both adapters extend this and add only their lifecycle (init, ping, close), so a method
 * added to an aggregate's port is forwarded in one place.
 */
export abstract class AggregateStore {
  readonly #a: StoreAggregates

  constructor (aggregates: StoreAggregates) {
    this.#a = aggregates
  }

  // -------------------------------------------------------------- linked accounts

  createUser (input: CreateDiscordUserInput): Promise<DiscordUserRecord> { return this.#a.accounts.createUser(input) }
  getUserByDiscordId (discordUserId: string): Promise<DiscordUserRecord | null> { return this.#a.accounts.getUserByDiscordId(discordUserId) }
  listUsersByUserId (userId: string): Promise<DiscordUserRecord[]> { return this.#a.accounts.listUsersByUserId(userId) }
  listUsersByDiscordIds (discordUserIds: readonly string[]): Promise<DiscordUserRecord[]> { return this.#a.accounts.listUsersByDiscordIds(discordUserIds) }
  listUsers (query?: ListDiscordUsersQuery): Promise<Page<DiscordUserRecord>> { return this.#a.accounts.listUsers(query) }
  updateUser (discordUserId: string, patch: UpdateDiscordUserInput): Promise<DiscordUserRecord | null> { return this.#a.accounts.updateUser(discordUserId, patch) }
  deleteUser (discordUserId: string): Promise<boolean> { return this.#a.accounts.deleteUser(discordUserId) }
  setUserTokens (discordUserId: string, tokens: OAuthTokens | null): Promise<boolean> { return this.#a.accounts.setUserTokens(discordUserId, tokens) }
  getUserTokens (discordUserId: string): Promise<OAuthTokens | null> { return this.#a.accounts.getUserTokens(discordUserId) }
  listUsersWithTokensExpiringBefore (before: Date, limit: number): Promise<DiscordUserRecord[]> { return this.#a.accounts.listUsersWithTokensExpiringBefore(before, limit) }
  countUsers (query?: { is_active?: boolean }): Promise<number> { return this.#a.accounts.countUsers(query) }
  searchUsers (query: SearchUsersQuery): Promise<DiscordUserRecord[]> { return this.#a.accounts.searchUsers(query) }
  listAccountNames (discordUserIds: readonly string[]): Promise<AccountNames[]> { return this.#a.accounts.listAccountNames(discordUserIds) }

  // -------------------------------------------------------------- guilds

  createGuild (input: CreateGuildConfigInput): Promise<GuildConfigRecord> { return this.#a.guilds.createGuild(input) }
  getGuild (guildId: string): Promise<GuildConfigRecord | null> { return this.#a.guilds.getGuild(guildId) }
  listGuilds (query?: { enabled?: boolean }): Promise<GuildConfigRecord[]> { return this.#a.guilds.listGuilds(query) }
  updateGuild (guildId: string, patch: UpdateGuildConfigInput): Promise<GuildConfigRecord | null> { return this.#a.guilds.updateGuild(guildId, patch) }
  deleteGuild (guildId: string): Promise<{ deleted: boolean, mappings_deleted: number }> { return this.#a.guilds.deleteGuild(guildId) }
  getBotToken (guildId: string): Promise<string | null> { return this.#a.guilds.getBotToken(guildId) }
  listGuildNames (): Promise<GuildName[]> { return this.#a.guilds.listGuildNames() }

  // -------------------------------------------------------------- role mappings

  createMapping (input: CreateRoleMappingInput): Promise<RoleMappingRecord> { return this.#a.mappings.createMapping(input) }
  getMapping (id: string): Promise<RoleMappingRecord | null> { return this.#a.mappings.getMapping(id) }
  listMappings (query?: ListRoleMappingsPage): Promise<RoleMappingRecord[]> { return this.#a.mappings.listMappings(query) }
  updateMapping (id: string, patch: UpdateRoleMappingInput): Promise<RoleMappingRecord | null> { return this.#a.mappings.updateMapping(id, patch) }
  deleteMapping (id: string): Promise<boolean> { return this.#a.mappings.deleteMapping(id) }
  applyMappingBatch (guildId: string, batch: RoleMappingBatch): Promise<RoleMappingBatchResult> { return this.#a.mappings.applyMappingBatch(guildId, batch) }
  recordMappingSync (ids: string[], at: Date): Promise<void> { return this.#a.mappings.recordMappingSync(ids, at) }
  countMappings (query?: ListRoleMappingsQuery): Promise<number> { return this.#a.mappings.countMappings(query) }

  // -------------------------------------------------------------- sync runs and audit

  createSyncRun (input: CreateSyncRunInput): Promise<SyncRunRecord> { return this.#a.syncRuns.createSyncRun(input) }
  getSyncRun (id: string): Promise<SyncRunRecord | null> { return this.#a.syncRuns.getSyncRun(id) }
  updateSyncRun (id: string, patch: UpdateSyncRunInput): Promise<SyncRunRecord | null> { return this.#a.syncRuns.updateSyncRun(id, patch) }
  listSyncRuns (query?: ListSyncRunsQuery): Promise<SyncRunRecord[]> { return this.#a.syncRuns.listSyncRuns(query) }
  listSyncRunSummaries (query?: ListSyncRunsQuery): Promise<SyncRunSummaryRecord[]> { return this.#a.syncRuns.listSyncRunSummaries(query) }
  failStaleSyncRuns (before: Date, reason: string): Promise<number> { return this.#a.syncRuns.failStaleSyncRuns(before, reason) }
  pruneSyncRuns (before: Date): Promise<number> { return this.#a.syncRuns.pruneSyncRuns(before) }
  syncRunsVersion (): Promise<number> { return this.#a.syncRuns.syncRunsVersion() }
  appendAudit (entries: CreateAuditEntryInput[]): Promise<number> { return this.#a.syncRuns.appendAudit(entries) }
  listAudit (query?: ListAuditQuery): Promise<Page<AuditEntryRecord>> { return this.#a.syncRuns.listAudit(query) }
  pruneAudit (before: Date): Promise<number> { return this.#a.syncRuns.pruneAudit(before) }

  // -------------------------------------------------------------- task runs

  recordTaskRun (input: CreateTaskRunInput): Promise<TaskRunRecord> { return this.#a.taskRuns.recordTaskRun(input) }
  listTaskRuns (query: ListTaskRunsQuery): Promise<TaskRunRecord[]> { return this.#a.taskRuns.listTaskRuns(query) }
  pruneTaskRuns (task: TaskName, before: Date): Promise<number> { return this.#a.taskRuns.pruneTaskRuns(task, before) }

  // -------------------------------------------------------------- OAuth states

  createOAuthState (input: CreateOAuthStateInput): Promise<OAuthStateRecord> { return this.#a.oauthStates.createOAuthState(input) }
  consumeOAuthState (state: string, now?: Date): Promise<ConsumeOAuthStateResult> { return this.#a.oauthStates.consumeOAuthState(state, now) }
  purgeExpiredOAuthStates (now?: Date): Promise<number> { return this.#a.oauthStates.purgeExpiredOAuthStates(now) }

  // -------------------------------------------------------------- leases

  claimLease (name: string, owner: string, ttlMs: number, opts?: ClaimLeaseOptions): Promise<boolean> { return this.#a.leases.claimLease(name, owner, ttlMs, opts) }
  releaseLease (name: string, owner: string): Promise<boolean> { return this.#a.leases.releaseLease(name, owner) }
  getLease (name: string): Promise<LeaseRecord | null> { return this.#a.leases.getLease(name) }

  // -------------------------------------------------------------- access loss

  markAccessLost (guildId: string, discordUserIds: readonly string[], now: Date): Promise<Map<string, Date>> { return this.#a.accessLoss.markAccessLost(guildId, discordUserIds, now) }
  listAccessLost (guildId: string, discordUserIds: readonly string[]): Promise<Map<string, Date>> { return this.#a.accessLoss.listAccessLost(guildId, discordUserIds) }
  clearAccessLost (guildId: string, discordUserIds: readonly string[]): Promise<void> { return this.#a.accessLoss.clearAccessLost(guildId, discordUserIds) }
  sweepAccessLost (guildId: string, seenBefore: Date): Promise<number> { return this.#a.accessLoss.sweepAccessLost(guildId, seenBefore) }
  // -------------------------------------------------------------- size and row counts

  stats (): Promise<StoreStats> { return this.#a.stats.stats() }
}
