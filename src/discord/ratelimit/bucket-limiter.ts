import { describeFailure } from '../errors/discord-api-error.js'
import { DiscordRateLimitError } from '../errors/rate-limit-error.js'
import { sleep } from '../util.js'
import type { LimiterContext, WaitNotice } from './context.js'
import { BUCKET_HASH_IDLE_MS, type BucketUpdate, type RateLimitStore } from './store.js'

export interface BucketLimiterOptions {
  offsetMs: number
  maxWaitMs: number
  lockTtlMs: number
}

/** A known route -> bucket mapping is written to the store again after this long (its TTL is 24 h). */
const HASH_REFRESH_MS = 60 * 60 * 1000

/** The cache is swept for idle mappings (BUCKET_HASH_IDLE_MS) at most this often, when it learns one. */
const SWEEP_INTERVAL_MS = 60 * 1000

/** How often a request polls a bucket whose lock another process (or queue) holds. */
const LOCK_POLL_MS = 10

/**
 * Per-route buckets as Discord documents them: the bucket of a (method, route
 * template) is discovered from `X-RateLimit-Bucket`, its state (limit,
 * remaining, reset) comes from the headers of each response, and its key
 * includes the top-level resource. Before the hash is known the route itself
 * (`route:<METHOD>:<template>`) stands in for it.
 */
export class BucketLimiter {
  readonly #store: RateLimitStore
  readonly #opts: BucketLimiterOptions
  readonly #hashes = new Map<string, { hash: string, storedAt: number, usedAt: number }>()
  #sweptAt = 0

  constructor (store: RateLimitStore, options: BucketLimiterOptions) {
    this.#store = store
    this.#opts = options
  }

  /** Mappings cached in this process (for tests and bounds). */
  get cachedMappings (): number {
    return this.#hashes.size
  }

  /** Bucket hash known in this process, without asking the store. */
  cachedHash (tokenId: string, routeKey: string): string | undefined {
    const entry = this.#hashes.get(`${tokenId}:${routeKey}`)
    if (entry === undefined) return undefined
    entry.usedAt = Date.now()
    return entry.hash
  }

  /** Bucket hash of the route: this process's cache, else whatever another process discovered. */
  async resolveHash (tokenId: string, routeKey: string): Promise<string | undefined> {
    const cached = this.cachedHash(tokenId, routeKey)
    if (cached !== undefined) return cached
    const remote = await this.#store.getBucketHash(tokenId, routeKey)
    if (remote !== undefined) this.#cache(`${tokenId}:${routeKey}`, remote, Date.now())
    return remote
  }

  /**
   * Records the bucket hash a response carried. The store is written when the hash is
   * new or changed, and refreshed now and then so other processes keep finding it.
   */
  async remember (tokenId: string, routeKey: string, hash: string): Promise<void> {
    const key = `${tokenId}:${routeKey}`
    const known = this.#hashes.get(key)
    const now = Date.now()
    if (known !== undefined && known.hash === hash && now - known.storedAt < HASH_REFRESH_MS) {
      known.usedAt = now
      return
    }
    this.#cache(key, hash, now)
    await this.#store.setBucketHash(tokenId, routeKey, hash)
  }

  #cache (key: string, hash: string, now: number): void {
    if (!this.#hashes.has(key) && now - this.#sweptAt >= SWEEP_INTERVAL_MS) {
      this.#sweptAt = now
      for (const [k, entry] of this.#hashes) if (now - entry.usedAt >= BUCKET_HASH_IDLE_MS) this.#hashes.delete(k)
    }
    this.#hashes.set(key, { hash, storedAt: now, usedAt: now })
  }

  /**
   * Waits until the bucket may receive one more request and takes its lock:
   * never sends into a bucket known exhausted before its reset (plus `offsetMs`).
   */
  async acquire (ctx: LimiterContext, bucketKey: string, bucket: string | undefined, owner: string, onWait: (notice: WaitNotice) => void): Promise<void> {
    for (;;) {
      ctx.signal?.throwIfAborted()
      const result = await this.#store.acquireBucket(ctx.tokenId, bucketKey, owner, this.#opts.lockTtlMs)
      if (result.granted) return
      if (result.reason === 'locked') {
        await sleep(Math.min(result.waitMs, LOCK_POLL_MS + Math.floor(Math.random() * LOCK_POLL_MS)), ctx.signal)
        continue
      }
      const waitMs = result.waitMs + this.#opts.offsetMs
      if (waitMs > this.#opts.maxWaitMs) {
        throw new DiscordRateLimitError({
          method: ctx.method,
          route: ctx.route,
          message: describeFailure(`Bucket exhausted: a wait of ${waitMs} ms exceeds maxRateLimitWaitMs`, ctx.method, ctx.route),
          retryAfterMs: waitMs,
          scope: 'user',
          bucket,
          global: false
        })
      }
      onWait({ reason: 'bucket', waitMs, bucket })
      await sleep(waitMs, ctx.signal)
    }
  }

  /** Stores the response's bucket state (and a 429 pause) under `stateKey` and releases the lock on `lockKey`. */
  async release (tokenId: string, lockKey: string, owner: string, stateKey: string, update: BucketUpdate | null, pauseMs = 0): Promise<void> {
    await this.#store.releaseBucket(tokenId, lockKey, owner, stateKey, update, pauseMs)
  }
}
