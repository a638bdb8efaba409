import { afterEach, describe, expect, it, vi } from 'vitest'
import { BucketLimiter } from '../../src/discord/ratelimit/bucket-limiter.js'
import { MemoryRateLimitStore } from '../../src/discord/ratelimit/memory.js'
import { BUCKET_HASH_IDLE_MS } from '../../src/discord/ratelimit/store.js'

/*
 * Issue 18: a soak of OAuth logins grew the heap by every login's user token. Bucket hashes are
 * keyed by token and route, and a user token makes a couple of requests at login, then idles:
 * both the limiter's cache and the memory store must let such mappings go.
 */

const LOGIN_EVERY_MS = 5_000
const ROUTES = ['GET:/users/@me', 'GET:/users/@me/guilds']

afterEach(() => { vi.useRealTimers() })

describe('bucket hashes of tokens that went idle', () => {
  it('are forgotten by the limiter cache and the memory store, however many logins there were', async () => {
    vi.useFakeTimers({ toFake: ['Date'], now: 0 })
    const store = new MemoryRateLimitStore(() => Date.now())
    const buckets = new BucketLimiter(store, { offsetMs: 0, maxWaitMs: 1_000, lockTtlMs: 1_000 })
    const logins = 2_000
    for (let login = 0; login < logins; login++) {
      const token = `user-${login}`
      for (const route of ROUTES) {
        // What one request does with the limiter: resolve, take, learn the hash, release.
        expect(await buckets.resolveHash(token, route)).toBeUndefined()
        const key = `route:${route}:global`
        expect(await store.acquireBucket(token, key, 'o', 1_000)).toEqual({ granted: true })
        await buckets.remember(token, route, `hash-${route}`)
        await store.releaseBucket(token, key, 'o', `hash-${route}:global`, { limit: 5, remaining: 4, resetAfterMs: 1_000 })
      }
      vi.advanceTimersByTime(LOGIN_EVERY_MS)
    }
    // The logins of the last idle period (plus a sweep interval or so of slack) may still be held, not all 2,000.
    const recent = ROUTES.length * Math.ceil((BUCKET_HASH_IDLE_MS + 2 * 60_000) / LOGIN_EVERY_MS)
    expect(recent).toBeLessThan(ROUTES.length * logins / 4)
    expect(buckets.cachedMappings).toBeLessThanOrEqual(recent)
    // The memory store sweeps once per 256 operations (one acquire per mapping here): one more batch.
    expect(store.bucketHashes).toBeLessThanOrEqual(recent + 256)
  })

  it('keeps a mapping that is in use however old it is', async () => {
    vi.useFakeTimers({ toFake: ['Date'], now: 0 })
    const store = new MemoryRateLimitStore(() => Date.now())
    const buckets = new BucketLimiter(store, { offsetMs: 0, maxWaitMs: 1_000, lockTtlMs: 1_000 })
    await buckets.remember('bot', 'GET:/guilds/:guild_id', 'g')
    for (let minute = 0; minute < 24 * 60; minute++) {
      vi.advanceTimersByTime(60_000)
      expect(await buckets.resolveHash('bot', 'GET:/guilds/:guild_id')).toBe('g')
      // Other tokens come and go, so the cache sweeps meanwhile.
      await buckets.remember(`user-${minute}`, 'GET:/users/@me', 'u')
    }
    expect(buckets.cachedMappings).toBeLessThanOrEqual(1 + BUCKET_HASH_IDLE_MS / 60_000 + 1)
  })
})
