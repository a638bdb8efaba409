import { DiscordAPIError, type DiscordAPIErrorOptions } from './discord-api-error.js'

export interface DiscordInvalidRequestLimitErrorOptions extends DiscordAPIErrorOptions {
  /** Invalid responses (401, 403, non-shared 429) counted in the window. */
  count: number
  /** The threshold that was reached. */
  threshold: number
  /** `token` for the per-token guard, `total` for the guard over all tokens. */
  scope: 'token' | 'total'
  /** Milliseconds until the oldest counted response leaves the sliding window. */
  retryAfterMs: number
}

/**
 * The invalid-request guard tripped: too many 401/403/non-shared-429 answers in
 * the sliding window, so the request was NOT sent, to stay far from Discord's
 * invalid-request (Cloudflare) ban.
 */
export class DiscordInvalidRequestLimitError extends DiscordAPIError {
  override readonly code: string = 'FST_DISCORD_API_INVALID_REQUEST_LIMIT'
  /** Invalid responses counted in the window. */
  readonly count: number
  /** The threshold that was reached. */
  readonly threshold: number
  /** Which guard tripped. */
  readonly scope: 'token' | 'total'
  /** Milliseconds until the window frees one slot. */
  readonly retryAfterMs: number

  constructor (options: DiscordInvalidRequestLimitErrorOptions) {
    super(options)
    this.name = 'DiscordInvalidRequestLimitError'
    this.count = options.count
    this.threshold = options.threshold
    this.scope = options.scope
    this.retryAfterMs = options.retryAfterMs
  }
}
