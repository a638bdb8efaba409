import {
  DEFAULT_GUILD_SETTINGS,
  DEFAULT_MAPPING_CONDITIONS,
  EMPTY_SYNC_RESULTS,
  mergeKnown,
  taskRunCounts,
  taskRunErrorFields,
  type CreateDiscordUserInput,
  type CreateGuildConfigInput,
  type CreateOAuthStateInput,
  type CreateRoleMappingInput,
  type CreateSyncRunInput,
  type CreateTaskRunInput,
  type DiscordUserRecord,
  type GuildConfigRecord,
  type GuildSettings,
  type MappingConditions,
  type OAuthStateRecord,
  type RoleMappingRecord,
  type SyncRunRecord,
  type TaskRunRecord
} from './port/index.js'

/*
 * The record side of every adapter's mapping, written once: which defaults a create input
 * gets and how stored settings and conditions are read back. The SQLite rows and the
 * MongoDB documents then differ only in storage form (bits, epoch ms and JSON text versus
 * BSON), so the two backends cannot drift apart on what a new record contains.
 * Secrets are never part of these fields: each adapter seals them itself.
 */

type Timestamps = 'id' | 'created_at' | 'updated_at'

/** A new link's profile fields (tokens, scopes and expiry come from the sealed tokens). */
export function newUserFields (input: CreateDiscordUserInput): Pick<DiscordUserRecord,
'user_id' | 'discord_user_id' | 'username' | 'discriminator' | 'global_name' | 'avatar' | 'guilds' | 'needs_reauth' | 'last_sync' | 'is_active'> {
  return {
    user_id: input.user_id,
    discord_user_id: input.discord_user_id,
    username: input.username,
    discriminator: input.discriminator ?? null,
    global_name: input.global_name ?? null,
    avatar: input.avatar ?? null,
    guilds: input.guilds ?? [],
    needs_reauth: false,
    last_sync: null,
    is_active: input.is_active ?? true
  }
}

/** A new guild configuration's fields but the bot token. */
export function newGuildFields (input: CreateGuildConfigInput): Omit<GuildConfigRecord, Timestamps | 'has_bot_token'> {
  return {
    guild_id: input.guild_id,
    guild_name: input.guild_name,
    enabled: input.enabled ?? true,
    settings: mergeKnown(DEFAULT_GUILD_SETTINGS, input.settings),
    bot_permissions: input.bot_permissions ?? null,
    bot_user_id: input.bot_user_id ?? null,
    owner_id: input.owner_id ?? null,
    health_status: input.health_status ?? 'unknown',
    last_health_check: input.last_health_check ?? null,
    last_error: input.last_error ?? null
  }
}

export function newMappingFields (input: CreateRoleMappingInput): Omit<RoleMappingRecord, Timestamps> {
  return {
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
    sync_count: 0
  }
}

export function newSyncRunFields (input: CreateSyncRunInput): Omit<SyncRunRecord, 'id' | 'created_at'> {
  return {
    sync_type: input.sync_type,
    target_id: input.target_id ?? null,
    status: input.status ?? 'pending',
    dry_run: input.dry_run ?? false,
    force: input.force ?? false,
    started_at: input.started_at ?? null,
    completed_at: null,
    duration: null,
    heartbeat_at: null,
    results: EMPTY_SYNC_RESULTS,
    initiated_by: input.initiated_by
  }
}

/** A task run as stored: whole non-negative milliseconds, finite counters, known error fields. */
export function newTaskRunFields (input: CreateTaskRunInput): Omit<TaskRunRecord, 'id'> {
  return {
    task: input.task,
    status: input.status,
    reason: input.reason ?? null,
    started_at: input.started_at,
    finished_at: input.finished_at,
    duration_ms: Math.max(0, Math.round(input.duration_ms)),
    counts: taskRunCounts(input.counts),
    errors: input.errors.map(taskRunErrorFields)
  }
}

export function newOAuthStateFields (input: CreateOAuthStateInput): Omit<OAuthStateRecord, 'id' | 'created_at'> {
  return {
    state: input.state,
    flow: input.flow,
    user_id: input.user_id ?? null,
    redirect_url: input.redirect_url ?? null,
    scopes: [...input.scopes],
    code_verifier: input.code_verifier ?? null,
    expires_at: input.expires_at,
    used: false
  }
}

// Stored settings/conditions are merged over today's defaults on read, so a field
// added in a later release has a value on rows and documents written before it existed.
export const storedSettings = (stored: Partial<GuildSettings> | null | undefined): GuildSettings => mergeKnown(DEFAULT_GUILD_SETTINGS, stored)
export const storedConditions = (stored: Partial<MappingConditions> | null | undefined): MappingConditions => mergeKnown(DEFAULT_MAPPING_CONDITIONS, stored)
