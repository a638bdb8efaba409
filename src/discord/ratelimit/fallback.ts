import { randomBytes } from 'node:crypto'
import { withTimeout } from '../../util/timeout.js'
import type { RedisConnection as Redis } from '../../util/driver-types.js'
import type { DiscordRestLogger, RedisOutageSignal } from '../options.js'
import { MemoryRateLimitStore } from './memory.js'
import { RedisRateLimitStore } from './redis.js'
import type { BucketAcquireResult, BucketUpdate, GlobalAcquireParams, GlobalAcquireResult, GlobalWindowSighting, InvalidCheckResult, InvalidGuardParams, RateLimitStore } from './store.js'

export interface FallbackStoreOptions {
  redis: Redis
  prefix: string
  /** A Redis call slower than this counts as a failure. */
  timeoutMs: number
  /** While degraded, how often Redis is probed. */
  retryIntervalMs: number
  /** Shared with other Redis users of the process: open means fall back without waiting. */
  outage?: RedisOutageSignal | undefined
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

/** The global window as Redis last described it to this process. */
interface Sighting extends GlobalWindowSighting {
  /** When Redis said so (Date.now()). */
  at: number
  windowMs: number
  /** When this process last asked for the credential's global window (Date.now()). */
  usedAt: number
}

/** Until the first sighting: Discord's 1 s window plus the default safety offset. */
const DEFAULT_WINDOW_MS = 1_150
/**
 * Sightings of a credential unused this long are dropped. Every user's OAuth token is a credential
 * of its own, and a refresh makes a new one, so kept for ever they would grow with users times
 * refreshes. Long past any window: a credential used again is seen again on its next grant.
 */
const SIGHTING_IDLE_MS = 10 * 60_000
/** How often (at most) the idle sightings are looked for. */
const SIGHTING_SWEEP_MS = 60_000

/**
 * Uses Redis while it answers; on the first failure switches every operation to
 * an in-process store, logs once, probes Redis every `retryIntervalMs` and
 * switches back (logging once more) as soon as it answers a PING.
 *
 * The global window (Discord's 50 requests per second per bot, over every process) is
 * carried across each switch, so that no second holds more than the limit:
 * - into the fallback: the in-process window starts with this process's own recent grants
 *   (mirrored while Redis was healthy) and as many more as Redis last reported, and while
 *   degraded each process takes only its share of the limit (limit / the processes Redis
 *   last saw using the token);
 * - back to Redis (which may have restarted empty, also when the connection merely came
 *   back before any call noticed): the in-process window is written into Redis before any
 *   other call, and for the next probe interval plus one window a grant needs both the
 *   in-process share and Redis, which covers processes that have not switched back yet.
 * A process that never reached Redis (started while it was down) does not know its peers
 * and takes the whole limit.
 */
export class FallbackRateLimitStore implements RateLimitStore {
  readonly #redisStore: RedisRateLimitStore
  readonly #memory = new MemoryRateLimitStore()
  readonly #opts: FallbackStoreOptions
  readonly #sightings = new Map<string, Sighting>()
  readonly #seedId = randomBytes(6).toString('hex')
  #seeds = 0
  #mode: 'redis' | 'degraded' | 'recovering' = 'redis'
  #recoverUntil = 0
  /** The in-process window still has to reach Redis (set on every return to it). */
  #seedPending = false
  #seeding: Promise<void> | null = null
  #connectedBefore: boolean
  #nextProbe = 0
  #probing = false
  #nextSweep = 0
  readonly #onReady = (): void => {
    // ioredis reconnected: the server may be a new, empty one, even if no call saw it go.
    if (!this.#connectedBefore) {
      this.#connectedBefore = true
      return
    }
    if (this.#mode !== 'degraded') this.#startRecovery()
  }

  constructor (options: FallbackStoreOptions) {
    this.#opts = options
    this.#redisStore = new RedisRateLimitStore(options.redis, options.prefix, (tokenId, sighting) => {
      const now = Date.now()
      const windowMs = this.#sightings.get(tokenId)?.windowMs ?? DEFAULT_WINDOW_MS
      this.#sightings.set(tokenId, { ...sighting, at: now, windowMs, usedAt: now })
    })
    this.#connectedBefore = options.redis.status === 'ready'
    options.redis.on('ready', this.#onReady)
  }

  get kind (): 'memory' | 'redis' {
    return this.#mode === 'degraded' ? 'memory' : 'redis'
  }

  /** Whether operations currently go to the in-process store. */
  get degraded (): boolean {
    return this.#mode === 'degraded'
  }

  /** How many credentials' global windows this process keeps track of (for tests and diagnostics). */
  get trackedCredentials (): number {
    return this.#sightings.size
  }

  /** Stops listening to the connection (which stays open: it is the caller's). */
  close (): void {
    this.#opts.redis.off('ready', this.#onReady)
  }

