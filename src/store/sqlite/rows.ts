import {
  EMPTY_SYNC_RESULTS,
  taskRunCounts,
  taskRunErrorFields,
  type AuditEntryRecord,
  type DiscordGuildSummary,
  type DiscordUserRecord,
  type GuildConfigRecord,
  type SyncRunSummaryRecord,
  type SyncRunSummaryResults,
  type GuildSettings,
  type HealthStatus,
  type MappingConditions,
  type OAuthFlow,
  type OAuthStateRecord,
  type RoleMappingRecord,
  type SyncRunRecord,
  type SyncRunResults,
  type SyncRunStatus,
  type SyncType,
  type TaskName,
  type TaskRunError,
  type TaskRunRecord,
  type TaskRunStatus
} from '../port/index.js'
import { storedConditions, storedSettings } from '../records.js'

/*
 * The SQLite storage form of each record (epoch-ms dates, 0/1 booleans, JSON text for
 * nested values) and the conversions from a row back to the port's record.
 */

export type Bit = 0 | 1

export interface UserRow {
  id: string
  user_id: string
  discord_user_id: string
  username: string
  discriminator: string | null
  global_name: string | null
  avatar: string | null
  token_expires_at: number | null
  scopes: string
  guilds: string
  has_tokens: Bit
  needs_reauth: Bit
  last_sync: number | null
  is_active: Bit
  created_at: number
  updated_at: number
}

export interface TokenRow {
  access_token: string | null
  refresh_token: string | null
  token_expires_at: number | null
  scopes: string
}

export interface GuildRow {
  id: string
  guild_id: string
  guild_name: string
  enabled: Bit
  settings: string
  has_bot_token: Bit
  bot_permissions: string | null
  bot_user_id: string | null
  owner_id: string | null
  health_status: HealthStatus
  last_health_check: number | null
  last_error: string | null
  created_at: number
  updated_at: number
}

export interface MappingRow {
  id: string
  guild_id: string
  group_id: string
  group_name: string | null
  discord_role_id: string
  discord_role_name: string | null
  conditions: string
  priority: number
  exclusive_set: string | null
  enabled: Bit
  created_by: string | null
  last_sync: number | null
  sync_count: number
  created_at: number
  updated_at: number
}

export interface SyncRunRow {
  id: string
  sync_type: SyncType
  target_id: string | null
  status: SyncRunStatus
  dry_run: Bit
  force: Bit
  started_at: number | null
  completed_at: number | null
  duration: number | null
  heartbeat_at: number | null
  results: string
  initiated_by: string
  created_at: number
}

/** The columns of a run list (every column but `results`, whose counts come from their own columns). */
export const RUN_SUMMARY_COLUMNS = ['id', 'sync_type', 'target_id', 'status', 'dry_run', 'force', 'started_at', 'completed_at', 'duration', 'heartbeat_at',
  'initiated_by', 'created_at', 'users_processed', 'users_synced', 'users_failed', 'roles_added', 'roles_removed', 'guilds_processed', 'errors_count', 'guilds_count'] as const

export type SyncRunSummaryRow = Omit<SyncRunRow, 'results'> & SyncRunSummaryResults

export interface TaskRunRow {
  id: string
  task: TaskName
  status: TaskRunStatus
  reason: string | null
  started_at: number
  finished_at: number
  duration_ms: number
  counts: string
  errors: string
}

export interface OAuthStateRow {
  id: string
  state: string
  flow: OAuthFlow
  user_id: string | null
  redirect_url: string | null
  scopes: string
  code_verifier: string | null
  created_at: number
  expires_at: number
  used: Bit
}

export type AuditRow = Omit<AuditEntryRecord, 'created_at'> & { created_at: number }

