import { createHash } from 'node:crypto'
import type { RedisConnection as Redis } from '../../util/driver-types.js'
import { BUCKET_ACQUIRE, BUCKET_RELEASE, GLOBAL_ACQUIRE, GLOBAL_PAUSE, GLOBAL_SEED, GLOBAL_SETTLE, INVALID_CHECK, RECORD_INVALID } from './lua.js'
import {
  BUCKET_HASH_TTL_MS,
  BUCKET_STATE_GRACE_MS,
  type BucketAcquireResult,
  type BucketUpdate,
  type GlobalAcquireParams,
  type GlobalAcquireResult,
  type GlobalWindowSighting,
  type InvalidCheckResult,
  type InvalidGuardParams,
  type RateLimitStore
} from './store.js'

/** A Lua script run with EVALSHA, falling back to EVAL (which caches it) on NOSCRIPT. */
class Script {
  readonly #lua: string
  readonly #sha: string

  constructor (lua: string) {
    this.#lua = lua
    this.#sha = createHash('sha1').update(lua).digest('hex')
  }

  async run (redis: Redis, keys: string[], args: Array<string | number>): Promise<unknown> {
    try {
      return await redis.evalsha(this.#sha, keys.length, ...keys, ...args)
    } catch (err) {
      if (!String((err as Error)?.message).startsWith('NOSCRIPT')) throw err
      return await redis.eval(this.#lua, keys.length, ...keys, ...args)
    }
  }
}

const scripts = {
  globalAcquire: new Script(GLOBAL_ACQUIRE),
  globalPause: new Script(GLOBAL_PAUSE),
  globalSeed: new Script(GLOBAL_SEED),
  globalSettle: new Script(GLOBAL_SETTLE),
  invalidCheck: new Script(INVALID_CHECK),
  recordInvalid: new Script(RECORD_INVALID),
  bucketAcquire: new Script(BUCKET_ACQUIRE),
  bucketRelease: new Script(BUCKET_RELEASE)
}

/** A process that has not acquired for this long no longer counts as sharing the token. */
const INSTANCE_TTL_MS = 30_000

function ints (reply: unknown, length: number): number[] {
  if (!Array.isArray(reply) || reply.length < length) throw new Error('unexpected reply from a rate-limit script')
  return reply.map((v) => Number(v))
}

/**
 * Redis store: limiter state shared by every process using the same prefix.
 *
 * Key layout (all under `prefix`, all expiring):
 * - `gl:<tokenId>`   zset, sliding-window log of global grants (expires after the window)
 * - `gp:<tokenId>`   string, global pause after a global 429 (PX = retry_after)
 * - `gi:<tokenId>`   zset, processes that used the token recently (see INSTANCE_TTL_MS)
 * - `inv:<tokenId>`  zset, invalid responses of the token (expires after the invalid window)
 * - `invall`         zset, invalid responses of all tokens
 * - `b:<tokenId>:<bucket>:<major>`   hash {limit, remaining, reset}, expires just after the reset
 * - `lk:<tokenId>:<bucket>:<major>`  string, owner of the in-flight request (PX = lock TTL)
 * - `rt:<tokenId>:<METHOD>:<route template>`  string, discovered bucket hash (24 h)
 *
 * The client passed in is never closed here.
 */
export class RedisRateLimitStore implements RateLimitStore {
  readonly kind = 'redis' as const
  readonly #redis: Redis
  readonly #prefix: string
  readonly #observe: ((tokenId: string, sighting: GlobalWindowSighting) => void) | undefined

  /** `observe` hears, after each global acquisition, how full the shared window is and how many processes share it. */
  constructor (redis: Redis, prefix: string, observe?: (tokenId: string, sighting: GlobalWindowSighting) => void) {
    this.#redis = redis
    this.#prefix = prefix
    this.#observe = observe
  }

  /** Writes grants made elsewhere (`agesMs` before now, Redis's clock) into the token's shared window. */
  async seedGlobal (tokenId: string, agesMs: number[], windowMs: number, memberPrefix: string): Promise<void> {
    if (agesMs.length === 0) return
    await scripts.globalSeed.run(this.#redis, [`${this.#prefix}gl:${tokenId}`], [Math.ceil(windowMs), memberPrefix, ...agesMs.map((a) => Math.max(0, Math.round(a)))])
  }

  async acquireGlobal (tokenId: string, params: GlobalAcquireParams): Promise<GlobalAcquireResult> {
    const p = this.#prefix
    const reply = await scripts.globalAcquire.run(this.#redis,
      [`${p}gl:${tokenId}`, `${p}gp:${tokenId}`, `${p}inv:${tokenId}`, `${p}invall`, `${p}gi:${tokenId}`, `${p}gt:${tokenId}`],
      [params.limit, params.windowMs, params.member, params.invalidThreshold, params.invalidTotalThreshold, params.invalidWindowMs,
        params.instance ?? '', INSTANCE_TTL_MS, params.intervalMs ?? 0, Number.isFinite(params.burst) ? Math.max(1, params.burst ?? 1) : 1_000_000,
        Math.max(0, Math.ceil(params.inFlightMs ?? 0))])
    const [status, waitMs, count, inWindow, instances] = ints(reply, 3) as [number, number, number, number | undefined, number | undefined]
    if (inWindow !== undefined && instances !== undefined) this.#observe?.(tokenId, { inWindow, instances })
    const wait = Math.max(1, waitMs)
    switch (status) {
      case 0: return { granted: true }
      case 1: return { granted: false, reason: 'paused', waitMs: wait }
      case 2: return { granted: false, reason: 'invalid', waitMs: wait, count }
      case 3: return { granted: false, reason: 'invalidTotal', waitMs: wait, count }
      case 4: return { granted: false, reason: 'limit', waitMs: wait }
      default: throw new Error(`unexpected status ${status} from the global-limit script`)
    }
  }

  async settleGlobal (tokenId: string, member: string): Promise<void> {
    await scripts.globalSettle.run(this.#redis, [`${this.#prefix}gl:${tokenId}`], [member])
  }

  async checkInvalid (tokenId: string, params: InvalidGuardParams): Promise<InvalidCheckResult> {
    const p = this.#prefix
    const reply = await scripts.invalidCheck.run(this.#redis, [`${p}inv:${tokenId}`, `${p}invall`],
      [params.invalidThreshold, params.invalidTotalThreshold, params.invalidWindowMs])
    const [status, waitMs, count] = ints(reply, 3) as [number, number, number]
    if (status === 0) return { tripped: false }
    return { tripped: true, reason: status === 2 ? 'invalid' : 'invalidTotal', waitMs: Math.max(1, waitMs), count }
  }

  async pauseGlobal (tokenId: string, ms: number): Promise<void> {
    await scripts.globalPause.run(this.#redis, [`${this.#prefix}gp:${tokenId}`], [Math.max(1, Math.ceil(ms))])
  }

  async recordInvalid (tokenId: string, member: string, windowMs: number): Promise<void> {
    await scripts.recordInvalid.run(this.#redis, [`${this.#prefix}inv:${tokenId}`, `${this.#prefix}invall`], [member, windowMs])
  }

  async acquireBucket (tokenId: string, bucketKey: string, owner: string, lockTtlMs: number): Promise<BucketAcquireResult> {
    const p = this.#prefix
    const reply = await scripts.bucketAcquire.run(this.#redis,
      [`${p}b:${tokenId}:${bucketKey}`, `${p}lk:${tokenId}:${bucketKey}`], [owner, Math.ceil(lockTtlMs)])
    const [status, waitMs] = ints(reply, 2) as [number, number]
    if (status === 0) return { granted: true }
    return { granted: false, reason: status === 2 ? 'exhausted' : 'locked', waitMs: Math.max(1, waitMs) }
  }

  async releaseBucket (tokenId: string, lockKey: string, owner: string, stateKey: string, update: BucketUpdate | null, pauseMs = 0): Promise<void> {
    const p = this.#prefix
    const pause = Math.max(0, Math.ceil(pauseMs))
    await scripts.bucketRelease.run(this.#redis,
      [`${p}b:${tokenId}:${stateKey}`, `${p}lk:${tokenId}:${lockKey}`],
      update === null
        ? [owner, '0', 0, 0, 0, BUCKET_STATE_GRACE_MS, pause]
        : [owner, '1', update.limit, update.remaining, Math.ceil(update.resetAfterMs), BUCKET_STATE_GRACE_MS, pause])
  }

  async getBucketHash (tokenId: string, routeKey: string): Promise<string | undefined> {
    const value = await this.#redis.get(`${this.#prefix}rt:${tokenId}:${routeKey}`)
    return value ?? undefined
  }

  async setBucketHash (tokenId: string, routeKey: string, hash: string): Promise<void> {
    await this.#redis.set(`${this.#prefix}rt:${tokenId}:${routeKey}`, hash, 'PX', BUCKET_HASH_TTL_MS)
  }
}
