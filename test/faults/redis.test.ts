import { spawnSync } from 'node:child_process'
import { afterEach, describe, expect, it } from 'vitest'
import { Cleanup, hungRedis, lateRedis, restartEmpty, ROUTES } from './redis-scenarios.js'
import { RedisServer } from '../helpers/redis-server.js'
import { buildWorld } from '../helpers/world.js'

/*
 * Issue 12, Redis: a hung Redis must not hold the plugin's routes, a Redis that restarts empty
 * must not let the instances sharing a bot token burst past Discord's global limit, and a Redis
 * that comes up after the plugin must be picked up. Real redis-server processes on private
 * loopback ports; every process is closed in afterEach, failed test or not.
 */

const hasRedisServer = spawnSync('redis-server', ['--version']).status === 0
if (!hasRedisServer) console.warn('\n[notice] redis-server is not installed: the Redis fault tests are SKIPPED.\n')

describe.skipIf(!hasRedisServer)('Redis faults (private redis-server processes)', () => {
  let cleanup = new Cleanup()

  afterEach(async () => {
    const current = cleanup
    cleanup = new Cleanup()
    await current.run()
  })

  it('a hung Redis (SIGSTOP) holds no route longer than redisCommandTimeout: p99 < 1.5 s, same answers', async () => {
    const r = await hungRedis(cleanup)
    // The API rate limit counted in this Redis before it hung.
    expect(r.limitKeys).toBeGreaterThan(0)
    expect(r.during).toHaveLength(50)
    const expected = new Map(r.baseline.map((a) => [a.path, a.status]))
    for (const answer of r.during) {
      expect(answer.status, answer.path).toBeLessThan(500)
      expect(answer.status, answer.path).toBe(expected.get(answer.path))
    }
    expect(new Set(r.during.map((a) => a.path))).toEqual(new Set(ROUTES))
    expect(r.apiP99Ms, JSON.stringify(r.during.map((a) => Math.round(a.ms)))).toBeLessThan(1_500)
    expect(r.statusWhileStopped).toMatchObject({ status: 'degraded', checks: { redis: 'unreachable' } })
    expect(r.finalStatus).toBe('healthy')
  }, 60_000)

  it('Redis restarted empty under 3 REST clients: no sliding second above 50 requests at the simulator', async () => {
    const r = await restartEmpty(cleanup)
    expect(r.failed).toBe(0)
    // A retried answer (a bucket Redis forgot) may add a request or two; every call succeeded.
    expect(r.requests).toBeGreaterThanOrEqual(240)
    // The clients did lose Redis and came back to it.
    expect(r.events).toContain('fallback')
    expect(r.events).toContain('recovered')
    expect(r.maxPerSecond).toBeLessThanOrEqual(50)
    expect(r.global429).toBe(0)
    expect(r.finalStatus).toBe('limits shared (redis)')
  }, 60_000)

  it('Redis unreachable at boot: the plugin starts degraded and becomes healthy once Redis is up', async () => {
    const r = await lateRedis(cleanup)
    expect(r.atBoot).toMatchObject({ status: 'degraded', checks: { redis: 'unreachable' } })
    // The first answer does not wait on the connection that keeps retrying (at most redisCommandTimeout).
    expect(r.atBootMs).toBeLessThan(1_500)
    expect(r.finalStatus).toBe('healthy')
    // The API rate limit counts in Redis again.
    expect(r.limitKeys).toBeGreaterThan(0)
  }, 60_000)

  it('the connection the plugin opens from a URL fails any command on a hung Redis within redisCommandTimeout', async () => {
    const server = cleanup.add(await RedisServer.start())
    const world = cleanup.add(await buildWorld({ plugin: { redis: server.url, redisCommandTimeout: '300ms' } }))
    const redis = world.app.discord.redis
    if (redis === null) throw new Error('the plugin opened no Redis connection')
    expect(await redis.ping()).toBe('PONG')
    server.stop()
    const started = performance.now()
    // Background work (locks, scheduled tasks) uses this connection directly, without the breaker.
    await expect(redis.get('discord-sync:anything')).rejects.toThrow(/timed out/i)
    const elapsed = performance.now() - started
    expect(elapsed).toBeGreaterThanOrEqual(290)
    expect(elapsed).toBeLessThan(1_500)
    server.resume()
  }, 60_000)
})
