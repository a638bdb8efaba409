import { fail } from './guards.js'
import type { SimGuild, SimMember, SimRole, SimUser } from './types.js'

/*
 * The Discord API shapes the simulator answers with (openapi.json's response schemas, with
 * every field the product does not model at its documented neutral value), built from records.
 */

export interface ApiUser {
  id: string
  username: string
  avatar: string | null
  discriminator: string
  public_flags: number
  flags: number
  bot?: boolean
  banner: string | null
  accent_color: number | null
  global_name: string | null
  avatar_decoration_data: null
  collectibles: null
  primary_guild: null
}

export interface ApiMember {
  user: ApiUser
  nick: string | null
  avatar: string | null
  banner: string | null
  roles: string[]
  joined_at: string
  premium_since: string | null
  deaf: boolean
  mute: boolean
  flags: number
  pending: boolean
  communication_disabled_until: string | null
}

export interface ApiRole {
  id: string
  name: string
  color: number
  colors: { primary_color: number, secondary_color: null, tertiary_color: null }
  hoist: boolean
  icon: null
  unicode_emoji: null
  position: number
  permissions: string
  managed: boolean
  mentionable: boolean
  flags: number
  tags?: { bot_id?: string, integration_id?: string }
}

export function apiUser (user: SimUser): ApiUser {
  return {
    id: user.id,
    username: user.username,
    avatar: user.avatar,
    discriminator: '0',
    public_flags: 0,
    flags: 0,
    ...(user.bot ? { bot: true } : {}),
    banner: null,
    accent_color: null,
    global_name: user.global_name,
    avatar_decoration_data: null,
    collectibles: null,
    primary_guild: null
  }
}

export function apiMember (member: SimMember, users: ReadonlyMap<string, SimUser>): ApiMember {
  const user = users.get(member.userId) ?? fail(`member ${member.userId} has no user`)
  return {
    user: apiUser(user),
    nick: member.nick,
    avatar: null,
    banner: null,
    roles: [...member.roles],
    joined_at: member.joined_at,
    premium_since: null,
    deaf: false,
    mute: false,
    flags: 0,
    pending: false,
    communication_disabled_until: null
  }
}

export function apiRole (role: SimRole): ApiRole {
  return {
    id: role.id,
    name: role.name,
    color: role.color,
    colors: { primary_color: role.color, secondary_color: null, tertiary_color: null },
    hoist: role.hoist,
    icon: null,
    unicode_emoji: null,
    position: role.position,
    permissions: role.permissions,
    managed: role.managed,
    mentionable: role.mentionable,
    flags: 0,
    ...(role.tags !== undefined ? { tags: role.tags } : {})
  }
}

/** `roles`: the guild's roles in API order (see GuildStore.listRoles). */
export function apiGuild (guild: SimGuild, roles: readonly SimRole[], withCounts: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = {
    id: guild.id,
    name: guild.name,
    icon: guild.icon,
    description: guild.description,
    home_header: null,
    splash: null,
    discovery_splash: null,
    features: guild.features,
    banner: null,
    owner_id: guild.owner_id,
    application_id: null,
    // Deprecated (guild.mdx **); the OpenAPI schema still requires a string.
    region: 'us-east',
    afk_channel_id: null,
    afk_timeout: 300,
    system_channel_id: null,
    system_channel_flags: 0,
    widget_enabled: false,
    widget_channel_id: null,
    verification_level: 0,
    roles: roles.map(apiRole),
    default_message_notifications: 0,
    mfa_level: 0,
    explicit_content_filter: 0,
    max_presences: null,
    max_members: 250000,
    max_stage_video_channel_users: 50,
    max_video_channel_users: 25,
    vanity_url_code: null,
    premium_tier: 0,
    premium_subscription_count: 0,
    preferred_locale: 'en-US',
    rules_channel_id: null,
    safety_alerts_channel_id: null,
    public_updates_channel_id: null,
    premium_progress_bar_enabled: false,
    nsfw: false,
    nsfw_level: 0,
    emojis: [],
    stickers: [],
    incidents_data: null
  }
  if (withCounts) {
    out.approximate_member_count = guild.members.size
    out.approximate_presence_count = Math.min(guild.presenceCount, guild.members.size)
  }
  return out
}

/** Partial guild of GET /users/@me/guilds, relative to one user: `permissions` are that user's base permissions. */
export function apiPartialGuild (guild: SimGuild, userId: string, permissions: bigint, withCounts: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = {
    id: guild.id,
    name: guild.name,
    icon: guild.icon,
    banner: null,
    owner: guild.owner_id === userId,
    permissions: permissions.toString(),
    features: guild.features
  }
  if (withCounts) {
    out.approximate_member_count = guild.members.size
    out.approximate_presence_count = Math.min(guild.presenceCount, guild.members.size)
  }
  return out
}
