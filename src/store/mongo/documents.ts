import {
  EMPTY_SYNC_RESULTS,
  auditEntryFields,
  taskRunCounts,
  taskRunErrorFields,
  type AuditEntryRecord,
  type DiscordGuildSummary,
  type DiscordUserRecord,
  type GuildConfigRecord,
  type OAuthStateRecord,
  type RoleMappingRecord,
  type SyncGuildResult,
  type SyncRunError,
  type SyncRunRecord,
  type SyncRunSummaryResults,
  type SyncRunResults,
  type TaskRunRecord
} from '../port/index.js'
import { storedConditions, storedSettings } from '../records.js'

/*
 * The persisted shape of each collection, and the explicit mapping from a document
 * to the port's record. Records are built field by field (never by spreading a
 * document) so that a field added to a document later, a secret above all, cannot
 * reach a caller by accident.
 */

/** A record as stored: the port's `id` is the document's `_id`; every other field keeps its name and type. */
type Stored<R extends { id: string }> = Omit<R, 'id'> & { _id: string }

export type GuildSummaryDoc = DiscordGuildSummary

export type UserDoc = Stored<DiscordUserRecord> & {
  /** SecretBox envelope or null. */
  access_token: string | null
  /** SecretBox envelope or null. (`has_tokens` is denormalised so a record can say whether tokens exist without reading them.) */
  refresh_token: string | null
}

export type GuildDoc = Stored<GuildConfigRecord> & {
  /** SecretBox envelope or null. */
  bot_token: string | null
}

export type MappingDoc = Stored<RoleMappingRecord>
/**
 * `summary`: the results' counts, written with them (GET /sync/runs reads it instead of the
 * results). Absent on runs stored before it existed, partial on such a run failed stale since.
 */
export type SyncRunDoc = Stored<SyncRunRecord> & { summary?: Partial<SyncRunSummaryResults> }
export type TaskRunDoc = Stored<TaskRunRecord>
export type OAuthStateDoc = Stored<OAuthStateRecord>
export type AuditDoc = Stored<AuditEntryRecord>
/** A lease: its name is the `_id`. */
export interface LeaseDoc { _id: string, owner: string, expires_at: Date }
/** The counter of changes to the finished sync runs (one document, `_id: 'sync_runs'`). */
export interface SyncRunsVersionDoc { _id: string, version: number }
/** A member without access since `lost_since`; `_id` is `<guild_id>:<discord_user_id>`. */
export interface AccessLossDoc { _id: string, guild_id: string, discord_user_id: string, lost_since: Date, seen_at: Date }

/** Secret-bearing fields, excluded from every read that produces a record. */
export const USER_SECRET_FIELDS = ['access_token', 'refresh_token'] as const
export const GUILD_SECRET_FIELDS = ['bot_token'] as const
export const USER_PUBLIC_PROJECTION = { access_token: 0, refresh_token: 0 } as const
export const GUILD_PUBLIC_PROJECTION = { bot_token: 0 } as const

export type PublicUserDoc = Omit<UserDoc, typeof USER_SECRET_FIELDS[number]>
export type PublicGuildDoc = Omit<GuildDoc, typeof GUILD_SECRET_FIELDS[number]>

/** Keeps only defined values, so a patch never overwrites a field with `undefined`. */
export function definedOnly<T extends object> (patch: T | undefined): Partial<T> {
  const out: Partial<T> = {}
  if (patch === undefined || patch === null) return out
  for (const key of Object.keys(patch) as Array<keyof T>) {
    if (patch[key] !== undefined) out[key] = patch[key]
  }
  return out
}

/** The known fields of a guild summary, in both directions (input to document, document to record). */
export function toGuildSummaryDoc (g: DiscordGuildSummary): GuildSummaryDoc {
  const doc: GuildSummaryDoc = { id: g.id, name: g.name, permissions: g.permissions }
  if (g.owner !== undefined) doc.owner = g.owner
  if (g.joined_at !== undefined) doc.joined_at = g.joined_at
  return doc
}

export function toUserRecord (d: PublicUserDoc): DiscordUserRecord {
  return {
    id: d._id,
    user_id: d.user_id,
    discord_user_id: d.discord_user_id,
    username: d.username,
    discriminator: d.discriminator ?? null,
    global_name: d.global_name ?? null,
    avatar: d.avatar ?? null,
    scopes: [...(d.scopes ?? [])],
    guilds: (d.guilds ?? []).map(toGuildSummaryDoc),
    token_expires_at: d.token_expires_at ?? null,
    has_tokens: d.has_tokens === true,
    needs_reauth: d.needs_reauth === true,
    last_sync: d.last_sync ?? null,
    is_active: d.is_active,
    created_at: d.created_at,
    updated_at: d.updated_at
  }
}

