import type { SnowflakeGenerator } from '../snowflake.js'
import { tokenId, tokenKey } from '../tokens.js'
import { fail, requireSnowflake } from './guards.js'
import type { BotSeed, SimBot, SimUser, UserSeed } from './types.js'

/*
 * Users and bots. A bot is a user plus its token, kept only under a SHA-256 key so that
 * dumping the state (or a failing assertion printing it) cannot leak a credential.
 */
export class UserStore {
  readonly users = new Map<string, SimUser>()
  /** token hash key -> bot */
  readonly botsByKey = new Map<string, SimBot>()
  readonly #ids: SnowflakeGenerator

  constructor (ids: SnowflakeGenerator) {
    this.#ids = ids
  }

  addUser (seed: UserSeed): SimUser {
    requireSnowflake('user id', seed.id)
    const user: SimUser = {
      id: seed.id,
      username: seed.username ?? `user${seed.id.slice(-6)}`,
      global_name: seed.global_name ?? null,
      avatar: seed.avatar ?? null,
      bot: seed.bot ?? false,
      email: seed.email ?? null,
      verified: seed.verified ?? seed.email != null,
      locale: seed.locale ?? 'en-US',
      mfa_enabled: seed.mfa_enabled ?? false
    }
    this.users.set(user.id, user)
    return user
  }

  addUsers (countOrIds: number | string[]): string[] {
    const ids = typeof countOrIds === 'number' ? Array.from({ length: countOrIds }, () => this.#ids.next()) : countOrIds
    for (const id of ids) this.addUser({ id })
    return ids
  }

  /** Creates a plain user for `userId` unless one exists (owners and members may be seeded before their users). */
  ensureUser (userId: string): void {
    if (!this.users.has(userId)) this.addUser({ id: userId })
  }

  addBot (seed: BotSeed): SimUser {
    if (typeof seed.token !== 'string' || seed.token.length === 0) fail('bot token must be a non-empty string')
    const user = this.addUser({ ...seed.user, bot: true })
    const applicationId = seed.applicationId ?? user.id
    requireSnowflake('applicationId', applicationId)
    this.botsByKey.set(tokenKey(seed.token), { userId: user.id, applicationId, tokenId: tokenId(seed.token), guildMembersIntent: seed.guildMembersIntent ?? true, guildPresencesIntent: seed.guildPresencesIntent ?? false, messageContentIntent: seed.messageContentIntent ?? false })
    return user
  }

  revokeBotToken (token: string): boolean {
    return this.botsByKey.delete(tokenKey(token))
  }

  findBot (token: string): SimBot | undefined {
    return this.botsByKey.get(tokenKey(token))
  }
}
