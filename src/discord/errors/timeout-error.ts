import { DiscordAPIError, type DiscordAPIErrorOptions } from './discord-api-error.js'

export interface DiscordTimeoutErrorOptions extends DiscordAPIErrorOptions {
  /** The per-request timeout that elapsed. */
  timeoutMs: number
}

/** No complete answer arrived within `timeoutMs`, after every allowed retry. */
export class DiscordTimeoutError extends DiscordAPIError {
  override readonly code: string = 'FST_DISCORD_API_TIMEOUT'
  /** The per-request timeout that elapsed. */
  readonly timeoutMs: number

  constructor (options: DiscordTimeoutErrorOptions) {
    super(options)
    this.name = 'DiscordTimeoutError'
    this.timeoutMs = options.timeoutMs
  }
}
