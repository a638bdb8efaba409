import type { Page, PageQuery } from './page.js'

export interface DiscordGuildSummary {
  id: string
  name: string
  /** Permissions bitfield as a decimal string, as Discord sends it. */
  permissions: string
  owner?: boolean
  joined_at?: Date | null
}

/** A Discord account linked to a host user. Never contains tokens. */
export interface DiscordUserRecord {
  id: string
  /** The host application's user id (the seed's `go_falcon_user_id`). */
  user_id: string
  discord_user_id: string
  username: string
  discriminator: string | null
  global_name: string | null
  avatar: string | null
  scopes: string[]
  guilds: DiscordGuildSummary[]
  token_expires_at: Date | null
  /** True when a refresh token is stored (the token itself is never exposed). */
  has_tokens: boolean
  /** Set when a refresh failed with invalid_grant: the user must authorise again. */
  needs_reauth: boolean
  last_sync: Date | null
  is_active: boolean
  created_at: Date
  updated_at: Date
}

/** Plaintext OAuth tokens, only ever held in memory. */
export interface OAuthTokens {
  access_token: string
  refresh_token: string | null
  expires_at: Date | null
  scopes: string[]
}

export interface CreateDiscordUserInput {
  user_id: string
  discord_user_id: string
  username: string
  discriminator?: string | null
  global_name?: string | null
  avatar?: string | null
  guilds?: DiscordGuildSummary[]
  is_active?: boolean
  /** Sealed before storage; `scopes` and `token_expires_at` are derived from it. */
  tokens?: OAuthTokens | null
}

export interface UpdateDiscordUserInput {
  username?: string
  discriminator?: string | null
  global_name?: string | null
  avatar?: string | null
  guilds?: DiscordGuildSummary[]
  is_active?: boolean
  needs_reauth?: boolean
  last_sync?: Date | null
}

export interface ListDiscordUsersQuery extends PageQuery {
  is_active?: boolean
  /** Only users whose stored guild list contains this guild. */
  guild_id?: string
  user_id?: string
}

/** Where a keyset page of links starts: strictly after this link in (created_at, id) order. */
export interface UserCursor {
  created_at: Date
  id: string
}

/**
 * A keyset page of links for the admin's members page: no offset to skip, so a page deep in a
 * large table costs what the first one does, and links added meanwhile neither repeat nor vanish.
 */
export interface SearchUsersQuery {
  /** Start strictly after this link; none: from the first. */
  after?: UserCursor | null
  /** At most this many links (1..MAX_PAGE_SIZE). */
  limit: number
  /**
   * The Discord id or host user id exactly, or a case-insensitive part of the username or
   * global name. Matched as text: `%`, `_` and regex characters have no special meaning.
   */
  search?: string
  needs_reauth?: boolean
}

/** Keyset search over links (optional: the members page scans `listUsers` pages without it). */
export interface LinkedAccountSearch {
  /** Links in created_at, id order after `after`, matching `search` and `needs_reauth`. */
  searchUsers (query: SearchUsersQuery): Promise<DiscordUserRecord[]>
}

/** Discord accounts linked to host users, with their sealed OAuth tokens (the `discord_users` aggregate). */
export interface LinkedAccountStore {
  createUser (input: CreateDiscordUserInput): Promise<DiscordUserRecord>
  getUserByDiscordId (discordUserId: string): Promise<DiscordUserRecord | null>
  listUsersByUserId (userId: string): Promise<DiscordUserRecord[]>
  /**
   * The links among these Discord ids (unknown ids are simply absent), in no particular order.
   * Lets the sync engine resolve a page of up to 1000 guild members in one round trip.
   */
  listUsersByDiscordIds (discordUserIds: readonly string[]): Promise<DiscordUserRecord[]>
  /** Stable order: created_at then id. */
  listUsers (query?: ListDiscordUsersQuery): Promise<Page<DiscordUserRecord>>
  updateUser (discordUserId: string, patch: UpdateDiscordUserInput): Promise<DiscordUserRecord | null>
  deleteUser (discordUserId: string): Promise<boolean>
  /**
   * Replace the stored tokens (sealed); also updates scopes and token_expires_at.
   * New tokens clear needs_reauth; `null` removes the tokens (scopes become []) and leaves needs_reauth as it is.
   */
  setUserTokens (discordUserId: string, tokens: OAuthTokens | null): Promise<boolean>
  /** Decrypted tokens, or null when none are stored. Only the refresh task and Discord calls use this. */
  getUserTokens (discordUserId: string): Promise<OAuthTokens | null>
  /**
   * Active links holding a refresh token whose access token expires before `before`,
   * not flagged needs_reauth, oldest expiry first.
   */
  listUsersWithTokensExpiringBefore (before: Date, limit: number): Promise<DiscordUserRecord[]>
  countUsers (query?: { is_active?: boolean }): Promise<number>
}
