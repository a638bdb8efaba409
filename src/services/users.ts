import type { DiscordStore, DiscordUserRecord, ListDiscordUsersQuery, Page } from '../store/port/index.js'
import type { DiscordUserDto } from '../schemas/users.js'
import { iso } from '../schemas/http.js'
import { NotFoundError } from '../errors.js'

/*
 * Read access to linked Discord accounts. Records from the store never hold tokens; the
 * presenter below still lists fields one by one so a later record field cannot reach a
 * response unreviewed.
 */

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

export class UserService {
  readonly #store: DiscordStore

  constructor (store: DiscordStore) {
    this.#store = store
  }

  list (query: ListDiscordUsersQuery): Promise<Page<DiscordUserRecord>> {
    return this.#store.listUsers(query)
  }

  /** Every Discord account linked to one host user; 404 when there is none. */
  async accountsOf (userId: string): Promise<DiscordUserRecord[]> {
    const accounts = await this.#store.listUsersByUserId(userId)
    if (accounts.length === 0) throw new NotFoundError(`No Discord account is linked to user ${userId}`)
    return accounts
  }
}