// Token columns are deliberately absent from every record projection: a record
// can then never carry a secret, whatever a caller does with it.
export const USER_COLUMNS = [
  'id', 'user_id', 'discord_user_id', 'username', 'discriminator', 'global_name', 'avatar',
  'token_expires_at', 'scopes', 'guilds', 'needs_reauth', 'last_sync', 'is_active', 'created_at', 'updated_at'
]
export const userSelect = (alias: string): string =>
  [...USER_COLUMNS.map((c) => `${alias}.${c}`), `(${alias}.refresh_token IS NOT NULL) AS has_tokens`].join(', ')

export const GUILD_SELECT = `id, guild_id, guild_name, enabled, settings, (bot_token IS NOT NULL) AS has_bot_token,
  bot_permissions, bot_user_id, owner_id, health_status, last_health_check, last_error, created_at, updated_at`

// ---------------------------------------------------------------- conversions

export const bit = (b: boolean): Bit => (b ? 1 : 0)

export function ms (d: Date): number {
  const t = d.getTime()
  if (Number.isNaN(t)) throw new TypeError('invalid Date passed to the SQLite store')
  return t
}
export const msOrNull = (d: Date | null | undefined): number | null => (d == null ? null : ms(d))
export const dateOrNull = (n: number | null): Date | null => (n === null ? null : new Date(n))

/** A link's guild list as stored (joined_at as an ISO string). */
export type StoredGuildSummary = Omit<DiscordGuildSummary, 'joined_at'> & { joined_at?: string | null }

function reviveGuilds (list: StoredGuildSummary[]): DiscordGuildSummary[] {
  return list.map((g) => {
    if (g.joined_at === undefined) return g as DiscordGuildSummary
    return { ...g, joined_at: g.joined_at === null ? null : new Date(g.joined_at) }
  })
}

function reviveResults (json: string): SyncRunResults {
  const r = JSON.parse(json) as SyncRunResults
  return {
    ...EMPTY_SYNC_RESULTS,
    ...r,
    errors: (r.errors ?? []).map((e) => ({ ...e, occurred_at: new Date(e.occurred_at as unknown as string) }))
  }
}

const reviveSettings = (json: string): GuildSettings => storedSettings(JSON.parse(json) as Partial<GuildSettings>)

export function toUser (r: UserRow): DiscordUserRecord {
  return toUserParsed(r, JSON.parse(r.scopes) as string[], JSON.parse(r.guilds) as StoredGuildSummary[])
}

/** A link from a row whose JSON columns are parsed already (SqliteContext.allJson). */
export function toUserParsed (r: Omit<UserRow, 'scopes' | 'guilds'>, scopes: string[], guilds: StoredGuildSummary[]): DiscordUserRecord {
  return {
    id: r.id,
    user_id: r.user_id,
    discord_user_id: r.discord_user_id,
    username: r.username,
    discriminator: r.discriminator,
    global_name: r.global_name,
    avatar: r.avatar,
    scopes,
    guilds: reviveGuilds(guilds),
    token_expires_at: dateOrNull(r.token_expires_at),
    has_tokens: r.has_tokens === 1,
    needs_reauth: r.needs_reauth === 1,
    last_sync: dateOrNull(r.last_sync),
    is_active: r.is_active === 1,
    created_at: new Date(r.created_at),
    updated_at: new Date(r.updated_at)
  }
}

export function toGuild (r: GuildRow): GuildConfigRecord {
  return {
    id: r.id,
    guild_id: r.guild_id,
    guild_name: r.guild_name,
    enabled: r.enabled === 1,
    settings: reviveSettings(r.settings),
    has_bot_token: r.has_bot_token === 1,
    bot_permissions: r.bot_permissions,
    bot_user_id: r.bot_user_id,
    owner_id: r.owner_id,
    health_status: r.health_status,
    last_health_check: dateOrNull(r.last_health_check),
    last_error: r.last_error,
    created_at: new Date(r.created_at),
    updated_at: new Date(r.updated_at)
  }
}

export function toMapping (r: MappingRow): RoleMappingRecord {
  return toMappingParsed(r, JSON.parse(r.conditions) as Partial<MappingConditions>)
}

