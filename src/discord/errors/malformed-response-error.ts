import { DiscordAPIError, type DiscordAPIErrorOptions } from './discord-api-error.js'

/**
 * Discord's answer could not be used: the body was not valid JSON, or a field
 * the client relies on (an id, an array of members, a token) had the wrong shape.
 */
export class DiscordMalformedResponseError extends DiscordAPIError {
  override readonly code: string = 'FST_DISCORD_API_MALFORMED_RESPONSE'

  constructor (options: DiscordAPIErrorOptions) {
    super(options)
    this.name = 'DiscordMalformedResponseError'
  }
}
