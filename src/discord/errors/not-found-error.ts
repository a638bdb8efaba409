import { DiscordAPIError, type DiscordAPIErrorOptions } from './discord-api-error.js'

/**
 * Discord answered 404: 10004 Unknown Guild, 10007 Unknown Member,
 * 10011 Unknown Role, 10013 Unknown User (or a plain 404). `discordCode` says which.
 */
export class DiscordNotFoundError extends DiscordAPIError {
  override readonly code: string = 'FST_DISCORD_API_NOT_FOUND'

  constructor (options: DiscordAPIErrorOptions) {
    super(options)
    this.name = 'DiscordNotFoundError'
  }
}
