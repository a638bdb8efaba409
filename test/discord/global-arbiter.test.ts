import { Redis, type RedisOptions } from 'ioredis'
import { afterAll, describe, expect, it } from 'vitest'
import { DEFAULT_REST_OPTIONS } from '../../src/discord/defaults.js'
import { FallbackRateLimitStore } from '../../src/discord/ratelimit/fallback.js'
import { GlobalLimiter, type GlobalLimiterOptions } from '../../src/discord/ratelimit/global-limiter.js'
import { MemoryRateLimitStore } from '../../src/discord/ratelimit/memory.js'
import { RedisRateLimitStore } from '../../src/discord/ratelimit/redis.js'
import type { GlobalAcquireParams, RateLimitStore } from '../../src/discord/ratelimit/store.js'
import { maxInSlidingWindow } from '../../src/testing/index.js'
import { REDIS_URL, redisAvailable, uniquePrefix } from '../helpers/redis.js'

/*
 * The global arbiter of a bot token (issue 16): at most the budget in any sliding window, paced
 * evenly, across every caller of the token (guilds, tasks, processes through Redis), and in-process
 * when Redis is down.
 */

const DISCORD = { limit: DEFAULT_REST_OPTIONS.globalRequestsPerSecond, windowMs: DEFAULT_REST_OPTIONS.globalWindowMs }

function params (over: Partial<GlobalAcquireParams> = {}): GlobalAcquireParams {
  const windowMs = DISCORD.windowMs + DEFAULT_REST_OPTIONS.globalOffsetMs
  return {
    limit: DISCORD.limit,
    windowMs,
    intervalMs: windowMs / DISCORD.limit,
    burst: 5,
    invalidThreshold: 1_000_000,
    invalidTotalThreshold: 1_000_000,
    invalidWindowMs: 600_000,
    member: `m${Math.random()}`,
    ...over
  }
}

function limiterOptions (over: Partial<GlobalLimiterOptions> = {}): GlobalLimiterOptions {
  return {
    requestsPerWindow: DISCORD.limit,
    windowMs: DISCORD.windowMs,
    globalOffsetMs: DEFAULT_REST_OPTIONS.globalOffsetMs,
    offsetMs: DEFAULT_REST_OPTIONS.offsetMs,
    maxWaitMs: 60_000,
    inFlightMs: DEFAULT_REST_OPTIONS.timeoutMs,
    invalidThreshold: 1_000_000,
    invalidTotalThreshold: 1_000_000,
    invalidWindowMs: 600_000,
    ...over
  }
}

/** A store whose every global grant is noted at the store's own clock. */
function recording (store: RateLimitStore, clock: () => number): { store: RateLimitStore, grants: number[], byToken: Map<string, number[]> } {
  const grants: number[] = []
  const byToken = new Map<string, number[]>()
  const wrapped = Object.create(store) as RateLimitStore
  wrapped.acquireGlobal = async (tokenId, p) => {
    const r = await store.acquireGlobal(tokenId, p)
    if (r.granted) {
      grants.push(clock())
      byToken.set(tokenId, [...(byToken.get(tokenId) ?? []), clock()])
    }
    return r
  }
  wrapped.settleGlobal = async (tokenId, member) => { await store.settleGlobal(tokenId, member) }
  return { store: wrapped, grants, byToken }
}

describe('global arbiter: the store rule on a fake clock', () => {
  it('never grants more than the budget in any sliding second, whoever asks and however often', async () => {
    let now = 0
    const store = new MemoryRateLimitStore(() => now)
    const grants: number[] = []
    // 40 guilds asking at random moments, each retrying exactly when told: a stampede on the rule.
    let seed = 7
    const random = (): number => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return seed / 2 ** 31 }
    const next = Array.from({ length: 40 }, () => random() * 50)
    while (now < 30_000) {
      const i = next.indexOf(Math.min(...next))
      now = next[i] as number
      const r = await store.acquireGlobal('bot', params())
      if (r.granted) {
        grants.push(now)
        next[i] = now + random() * 5
      } else {
        next[i] = now + r.waitMs
      }
    }
    expect(maxInSlidingWindow(grants, 1000)).toBeLessThanOrEqual(50)
    // Paced, not a burst per window: no 100 ms holds more than its share plus the burst.
    expect(maxInSlidingWindow(grants, 100)).toBeLessThanOrEqual(Math.ceil(100 / (params().intervalMs as number)) + 5)
    // And the budget is used: 47.6 per second over the 30 s, within a few per cent.
    const interval = params().intervalMs as number
    const perSecond = grants.length / 30
    expect(perSecond).toBeGreaterThan(46)
    expect(perSecond).toBeLessThanOrEqual(1000 / interval + 0.5)
  })

  it('paces: a grant before its turn waits the rest of the interval; a late waiter may catch up by the burst, no more', async () => {
    let now = 1_000
    const store = new MemoryRateLimitStore(() => now)
    const p = params({ limit: 10, windowMs: 1000, intervalMs: 100, burst: 3 })
    expect((await store.acquireGlobal('t', p)).granted).toBe(true)
    expect(await store.acquireGlobal('t', p)).toEqual({ granted: true })
    expect(await store.acquireGlobal('t', p)).toEqual({ granted: true })
    // Three back to back (the burst), then the fourth waits until its theoretical time minus the slack.
    expect(await store.acquireGlobal('t', p)).toEqual({ granted: false, reason: 'limit', waitMs: 100 })
    now += 100
    expect((await store.acquireGlobal('t', p)).granted).toBe(true)
    // Idle for long: the slack is three grants again, not the idle time's worth.
    now += 10_000
    for (let i = 0; i < 3; i++) expect((await store.acquireGlobal('t', p)).granted).toBe(true)
    expect((await store.acquireGlobal('t', p)).granted).toBe(false)
  })
})