export function toGuildRecord (d: PublicGuildDoc): GuildConfigRecord {
  return {
    id: d._id,
    guild_id: d.guild_id,
    guild_name: d.guild_name,
    enabled: d.enabled,
    settings: storedSettings(d.settings),
    has_bot_token: d.has_bot_token === true,
    bot_permissions: d.bot_permissions ?? null,
    bot_user_id: d.bot_user_id ?? null,
    owner_id: d.owner_id ?? null,
    health_status: d.health_status ?? 'unknown',
    last_health_check: d.last_health_check ?? null,
    last_error: d.last_error ?? null,
    created_at: d.created_at,
    updated_at: d.updated_at
  }
}

export function toMappingRecord (d: MappingDoc): RoleMappingRecord {
  return {
    id: d._id,
    guild_id: d.guild_id,
    group_id: d.group_id,
    group_name: d.group_name ?? null,
    discord_role_id: d.discord_role_id,
    discord_role_name: d.discord_role_name ?? null,
    conditions: storedConditions(d.conditions),
    priority: d.priority,
    exclusive_set: d.exclusive_set ?? null,
    enabled: d.enabled,
    created_by: d.created_by ?? null,
    last_sync: d.last_sync ?? null,
    sync_count: d.sync_count ?? 0,
    created_at: d.created_at,
    updated_at: d.updated_at
  }
}

export function toSyncErrorDoc (e: SyncRunError): SyncRunError {
  const out: SyncRunError = { error: e.error, occurred_at: e.occurred_at }
  if (e.user_id !== undefined) out.user_id = e.user_id
  if (e.discord_user_id !== undefined) out.discord_user_id = e.discord_user_id
  if (e.guild_id !== undefined) out.guild_id = e.guild_id
  if (e.code !== undefined) out.code = e.code
  return out
}

function toSyncGuildDoc (g: SyncGuildResult): SyncGuildResult {
  return {
    guild_id: g.guild_id,
    status: g.status,
    members_scanned: g.members_scanned,
    members_to_change: g.members_to_change,
    ...(g.members_to_join === undefined ? {} : { members_to_join: g.members_to_join }),
    planned_changes: g.planned_changes,
    blocked_changes: g.blocked_changes,
    roles_added: g.roles_added,
    roles_removed: g.roles_removed,
    members_failed: g.members_failed,
    reason: g.reason ?? null
  }
}

export function toSyncResultsDoc (r: SyncRunResults | undefined): SyncRunResults {
  const src = r ?? EMPTY_SYNC_RESULTS
  return {
    users_processed: src.users_processed ?? 0,
    users_synced: src.users_synced ?? 0,
    users_failed: src.users_failed ?? 0,
    roles_added: src.roles_added ?? 0,
    roles_removed: src.roles_removed ?? 0,
    guilds_processed: src.guilds_processed ?? 0,
    errors: (src.errors ?? []).map(toSyncErrorDoc),
    ...(Array.isArray(src.guilds) ? { guilds: src.guilds.map(toSyncGuildDoc) } : {})
  }
}

export function toSyncRunRecord (d: SyncRunDoc): SyncRunRecord {
  return {
    id: d._id,
    sync_type: d.sync_type,
    target_id: d.target_id ?? null,
    status: d.status,
    dry_run: d.dry_run === true,
    force: d.force === true,
    started_at: d.started_at ?? null,
    completed_at: d.completed_at ?? null,
    duration: d.duration ?? null,
    heartbeat_at: d.heartbeat_at ?? null,
    results: toSyncResultsDoc(d.results),
    initiated_by: d.initiated_by,
    created_at: d.created_at
  }
}

export function toTaskRunRecord (d: TaskRunDoc): TaskRunRecord {
  return {
    id: d._id,
    task: d.task,
    status: d.status,
    reason: d.reason ?? null,
    started_at: d.started_at,
    finished_at: d.finished_at,
    duration_ms: d.duration_ms,
    counts: taskRunCounts(d.counts ?? {}),
    errors: (d.errors ?? []).map(taskRunErrorFields)
  }
}

export function toOAuthStateRecord (d: OAuthStateDoc): OAuthStateRecord {
  return {
    id: d._id,
    state: d.state,
    flow: d.flow,
    user_id: d.user_id ?? null,
    redirect_url: d.redirect_url ?? null,
    scopes: [...(d.scopes ?? [])],
    code_verifier: d.code_verifier ?? null,
    created_at: d.created_at,
    expires_at: d.expires_at,
    used: d.used === true
  }
}

export function toAuditRecord (d: AuditDoc): AuditEntryRecord {
  return { id: d._id, ...auditEntryFields(d), created_at: d.created_at }
}
