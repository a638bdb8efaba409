import { Type, type Static } from '@sinclair/typebox'
import { Snowflake } from './common.js'
import { IsoDateTime, iso, Label, Nullable } from './http.js'
import type { GuildConfigRecord } from '../store/port/index.js'
import type { GuildGatewayState } from '../live/gateway/gateway.js'

/*
 * Guild configuration (the seed's `discord_guild_configs`). Requests accept the seed's
 * names as written: `is_enabled` (its curl example) and `enabled` (its stored document).
 * Responses carry both, always equal, so a client written against either keeps working.
 * `bot_token` is write-only: requests may set or clear it, responses only say
 * `has_bot_token`.
 */

/** Go-style duration as the seed writes settings ("15m", "1h30m"). Range checked by the service. */
const SyncInterval = Type.String({ pattern: '^(\\d+(\\.\\d+)?(ms|s|m|h|d))+$', maxLength: 32, description: 'Go-style duration, 1m to 7d (e.g. "15m")' })

/** Discord bot tokens are three base64url parts separated by dots; the bounds only keep garbage out. */
export const BotToken = Type.String({ minLength: 20, maxLength: 200, pattern: '^[A-Za-z0-9_\\-.]+$', description: 'Bot token (write-only: never returned)' })

const AccessLost = Type.Union([Type.Literal('remove_roles'), Type.Literal('kick'), Type.Literal('none')], {
  description: 'A member who lost access (unlinked, deauthorised, no longer entitled): `remove_roles` removes the managed roles, `kick` removes the member from the guild (needs Kick Members), `none` leaves it alone. Default remove_roles'
})

export const GuildSettingsInput = Type.Object({
  auto_sync: Type.Optional(Type.Boolean({ description: 'Sync this guild on its interval. Default true' })),
  sync_interval: Type.Optional(SyncInterval),
  sync_on_join: Type.Optional(Type.Boolean({ description: 'Apply managed roles as soon as the Gateway reports a member joining. Default true' })),
  drift_policy: Type.Optional(Type.Union([Type.Literal('revert'), Type.Literal('report')], { description: 'A managed role changed by hand in Discord: `revert` puts the planned roles back at once, `report` only audits it (trigger drift). Default revert' })),
  remove_roles_on_leave: Type.Optional(Type.Boolean({ description: 'Default true' })),
  audit_channel_id: Type.Optional(Nullable(Snowflake)),
  notification_channel_id: Type.Optional(Nullable(Snowflake, 'Channel the health task posts to when the guild turns degraded or unhealthy')),
  max_role_changes_per_sync: Type.Optional(Type.Integer({ minimum: 1, maximum: 10000, description: 'Default 100' })),
  auto_join: Type.Optional(Type.Boolean({ description: 'Join on link: a linked user entitled to a managed role here but not a member is added with their roles (OAuth scope `guilds.join`, bot permission CREATE_INSTANT_INVITE, checked at save: 422). Default false' })),
  nickname_template: Type.Optional(Nullable(Type.String({ minLength: 1, maxLength: 100 }), 'Nickname template such as "[{ticker}] {name}" (variables: username, global_name and the plugin\'s sync.nicknameVariables); null leaves nicknames alone. Needs Manage Nicknames. Default null')),
  on_access_lost: Type.Optional(AccessLost),
  access_lost_grace: Type.Optional(Type.String({ pattern: '^(0|(\\d+(\\.\\d+)?(ms|s|m|h|d))+)$', maxLength: 32, description: 'Go-style duration (0 to 90d) a member stays without access before on_access_lost acts. Default "0"' }))
}, { additionalProperties: false })
export type GuildSettingsInputBody = Static<typeof GuildSettingsInput>

export const GuildSettings = Type.Object({
  auto_sync: Type.Boolean(),
  sync_interval: Type.String(),
  sync_on_join: Type.Boolean(),
  drift_policy: Type.Union([Type.Literal('revert'), Type.Literal('report')]),
  remove_roles_on_leave: Type.Boolean(),
  audit_channel_id: Nullable(Type.String()),
  notification_channel_id: Nullable(Type.String()),
  max_role_changes_per_sync: Type.Integer(),
  auto_join: Type.Boolean(),
  nickname_template: Nullable(Type.String()),
  on_access_lost: AccessLost,
  access_lost_grace: Type.String()
})

export const CreateGuildBody = Type.Object({
  guild_id: Snowflake,
  guild_name: Type.Optional(Label(100, 'Required unless a bot_token is given (then Discord\'s name is used)')),
  is_enabled: Type.Optional(Type.Boolean({ description: 'Alias of `enabled` (the seed\'s request name). Default true' })),
  enabled: Type.Optional(Type.Boolean({ description: 'Default true' })),
  bot_token: Type.Optional(BotToken),
  settings: Type.Optional(GuildSettingsInput)
}, { additionalProperties: false })
export type CreateGuildBodyType = Static<typeof CreateGuildBody>

