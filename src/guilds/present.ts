import type { GuildConfigRecord, RoleMappingRecord } from '../store/port/index.js'
import type { GuildConfigDto } from '../schemas/guilds.js'
import type { RoleMappingDto } from '../schemas/role-mappings.js'
import { iso } from '../schemas/http.js'

/*
 * Records → API shapes. Field by field on purpose: a field added to a record later does
 * not reach a response until someone lists it here (and in the response schema), so a
 * secret can never leak by accident. The seed's alias names are filled from one value.
 */

export function presentGuild (g: GuildConfigRecord): GuildConfigDto {
  return {
    id: g.id,
    guild_id: g.guild_id,
    guild_name: g.guild_name,
    enabled: g.enabled,
    is_enabled: g.enabled,
    settings: {
      auto_sync: g.settings.auto_sync,
      sync_interval: g.settings.sync_interval,
      sync_on_join: g.settings.sync_on_join,
      remove_roles_on_leave: g.settings.remove_roles_on_leave,
      audit_channel_id: g.settings.audit_channel_id,
      notification_channel_id: g.settings.notification_channel_id,
      max_role_changes_per_sync: g.settings.max_role_changes_per_sync
    },
    has_bot_token: g.has_bot_token,
    bot_permissions: g.bot_permissions,
    bot_user_id: g.bot_user_id,
    owner_id: g.owner_id,
    health_status: g.health_status,
    last_health_check: iso(g.last_health_check),
    last_error: g.last_error,
    created_at: g.created_at.toISOString(),
    updated_at: g.updated_at.toISOString()
  }
}

export function presentMapping (m: RoleMappingRecord): RoleMappingDto {
  return {
    id: m.id,
    guild_id: m.guild_id,
    group_id: m.group_id,
    group_name: m.group_name,
    discord_role_id: m.discord_role_id,
    discord_role_name: m.discord_role_name,
    conditions: {
      require_all: m.conditions.require_all,
      character_count_min: m.conditions.character_count_min,
      character_count_max: m.conditions.character_count_max,
      required_permissions: [...m.conditions.required_permissions],
      excluded_groups: [...m.conditions.excluded_groups]
    },
    priority: m.priority,
    exclusive_set: m.exclusive_set,
    enabled: m.enabled,
    is_active: m.enabled,
    created_by: m.created_by,
    last_sync: iso(m.last_sync),
    sync_count: m.sync_count,
    created_at: m.created_at.toISOString(),
    updated_at: m.updated_at.toISOString()
  }
}
