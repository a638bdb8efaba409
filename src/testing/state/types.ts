import type { Overwrite } from '../permissions.js'

/*
 * Data types of the simulator's guild world: what tests pass in to seed it (seeds) and what
 * it stores (records). OAuth2 records: oauth-types.ts; the API's answer shapes: api-shapes.ts.
 */

// ---------------------------------------------------------------- seeds (public input types)

export interface UserSeed {
  id: string
  username?: string
  global_name?: string | null
  avatar?: string | null
  bot?: boolean
  /** Returned by GET /users/@me only with the `email` scope. */
  email?: string | null
  verified?: boolean
  locale?: string
  mfa_enabled?: boolean
}

export interface BotSeed {
  /** The bot token as a client will send it after `Bot `. Stored hashed only. */
  token: string
  user: UserSeed
  /** The application the bot belongs to (defaults to the bot user id, as Discord does for new apps). */
  applicationId?: string
  /** Whether the app has the GUILD_MEMBERS privileged intent (needed by List Guild Members and by Gateway IDENTIFY with it). Default true. */
  guildMembersIntent?: boolean
  /** Whether the app has the GUILD_PRESENCES privileged intent (Gateway only). Default false, as for a new app. */
  guildPresencesIntent?: boolean
  /** Whether the app has the MESSAGE_CONTENT privileged intent (Gateway only). Default false, as for a new app. */
  messageContentIntent?: boolean
}

/** The app's privileged-intent toggles (docs/gateway.mdx "Privileged Intents"); omitted ones stay as they are. */
export interface PrivilegedIntentSettings {
  guildMembers?: boolean
  guildPresences?: boolean
  messageContent?: boolean
}

export interface GuildSeed {
  id: string
  name: string
  owner_id: string
  /** Permissions of @everyone (the role whose id is the guild id). Default: the docs' example guild value. */
  everyonePermissions?: string | bigint
  features?: string[]
  icon?: string | null
  description?: string | null
  /** Reported as approximate_presence_count with `with_counts=true` (default 0). */
  presenceCount?: number
}

export interface RoleSeed {
  id: string
  name?: string
  position: number
  permissions?: string | bigint
  /** Integration-owned: nobody can grant or remove it through the API. */
  managed?: boolean
  color?: number
  hoist?: boolean
  mentionable?: boolean
  tags?: { bot_id?: string, integration_id?: string }
}

export interface ChannelSeed {
  id: string
  guild_id: string
  name?: string
  /** Channel type; 0 = GUILD_TEXT (default). */
  type?: number
  permission_overwrites?: Overwrite[]
}

// ---------------------------------------------------------------- stored records

export interface SimUser {
  id: string
  username: string
  global_name: string | null
  avatar: string | null
  bot: boolean
  email: string | null
  verified: boolean
  locale: string
  mfa_enabled: boolean
}

export interface SimRole {
  id: string
  name: string
  position: number
  permissions: string
  managed: boolean
  color: number
  hoist: boolean
  mentionable: boolean
  tags?: { bot_id?: string, integration_id?: string }
}

export interface SimGuild {
  id: string
  name: string
  owner_id: string
  features: string[]
  icon: string | null
  description: string | null
  presenceCount: number
  roles: Map<string, SimRole>
  members: Map<string, SimMember>
  /** Member ids in numeric order, rebuilt lazily after membership changes (pagination reads it). */
  sortedIds: string[] | null
}

export interface SimMember {
  userId: string
  roles: string[]
  nick: string | null
  joined_at: string
}

export interface SimChannel {
  id: string
  guild_id: string
  name: string
  type: number
  permission_overwrites: Overwrite[]
}

export interface SimMessage {
  id: string
  channel_id: string
  guild_id: string
  author_id: string
  content: string
  embeds: Array<Record<string, unknown>>
  timestamp: string
  /** Token id (hash) of the bot that posted it. */
  tokenId: string
}

export interface AuditLogEntry {
  id: string
  guild_id: string
  /** 20 MEMBER_KICK, 24 MEMBER_UPDATE, 25 MEMBER_ROLE_UPDATE (docs/audit-log.mdx "Audit Log Events"). */
  action_type: 20 | 24 | 25
  user_id: string
  target_id: string
  changes: Array<{ key: string, new_value?: unknown, old_value?: unknown }>
  /** The X-Audit-Log-Reason header, URL-decoded; null when absent. */
  reason: string | null
  at: number
}

export interface SimBot {
  userId: string
  applicationId: string
  tokenId: string
  guildMembersIntent: boolean
  guildPresencesIntent: boolean
  messageContentIntent: boolean
}
