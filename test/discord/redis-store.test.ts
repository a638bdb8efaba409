import { Redis } from 'ioredis'
import { afterAll, describe, expect, it } from 'vitest'
import { RedisRateLimitStore } from '../../src/discord/ratelimit/redis.js'
import { REDIS_URL, redisAvailable, uniquePrefix } from '../helpers/redis.js'
import { storeContract } from './helpers/store-contract.js'

const available = await redisAvailable()

describe.skipIf(!available)('redis store', () => {
  const clients: Redis[] = []
  const prefixes: string[] = []
  function connect (): Redis {
    const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 })
    clients.push(redis)
    return redis
  }

  afterAll(async () => {
    const redis = connect()
    for (const prefix of prefixes) {
      const keys = await redis.keys(`${prefix}*`)
      if (keys.length > 0) await redis.del(...keys)
    }
    for (const c of clients) c.disconnect()
  })

  // Each store gets its own prefix, so the shared `invall` log of one test never leaks into another.
  storeContract('redis', () => {
    const prefix = uniquePrefix('store')
    prefixes.push(prefix)
    return {
      store: new RedisRateLimitStore(connect(), prefix),
      // A real sleep on purpose: the windows, pauses and lock TTLs run on the Redis server's
      // clock (TIME, PEXPIRE), which only real time moves.
      elapse: async (ms) => { await new Promise((resolve) => setTimeout(resolve, ms)) }
    }
  }, () => `t${Math.random().toString(36).slice(2, 8)}`)

  it('shares the global window between two connections (two processes)', async () => {
    const prefix = uniquePrefix('store-shared')
    prefixes.push(prefix)
    const a = new RedisRateLimitStore(connect(), prefix)
    const b = new RedisRateLimitStore(connect(), prefix)
    const p = (m: string): Parameters<typeof a.acquireGlobal>[1] => ({ limit: 10, windowMs: 5_000, invalidThreshold: 100, invalidTotalThreshold: 100, invalidWindowMs: 60_000, member: m })
    const results = await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? a : b).acquireGlobal('tok', p(`m${i}`))))
    expect(results.filter((r) => r.granted)).toHaveLength(10)
  })

  it('writes only prefixed keys, all with an expiry, none containing the token id outside its slot', async () => {
    const prefix = uniquePrefix('store-keys')
    prefixes.push(prefix)
    const redis = connect()
    const store = new RedisRateLimitStore(redis, prefix)
    const p = { limit: 5, windowMs: 1000, invalidThreshold: 100, invalidTotalThreshold: 100, invalidWindowMs: 60_000, member: 'k1' }
    await store.acquireGlobal('tid', p)
    await store.pauseGlobal('tid', 1000)
    await store.recordInvalid('tid', 'i1', 60_000)
    await store.acquireBucket('tid', 'route:GET:/guilds/:guild_id:1', 'o', 1000)
    await store.releaseBucket('tid', 'route:GET:/guilds/:guild_id:1', 'o', 'hash:1', { limit: 5, remaining: 4, resetAfterMs: 1000 })
    await store.setBucketHash('tid', 'GET:/guilds/:guild_id', 'hash')
    const keys = (await redis.keys(`${prefix}*`)).sort()
    expect(keys.map((k) => k.slice(prefix.length))).toEqual([
      'b:tid:hash:1', 'gl:tid', 'gp:tid', 'inv:tid', 'invall', 'rt:tid:GET:/guilds/:guild_id'
    ])
    for (const key of keys) expect(await redis.pttl(key)).toBeGreaterThan(0)
  })

  it('falls back to EVAL when Redis does not know the script (NOSCRIPT)', async () => {
    const prefix = uniquePrefix('store-noscript')
    prefixes.push(prefix)
    const redis = connect()
    let evals = 0
    // A view of the connection whose script cache is empty: EVALSHA answers NOSCRIPT, as after a restart.
    const cold = new Proxy(redis, {
      get (target, prop, receiver) {
        if (prop === 'evalsha') return async () => { throw new Error('NOSCRIPT No matching script. Please use EVAL.') }
        if (prop === 'eval') return (...args: unknown[]) => { evals++; return (target.eval as (...a: unknown[]) => unknown)(...args) }
        return Reflect.get(target, prop, receiver)
      }
    })
    const store = new RedisRateLimitStore(cold, prefix)
    expect((await store.acquireBucket('tid', 'h:1', 'o', 1000)).granted).toBe(true)
    expect((await store.acquireBucket('tid', 'h:1', 'p', 1000)).granted).toBe(false)
    expect(evals).toBe(2)
  })
})