export const UpdateGuildBody = Type.Object({
  guild_name: Type.Optional(Label(100, 'Display name')),
  is_enabled: Type.Optional(Type.Boolean({ description: 'Alias of `enabled`' })),
  enabled: Type.Optional(Type.Boolean()),
  bot_token: Type.Optional(Nullable(BotToken, 'A new token (validated against Discord), or null to remove it')),
  settings: Type.Optional(GuildSettingsInput)
}, { additionalProperties: false, minProperties: 1 })
export type UpdateGuildBodyType = Static<typeof UpdateGuildBody>

export const GuildParams = Type.Object({ guild_id: Snowflake }, { additionalProperties: false })
export type GuildParamsType = Static<typeof GuildParams>

export const HealthStatus = Type.Union([
  Type.Literal('healthy'), Type.Literal('degraded'), Type.Literal('unhealthy'), Type.Literal('unknown')
], { description: 'unknown until a bot token has been checked' })

/** The live Gateway's view of a guild (null when the Gateway is off or another instance leads). */
export const GuildGateway = Nullable(Type.Object({
  connected: Type.Boolean({ description: "The bot's Gateway session for this guild is up" }),
  last_event_at: Nullable(IsoDateTime, 'When the last event for this guild arrived'),
  resumes: Type.Integer({ description: 'Sessions resumed after a drop since the connection started' }),
  removed: Type.Boolean({ description: 'The bot was removed from the guild (GUILD_DELETE): scheduled syncs are paused' }),
  error: Nullable(Type.String(), 'Why the connection stopped for good (e.g. the Server Members Intent is not enabled)')
}), 'Live Gateway state')

export const GuildConfig = Type.Object({
  id: Type.String(),
  guild_id: Type.String(),
  guild_name: Type.String(),
  enabled: Type.Boolean(),
  is_enabled: Type.Boolean({ description: 'Same value as `enabled`' }),
  settings: GuildSettings,
  has_bot_token: Type.Boolean({ description: 'Whether a bot token is stored; the token itself is never returned' }),
  bot_permissions: Nullable(Type.String(), 'The bot\'s effective guild permissions (decimal bit set)'),
  bot_user_id: Nullable(Type.String()),
  owner_id: Nullable(Type.String(), 'The host user who configured the guild'),
  health_status: HealthStatus,
  last_health_check: Nullable(IsoDateTime),
  last_error: Nullable(Type.String()),
  gateway: GuildGateway,
  created_at: IsoDateTime,
  updated_at: IsoDateTime
})
export type GuildConfigDto = Static<typeof GuildConfig>

export const GuildList = Type.Object({
  guilds: Type.Array(GuildConfig),
  total: Type.Integer()
})

export const GuildListQuery = Type.Object({
  enabled: Type.Optional(Type.Boolean())
}, { additionalProperties: false })

export const DeletedGuild = Type.Object({
  guild_id: Type.String(),
  deleted: Type.Literal(true),
  mappings_deleted: Type.Integer(),
  sync_stopped: Type.Literal(true),
  message: Type.String()
})

/** Stored settings → API shape (guild responses and the export document), field by field. */
export function presentSettings (s: GuildConfigRecord['settings']): Static<typeof GuildSettings> {
  return {
    auto_sync: s.auto_sync,
    sync_interval: s.sync_interval,
    sync_on_join: s.sync_on_join,
    drift_policy: s.drift_policy,
    remove_roles_on_leave: s.remove_roles_on_leave,
    audit_channel_id: s.audit_channel_id,
    notification_channel_id: s.notification_channel_id,
    max_role_changes_per_sync: s.max_role_changes_per_sync,
    auto_join: s.auto_join,
    nickname_template: s.nickname_template,
    on_access_lost: s.on_access_lost,
    access_lost_grace: s.access_lost_grace
  }
}

/*
 * Record → API shape, field by field on purpose: a field added to a record later does not reach
 * a response until someone lists it here (and in the response schema), so a secret can never
 * leak by accident. The seed's alias names are filled from one value.
 */
export function presentGuild (g: GuildConfigRecord, gateway: GuildGatewayState | null = null): GuildConfigDto {
  return {
    id: g.id,
    guild_id: g.guild_id,
    guild_name: g.guild_name,
    enabled: g.enabled,
    is_enabled: g.enabled,
    settings: presentSettings(g.settings),
    has_bot_token: g.has_bot_token,
    bot_permissions: g.bot_permissions,
    bot_user_id: g.bot_user_id,
    owner_id: g.owner_id,
    health_status: g.health_status,
    last_health_check: iso(g.last_health_check),
    last_error: g.last_error,
    gateway: gateway === null ? null : { connected: gateway.connected, last_event_at: gateway.last_event_at, resumes: gateway.resumes, removed: gateway.removed, error: gateway.error },
    created_at: g.created_at.toISOString(),
    updated_at: g.updated_at.toISOString()
  }
}
