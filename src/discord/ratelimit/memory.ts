import {
  BUCKET_HASH_IDLE_MS,
  BUCKET_STATE_GRACE_MS,
  type BucketAcquireResult,
  type BucketUpdate,
  type GlobalAcquireParams,
  type GlobalAcquireResult,
  type InvalidCheckResult,
  type InvalidGuardParams,
  type RateLimitStore
} from './store.js'

interface BucketState { limit: number, remaining: number, reset: number, pause: number }
interface Lock { owner: string, expires: number }
interface Expiring<T> { value: T, expires: number }

const SWEEP_EVERY = 256

/** Drops timestamps `<= floor` from the front of an ascending log. */
function prune (log: number[], floor: number): void {
  let i = 0
  while (i < log.length && (log[i] as number) <= floor) i++
  if (i > 0) log.splice(0, i)
}

/**
 * In-process store: the same semantics as the Redis store (same sliding
 * windows, same lock rules), for one process. Also the fallback while Redis
 * is unreachable.
 */
export class MemoryRateLimitStore implements RateLimitStore {
  readonly kind = 'memory' as const
  readonly #now: () => number
  /** Per token: settled grants (the time they were dated), ascending. */
  readonly #global = new Map<string, number[]>()
  /** Per token: grants in flight, member -> the time they count as (grant + inFlightMs). */
  readonly #inFlight = new Map<string, Map<string, number>>()
  readonly #pauses = new Map<string, number>()
  /** Pacing per token: the theoretical arrival time of the next grant (GCRA). */
  readonly #paced = new Map<string, number>()
  readonly #invalid = new Map<string, number[]>()
  readonly #invalidTotal: number[] = []
  readonly #states = new Map<string, BucketState>()
  readonly #locks = new Map<string, Lock>()
  readonly #hashes = new Map<string, Expiring<string>>()
  #ops = 0

  constructor (now: () => number = Date.now) {
    this.#now = now
  }

  /** Route -> bucket mappings held (for tests and bounds). */
  get bucketHashes (): number {
    return this.#hashes.size
  }

