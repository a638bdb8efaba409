export type HealthStatus = 'healthy' | 'degraded' | 'unhealthy' | 'unknown'

export type DriftPolicy = 'revert' | 'report'

/** What a sync does to a member who lost access (unlinked, deauthorised, no longer entitled). */
export type AccessLostPolicy = 'remove_roles' | 'kick' | 'none'

export interface GuildSettings {
  auto_sync: boolean
  /** Go-style duration string, e.g. "15m". */
  sync_interval: string
  sync_on_join: boolean
  /** A managed role changed by hand (seen on the Gateway): put it back, or only report it. */
  drift_policy: DriftPolicy
  remove_roles_on_leave: boolean
  audit_channel_id: string | null
  notification_channel_id: string | null
  max_role_changes_per_sync: number
  /**
   * Join on link: a linked user entitled to a managed role here but not a member is added with
   * their OAuth token (scope `guilds.join`) and those roles in one request. The bot then needs
   * CREATE_INSTANT_INVITE.
   */
  auto_join: boolean
  /** Nickname template such as `[{ticker}] {name}`; null leaves nicknames alone (docs/sync.md "Nicknames"). */
  nickname_template: string | null
  /** What happens to a member who lost access; `remove_roles` is the historic behaviour. */
  on_access_lost: AccessLostPolicy
  /** Go-style duration a member must stay without access before `on_access_lost` acts ("0": at once). */
  access_lost_grace: string
}

export const DEFAULT_GUILD_SETTINGS: Readonly<GuildSettings> = Object.freeze({
  auto_sync: true,
  sync_interval: '15m',
  sync_on_join: true,
  drift_policy: 'revert',
  remove_roles_on_leave: true,
  audit_channel_id: null,
  notification_channel_id: null,
  max_role_changes_per_sync: 100,
  auto_join: false,
  nickname_template: null,
  on_access_lost: 'remove_roles',
  access_lost_grace: '0'
})

/** A guild's configuration. The bot token is write-only: only `has_bot_token` is visible. */
export interface GuildConfigRecord {
  id: string
  guild_id: string
  guild_name: string
  enabled: boolean
  settings: GuildSettings
  has_bot_token: boolean
  bot_permissions: string | null
  bot_user_id: string | null
  owner_id: string | null
  health_status: HealthStatus
  last_health_check: Date | null
  last_error: string | null
  created_at: Date
  updated_at: Date
}

export interface CreateGuildConfigInput {
  guild_id: string
  guild_name: string
  enabled?: boolean
  settings?: Partial<GuildSettings>
  /** Plaintext; sealed before storage. */
  bot_token?: string | null
  bot_permissions?: string | null
  bot_user_id?: string | null
  owner_id?: string | null
  health_status?: HealthStatus
  last_health_check?: Date | null
  last_error?: string | null
}

/** The create fields but the id, all optional; `settings` is merged over the stored settings and `bot_token: null` removes the token. */
export type UpdateGuildConfigInput = Partial<Omit<CreateGuildConfigInput, 'guild_id'>>

/** Per-guild configuration with its write-only bot token (the `discord_guild_configs` aggregate). */
export interface GuildConfigStore {
  createGuild (input: CreateGuildConfigInput): Promise<GuildConfigRecord>
  getGuild (guildId: string): Promise<GuildConfigRecord | null>
  /** Ordered by guild_name then guild_id. */
  listGuilds (query?: { enabled?: boolean }): Promise<GuildConfigRecord[]>
  updateGuild (guildId: string, patch: UpdateGuildConfigInput): Promise<GuildConfigRecord | null>
  /** Deletes the guild and its role mappings in one step. */
  deleteGuild (guildId: string): Promise<{ deleted: boolean, mappings_deleted: number }>
  getBotToken (guildId: string): Promise<string | null>
}
