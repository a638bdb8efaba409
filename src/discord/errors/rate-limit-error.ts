import { DiscordAPIError, type DiscordAPIErrorOptions } from './discord-api-error.js'

/** Which limit a 429 (or a pre-emptive wait) belongs to, as Discord's `X-RateLimit-Scope` reports it. */
export type RateLimitScope = 'global' | 'user' | 'shared'

export interface DiscordRateLimitErrorOptions extends DiscordAPIErrorOptions {
  /** Milliseconds Discord asked us to wait. */
  retryAfterMs: number
  /** Scope of the limit that was hit. */
  scope: RateLimitScope
  /** The bucket hash, when known. */
  bucket?: string | undefined
  /** Whether this is the per-token global limit. */
  global: boolean
}

/**
 * A rate limit could not be waited out: the wait exceeds `maxRateLimitWaitMs`,
 * the 429 retry bound was reached, or the 429 carried no usable retry time
 * (for example a Cloudflare ban without a JSON body).
 */
export class DiscordRateLimitError extends DiscordAPIError {
  override readonly code: string = 'FST_DISCORD_API_RATE_LIMITED'
  /** Milliseconds until the limit is expected to lift. */
  readonly retryAfterMs: number
  /** `global`, `user` or `shared`. */
  readonly scope: RateLimitScope
  /** Bucket hash, when known. */
  readonly bucket: string | undefined
  /** Whether the per-token global limit was hit. */
  readonly global: boolean

  constructor (options: DiscordRateLimitErrorOptions) {
    super(options)
    this.name = 'DiscordRateLimitError'
    this.retryAfterMs = options.retryAfterMs
    this.scope = options.scope
    this.bucket = options.bucket
    this.global = options.global
  }
}
