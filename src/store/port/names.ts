/**
 * The display names of a linked account: what the audit log and a run's errors show next to a
 * Discord id. A projection of `DiscordUserRecord`, read without the rest of the link (guild
 * list, scopes, dates), which a page of names never needs.
 */
export interface AccountNames {
  discord_user_id: string
  username: string
  global_name: string | null
  avatar: string | null
}

/** A guild config's stored name. */
export interface GuildName {
  guild_id: string
  guild_name: string
}

/**
 * Narrow reads for naming ids on read routes (GET /sync/audit, GET /sync/runs/{id}). Optional
 * for host stores: without them the names come from `listUsersByDiscordIds` and `listGuilds`,
 * with the same answers at a higher cost per request.
 */
export interface NameLookup {
  /** The names of the links among these Discord ids (unknown ids are absent), in no particular order. */
  listAccountNames (discordUserIds: readonly string[]): Promise<AccountNames[]>
  /** Every stored guild config's id and name, in no particular order. */
  listGuildNames (): Promise<GuildName[]>
}
