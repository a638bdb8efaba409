import { DiscordAPIError, type DiscordAPIErrorOptions } from './discord-api-error.js'

/** Discord kept answering 5xx after every allowed retry. */
export class DiscordServerError extends DiscordAPIError {
  override readonly code: string = 'FST_DISCORD_API_SERVER_ERROR'

  constructor (options: DiscordAPIErrorOptions) {
    super(options)
    this.name = 'DiscordServerError'
  }
}
