import type { RedisConnection as Redis } from '../util/driver-types.js'
import { RedisSyncLocks, type LockHandle } from '../sync/locks.js'

/** A mutual-exclusion lock across instances. `null` from acquire means another holder has it. */
export interface TaskLock {
  acquire (): Promise<string | null>
  /** Extends the lock while still held; false when it was lost (expired and taken). */
  renew (token: string): Promise<boolean>
  release (token: string): Promise<void>
}

const OWNER = 'task'

/**
 * One named Redis lock for a periodic task, on the same compare-and-act primitive as the sync
 * locks: SET NX PX so a dead holder's lock expires, and only the holder's token may renew or
 * release it. Unlike the sync locks there is no in-process fallback: Redis errors propagate and
 * the caller decides (the refresh task skips the run rather than run unlocked).
 */
export class RedisTaskLock implements TaskLock {
  readonly #locks: RedisSyncLocks
  readonly #key: string

  constructor (redis: Redis, key: string, ttlMs: number) {
    this.#locks = new RedisSyncLocks(redis, '', ttlMs)
    this.#key = key
  }

  #handle (token: string): LockHandle {
    return { key: this.#key, runId: OWNER, token }
  }

  async acquire (): Promise<string | null> {
    const result = await this.#locks.acquire(this.#key, OWNER)
    return result.ok ? result.handle.token : null
  }

  async renew (token: string): Promise<boolean> {
    return await this.#locks.renew(this.#handle(token))
  }

  async release (token: string): Promise<void> {
    await this.#locks.release(this.#handle(token))
  }
}
