import { describe, expect, it } from 'vitest'
import type { GlobalAcquireParams, RateLimitStore } from '../../../src/discord/ratelimit/store.js'

/*
 * One behavioural contract for every rate-limit store backend (memory, Redis):
 * the same sliding windows, locks, pauses and guards. Time passes through the
 * backend's own clock (`elapse`): a manual clock for the memory store, real time
 * for Redis, whose windows and TTLs are measured by the Redis server itself.
 */

let seq = 0
function params (over: Partial<GlobalAcquireParams> = {}): GlobalAcquireParams {
  return {
    limit: 3,
    windowMs: 300,
    invalidThreshold: 1000,
    invalidTotalThreshold: 1000,
    invalidWindowMs: 60_000,
    member: `m${++seq}`,
    ...over
  }
}

/** A store under test and the clock its windows, pauses and lock TTLs are measured by. */
export interface ContractStore {
  store: RateLimitStore
  /** Lets `ms` milliseconds of the store's time pass. */
  elapse: (ms: number) => Promise<void>
}

export function storeContract (name: string, make: () => ContractStore | Promise<ContractStore>, tokenPrefix: () => string): void {
  describe(`${name} store contract`, () => {
    it('grants at most `limit` global slots per sliding window, then says how long to wait', async () => {
      const { store, elapse } = await make()
      const token = `${tokenPrefix()}g`
      const results = []
      for (let i = 0; i < 5; i++) results.push(await store.acquireGlobal(token, params()))
      expect(results.filter((r) => r.granted)).toHaveLength(3)
      const refused = results[3]
      expect(refused).toMatchObject({ granted: false, reason: 'limit' })
      if (refused?.granted === false) {
        expect(refused.waitMs).toBeGreaterThan(0)
        expect(refused.waitMs).toBeLessThanOrEqual(300)
        await elapse(refused.waitMs + 5)
      }
      expect((await store.acquireGlobal(token, params())).granted).toBe(true)
    })

    it('holds a grant in flight until a window after it is settled, then frees it', async () => {
      const { store, elapse } = await make()
      const token = `${tokenPrefix()}f`
      const flying = params({ inFlightMs: 60_000 })
      expect((await store.acquireGlobal(token, flying)).granted).toBe(true)
      for (let i = 0; i < 2; i++) expect((await store.acquireGlobal(token, params({ inFlightMs: 60_000 }))).granted).toBe(true)
      // Three in flight: full. Their grants are older than the window, yet they still count.
      await elapse(400)
      const full = await store.acquireGlobal(token, params())
      expect(full).toMatchObject({ granted: false, reason: 'limit' })
      // Settled now, the first counts a whole window from now, not from when it was granted.
      await store.settleGlobal(token, flying.member)
      await store.settleGlobal(token, 'never-granted')
      expect((await store.acquireGlobal(token, params())).granted).toBe(false)
      await elapse(150)
      expect((await store.acquireGlobal(token, params())).granted).toBe(false)
      await elapse(200)
      expect((await store.acquireGlobal(token, params())).granted).toBe(true)
      expect((await store.acquireGlobal(token, params())).granted).toBe(false)
    })

    it('keeps tokens independent', async () => {
      const { store } = await make()
      const a = `${tokenPrefix()}a`
      const b = `${tokenPrefix()}b`
      for (let i = 0; i < 3; i++) expect((await store.acquireGlobal(a, params())).granted).toBe(true)
      expect((await store.acquireGlobal(a, params())).granted).toBe(false)
      expect((await store.acquireGlobal(b, params())).granted).toBe(true)
    })

    it('pauses a token globally and never shortens a longer pause', async () => {
      const { store } = await make()
      const token = `${tokenPrefix()}p`
      await store.pauseGlobal(token, 400)
      await store.pauseGlobal(token, 50)
      const r = await store.acquireGlobal(token, params())
      expect(r).toMatchObject({ granted: false, reason: 'paused' })
      if (!r.granted) expect(r.waitMs).toBeGreaterThan(300)
    })

    it('trips the invalid-request guard per token, then over all tokens', async () => {
      const { store } = await make()
      const prefix = tokenPrefix()
      const token = `${prefix}i`
      for (let i = 0; i < 3; i++) await store.recordInvalid(token, `inv${++seq}`, 60_000)
      const tripped = await store.acquireGlobal(token, params({ invalidThreshold: 3 }))
      expect(tripped).toMatchObject({ granted: false, reason: 'invalid', count: 3 })
      if (!tripped.granted) expect(tripped.waitMs).toBeGreaterThan(59_000)
      expect((await store.acquireGlobal(`${prefix}other`, params({ invalidThreshold: 3 }))).granted).toBe(true)
      const total = await store.acquireGlobal(`${prefix}other`, params({ invalidThreshold: 3, invalidTotalThreshold: 3 }))
      // The total log is shared by every token of the store (and prefix); at least our 3 are in it.
      expect(total).toMatchObject({ granted: false, reason: 'invalidTotal' })
    })

    it('forgets invalid responses once they leave the sliding window', async () => {
      const { store, elapse } = await make()
      const token = `${tokenPrefix()}w`
      await store.recordInvalid(token, `inv${++seq}`, 150)
      expect((await store.acquireGlobal(token, params({ invalidThreshold: 1, invalidWindowMs: 150 }))).granted).toBe(false)
      await elapse(170)
      expect((await store.acquireGlobal(token, params({ invalidThreshold: 1, invalidWindowMs: 150 }))).granted).toBe(true)
    })

    it('serialises a bucket: a second owner waits for the lock, the first owner re-enters', async () => {
      const { store } = await make()
      const token = `${tokenPrefix()}l`
      expect(await store.acquireBucket(token, 'h1:1', 'o1', 1000)).toEqual({ granted: true })
      const second = await store.acquireBucket(token, 'h1:1', 'o2', 1000)
      expect(second).toMatchObject({ granted: false, reason: 'locked' })
      expect(await store.acquireBucket(token, 'h1:1', 'o1', 1000)).toEqual({ granted: true })
      // A release by someone else does not free it.
      await store.releaseBucket(token, 'h1:1', 'o2', 'h1:1', null)
      expect((await store.acquireBucket(token, 'h1:1', 'o2', 1000)).granted).toBe(false)
      await store.releaseBucket(token, 'h1:1', 'o1', 'h1:1', null)
      expect(await store.acquireBucket(token, 'h1:1', 'o2', 1000)).toEqual({ granted: true })
    })

    it('frees the lock of a holder that never released, after its TTL', async () => {
      const { store, elapse } = await make()
      const token = `${tokenPrefix()}t`
      expect((await store.acquireBucket(token, 'h:1', 'crashed', 80)).granted).toBe(true)
      expect((await store.acquireBucket(token, 'h:1', 'next', 80)).granted).toBe(false)
      await elapse(100)
      expect((await store.acquireBucket(token, 'h:1', 'next', 80)).granted).toBe(true)
    })

    it('refuses an exhausted bucket until its reset and consumes remaining on acquisition', async () => {
      const { store, elapse } = await make()
      const token = `${tokenPrefix()}e`
      expect((await store.acquireBucket(token, 'h:9', 'a', 1000)).granted).toBe(true)
      await store.releaseBucket(token, 'h:9', 'a', 'h:9', { limit: 2, remaining: 1, resetAfterMs: 250 })
      // One left: granted and consumed, so a process whose response is lost still counts it.
      expect((await store.acquireBucket(token, 'h:9', 'b', 1000)).granted).toBe(true)
      await store.releaseBucket(token, 'h:9', 'b', 'h:9', null)
      const refused = await store.acquireBucket(token, 'h:9', 'c', 1000)
      expect(refused).toMatchObject({ granted: false, reason: 'exhausted' })
      if (!refused.granted) {
        expect(refused.waitMs).toBeGreaterThan(150)
        expect(refused.waitMs).toBeLessThanOrEqual(250)
        await elapse(refused.waitMs + 5)
      }
      expect((await store.acquireBucket(token, 'h:9', 'c', 1000)).granted).toBe(true)
    })

    it('writes state under the discovered bucket while releasing the provisional lock', async () => {
      const { store } = await make()
      const token = `${tokenPrefix()}d`
      expect((await store.acquireBucket(token, 'route:GET:/x:1', 'a', 1000)).granted).toBe(true)
      await store.releaseBucket(token, 'route:GET:/x:1', 'a', 'HASH:1', { limit: 1, remaining: 0, resetAfterMs: 300 })
      expect((await store.acquireBucket(token, 'route:GET:/x:1', 'b', 1000)).granted).toBe(true)
      expect(await store.acquireBucket(token, 'HASH:1', 'c', 1000)).toMatchObject({ granted: false, reason: 'exhausted' })
    })

    it('keys buckets by top-level resource', async () => {
      const { store } = await make()
      const token = `${tokenPrefix()}k`
      await store.acquireBucket(token, 'h:1', 'a', 1000)
      await store.releaseBucket(token, 'h:1', 'a', 'h:1', { limit: 1, remaining: 0, resetAfterMs: 1000 })
      expect((await store.acquireBucket(token, 'h:1', 'b', 1000)).granted).toBe(false)
      expect((await store.acquireBucket(token, 'h:2', 'b', 1000)).granted).toBe(true)
    })

    it('checks the invalid-request guard on its own, without taking a global slot', async () => {
      const { store } = await make()
      const token = `${tokenPrefix()}c`
      const guard = { invalidThreshold: 2, invalidTotalThreshold: 1000, invalidWindowMs: 60_000 }
      expect(await store.checkInvalid(token, guard)).toEqual({ tripped: false })
      await store.recordInvalid(token, `inv${++seq}`, 60_000)
      expect(await store.checkInvalid(token, guard)).toEqual({ tripped: false })
      await store.recordInvalid(token, `inv${++seq}`, 60_000)
      expect(await store.checkInvalid(token, guard)).toMatchObject({ tripped: true, reason: 'invalid', count: 2 })
      // No slot was consumed by the checks.
      for (let i = 0; i < 3; i++) expect((await store.acquireGlobal(`${token}x`, params())).granted).toBe(true)
    })

    it('never lets a late answer of the same window raise remaining or shorten the reset', async () => {
      const { store } = await make()
      const token = `${tokenPrefix()}m`
      await store.acquireBucket(token, 'h:1', 'a', 1000)
      await store.releaseBucket(token, 'h:1', 'a', 'h:1', { limit: 5, remaining: 1, resetAfterMs: 400 })
      // Another process's older answer (remaining 3, earlier reset) arrives afterwards.
      await store.releaseBucket(token, 'h:1', 'b', 'h:1', { limit: 5, remaining: 3, resetAfterMs: 100 })
      expect((await store.acquireBucket(token, 'h:1', 'c', 1000)).granted).toBe(true)
      await store.releaseBucket(token, 'h:1', 'c', 'h:1', null)
      const refused = await store.acquireBucket(token, 'h:1', 'd', 1000)
      expect(refused).toMatchObject({ granted: false, reason: 'exhausted' })
      if (!refused.granted) expect(refused.waitMs).toBeGreaterThan(250)
    })

    it('pauses a bucket after a 429 for exactly the pause, independent of its remaining and reset', async () => {
      const { store, elapse } = await make()
      const token = `${tokenPrefix()}q`
      await store.acquireBucket(token, 'h:1', 'a', 1000)
      // A shared 429: the bucket itself still has 4 left and resets in 2 s, but the resource waits 150 ms.
      await store.releaseBucket(token, 'h:1', 'a', 'h:1', { limit: 5, remaining: 4, resetAfterMs: 2000 }, 150)
      const paused = await store.acquireBucket(token, 'h:1', 'b', 1000)
      expect(paused).toMatchObject({ granted: false, reason: 'exhausted' })
      if (!paused.granted) {
        expect(paused.waitMs).toBeGreaterThan(100)
        expect(paused.waitMs).toBeLessThanOrEqual(150)
      }
      // A shorter pause never shortens the running one.
      await store.releaseBucket(token, 'h:1', 'x', 'h:1', null, 10)
      expect((await store.acquireBucket(token, 'h:1', 'b', 1000)).granted).toBe(false)
      await elapse(160)
      expect((await store.acquireBucket(token, 'h:1', 'b', 1000)).granted).toBe(true)
    })

    it('takes a new window as it comes once the stored one has reset', async () => {
      const { store, elapse } = await make()
      const token = `${tokenPrefix()}n`
      await store.acquireBucket(token, 'h:1', 'a', 1000)
      await store.releaseBucket(token, 'h:1', 'a', 'h:1', { limit: 2, remaining: 0, resetAfterMs: 60 })
      await elapse(80)
      await store.acquireBucket(token, 'h:1', 'b', 1000)
      await store.releaseBucket(token, 'h:1', 'b', 'h:1', { limit: 2, remaining: 1, resetAfterMs: 500 })
      expect((await store.acquireBucket(token, 'h:1', 'c', 1000)).granted).toBe(true)
    })

    it('remembers discovered bucket hashes per token and route', async () => {
      const { store } = await make()
      const token = `${tokenPrefix()}h`
      expect(await store.getBucketHash(token, 'GET:/guilds/:guild_id')).toBeUndefined()
      await store.setBucketHash(token, 'GET:/guilds/:guild_id', 'abc123')
      expect(await store.getBucketHash(token, 'GET:/guilds/:guild_id')).toBe('abc123')
      expect(await store.getBucketHash(`${token}x`, 'GET:/guilds/:guild_id')).toBeUndefined()
    })
  })
}
