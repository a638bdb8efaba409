import type { Credential } from '../credential.js'
import { describeFailure } from '../errors/discord-api-error.js'
import { DiscordTokenInvalidError } from '../errors/token-invalid-error.js'
import type { DiscordRestLogger } from '../options.js'
import type { Notify } from './notify.js'

/**
 * Bot tokens Discord answered 401 to. Sending more requests with them would only add
 * invalid requests towards Discord's IP ban, so they stay locked until the host says the
 * token was reconfigured.
 */
export class TokenLocks {
  readonly #locked = new Set<string>()
  readonly #logger: DiscordRestLogger | undefined
  readonly #notify: Notify

  constructor (logger: DiscordRestLogger | undefined, notify: Notify) {
    this.#logger = logger
    this.#notify = notify
  }

  has (tokenId: string): boolean {
    return this.#locked.has(tokenId)
  }

  /** Returns whether it was locked. */
  unlock (tokenId: string): boolean {
    return this.#locked.delete(tokenId)
  }

  assertUnlocked (credential: Credential, method: string, route: string): void {
    if (credential.lockable && this.#locked.has(credential.id)) {
      throw new DiscordTokenInvalidError({
        method,
        route,
        message: describeFailure('Request not sent: Discord rejected this bot token (401); it stays locked until client.resetToken() is called', method, route)
      })
    }
  }

  lock (credential: Credential, method: string, route: string): void {
    if (this.#locked.has(credential.id)) return
    this.#locked.add(credential.id)
    this.#logger?.warn({ tokenId: credential.id, method, route }, 'Discord rejected a bot token (401): it is locked until resetToken() is called')
    this.#notify('tokenLocked', { method, route, tokenId: credential.id })
  }
}