describe('global arbiter: the limiter in front of the store', () => {
  it('lets every caller of a token through in line, within the window, and keeps tokens apart', async () => {
    // A 200 ms window with a budget of 10 (the ratio of Discord's 50/s at scale 5): real waits, judged on the store's clock.
    const memory = new MemoryRateLimitStore()
    const { store, byToken } = recording(memory, Date.now)
    const limiter = new GlobalLimiter(store, limiterOptions({ requestsPerWindow: 10, windowMs: 200, globalOffsetMs: 10 }), 'i1')
    const ctx = { tokenId: 'bot', method: 'GET', route: '/x', major: 'global' }
    const order: number[] = []
    const other = limiter.arbiter('other-bot')
    let botLast = 0
    let otherLast = 0
    await Promise.all([
      // Each request answered at once: its grant settled as soon as it is made.
      ...Array.from({ length: 40 }, (_, i) => limiter.acquire(ctx, () => {}).then(async (grant) => { order.push(i); botLast = Date.now(); await limiter.settle('bot', grant) })),
      ...Array.from({ length: 10 }, () => other.acquire().then(() => { otherLast = Date.now() }))
    ])
    // First come, first served, and the line is gone once drained.
    expect(order).toEqual(Array.from({ length: 40 }, (_, i) => i))
    expect(limiter.waiting('bot')).toBe(0)
    const bot = byToken.get('bot') ?? []
    expect(bot).toHaveLength(40)
    expect(maxInSlidingWindow(bot, 210)).toBeLessThanOrEqual(10)
    // 40 at 10 per 210 ms, paced: at least three more windows after the first grant.
    expect(Math.max(...bot) - Math.min(...bot)).toBeGreaterThanOrEqual(39 * 21 - 40)
    // The other token has a budget of its own: its 10 were not held behind the 40.
    expect(byToken.get('other-bot')).toHaveLength(10)
    expect(otherLast).toBeLessThan(botLast)
    expect(other.requestsPerSecond).toBeCloseTo(10 * 1000 / 210, 5)
  })

  it('a request that reaches Discord late still keeps every second of arrivals within the budget', async () => {
    // A 200 ms window with a budget of 10 and no margin: the first five requests (new connections,
    // as at start-up) reach Discord only once the tenth has been granted, the rest on being
    // granted; each is settled on arrival (its answer). Dated at their grants, the five late ones
    // would meet the next window's grants (13 or more arrivals in 200 ms).
    const limiter = new GlobalLimiter(new MemoryRateLimitStore(), limiterOptions({ requestsPerWindow: 10, windowMs: 200, globalOffsetMs: 0 }), 'i1')
    const ctx = { tokenId: 'bot', method: 'GET', route: '/x', major: 'global' }
    const arrivals: number[] = []
    let releaseLate: () => void = () => {}
    const connected = new Promise<void>((resolve) => { releaseLate = resolve })
    const answered: Array<Promise<void>> = []
    await Promise.all(Array.from({ length: 60 }, async (_, i) => {
      const grant = await limiter.acquire(ctx, () => {})
      if (i === 9) releaseLate()
      answered.push((async () => {
        if (i < 5) await connected
        arrivals.push(performance.now())
        await limiter.settle('bot', grant)
      })())
    }))
    await Promise.all(answered)
    expect(arrivals).toHaveLength(60)
    expect(maxInSlidingWindow(arrivals.sort((a, b) => a - b), 200)).toBeLessThanOrEqual(10)
  })

  it('a request aborted while in line leaves it without taking a slot', async () => {
    const limiter = new GlobalLimiter(new MemoryRateLimitStore(), limiterOptions(), 'i1')
    const arbiter = limiter.arbiter('bot')
    // A global 429 paused the token: everyone waits, the head asleep in the store's pause.
    await limiter.pause('bot', 10_000)
    const head = new AbortController()
    const second = new AbortController()
    const waiting = arbiter.acquire(head.signal)
    const behind = arbiter.acquire(second.signal)
    expect(limiter.waiting('bot')).toBe(2)
    head.abort(new Error('gone'))
    await expect(waiting).rejects.toThrow('gone')
    second.abort(new Error('gone too'))
    await expect(behind).rejects.toThrow('gone too')
    expect(limiter.waiting('bot')).toBe(0)
  })
})

