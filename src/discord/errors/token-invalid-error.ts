import { DiscordAPIError, type DiscordAPIErrorOptions } from './discord-api-error.js'

/**
 * The bot token was locked after Discord answered 401 with it; the request was
 * NOT sent. Call `client.resetToken(token)` once the token has been reconfigured.
 */
export class DiscordTokenInvalidError extends DiscordAPIError {
  override readonly code: string = 'FST_DISCORD_API_TOKEN_INVALID'

  constructor (options: DiscordAPIErrorOptions) {
    super(options)
    this.name = 'DiscordTokenInvalidError'
  }
}
