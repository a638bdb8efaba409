import {
  DEFAULT_GUILD_SETTINGS,
  DEFAULT_MAPPING_CONDITIONS,
  EMPTY_SYNC_RESULTS,
  type AuditEntryRecord,
  type DiscordGuildSummary,
  type DiscordUserRecord,
  type GuildConfigRecord,
  type GuildSettings,
  type MappingConditions,
  type OAuthStateRecord,
  type RoleMappingRecord,
  type SyncGuildResult,
  type SyncRunError,
  type SyncRunRecord,
  type SyncRunResults
} from '../port.js'

/*
 * The persisted shape of each collection, and the explicit mapping from a document
 * to the port's record. Records are built field by field (never by spreading a
 * document) so that a field added to a document later, a secret above all, cannot
 * reach a caller by accident.
 */

export interface GuildSummaryDoc {
  id: string
  name: string
  permissions: string
  owner?: boolean
  joined_at?: Date | null
}

export interface UserDoc {
  _id: string
  user_id: string
  discord_user_id: string
  username: string
  discriminator: string | null
  global_name: string | null
  avatar: string | null
  scopes: string[]
  guilds: GuildSummaryDoc[]
  token_expires_at: Date | null
  /** SecretBox envelope or null. */
  access_token: string | null
  /** SecretBox envelope or null. */
  refresh_token: string | null
  /** Denormalised so a record can say whether tokens exist without reading them. */
  has_tokens: boolean
  needs_reauth: boolean
  last_sync: Date | null
  is_active: boolean
  created_at: Date
  updated_at: Date
}

export interface GuildDoc {
  _id: string
  guild_id: string
  guild_name: string
  enabled: boolean
  settings: GuildSettings
  /** SecretBox envelope or null. */
  bot_token: string | null
  has_bot_token: boolean
  bot_permissions: string | null
  bot_user_id: string | null
  owner_id: string | null
  health_status: GuildConfigRecord['health_status']
  last_health_check: Date | null
  last_error: string | null
  created_at: Date
  updated_at: Date
}

export interface MappingDoc {
  _id: string
  guild_id: string
  group_id: string
  group_name: string | null
  discord_role_id: string
  discord_role_name: string | null
  conditions: MappingConditions
  priority: number
  exclusive_set: string | null
  enabled: boolean
  created_by: string | null
  last_sync: Date | null
  sync_count: number
  created_at: Date
  updated_at: Date
}

export interface SyncRunDoc {
  _id: string
  sync_type: SyncRunRecord['sync_type']
  target_id: string | null
  status: SyncRunRecord['status']
  dry_run: boolean
  force: boolean
  started_at: Date | null
  completed_at: Date | null
  duration: number | null
  heartbeat_at: Date | null
  results: SyncRunResults
  initiated_by: string
  created_at: Date
}

export interface OAuthStateDoc {
  _id: string
  state: string
  flow: OAuthStateRecord['flow']
  user_id: string | null
  redirect_url: string | null
  scopes: string[]
  code_verifier: string | null
  created_at: Date
  expires_at: Date
  used: boolean
}

export interface AuditDoc {
  _id: string
  run_id: string | null
  guild_id: string
  discord_user_id: string
  user_id: string | null
  role_id: string
  role_name: string | null
  action: AuditEntryRecord['action']
  mapping_id: string | null
  outcome: AuditEntryRecord['outcome']
  error_code: string | null
  created_at: Date
}

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

export function toGuildSummaryDoc (g: DiscordGuildSummary): GuildSummaryDoc {
  const doc: GuildSummaryDoc = { id: g.id, name: g.name, permissions: g.permissions }
  if (g.owner !== undefined) doc.owner = g.owner
  if (g.joined_at !== undefined) doc.joined_at = g.joined_at
  return doc
}

function toGuildSummary (g: GuildSummaryDoc): DiscordGuildSummary {
  const out: DiscordGuildSummary = { id: g.id, name: g.name, permissions: g.permissions }
  if (g.owner !== undefined) out.owner = g.owner
  if (g.joined_at !== undefined) out.joined_at = g.joined_at
  return out
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
    guilds: (d.guilds ?? []).map(toGuildSummary),
    token_expires_at: d.token_expires_at ?? null,
    has_tokens: d.has_tokens === true,
    needs_reauth: d.needs_reauth === true,
    last_sync: d.last_sync ?? null,
    is_active: d.is_active,
    created_at: d.created_at,
    updated_at: d.updated_at
  }
}

/** Only the known settings keys, so arbitrary input never lands in the document. */
export function pickSettings (s: Partial<GuildSettings> | undefined): Partial<GuildSettings> {
  const src = definedOnly(s)
  const out: Partial<GuildSettings> = {}
  for (const key of Object.keys(DEFAULT_GUILD_SETTINGS) as Array<keyof GuildSettings>) {
    if (key in src) (out as Record<string, unknown>)[key] = src[key]
  }
  return out
}

export function toGuildRecord (d: PublicGuildDoc): GuildConfigRecord {
  return {
    id: d._id,
    guild_id: d.guild_id,
    guild_name: d.guild_name,
    enabled: d.enabled,
    settings: { ...DEFAULT_GUILD_SETTINGS, ...pickSettings(d.settings) },
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

export function pickConditions (c: Partial<MappingConditions> | undefined): Partial<MappingConditions> {
  const src = definedOnly(c)
  const out: Partial<MappingConditions> = {}
  for (const key of Object.keys(DEFAULT_MAPPING_CONDITIONS) as Array<keyof MappingConditions>) {
    if (key in src) (out as Record<string, unknown>)[key] = src[key]
  }
  return out
}

export function toMappingRecord (d: MappingDoc): RoleMappingRecord {
  const conditions = { ...DEFAULT_MAPPING_CONDITIONS, ...pickConditions(d.conditions) }
  return {
    id: d._id,
    guild_id: d.guild_id,
    group_id: d.group_id,
    group_name: d.group_name ?? null,
    discord_role_id: d.discord_role_id,
    discord_role_name: d.discord_role_name ?? null,
    conditions: {
      ...conditions,
      required_permissions: [...conditions.required_permissions],
      excluded_groups: [...conditions.excluded_groups]
    },
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
  return {
    id: d._id,
    run_id: d.run_id ?? null,
    guild_id: d.guild_id,
    discord_user_id: d.discord_user_id,
    user_id: d.user_id ?? null,
    role_id: d.role_id,
    role_name: d.role_name ?? null,
    action: d.action,
    mapping_id: d.mapping_id ?? null,
    outcome: d.outcome,
    error_code: d.error_code ?? null,
    created_at: d.created_at
  }
}
