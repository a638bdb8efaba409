/*
 * One sync per guild at a time. The lock value names the run holding it, so a refused caller
 * can be told which run to watch (409 with its id). With Redis the lock spans instances and
 * expires when its holder dies (the holder renews it on every heartbeat); without Redis an
 * in-process map does the same for one instance, with the same expiry rules so both behave
 * alike in tests.
 */
import { withTimeout } from '../util/timeout.js'
import { randomBytes } from 'node:crypto'
import type { RedisConnection as Redis } from '../util/driver-types.js'

export interface LockHandle {
  readonly key: string
  readonly runId: string
  readonly token: string
}

export type AcquireResult = { ok: true, handle: LockHandle } | { ok: false, heldBy: string | null }

export interface SyncLocks {
  readonly kind: 'redis' | 'memory'
  /** Takes `key` for `runId`; when taken, reports the holder's run id (null if unreadable). */
  acquire (key: string, runId: string): Promise<AcquireResult>
  /** Extends the lock; false when it was lost (expired, and maybe taken by another run). */
  renew (handle: LockHandle): Promise<boolean>
  release (handle: LockHandle): Promise<void>
  /** Frees `key` when `runId` holds it (a run found dead by the stale sweep); false when someone else holds it. */
  releaseHeldBy (key: string, runId: string): Promise<boolean>
  /** The run id holding `key`, or null. */
  holder (key: string): Promise<string | null>
}

function encode (runId: string, token: string): string {
  return `${token}:${runId}`
}

function runIdOf (value: string | null): string | null {
  if (value === null) return null
  const i = value.indexOf(':')
  return i === -1 ? null : value.slice(i + 1)
}

export class MemorySyncLocks implements SyncLocks {
  readonly kind = 'memory' as const
  readonly #ttlMs: number
  readonly #now: () => number
  readonly #held = new Map<string, { value: string, expiresAt: number }>()

  constructor (ttlMs: number, now: () => number = Date.now) {
    this.#ttlMs = ttlMs
    this.#now = now
  }

  #live (key: string): { value: string, expiresAt: number } | undefined {
    const entry = this.#held.get(key)
    if (entry !== undefined && entry.expiresAt <= this.#now()) {
      this.#held.delete(key)
      return undefined
    }
    return entry
  }

  async acquire (key: string, runId: string): Promise<AcquireResult> {
    const current = this.#live(key)
    if (current !== undefined) return { ok: false, heldBy: runIdOf(current.value) }
    const token = randomBytes(12).toString('hex')
    this.#held.set(key, { value: encode(runId, token), expiresAt: this.#now() + this.#ttlMs })
    return { ok: true, handle: { key, runId, token } }
  }

  async renew (handle: LockHandle): Promise<boolean> {
    const current = this.#live(handle.key)
    if (current === undefined || current.value !== encode(handle.runId, handle.token)) return false
    current.expiresAt = this.#now() + this.#ttlMs
    return true
  }

  async release (handle: LockHandle): Promise<void> {
    const current = this.#held.get(handle.key)
    if (current !== undefined && current.value === encode(handle.runId, handle.token)) this.#held.delete(handle.key)
  }

  async releaseHeldBy (key: string, runId: string): Promise<boolean> {
    const current = this.#live(key)
    if (current === undefined || runIdOf(current.value) !== runId) return false
    this.#held.delete(key)
    return true
  }

  async holder (key: string): Promise<string | null> {
    return runIdOf(this.#live(key)?.value ?? null)
  }
}

// Compare-and-act: only the holder (same token) may extend or delete, so a run whose lock
// expired cannot release or extend the lock of the run that took over.
const RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end"
// The value is `token:runId`: a dead run's lock is matched by its run id, whatever its token.
const RELEASE_RUN = "local v = redis.call('get', KEYS[1]); if v and string.sub(v, -string.len(ARGV[1])) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end"
const RENEW = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end"

export class RedisSyncLocks implements SyncLocks {
  readonly kind = 'redis' as const
  readonly #redis: Redis
  readonly #prefix: string
  readonly #ttlMs: number

  constructor (redis: Redis, prefix: string, ttlMs: number) {
    this.#redis = redis
    this.#prefix = prefix
    this.#ttlMs = ttlMs
  }