  async acquireGlobal (tokenId: string, params: GlobalAcquireParams): Promise<GlobalAcquireResult> {
    this.#noteWindow(tokenId, params.windowMs)
    if (this.#mode === 'degraded') {
      this.#probe()
      return await this.#memory.acquireGlobal(tokenId, this.#share(tokenId, params))
    }
    if (this.#mode === 'recovering' && Date.now() < this.#recoverUntil) {
      // Redis first gets the window as it was before this grant, or this grant would count twice.
      if (this.#seedPending && !await this.#seedOrDegrade()) return await this.#memory.acquireGlobal(tokenId, this.#share(tokenId, params))
      const local = await this.#memory.acquireGlobal(tokenId, this.#share(tokenId, params))
      if (!local.granted) return local
      // Redis gone again: the in-process grant just taken stands.
      return await this.#run((s) => s.acquireGlobal(tokenId, params), undefined, async () => local)
    }
    // The mirror records a grant Redis already made: it must not be refused by the in-process pacing.
    return await this.#run((s) => s.acquireGlobal(tokenId, params), async (m, r) => { if (r.granted) await m.acquireGlobal(tokenId, { ...params, burst: Number.POSITIVE_INFINITY }) },
      (m) => m.acquireGlobal(tokenId, this.#share(tokenId, params)))
  }

  settleGlobal (tokenId: string, member: string): Promise<void> {
    // Both: the in-process mirror (or the degraded window) holds the same member.
    return this.#run((s) => s.settleGlobal(tokenId, member), (m) => m.settleGlobal(tokenId, member))
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
   * `onMemory` is what runs in-process when this very call finds Redis gone.
   */
  async #run<T> (op: (store: RateLimitStore) => Promise<T>, mirror?: (memory: RateLimitStore, result: T) => Promise<unknown>, onMemory = op): Promise<T> {
    if (this.#mode === 'degraded') {
      this.#probe()
      return await op(this.#memory)
    }
    if (this.#mode === 'recovering' && Date.now() >= this.#recoverUntil) this.#mode = 'redis'
    let result: T
    try {
      this.#assertReachable()
      if (this.#seedPending) await this.#seedRedis()
      result = await this.#withTimeout(op(this.#redisStore))
    } catch (err) {
      this.#degrade(err as Error)
      return await onMemory(this.#memory)
    }
    if (mirror !== undefined) await mirror(this.#memory, result)
    return result
  }

  async #seedOrDegrade (): Promise<boolean> {
    try {
      this.#assertReachable()
      await this.#seedRedis()
      return true
    } catch (err) {
      this.#degrade(err as Error)
      return false
    }
  }

  #assertReachable (): void {
    if (DOWN.has(this.#opts.redis.status)) throw new Error(`Redis connection is ${this.#opts.redis.status}`)
    if (this.#opts.outage?.open === true) throw new Error('Redis is known to be unavailable')
  }

  /** One write of the in-process windows into Redis, shared by every call that waits for it. */
  async #seedRedis (): Promise<void> {
    this.#seeding ??= (async () => {
      const now = Date.now()
      for (const [tokenId, sighting] of this.#sightings) {
        const ages = this.#memory.globalLog(tokenId, sighting.windowMs).map((t) => now - t)
        await this.#withTimeout(this.#redisStore.seedGlobal(tokenId, ages, sighting.windowMs, `seed:${this.#seedId}:${++this.#seeds}`))
      }
      this.#seedPending = false
    })().finally(() => { this.#seeding = null })
    await this.#seeding
  }

  /** While not sure Redis holds every process's grants, this process takes its share of the limit. */
  #share (tokenId: string, params: GlobalAcquireParams): GlobalAcquireParams {
    const instances = this.#sightings.get(tokenId)?.instances ?? 1
    if (instances <= 1) return params
    const limit = Math.max(1, Math.floor(params.limit / instances))
    // The pace slows down with the share: each process takes 1/instances of the rate.
    return { ...params, limit, ...(params.intervalMs === undefined ? {} : { intervalMs: params.intervalMs * params.limit / limit }) }
  }

  #noteWindow (tokenId: string, windowMs: number): void {
    const now = Date.now()
    if (now >= this.#nextSweep) {
      this.#nextSweep = now + SIGHTING_SWEEP_MS
      for (const [id, s] of this.#sightings) if (now - s.usedAt > SIGHTING_IDLE_MS) this.#sightings.delete(id)
    }
    const sighting = this.#sightings.get(tokenId)
    if (sighting === undefined) this.#sightings.set(tokenId, { inWindow: 0, instances: 1, at: 0, windowMs, usedAt: now })
    else {
      sighting.windowMs = windowMs
      sighting.usedAt = now
    }
  }

  /** What Redis last reported, and may have lost, becomes part of the in-process windows. */
  #carryWindowsIntoMemory (): void {
    for (const [tokenId, s] of this.#sightings) this.#memory.seedGlobal(tokenId, s.inWindow, s.at, s.windowMs)
  }

  #startRecovery (): void {
    this.#carryWindowsIntoMemory()
    // A loop, not Math.max(...spread): the spread throws past the engine's argument limit.
    let windowMs = DEFAULT_WINDOW_MS
    for (const s of this.#sightings.values()) windowMs = Math.max(windowMs, s.windowMs)
    this.#mode = 'recovering'
    this.#recoverUntil = Date.now() + this.#opts.retryIntervalMs + windowMs
    this.#seedPending = true
  }

  /** Redis answers within `timeoutMs` of time this process could have read them in (see withTimeout). */
  #withTimeout<T> (promise: Promise<T>): Promise<T> {
    const budget = this.#opts.timeoutMs
    return withTimeout(promise, budget, () => new RedisTimeoutError(budget))
  }

  #degrade (err: Error): void {
    if (this.#mode === 'degraded') return
    this.#carryWindowsIntoMemory()
    this.#mode = 'degraded'
    this.#opts.outage?.trip()
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
      this.#connectedBefore = true
      this.#opts.outage?.reset()
      this.#startRecovery()
      this.#opts.logger?.info({}, 'Redis answers again: Discord rate limits are shared across processes again')
      this.#opts.onChange?.('recovered')
    }, () => {}).finally(() => {
      this.#probing = false
    })
  }
}