/** A mapping from a row whose conditions are parsed already (SqliteContext.allJson). */
export function toMappingParsed (r: Omit<MappingRow, 'conditions'>, conditions: Partial<MappingConditions>): RoleMappingRecord {
  return {
    id: r.id,
    guild_id: r.guild_id,
    group_id: r.group_id,
    group_name: r.group_name,
    discord_role_id: r.discord_role_id,
    discord_role_name: r.discord_role_name,
    conditions: storedConditions(conditions),
    priority: r.priority,
    exclusive_set: r.exclusive_set,
    enabled: r.enabled === 1,
    created_by: r.created_by,
    last_sync: dateOrNull(r.last_sync),
    sync_count: r.sync_count,
    created_at: new Date(r.created_at),
    updated_at: new Date(r.updated_at)
  }
}

export function toSyncRun (r: SyncRunRow): SyncRunRecord {
  return {
    id: r.id,
    sync_type: r.sync_type,
    target_id: r.target_id,
    status: r.status,
    dry_run: r.dry_run === 1,
    force: r.force === 1,
    started_at: dateOrNull(r.started_at),
    completed_at: dateOrNull(r.completed_at),
    duration: r.duration,
    heartbeat_at: dateOrNull(r.heartbeat_at),
    results: reviveResults(r.results),
    initiated_by: r.initiated_by,
    created_at: new Date(r.created_at)
  }
}

export function toSyncRunSummary (r: SyncRunSummaryRow): SyncRunSummaryRecord {
  return {
    id: r.id,
    sync_type: r.sync_type,
    target_id: r.target_id,
    status: r.status,
    dry_run: r.dry_run === 1,
    force: r.force === 1,
    started_at: dateOrNull(r.started_at),
    completed_at: dateOrNull(r.completed_at),
    duration: r.duration,
    heartbeat_at: dateOrNull(r.heartbeat_at),
    results: {
      users_processed: r.users_processed,
      users_synced: r.users_synced,
      users_failed: r.users_failed,
      roles_added: r.roles_added,
      roles_removed: r.roles_removed,
      guilds_processed: r.guilds_processed,
      errors_count: r.errors_count,
      guilds_count: r.guilds_count
    },
    initiated_by: r.initiated_by,
    created_at: new Date(r.created_at)
  }
}

export function toTaskRun (r: TaskRunRow): TaskRunRecord {
  return {
    id: r.id,
    task: r.task,
    status: r.status,
    reason: r.reason,
    started_at: new Date(r.started_at),
    finished_at: new Date(r.finished_at),
    duration_ms: r.duration_ms,
    counts: taskRunCounts(JSON.parse(r.counts) as Record<string, number>),
    errors: (JSON.parse(r.errors) as TaskRunError[]).map(taskRunErrorFields)
  }
}

export function toOAuthState (r: OAuthStateRow): OAuthStateRecord {
  return {
    id: r.id,
    state: r.state,
    flow: r.flow,
    user_id: r.user_id,
    redirect_url: r.redirect_url,
    scopes: JSON.parse(r.scopes) as string[],
    code_verifier: r.code_verifier,
    created_at: new Date(r.created_at),
    expires_at: new Date(r.expires_at),
    used: r.used === 1
  }
}

export function toAudit (r: AuditRow): AuditEntryRecord {
  // Field by field (a page is 20 to 100 of these): a spread copy costs several times as much.
  return {
    id: r.id,
    run_id: r.run_id,
    guild_id: r.guild_id,
    discord_user_id: r.discord_user_id,
    user_id: r.user_id,
    role_id: r.role_id,
    role_name: r.role_name,
    action: r.action,
    mapping_id: r.mapping_id,
    outcome: r.outcome,
    error_code: r.error_code,
    trigger: r.trigger,
    created_at: new Date(r.created_at)
  }
}