  async checkInvalid (tokenId: string, params: InvalidGuardParams): Promise<InvalidCheckResult> {
    const now = this.#now()
    const invalid = this.#invalid.get(tokenId)
    if (invalid !== undefined) {
      prune(invalid, now - params.invalidWindowMs)
      if (invalid.length >= params.invalidThreshold) {
        const pivot = invalid[invalid.length - params.invalidThreshold] as number
        return { tripped: true, reason: 'invalid', waitMs: Math.max(1, pivot + params.invalidWindowMs - now), count: invalid.length }
      }
    }
    prune(this.#invalidTotal, now - params.invalidWindowMs)
    if (this.#invalidTotal.length >= params.invalidTotalThreshold) {
      const pivot = this.#invalidTotal[this.#invalidTotal.length - params.invalidTotalThreshold] as number
      return { tripped: true, reason: 'invalidTotal', waitMs: Math.max(1, pivot + params.invalidWindowMs - now), count: this.#invalidTotal.length }
    }
    return { tripped: false }
  }

  async acquireGlobal (tokenId: string, params: GlobalAcquireParams): Promise<GlobalAcquireResult> {
    this.#maybeSweep()
    const guard = await this.checkInvalid(tokenId, params)
    if (guard.tripped) return { granted: false, reason: guard.reason, waitMs: guard.waitMs, count: guard.count }
    const now = this.#now()
    const pause = this.#pauses.get(tokenId)
    if (pause !== undefined) {
      if (pause > now) return { granted: false, reason: 'paused', waitMs: pause - now }
      this.#pauses.delete(tokenId)
    }
    let log = this.#global.get(tokenId)
    if (log === undefined) {
      log = []
      this.#global.set(tokenId, log)
    }
    prune(log, now - params.windowMs)
    const flying = this.#inFlight.get(tokenId)
    if (flying !== undefined) for (const [member, at] of flying) if (at <= now - params.windowMs) flying.delete(member)
    const count = log.length + (flying?.size ?? 0)
    const interval = params.intervalMs ?? 0
    if (count >= params.limit) {
      // The grant whose leaving frees a place: an in-flight one leaves only a window after it settles.
      const pivot = (flying === undefined || flying.size === 0 ? log : [...log, ...flying.values()].sort((a, b) => a - b))[count - params.limit] as number
      return { granted: false, reason: 'limit', waitMs: pivot > now ? Math.max(1, Math.ceil(interval)) : Math.max(1, pivot + params.windowMs - now) }
    }
    if (interval > 0) {
      // GCRA: the grant may come up to (burst - 1) intervals before its theoretical time.
      const tat = Math.max(this.#paced.get(tokenId) ?? 0, now)
      const early = tat - now - (Math.max(1, params.burst ?? 1) - 1) * interval
      if (early > 0) return { granted: false, reason: 'limit', waitMs: Math.max(1, Math.ceil(early)) }
      this.#paced.set(tokenId, tat + interval)
    }
    const inFlightMs = params.inFlightMs ?? 0
    if (inFlightMs > 0) {
      let map = flying
      if (map === undefined) {
        map = new Map()
        this.#inFlight.set(tokenId, map)
      }
      map.set(params.member, now + inFlightMs)
    } else {
      log.push(now)
    }
    return { granted: true }
  }

  async settleGlobal (tokenId: string, member: string): Promise<void> {
    if (this.#inFlight.get(tokenId)?.delete(member) !== true) return
    let log = this.#global.get(tokenId)
    if (log === undefined) {
      log = []
      this.#global.set(tokenId, log)
    }
    const now = this.#now()
    let i = log.length
    while (i > 0 && (log[i - 1] as number) > now) i--
    log.splice(i, 0, now)
  }

  /** This process's view of the token's global window: grant times (ms, this store's clock) younger than `windowMs`. */
  globalLog (tokenId: string, windowMs: number): number[] {
    const now = this.#now()
    const log = this.#global.get(tokenId) ?? []
    prune(log, now - windowMs)
    // A grant still in flight is as recent as a grant can be.
    const flying = [...(this.#inFlight.get(tokenId)?.values() ?? [])].filter((at) => at > now - windowMs).map(() => now)
    return [...log, ...flying]
  }

  /**
   * Makes the token's window hold at least `count` grants as of `at` (the extra ones dated `at`):
   * what a shared store last reported, carried into this process when the shared store goes away.
   */
  seedGlobal (tokenId: string, count: number, at: number, windowMs: number): void {
    let log = this.#global.get(tokenId)
    if (log === undefined) {
      log = []
      this.#global.set(tokenId, log)
    }
    prune(log, Math.min(at, this.#now()) - windowMs)
    let i = 0
    while (i < log.length && (log[i] as number) <= at) i++
    // Grants up to `at` that this process already knows are part of the reported count.
    const missing = count - i
    if (missing > 0) log.splice(i, 0, ...new Array<number>(missing).fill(at))
  }

  async pauseGlobal (tokenId: string, ms: number): Promise<void> {
    const until = this.#now() + ms
    if ((this.#pauses.get(tokenId) ?? 0) < until) this.#pauses.set(tokenId, until)
  }

  async recordInvalid (tokenId: string, _member: string, windowMs: number): Promise<void> {
    const now = this.#now()
    let log = this.#invalid.get(tokenId)
    if (log === undefined) {
      log = []
      this.#invalid.set(tokenId, log)
    }
    log.push(now)
    prune(log, now - windowMs)
    this.#invalidTotal.push(now)
    prune(this.#invalidTotal, now - windowMs)
  }

  async acquireBucket (tokenId: string, bucketKey: string, owner: string, lockTtlMs: number): Promise<BucketAcquireResult> {
    this.#maybeSweep()
    const now = this.#now()
    const key = `${tokenId}:${bucketKey}`
    const lock = this.#locks.get(key)
    if (lock !== undefined && lock.expires > now && lock.owner !== owner) {
      return { granted: false, reason: 'locked', waitMs: lock.expires - now }
    }
    const state = this.#states.get(key)
    if (state !== undefined && state.pause > now) return { granted: false, reason: 'exhausted', waitMs: state.pause - now }
    if (state !== undefined && state.reset > now) {
      if (state.remaining <= 0) return { granted: false, reason: 'exhausted', waitMs: state.reset - now }
      state.remaining--
    }
    this.#locks.set(key, { owner, expires: now + lockTtlMs })
    return { granted: true }
  }

  async releaseBucket (tokenId: string, lockKey: string, owner: string, stateKey: string, update: BucketUpdate | null, pauseMs = 0): Promise<void> {
    const now = this.#now()
    if (update !== null || pauseMs > 0) {
      const key = `${tokenId}:${stateKey}`
      const old = this.#states.get(key)
      const next: BucketState = old === undefined ? { limit: 0, remaining: 0, reset: 0, pause: 0 } : { ...old }
      if (update !== null) {
        next.limit = update.limit
        next.remaining = update.remaining
        next.reset = now + update.resetAfterMs
        if (old !== undefined && old.reset > now) {
          next.remaining = Math.min(next.remaining, old.remaining)
          next.reset = Math.max(next.reset, old.reset)
        }
      }
      if (pauseMs > 0) next.pause = Math.max(next.pause, now + pauseMs)
      this.#states.set(key, next)
    }
    const key = `${tokenId}:${lockKey}`
    if (this.#locks.get(key)?.owner === owner) this.#locks.delete(key)
  }

  async getBucketHash (tokenId: string, routeKey: string): Promise<string | undefined> {
    const key = `${tokenId}:${routeKey}`
    const entry = this.#hashes.get(key)
    if (entry === undefined) return undefined
    const now = this.#now()
    if (entry.expires <= now) {
      this.#hashes.delete(key)
      return undefined
    }
    // In one process a mapping lives while it is used (BUCKET_HASH_IDLE_MS), not a fixed 24 h.
    entry.expires = now + BUCKET_HASH_IDLE_MS
    return entry.value
  }

  async setBucketHash (tokenId: string, routeKey: string, hash: string): Promise<void> {
    this.#hashes.set(`${tokenId}:${routeKey}`, { value: hash, expires: this.#now() + BUCKET_HASH_IDLE_MS })
  }

  /** Drops state nobody can need any more, so idle tokens and guilds do not accumulate. */
  #maybeSweep (): void {
    if (++this.#ops % SWEEP_EVERY !== 0) return
    const now = this.#now()
    for (const [key, state] of this.#states) if (Math.max(state.reset, state.pause) + BUCKET_STATE_GRACE_MS <= now) this.#states.delete(key)
    for (const [key, lock] of this.#locks) if (lock.expires <= now) this.#locks.delete(key)
    for (const [key, until] of this.#pauses) if (until <= now) this.#pauses.delete(key)
    for (const [key, tat] of this.#paced) if (tat <= now) this.#paced.delete(key)
    for (const [key, entry] of this.#hashes) if (entry.expires <= now) this.#hashes.delete(key)
    // A log whose newest entry is older than any plausible window can go.
    for (const [key, log] of this.#global) if (log.length === 0 || (log[log.length - 1] as number) < now - 60_000) this.#global.delete(key)
    for (const [key, flying] of this.#inFlight) {
      for (const [member, at] of flying) if (at < now - 60_000) flying.delete(member)
      if (flying.size === 0) this.#inFlight.delete(key)
    }
    for (const [key, log] of this.#invalid) if (log.length === 0 || (log[log.length - 1] as number) < now - 24 * 60 * 60 * 1000) this.#invalid.delete(key)
  }
}
