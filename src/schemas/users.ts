import { Type, type Static } from '@sinclair/typebox'
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, type DiscordUserRecord } from '../store/port/index.js'
import { Snowflake } from './common.js'
import { IsoDateTime, iso, Nullable } from './http.js'

/*
 * Linked Discord accounts (the seed's `discord_users`), minus every token: responses say
 * only whether tokens are stored (`has_tokens`) and when the access token expires.
 */

export const UserListQuery = Type.Object({
  page: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000, description: 'Default 1' })),
  page_size: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_PAGE_SIZE, description: `Default ${DEFAULT_PAGE_SIZE}, at most ${MAX_PAGE_SIZE}` })),
  is_active: Type.Optional(Type.Boolean()),
  guild_id: Type.Optional(Snowflake)
}, { additionalProperties: false })
export type UserListQueryType = Static<typeof UserListQuery>

export const UserParams = Type.Object({
  user_id: Type.String({ minLength: 1, maxLength: 200, pattern: '^[^\\s/\\x00-\\x1f]+$', description: 'The host user id' })
}, { additionalProperties: false })

export const UserGuild = Type.Object({
  id: Type.String(),
  name: Type.String(),
  permissions: Type.String(),
  owner: Type.Optional(Type.Boolean()),
  joined_at: Type.Optional(Nullable(IsoDateTime))
})

export const DiscordUser = Type.Object({
  id: Type.String(),
  user_id: Type.String({ description: 'The host user id (the seed\'s go_falcon_user_id)' }),
  discord_user_id: Type.String(),
  username: Type.String(),
  discriminator: Nullable(Type.String()),
  global_name: Nullable(Type.String()),
  avatar: Nullable(Type.String()),
  scopes: Type.Array(Type.String()),
  guilds: Type.Array(UserGuild),
  token_expires_at: Nullable(IsoDateTime),
  has_tokens: Type.Boolean({ description: 'Whether OAuth tokens are stored; tokens are never returned' }),
  needs_reauth: Type.Boolean(),
  last_sync: Nullable(IsoDateTime),
  is_active: Type.Boolean(),
  created_at: IsoDateTime,
  updated_at: IsoDateTime
})
export type DiscordUserDto = Static<typeof DiscordUser>

export const UserPage = Type.Object({
  users: Type.Array(DiscordUser),
  total: Type.Integer(),
  page: Type.Integer(),
  page_size: Type.Integer()
})

export const UserAccounts = Type.Object({
  user_id: Type.String(),
  accounts: Type.Array(DiscordUser)
})

/** Record → API shape, field by field so a later record field cannot reach a response unreviewed. */
export function presentUser (u: DiscordUserRecord): DiscordUserDto {
  return {
    id: u.id,
    user_id: u.user_id,
    discord_user_id: u.discord_user_id,
    username: u.username,
    discriminator: u.discriminator,
    global_name: u.global_name,
    avatar: u.avatar,
    scopes: [...u.scopes],
    guilds: u.guilds.map((g) => ({
      id: g.id,
      name: g.name,
      permissions: g.permissions,
      ...(g.owner === undefined ? {} : { owner: g.owner }),
      ...(g.joined_at === undefined ? {} : { joined_at: iso(g.joined_at) })
    })),
    token_expires_at: iso(u.token_expires_at),
    has_tokens: u.has_tokens,
    needs_reauth: u.needs_reauth,
    last_sync: iso(u.last_sync),
    is_active: u.is_active,
    created_at: u.created_at.toISOString(),
    updated_at: u.updated_at.toISOString()
  }
}
