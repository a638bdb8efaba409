import { DiscordAPIError, type DiscordAPIErrorOptions } from './discord-api-error.js'

export interface DiscordNetworkErrorOptions extends DiscordAPIErrorOptions {
  /** The transport's error code (for example `ECONNRESET`, `UND_ERR_SOCKET`), when known. */
  networkCode?: string | undefined
}

/**
 * The connection failed (refused, reset, closed mid-body) after every allowed
 * retry. Only the transport's code and message are kept, never the request.
 */
export class DiscordNetworkError extends DiscordAPIError {
  override readonly code: string = 'FST_DISCORD_API_NETWORK'
  /** The transport's error code, when known. */
  readonly networkCode: string | undefined

  constructor (options: DiscordNetworkErrorOptions) {
    super(options)
    this.name = 'DiscordNetworkError'
    this.networkCode = options.networkCode
  }
}
