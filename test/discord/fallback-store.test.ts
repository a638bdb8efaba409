import { createServer, type Server, type Socket } from 'node:net'
import { Redis } from 'ioredis'
import { afterAll, describe, expect, it, vi } from 'vitest'
import { FallbackRateLimitStore } from '../../src/discord/ratelimit/fallback.js'
import type { GlobalAcquireParams } from '../../src/discord/ratelimit/store.js'
import { REDIS_URL, redisAvailable, uniquePrefix } from '../helpers/redis.js'

/*
 * When a Redis call counts as a Redis failure. A slow Redis must send the limiter to its
 * in-process fallback; a slow *process* must not: while this process is stalled (GC, a long
 * synchronous task, CPU starvation) Redis's answer waits in the socket, and declaring Redis
 * down then would let every process fall back to its own limits at once and overrun the
 * shared global limit (the 3-process benchmark saw 100 requests in a second that way).
 */

const available = await redisAvailable()
const TIMEOUT = 100

function params (member: string): GlobalAcquireParams {
  return { limit: 5, windowMs: 10_000, invalidThreshold: 100, invalidTotalThreshold: 100, invalidWindowMs: 60_000, member }
}

function stall (ms: number): void {
  const until = performance.now() + ms
  while (performance.now() < until) { /* this process is busy; Redis is not */ }
}

