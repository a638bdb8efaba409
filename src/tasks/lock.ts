import { randomBytes } from 'node:crypto'
import type { Redis } from 'ioredis'

/** A mutual-exclusion lock across instances. `null` from acquire means another holder has it. */
export interface TaskLock {
  acquire (): Promise<string | null>
  /** Extends the lock while still held; false when it was lost (expired and taken). */
  renew (token: string): Promise<boolean>
  release (token: string): Promise<void>
}

// Compare-and-act scripts: only the holder (same random token) may extend or delete the lock,
// so an instance whose lock expired cannot release the next holder's lock.
const RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end"
const RENEW = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end"

/**
 * Redis lock: SET NX PX. The TTL makes it expire if the holder dies; a live holder renews it.
 * Redis errors propagate: the caller decides (the refresh task skips the run rather than run unlocked).
 */
export class RedisTaskLock implements TaskLock {
  readonly #redis: Redis
  readonly #key: string
  readonly #ttlMs: number

  constructor (redis: Redis, key: string, ttlMs: number) {
    this.#redis = redis
    this.#key = key
    this.#ttlMs = ttlMs
  }

  async acquire (): Promise<string | null> {
    const token = randomBytes(16).toString('hex')
    const ok = await this.#redis.set(this.#key, token, 'PX', this.#ttlMs, 'NX')
    return ok === 'OK' ? token : null
  }

  async renew (token: string): Promise<boolean> {
    return (await this.#redis.eval(RENEW, 1, this.#key, token, String(this.#ttlMs))) === 1
  }

  async release (token: string): Promise<void> {
    await this.#redis.eval(RELEASE, 1, this.#key, token)
  }
}