  async acquire (key: string, runId: string): Promise<AcquireResult> {
    const token = randomBytes(12).toString('hex')
    const ok = await this.#redis.set(this.#prefix + key, encode(runId, token), 'PX', this.#ttlMs, 'NX')
    if (ok === 'OK') return { ok: true, handle: { key, runId, token } }
    return { ok: false, heldBy: await this.holder(key) }
  }

  async renew (handle: LockHandle): Promise<boolean> {
    return (await this.#redis.eval(RENEW, 1, this.#prefix + handle.key, encode(handle.runId, handle.token), String(this.#ttlMs))) === 1
  }

  async release (handle: LockHandle): Promise<void> {
    await this.#redis.eval(RELEASE, 1, this.#prefix + handle.key, encode(handle.runId, handle.token))
  }

  async releaseHeldBy (key: string, runId: string): Promise<boolean> {
    return (await this.#redis.eval(RELEASE_RUN, 1, this.#prefix + key, `:${runId}`)) === 1
  }

  async holder (key: string): Promise<string | null> {
    return runIdOf(await this.#redis.get(this.#prefix + key))
  }
}

/**
 * Redis first, this process's own locks when Redis cannot be reached, like the REST client's
 * limiter: an outage degrades to per-instance exclusion instead of stopping every sync. Two
 * instances might then sync one guild at once; that costs calls, not correctness, because every
 * member is re-read right before it is written. A lock taken in Redis whose renewal cannot reach
 * Redis is kept (nobody can take it there either until Redis is back, and then it has its TTL).
 */
export class FallbackSyncLocks implements SyncLocks {
  readonly kind = 'redis' as const
  readonly #redis: RedisSyncLocks
  readonly #memory: MemorySyncLocks
  readonly #local = new WeakSet<LockHandle>()
  readonly #onFallback: (op: string, err: unknown) => void

  readonly #timeoutMs: number

  constructor (redis: RedisSyncLocks, memory: MemorySyncLocks, onFallback: (op: string, err: unknown) => void = () => {}, timeoutMs = 1_000) {
    this.#redis = redis
    this.#memory = memory
    this.#onFallback = onFallback
    this.#timeoutMs = timeoutMs
  }

  /** A Redis call that does not answer in time counts as failed (ioredis may queue commands while reconnecting). */
  #timed<T> (p: Promise<T>): Promise<T> {
    return withTimeout(p, this.#timeoutMs, () => new Error('Redis did not answer in time'))
  }

  async acquire (key: string, runId: string): Promise<AcquireResult> {
    // The in-process lock is taken first either way, so one instance never runs a guild twice.
    const local = await this.#memory.acquire(key, runId)
    if (!local.ok) return local
    try {
      const shared = await this.#timed(this.#redis.acquire(key, runId))
      await this.#memory.release(local.handle)
      return shared
    } catch (err) {
      this.#onFallback('acquire', err)
      this.#local.add(local.handle)
      return local
    }
  }

  async renew (handle: LockHandle): Promise<boolean> {
    if (this.#local.has(handle)) return await this.#memory.renew(handle)
    try {
      return await this.#timed(this.#redis.renew(handle))
    } catch (err) {
      this.#onFallback('renew', err)
      return true
    }
  }

  async release (handle: LockHandle): Promise<void> {
    if (this.#local.has(handle)) return await this.#memory.release(handle)
    try {
      await this.#timed(this.#redis.release(handle))
    } catch (err) {
      this.#onFallback('release', err)
    }
  }

  async releaseHeldBy (key: string, runId: string): Promise<boolean> {
    const local = await this.#memory.releaseHeldBy(key, runId)
    try {
      return await this.#timed(this.#redis.releaseHeldBy(key, runId)) || local
    } catch (err) {
      this.#onFallback('release', err)
      return local
    }
  }

  async holder (key: string): Promise<string | null> {
    const local = await this.#memory.holder(key)
    if (local !== null) return local
    try {
      return await this.#timed(this.#redis.holder(key))
    } catch (err) {
      this.#onFallback('holder', err)
      return null
    }
  }
}

/** Lock keys: one per guild, one for full runs. */
export const lockKeys = Object.freeze({
  guild: (guildId: string): string => `guild:${guildId}`,
  full: 'full'
})
