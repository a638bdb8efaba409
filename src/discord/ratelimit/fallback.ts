import { withTimeout } from '../../util/timeout.js'
import type { Redis } from 'ioredis'
import type { DiscordRestLogger } from '../options.js'
import { MemoryRateLimitStore } from './memory.js'
import { RedisRateLimitStore } from './redis.js'
import type { BucketAcquireResult, BucketUpdate, GlobalAcquireParams, GlobalAcquireResult, InvalidCheckResult, InvalidGuardParams, RateLimitStore } from './store.js'

export interface FallbackStoreOptions {
  redis: Redis
  prefix: string
  /** A Redis call slower than this counts as a failure. */
  timeoutMs: number
  /** While degraded, how often Redis is probed. */
  retryIntervalMs: number
  logger?: DiscordRestLogger | undefined
  /** Called on every transition, for the client's `store` event. */
  onChange?: (state: 'fallback' | 'recovered', reason?: string) => void
}

// ioredis states in which a command would only sit in the offline queue.
const DOWN = new Set(['end', 'close', 'reconnecting'])

class RedisTimeoutError extends Error {
  constructor (ms: number) {
    super(`Redis did not answer within ${ms} ms`)
    this.name = 'RedisTimeoutError'
  }
}

/**
 * Uses Redis while it answers; on the first failure switches every operation to
 * an in-process store, logs once, probes Redis every `retryIntervalMs` and
 * switches back (logging once more) as soon as it answers a PING.
 *
 * While degraded, limits are per process only: N processes may together send
 * up to N times the limits. That is the documented price of not stopping all
 * Discord traffic when Redis is down.
 */
export class FallbackRateLimitStore implements RateLimitStore {
  readonly #redisStore: RedisRateLimitStore
  readonly #memory = new MemoryRateLimitStore()
  readonly #opts: FallbackStoreOptions
  #degraded = false
  #nextProbe = 0
  #probing = false

  constructor (options: FallbackStoreOptions) {
    this.#opts = options
    this.#redisStore = new RedisRateLimitStore(options.redis, options.prefix)
  }

  get kind (): 'memory' | 'redis' {
    return this.#degraded ? 'memory' : 'redis'
  }

  /** Whether operations currently go to the in-process store. */
  get degraded (): boolean {
    return this.#degraded
  }

  acquireGlobal (tokenId: string, params: GlobalAcquireParams): Promise<GlobalAcquireResult> {
    return this.#run((s) => s.acquireGlobal(tokenId, params), async (m, r) => { if (r.granted) await m.acquireGlobal(tokenId, params) })
  }

  checkInvalid (tokenId: string, params: InvalidGuardParams): Promise<InvalidCheckResult> {
    return this.#run((s) => s.checkInvalid(tokenId, params))
  }

  pauseGlobal (tokenId: string, ms: number): Promise<void> {
    return this.#run((s) => s.pauseGlobal(tokenId, ms), (m) => m.pauseGlobal(tokenId, ms))
  }

  recordInvalid (tokenId: string, member: string, windowMs: number): Promise<void> {
    return this.#run((s) => s.recordInvalid(tokenId, member, windowMs), (m) => m.recordInvalid(tokenId, member, windowMs))
  }

  acquireBucket (tokenId: string, bucketKey: string, owner: string, lockTtlMs: number): Promise<BucketAcquireResult> {
    return this.#run((s) => s.acquireBucket(tokenId, bucketKey, owner, lockTtlMs), async (m, r) => { if (r.granted) await m.acquireBucket(tokenId, bucketKey, owner, lockTtlMs) })
  }

  releaseBucket (tokenId: string, lockKey: string, owner: string, stateKey: string, update: BucketUpdate | null, pauseMs?: number): Promise<void> {
    return this.#run((s) => s.releaseBucket(tokenId, lockKey, owner, stateKey, update, pauseMs), (m) => m.releaseBucket(tokenId, lockKey, owner, stateKey, update, pauseMs))
  }

  getBucketHash (tokenId: string, routeKey: string): Promise<string | undefined> {
    return this.#run((s) => s.getBucketHash(tokenId, routeKey))
  }

  setBucketHash (tokenId: string, routeKey: string, hash: string): Promise<void> {
    return this.#run((s) => s.setBucketHash(tokenId, routeKey, hash), (m) => m.setBucketHash(tokenId, routeKey, hash))
  }

  /**
   * Runs `op` on Redis, or on the in-process store while degraded. While Redis is
   * healthy, `mirror` replays this process's own writes into the in-process store, so
   * that a fallback starts from what this process recently did (its global grants,
   * its buckets) instead of from nothing, which would allow a burst at the switch.
   */
  async #run<T> (op: (store: RateLimitStore) => Promise<T>, mirror?: (memory: RateLimitStore, result: T) => Promise<unknown>): Promise<T> {
    if (this.#degraded) {
      this.#probe()
      return await op(this.#memory)
    }
    let result: T
    try {
      if (DOWN.has(this.#opts.redis.status)) throw new Error(`Redis connection is ${this.#opts.redis.status}`)
      result = await this.#withTimeout(op(this.#redisStore))
    } catch (err) {
      this.#degrade(err as Error)
      return await op(this.#memory)
    }
    if (mirror !== undefined) await mirror(this.#memory, result)
    return result
  }

  /** Redis answers within `timeoutMs` of time this process could have read them in (see withTimeout). */
  #withTimeout<T> (promise: Promise<T>): Promise<T> {
    const budget = this.#opts.timeoutMs
    return withTimeout(promise, budget, () => new RedisTimeoutError(budget))
  }

  #degrade (err: Error): void {
    if (this.#degraded) return
    this.#degraded = true
    this.#nextProbe = Date.now() + this.#opts.retryIntervalMs
    const reason = `${err.name}: ${err.message}`
    this.#opts.logger?.warn({ reason }, 'Redis unavailable for Discord rate limits: falling back to in-process limits')
    this.#opts.onChange?.('fallback', reason)
  }

  #probe (): void {
    if (this.#probing || Date.now() < this.#nextProbe) return
    this.#probing = true
    this.#nextProbe = Date.now() + this.#opts.retryIntervalMs
    const attempt = async (): Promise<void> => {
      if (DOWN.has(this.#opts.redis.status)) throw new Error('still down')
      await this.#withTimeout(this.#opts.redis.ping())
    }
    attempt().then(() => {
      this.#degraded = false
      this.#opts.logger?.info({}, 'Redis answers again: Discord rate limits are shared across processes again')
      this.#opts.onChange?.('recovered')
    }, () => {}).finally(() => {
      this.#probing = false
    })
  }
}