const available = await redisAvailable()

describe.skipIf(!available)('global arbiter through Redis', () => {
  const clients: Redis[] = []
  const prefixes: string[] = []
  function connect (options: RedisOptions = {}): Redis {
    const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1, ...options })
    clients.push(redis)
    return redis
  }
  function prefix (name: string): string {
    const p = uniquePrefix(name)
    prefixes.push(p)
    return p
  }

  afterAll(async () => {
    const redis = connect()
    for (const p of prefixes) {
      const keys = await redis.keys(`${p}*`)
      if (keys.length > 0) await redis.del(...keys)
    }
    for (const c of clients) c.disconnect()
  })

  it('two processes (own connections, own lines) share one window and one pace, judged on Redis\'s clock', async () => {
    const p = prefix('arbiter-shared')
    // 40 per 2 s, paced 50 ms apart with a burst of 2 (4% of 40): every grant of both stays in the log, with Redis's time.
    const options = limiterOptions({ requestsPerWindow: 40, windowMs: 2000, globalOffsetMs: 0 })
    const a = new GlobalLimiter(new RedisRateLimitStore(connect(), p), options, 'proc-a')
    const b = new GlobalLimiter(new RedisRateLimitStore(connect(), p), options, 'proc-b')
    const ctx = { tokenId: 'tokhash', method: 'GET', route: '/x', major: 'global' }
    // Each process sends 8 at once: the pair asks for 16 within a window that allows 40, so only the pace holds them.
    await Promise.all([
      ...Array.from({ length: 8 }, () => a.acquire(ctx, () => {})),
      ...Array.from({ length: 8 }, () => b.acquire(ctx, () => {}))
    ])
    const log = await connect().zrange(`${p}gl:tokhash`, '0', '-1', 'WITHSCORES')
    const members: string[] = []
    const times: number[] = []
    for (let i = 0; i < log.length; i += 2) {
      members.push(log[i] as string)
      times.push(Number(log[i + 1]))
    }
    expect(members).toHaveLength(16)
    expect(members.filter((m) => m.startsWith('proc-a:'))).toHaveLength(8)
    expect(members.filter((m) => m.startsWith('proc-b:'))).toHaveLength(8)
    // At most 2 grants in any 50 ms, and the 16 span at least 13 intervals.
    expect(maxInSlidingWindow(times, 50)).toBeLessThanOrEqual(2)
    expect(Math.max(...times) - Math.min(...times)).toBeGreaterThanOrEqual(13 * 50 - 2)
    // The pacing key is named after the token's hash, never the token, and expires.
    expect(await connect().pttl(`${p}gt:tokhash`)).toBeGreaterThan(0)
  })

  it('Redis down: the arbiter falls back to the in-process window and pace, says so, and requests still wait their turn', async () => {
    // A port nothing listens on: every call fails at once, as with Redis stopped.
    const dead = connect({ port: 1, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false })
    const changes: string[] = []
    const warnings: string[] = []
    const store = new FallbackRateLimitStore({
      redis: dead,
      prefix: prefix('arbiter-down'),
      timeoutMs: 200,
      retryIntervalMs: 60_000,
      logger: { warn: (_o, msg) => { warnings.push(String(msg)) }, info: () => {} },
      onChange: (state) => { changes.push(state) }
    })
    const { store: rec, grants } = recording(store, Date.now)
    const limiter = new GlobalLimiter(rec, limiterOptions({ requestsPerWindow: 10, windowMs: 200, globalOffsetMs: 0 }), 'solo')
    const arbiter = limiter.arbiter('bot')
    await Promise.all(Array.from({ length: 25 }, () => arbiter.acquire()))
    store.close()
    expect(changes).toEqual(['fallback'])
    expect(warnings.some((w) => w.includes('falling back to in-process'))).toBe(true)
    expect(store.degraded).toBe(true)
    expect(grants).toHaveLength(25)
    // The in-process arbiter keeps the same budget: 10 per 200 ms, paced (burst 1 of 10).
    expect(maxInSlidingWindow(grants, 200)).toBeLessThanOrEqual(10)
    expect(Math.max(...grants) - Math.min(...grants)).toBeGreaterThanOrEqual(24 * 20 - 25)
  })
})
