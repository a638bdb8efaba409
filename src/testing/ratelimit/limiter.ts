import { createHash } from 'node:crypto'
import type { SimClock } from '../clock.js'
import { FALLBACK_BUCKET, mergeRateLimitConfig, type BucketLimit, type RateLimitConfig, type RateLimitOptions } from './config.js'
import { InvalidRequests } from './invalid-requests.js'

/*
 * Rate limits as docs/rate-limits.mdx describes them.
 *
 * - Per-route buckets. Routes map to a GROUP; the group's opaque hash is what
 *   X-RateLimit-Bucket reports, so routes Discord groups together share one hash.
 *   Counters are kept per (identity, group, top-level resource): the docs say limits
 *   are per bot or user, and "an endpoint with two different top-level resources may
 *   calculate limits independently" (top-level = guild_id, channel_id, webhook_id).
 * - A global limit per identity (bot token, OAuth user token, or the client IP when
 *   no valid Authorization is sent: "If no authorization header is provided, then the
 *   limit is applied to the IP address").
 * - Invalid requests per client IP and the ban that follows: invalid-requests.ts.
 *
 * Windows are fixed: they open at the first request after the previous one ended and
 * last `windowMs` of Discord time (divided by the clock's time scale). Discord does not
 * document its algorithm; a fixed window that reports exact Remaining/Reset-After is
 * what its headers describe and what clients are built against.
 */

/** Opaque bucket hash for a rate-limit group: the same group gives the same hash, nothing about routes leaks. */
function bucketHash (group: string): string {
  return createHash('sha256').update('bucket:').update(group).digest('hex').slice(0, 32)
}

interface Window {
  count: number
  /** Real ms (clock.now()) at which the window ends. */
  resetAt: number
}

/** What a route bucket looks like after (or without) this request, for the X-RateLimit-* headers. */
export interface BucketSnapshot {
  group: string
  hash: string
  limit: number
  remaining: number
  /** Real ms until the window resets (the full window length when no window is open). */
  resetAfterMs: number
}

export type LimitOutcome =
  | { ok: true, bucket: BucketSnapshot }
  | { ok: false, scope: 'global' | 'user' | 'shared', retryAfterMs: number, bucket: BucketSnapshot }

export interface ForcedSharedLimit {
  /** Route template or group name the forced limit applies to. */
  route: string
  /** Only this top-level resource (guild/channel id); any when absent. */
  majorId?: string
  /** Discord seconds to report as retry_after (scaled by timeScale). */
  retryAfterSeconds: number
  /** How many requests receive it (default 1). */
  times?: number
}

/** Below this many open windows, growth never triggers a sweep. */
const MIN_SWEEP_SIZE = 1024

type PendingShared = Required<Omit<ForcedSharedLimit, 'majorId'>> & { majorId?: string }

export class RateLimiter {
  #config: RateLimitConfig
  readonly #clock: SimClock
  readonly #windows = new Map<string, Window>()
  readonly #global = new Map<string, Window>()
  readonly #forced: PendingShared[] = []
  #sweepAt = MIN_SWEEP_SIZE
  /** The per-IP invalid-request count and ban, under this limiter's configuration. */
  readonly invalidRequests: InvalidRequests

