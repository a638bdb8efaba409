import { describeFailure } from '../errors/discord-api-error.js'
import { DiscordInvalidRequestLimitError } from '../errors/invalid-request-limit-error.js'
import { DiscordRateLimitError } from '../errors/rate-limit-error.js'
import { sleep } from '../util.js'
import type { LimiterContext, WaitNotice } from './context.js'
import type { RateLimitStore } from './store.js'

export interface GlobalLimiterOptions {
  requestsPerWindow: number
  windowMs: number
  offsetMs: number
  maxWaitMs: number
  invalidThreshold: number
  invalidTotalThreshold: number
  invalidWindowMs: number
}

/**
 * The per-token global limit (Discord: 50 requests per second per bot) and the
 * invalid-request guard, both answered by one atomic store call per request.
 * The window is a sliding log widened by `offsetMs`, so no interval of
 * `windowMs` ever holds more than `requestsPerWindow` requests even with some
 * jitter between the grant and the moment the request reaches Discord.
 */
export class GlobalLimiter {
  readonly #store: RateLimitStore
  readonly #opts: GlobalLimiterOptions
  readonly #instance: string
  #seq = 0

  constructor (store: RateLimitStore, options: GlobalLimiterOptions, instanceId: string) {
    this.#store = store
    this.#opts = options
    this.#instance = instanceId
  }

  /** Waits for a global slot; throws when the invalid-request guard is tripped or the wait is too long. */
  async acquire (ctx: LimiterContext, onWait: (notice: WaitNotice) => void): Promise<void> {
    for (;;) {
      ctx.signal?.throwIfAborted()
      const result = await this.#store.acquireGlobal(ctx.tokenId, {
        limit: this.#opts.requestsPerWindow,
        windowMs: this.#opts.windowMs + this.#opts.offsetMs,
        invalidThreshold: this.#opts.invalidThreshold,
        invalidTotalThreshold: this.#opts.invalidTotalThreshold,
        invalidWindowMs: this.#opts.invalidWindowMs,
        member: `${this.#instance}:${++this.#seq}`,
        instance: this.#instance
      })
      if (result.granted) return
      if (result.reason === 'invalid' || result.reason === 'invalidTotal') throw this.#guardError(ctx, result.reason, result.count, result.waitMs)
      const waitMs = result.reason === 'paused' ? result.waitMs + this.#opts.offsetMs : result.waitMs
      if (waitMs > this.#opts.maxWaitMs) {
        throw new DiscordRateLimitError({
          method: ctx.method,
          route: ctx.route,
          status: undefined,
          message: describeFailure(`Global rate limit: a wait of ${waitMs} ms exceeds maxRateLimitWaitMs`, ctx.method, ctx.route),
          retryAfterMs: waitMs,
          scope: 'global',
          global: true
        })
      }
      onWait({ reason: result.reason === 'paused' ? 'globalPause' : 'global', waitMs })
      await sleep(waitMs, ctx.signal)
    }
  }

  /** Throws when the invalid-request guard is tripped; cheap enough to run before queueing. */
  async assertValid (ctx: LimiterContext): Promise<void> {
    const result = await this.#store.checkInvalid(ctx.tokenId, {
      invalidThreshold: this.#opts.invalidThreshold,
      invalidTotalThreshold: this.#opts.invalidTotalThreshold,
      invalidWindowMs: this.#opts.invalidWindowMs
    })
    if (result.tripped) throw this.#guardError(ctx, result.reason, result.count, result.waitMs)
  }

  #guardError (ctx: LimiterContext, reason: 'invalid' | 'invalidTotal', count: number, waitMs: number): DiscordInvalidRequestLimitError {
    const perToken = reason === 'invalid'
    const threshold = perToken ? this.#opts.invalidThreshold : this.#opts.invalidTotalThreshold
    return new DiscordInvalidRequestLimitError({
      method: ctx.method,
      route: ctx.route,
      message: describeFailure(
        `Request not sent: ${count} invalid Discord responses (401/403/429) ${perToken ? 'for this token' : 'over all tokens'} in the last ${Math.round(this.#opts.invalidWindowMs / 1000)} s reached the threshold of ${threshold}`,
        ctx.method, ctx.route),
      count,
      threshold,
      scope: perToken ? 'token' : 'total',
      retryAfterMs: waitMs
    })
  }

  /** Pauses every request of the token (a global 429). */
  async pause (tokenId: string, ms: number): Promise<void> {
    await this.#store.pauseGlobal(tokenId, ms)
  }

  /** Counts an invalid response (401, 403, non-shared 429). */
  async recordInvalid (tokenId: string): Promise<void> {
    await this.#store.recordInvalid(tokenId, `${this.#instance}:i${++this.#seq}`, this.#opts.invalidWindowMs)
  }
}
