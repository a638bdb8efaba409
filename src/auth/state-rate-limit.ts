/*
 * Anyone can start an OAuth flow, and each start stores a state until it expires. Without a
 * per-client budget one IP could fill the store at the speed of its requests; with it, the states
 * one IP can hold are bounded by `max` per window (and the purge removes them once expired).
 * Fixed windows in a plain Map: the map itself is bounded (`maxKeys`), dropping the oldest
 * window first, so many IPs cannot turn the limiter into the unbounded state it guards against.
 */

import { RateLimitedError } from '../errors.js'

export interface StateRateLimitSettings {
  max: number
  timeWindowMs: number
  /** Clients tracked at once; beyond it the oldest window is forgotten. */
  maxKeys?: number
  now?: () => number
}

export type TakeResult = { ok: true } | { ok: false, retryAfterMs: number }

const DEFAULT_MAX_KEYS = 50_000

/** A fixed-window counter per client key (the IP), in this process. */
export class StateRateLimiter {
  readonly #max: number
  readonly #windowMs: number
  readonly #maxKeys: number
  readonly #now: () => number
  /** Insertion order is window-start order: a key is re-inserted when its window restarts. */
  readonly #windows = new Map<string, { count: number, resetAt: number }>()

  constructor (settings: StateRateLimitSettings) {
    this.#max = settings.max
    this.#windowMs = settings.timeWindowMs
    this.#maxKeys = settings.maxKeys ?? DEFAULT_MAX_KEYS
    this.#now = settings.now ?? Date.now
  }

  /** Counts one start for `key`; refused once `max` were counted in the current window. */
  take (key: string): TakeResult {
    const now = this.#now()
    let w = this.#windows.get(key)
    if (w === undefined || w.resetAt <= now) {
      this.#windows.delete(key)
      this.#evict(now)
      w = { count: 0, resetAt: now + this.#windowMs }
      this.#windows.set(key, w)
    }
    if (w.count >= this.#max) return { ok: false, retryAfterMs: w.resetAt - now }
    w.count++
    return { ok: true }
  }

  /** Counts one start for `key`, or throws 429 FST_DISCORD_RATE_LIMITED carrying `retryAfter` (seconds, for the Retry-After header). */
  charge (key: string): void {
    const taken = this.take(key)
    if (taken.ok) return
    const seconds = Math.max(1, Math.ceil(taken.retryAfterMs / 1000))
    throw Object.assign(new RateLimitedError(`${seconds} second${seconds === 1 ? '' : 's'}`), { retryAfter: seconds })
  }

  /** Clients currently tracked (for tests and bounds). */
  get size (): number {
    return this.#windows.size
  }

  #evict (now: number): void {
    // Oldest first: expired windows are dropped, then live ones only while the map is full.
    for (const [key, w] of this.#windows) {
      if (w.resetAt > now && this.#windows.size < this.#maxKeys) return
      this.#windows.delete(key)
    }
  }
}