  constructor (config: RateLimitConfig, clock: SimClock) {
    this.#config = config
    this.#clock = clock
    this.invalidRequests = new InvalidRequests(clock, () => this.#config.invalidRequests)
  }

  get config (): RateLimitConfig {
    return this.#config
  }

  /** Replaces the configuration and forgets every open window (counts under old limits would mislead). */
  configure (partial: RateLimitOptions): void {
    this.#config = mergeRateLimitConfig(this.#config, partial)
    this.#windows.clear()
    this.#global.clear()
  }

  groupOf (route: string): string {
    return this.#config.routeGroups[route] ?? `route:${route}`
  }

  limitOf (group: string): BucketLimit {
    return this.#config.buckets[group] ?? FALLBACK_BUCKET
  }

  hashOf (group: string): string {
    return bucketHash(group)
  }

  /**
   * One request through the limits, in the order Discord's edge would apply them:
   * global limit first (a globally limited request does not touch the route bucket), then
   * any forced shared-resource limit (does not consume the user's bucket, like the docs'
   * example with Remaining 9 of 10), then the route bucket.
   */
  take (identity: string, route: string, majorId: string): LimitOutcome {
    const now = this.#clock.now()
    const group = this.groupOf(route)
    const limit = this.limitOf(group)
    const key = `${identity}\u0000${group}\u0000${majorId}`
    const window = this.#open(this.#windows, key, now)

    if (!this.#config.enabled) {
      return { ok: true, bucket: this.#snapshot(group, limit, window, now) }
    }

    const globalWindow = this.#open(this.#global, identity, now)
    if (globalWindow !== undefined && globalWindow.count >= this.#config.global.limit) {
      return { ok: false, scope: 'global', retryAfterMs: globalWindow.resetAt - now, bucket: this.#snapshot(group, limit, window, now) }
    }
    this.#count(this.#global, identity, globalWindow, this.#config.global, now)

    const forced = this.#forced.findIndex((f) => (f.route === route || f.route === group) && (f.majorId === undefined || f.majorId === majorId))
    if (forced !== -1) {
      const f = this.#forced[forced] as PendingShared
      if (--f.times <= 0) this.#forced.splice(forced, 1)
      return { ok: false, scope: 'shared', retryAfterMs: this.#clock.real(f.retryAfterSeconds * 1000), bucket: this.#snapshot(group, limit, window, now) }
    }

    if (window !== undefined && window.count >= limit.limit) {
      return { ok: false, scope: 'user', retryAfterMs: window.resetAt - now, bucket: this.#snapshot(group, limit, window, now) }
    }
    const counted = this.#count(this.#windows, key, window, limit, now)
    return { ok: true, bucket: this.#snapshot(group, limit, counted, now) }
  }

  forceShared (forced: ForcedSharedLimit): void {
    if (!(forced.retryAfterSeconds > 0)) throw new RangeError('retryAfterSeconds must be positive')
    this.#forced.push({ route: forced.route, retryAfterSeconds: forced.retryAfterSeconds, times: forced.times ?? 1, ...(forced.majorId !== undefined ? { majorId: forced.majorId } : {}) })
  }

  /** The live window of `key`, or undefined when none is open (expired windows are dropped). */
  #open (map: Map<string, Window>, key: string, now: number): Window | undefined {
    const w = map.get(key)
    if (w !== undefined && now >= w.resetAt) {
      map.delete(key)
      return undefined
    }
    return w
  }

  #count (map: Map<string, Window>, key: string, window: Window | undefined, limit: BucketLimit, now: number): Window {
    if (window !== undefined) {
      window.count++
      return window
    }
    const fresh = { count: 1, resetAt: now + this.#clock.real(limit.windowMs) }
    map.set(key, fresh)
    // Many identities or resources inside one sweep interval (a test minting tokens in a loop) would
    // otherwise pile up windows until the next timed sweep: sweep when they doubled since the last one.
    if (this.openWindows >= this.#sweepAt) {
      this.sweep()
      this.#sweepAt = Math.max(MIN_SWEEP_SIZE, 2 * this.openWindows)
    }
    return fresh
  }

  #snapshot (group: string, limit: BucketLimit, window: Window | undefined, now: number): BucketSnapshot {
    return {
      group,
      hash: bucketHash(group),
      limit: limit.limit,
      remaining: Math.max(0, limit.limit - (window?.count ?? 0)),
      resetAfterMs: window === undefined ? this.#clock.real(limit.windowMs) : Math.max(0, window.resetAt - now)
    }
  }

  /** Route and global windows held (open or expired but not yet swept). */
  get openWindows (): number {
    return this.#windows.size + this.#global.size
  }

  /** Drops expired state; called from an unref'd interval so long runs do not grow without bound. */
  sweep (): void {
    const now = this.#clock.now()
    for (const map of [this.#windows, this.#global]) {
      for (const [key, w] of map) if (now >= w.resetAt) map.delete(key)
    }
    this.invalidRequests.sweep(now)
  }
}
