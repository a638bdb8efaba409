import { describeFailure } from '../errors/discord-api-error.js'
import { DiscordInvalidRequestLimitError } from '../errors/invalid-request-limit-error.js'
import { DiscordRateLimitError } from '../errors/rate-limit-error.js'
import { sleep } from '../util.js'
import type { GlobalArbiter } from './arbiter.js'
import { BucketQueues } from './bucket-queue.js'
import type { LimiterContext, WaitNotice } from './context.js'
import type { RateLimitStore } from './store.js'

export interface GlobalLimiterOptions {
  requestsPerWindow: number
  windowMs: number
  /** Safety margin of the global window (`globalOffsetMs`): no `windowMs + globalOffsetMs` holds more than `requestsPerWindow` grants. */
  globalOffsetMs: number
  /** Added to the wait after a global 429 (`offsetMs`). */
  offsetMs: number
  maxWaitMs: number
  /**
   * The longest a granted request can be on its way (the client's `timeoutMs`): a grant counts in
   * the window from the moment it is granted until a window after `settle`, and for at most this
   * long if it is never settled (a crashed process's grants in Redis).
   */
  inFlightMs: number
  invalidThreshold: number
  invalidTotalThreshold: number
  invalidWindowMs: number
}

/**
 * Grants that may follow one another at once when the head of the line was woken late (see
 * GlobalAcquireParams.burst): a timer firing a few ms late must not cost the budget those ms for
 * good, but every extra grant of a catch-up burst reaches Discord together with the ones a stall
 * held back. 4% of the window's budget: 2 of Discord's 50 (one interval, 21 ms, of lateness
 * absorbed); the sliding window still caps every window.
 */
const PACING_BURST_SHARE = 0.04

/**
 * The per-token global limit (Discord: 50 requests per second per bot) and the
 * invalid-request guard, both answered by one atomic store call per request: the global
 * arbiter of every guild, task and view using the token in this process, and, through the
 * Redis store, in every process sharing it.
 *
 * - The window is a sliding log widened by `globalOffsetMs`, so no interval of
 *   `windowMs + globalOffsetMs` ever holds more than `requestsPerWindow` grants.
 * - A grant holds its place from the moment it is granted until a window after its answer came
 *   back (`settle`): a request reaches Discord somewhere in between, so however late it leaves
 *   (a new connection, a busy event loop, a slow network) no window of arrivals at Discord holds
 *   more than the limit. Dating grants when they were granted let a request that left 100 ms late
 *   meet the 51st grant inside one of Discord's seconds (issue 16: one global 429 in 20,400
 *   requests on a quiet machine, and more under load).
 * - Grants are paced (GCRA, one per `(windowMs + globalOffsetMs) / requestsPerWindow` on
 *   average) instead of let through as a burst of the whole window: a burst queues on the
 *   connections and reaches Discord spread over more than a second, part of it in the next
 *   window, which is how 20 guilds at once drew global 429s with the window alone.
 * - Requests wait in line per token (FIFO) and only the head asks the store, so that
 *   waiters neither stampede the store when the window opens nor overtake one another.
 */
export class GlobalLimiter {
  readonly #store: RateLimitStore
  readonly #opts: GlobalLimiterOptions
  readonly #instance: string
  readonly #line = new BucketQueues()
  #seq = 0

  constructor (store: RateLimitStore, options: GlobalLimiterOptions, instanceId: string) {
    this.#store = store
    this.#opts = options
    this.#instance = instanceId
  }

  /** Requests per second this limiter admits per token, at most (the budget less its safety margin). */
  get requestsPerSecond (): number {
    return this.#opts.requestsPerWindow * 1000 / (this.#opts.windowMs + this.#opts.globalOffsetMs)
  }

  /** Requests waiting in line for a global slot of the token in this process (including the head). */
  waiting (tokenId: string): number {
    return this.#line.size(`g:${tokenId}`)
  }

  /**
   * Waits for a global slot; throws when the invalid-request guard is tripped or the wait is too
   * long. Returns the grant, to `settle` once the request's answer is in (or it failed).
   */
  async acquire (ctx: LimiterContext, onWait: (notice: WaitNotice) => void): Promise<string> {
    return await this.#line.run(`g:${ctx.tokenId}`, () => this.#acquireHead(ctx, onWait), ctx.signal)
  }

  /**
   * Dates a grant now: its request has an answer or has failed. Never throws: a grant that is
   * not settled leaves the window `inFlightMs` + a window after it was granted.
   */
  async settle (tokenId: string, grant: string): Promise<void> {
    await this.#store.settleGlobal(tokenId, grant).catch(() => {})
  }

  /** A view of this limiter for one token, for callers outside the REST client. */
  arbiter (tokenId: string): GlobalArbiter {
    const ctx = { tokenId, method: 'ANY', route: '(global arbiter)', major: 'global' }
    return {
      // The caller sends (or paces) on its own: its grant is dated when granted.
      acquire: async (signal?: AbortSignal) => { await this.settle(tokenId, await this.acquire({ ...ctx, signal }, () => {})) },
      requestsPerSecond: this.requestsPerSecond,
      waiting: () => this.waiting(tokenId)
    }
  }

  async #acquireHead (ctx: LimiterContext, onWait: (notice: WaitNotice) => void): Promise<string> {
    const window = this.#opts.windowMs + this.#opts.globalOffsetMs
    for (;;) {
      ctx.signal?.throwIfAborted()
      const member = `${this.#instance}:${++this.#seq}`
      const result = await this.#store.acquireGlobal(ctx.tokenId, {
        limit: this.#opts.requestsPerWindow,
        windowMs: window,
        intervalMs: window / this.#opts.requestsPerWindow,
        burst: Math.max(1, Math.ceil(this.#opts.requestsPerWindow * PACING_BURST_SHARE)),
        invalidThreshold: this.#opts.invalidThreshold,
        invalidTotalThreshold: this.#opts.invalidTotalThreshold,
        invalidWindowMs: this.#opts.invalidWindowMs,
        member,
        inFlightMs: this.#opts.inFlightMs,
        instance: this.#instance
      })
      if (result.granted) return member
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
