import { describe, expect, it } from 'vitest'
import { MemoryRateLimitStore } from '../../src/discord/ratelimit/memory.js'
import { storeContract } from './helpers/store-contract.js'

storeContract('memory', () => {
  // The store's clock is a variable: the contract's waits are instant and exact.
  let now = 1_000_000
  return { store: new MemoryRateLimitStore(() => now), elapse: async (ms) => { now += ms } }
}, () => `t${Math.random().toString(36).slice(2, 8)}`)

describe('memory store with a manual clock', () => {
  it('slides the global window exactly (a grant leaves it windowMs after it was made)', async () => {
    let now = 1_000
    const store = new MemoryRateLimitStore(() => now)
    const p = { limit: 2, windowMs: 1000, invalidThreshold: 10, invalidTotalThreshold: 10, invalidWindowMs: 600_000, member: 'x' }
    expect((await store.acquireGlobal('t', p)).granted).toBe(true)
    now = 1_600
    expect((await store.acquireGlobal('t', p)).granted).toBe(true)
    now = 1_999
    expect(await store.acquireGlobal('t', p)).toEqual({ granted: false, reason: 'limit', waitMs: 1 })
    now = 2_000
    expect((await store.acquireGlobal('t', p)).granted).toBe(true)
    // The next slot frees when the grant made at 1 600 leaves the window.
    expect(await store.acquireGlobal('t', p)).toEqual({ granted: false, reason: 'limit', waitMs: 600 })
  })

  it('sweeps state of idle buckets and tokens', async () => {
    let now = 0
    const store = new MemoryRateLimitStore(() => now)
    await store.acquireBucket('t', 'h:1', 'o', 100)
    await store.releaseBucket('t', 'h:1', 'o', 'h:1', { limit: 1, remaining: 0, resetAfterMs: 10 })
    now = 10 * 60_000
    // 256 operations trigger a sweep; afterwards the old bucket is simply unknown (granted).
    for (let i = 0; i < 300; i++) await store.acquireBucket('t', `other:${i}`, 'o', 1)
    expect(await store.acquireBucket('t', 'h:1', 'p', 100)).toEqual({ granted: true })
  })
})
