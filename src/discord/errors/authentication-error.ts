import { DiscordAPIError, type DiscordAPIErrorOptions } from './discord-api-error.js'

/**
 * Discord answered 401: the token is missing, revoked or wrong. For bot tokens
 * the client also locks the token (see `DiscordTokenInvalidError`).
 */
export class DiscordAuthenticationError extends DiscordAPIError {
  override readonly code: string = 'FST_DISCORD_API_UNAUTHORIZED'

  constructor (options: DiscordAPIErrorOptions) {
    super(options)
    this.name = 'DiscordAuthenticationError'
  }
}
