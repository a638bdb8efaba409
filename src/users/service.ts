import type { DiscordStore, DiscordUserRecord, ListDiscordUsersQuery, Page } from '../store/port/index.js'
import { NotFoundError } from '../errors.js'

/** Read access to linked Discord accounts (records never hold tokens). */
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