describe('fallback store: what counts as a Redis failure', () => {
  const clients: Redis[] = []
  const prefixes: string[] = []
  const servers: Server[] = []
  const sockets: Socket[] = []

  afterAll(async () => {
    if (available) {
      const admin = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 })
      for (const prefix of prefixes) {
        const keys = await admin.keys(`${prefix}*`)
        if (keys.length > 0) await admin.del(...keys)
      }
      admin.disconnect()
    }
    for (const c of clients) c.disconnect()
    for (const s of sockets) s.destroy()
    await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))))
  })

  it.skipIf(!available)('a stall of this process longer than redisTimeoutMs is not a Redis failure', async () => {
    const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 })
    clients.push(redis)
    await redis.ping()
    const prefix = uniquePrefix('fallback-stall')
    prefixes.push(prefix)
    const changes: string[] = []
    const warnings: unknown[] = []
    const store = new FallbackRateLimitStore({
      redis,
      prefix,
      timeoutMs: TIMEOUT,
      retryIntervalMs: 1_000,
      logger: { warn: (obj) => warnings.push(obj), info: () => {} },
      onChange: (state) => changes.push(state)
    })
    for (let i = 0; i < 3; i++) {
      const pending = store.acquireGlobal('tok', params(`m${i}`))
      stall(3 * TIMEOUT)
      expect(await pending).toEqual({ granted: true })
    }
    expect(changes).toEqual([])
    expect(warnings).toEqual([])
    expect(store.kind).toBe('redis')
    // The grants are in Redis, where the other processes see them.
    expect(await redis.zcard(`${prefix}gl:tok`)).toBe(3)
  })

  it.skipIf(!available)('forgets the global windows of credentials unused for 10 minutes (every user token is one)', async () => {
    const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 })
    clients.push(redis)
    await redis.ping()
    const prefix = uniquePrefix('fallback-idle')
    prefixes.push(prefix)
    vi.useFakeTimers({ toFake: ['Date'] })
    try {
      const store = new FallbackRateLimitStore({ redis, prefix, timeoutMs: 5_000, retryIntervalMs: 1_000 })
      // 200 users' OAuth tokens, each used once (a login, a Linked Roles push), then never again.
      for (let i = 0; i < 200; i++) expect((await store.acquireGlobal(`user-token-${i}`, params(`u${i}`))).granted).toBe(true)
      expect(store.trackedCredentials).toBe(200)
      vi.advanceTimersByTime(5 * 60_000)
      await store.acquireGlobal('bot-token', params('b1'))
      vi.advanceTimersByTime(6 * 60_000)
      await store.acquireGlobal('bot-token', params('b2'))
      // The users' tokens idle 11 minutes are gone; the bot's, used 6 minutes ago, stays.
      expect(store.trackedCredentials).toBe(1)
      store.close()
    } finally {
      vi.useRealTimers()
    }
  })

  it('a Redis that accepts the connection but never answers is a failure after the timeout', async () => {
    // Reads commands, answers nothing: a hung Redis (or one behind a black-holing network).
    const server = createServer((socket) => {
      sockets.push(socket)
      socket.on('data', () => {})
    })
    servers.push(server)
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const port = (server.address() as { port: number }).port
    const redis = new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: 0, retryStrategy: () => null })
    clients.push(redis)
    redis.on('error', () => {})
    // Connected, but its handshake is never answered: every command waits forever.
    await new Promise<void>((resolve) => redis.once('connect', () => resolve()))
    const changes: string[] = []
    const store = new FallbackRateLimitStore({ redis, prefix: 'hung:', timeoutMs: TIMEOUT, retryIntervalMs: 60_000, onChange: (state) => changes.push(state) })
    const started = performance.now()
    expect(await store.acquireGlobal('tok', params('h1'))).toEqual({ granted: true })
    const elapsed = performance.now() - started
    expect(changes).toEqual(['fallback'])
    expect(store.kind).toBe('memory')
    expect(elapsed).toBeGreaterThanOrEqual(TIMEOUT - 1)
    // In-process limits from then on: no further wait on the hung connection.
    const next = performance.now()
    expect(await store.acquireGlobal('tok', params('h2'))).toEqual({ granted: true })
    expect(performance.now() - next).toBeLessThan(TIMEOUT)
  })

  it.skipIf(!available)('falling back, a process carries the shared window Redis last reported and takes its share of the limit', async () => {
    const prefix = uniquePrefix('fallback-carry')
    prefixes.push(prefix)
    const connA = new Redis(REDIS_URL, { maxRetriesPerRequest: 0, retryStrategy: () => null })
    const connB = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 })
    clients.push(connA, connB)
    connA.on('error', () => {})
    const a = new FallbackRateLimitStore({ redis: connA, prefix, timeoutMs: 1_000, retryIntervalMs: 60_000 })
    const b = new FallbackRateLimitStore({ redis: connB, prefix, timeoutMs: 1_000, retryIntervalMs: 60_000 })
    // B (another process) takes 3 of the 5 slots, then A takes 1: Redis tells A the window holds 4, over 2 processes.
    for (let i = 0; i < 3; i++) expect(await b.acquireGlobal('tok', { ...params(`b${i}`), instance: 'B' })).toEqual({ granted: true })
    expect(await a.acquireGlobal('tok', { ...params('a0'), instance: 'A' })).toEqual({ granted: true })
    connA.disconnect()
    // In-process now: A knows of 4 grants in the window (not just its own 1), and its share is 5 / 2 = 2.
    const next = await a.acquireGlobal('tok', { ...params('a1'), instance: 'A' })
    expect(a.kind).toBe('memory')
    expect(next).toMatchObject({ granted: false, reason: 'limit' })
    a.close()
    b.close()
  })

  it.skipIf(!available)('back on a Redis that lost its keys, a process writes its window into Redis before anything else', async () => {
    const prefix = uniquePrefix('fallback-seed')
    prefixes.push(prefix)
    const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 0, lazyConnect: true, retryStrategy: () => null })
    const admin = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 })
    clients.push(redis, admin)
    redis.on('error', () => {})
    await redis.connect()
    const retryIntervalMs = 50
    const changes: string[] = []
    let onRecovered: () => void = () => {}
    const recovered = new Promise<void>((resolve) => { onRecovered = resolve })
    const store = new FallbackRateLimitStore({
      redis,
      prefix,
      timeoutMs: 1_000,
      retryIntervalMs,
      onChange: (state) => {
        changes.push(state)
        if (state === 'recovered') onRecovered()
      }
    })
    for (let i = 0; i < 2; i++) expect(await store.acquireGlobal('tok', { ...params(`r${i}`), instance: 'A' })).toEqual({ granted: true })
    redis.disconnect()
    for (let i = 0; i < 2; i++) expect(await store.acquireGlobal('tok', { ...params(`m${i}`), instance: 'A' })).toEqual({ granted: true })
    expect(changes).toEqual(['fallback'])
    // Redis comes back empty (its keys gone, as after a restart without persistence).
    await admin.del(`${prefix}gl:tok`)
    await redis.connect()
    // The store probes Redis at most every retryIntervalMs of its clock (Date.now): move that clock
    // past the interval instead of waiting it out. Only Date is faked; ioredis keeps its real timers.
    vi.useFakeTimers({ toFake: ['Date'] })
    try {
      vi.setSystemTime(Date.now() + retryIntervalMs + 20)
      await store.checkInvalid('tok', params('probe'))
      await recovered
    } finally {
      vi.useRealTimers()
    }
    expect(changes).toEqual(['fallback', 'recovered'])
    expect(await store.acquireGlobal('tok', { ...params('after'), instance: 'A' })).toEqual({ granted: true })
    // The 4 grants of the window (2 mirrored while Redis was up, 2 in-process) went into Redis before that one.
    expect(await admin.zcard(`${prefix}gl:tok`)).toBe(5)
    store.close()
  })
})
