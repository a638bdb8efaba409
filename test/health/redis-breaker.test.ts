import { createServer, type Server, type Socket } from 'node:net'
import { Redis } from 'ioredis'
import { afterAll, describe, expect, it } from 'vitest'
import { RedisBreaker, RedisUnavailableError } from '../../src/health/redis-breaker.js'
import { REDIS_URL, redisAvailable } from '../helpers/redis.js'

/*
 * The breaker bounds what a request waits for in Redis: one budget for the first call that meets
 * a hung Redis, none for the next ones until a PING answers; a script's own error is Redis
 * answering and does not open it.
 */

const available = await redisAvailable()
const BUDGET = 150

describe('RedisBreaker', () => {
  const clients: Redis[] = []
  const servers: Server[] = []
  const sockets: Socket[] = []

  afterAll(async () => {
    for (const c of clients) c.disconnect()
    for (const s of sockets) s.destroy()
    await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))))
  })

  it('a hung Redis costs the first call one budget and the next ones nothing', async () => {
    // Accepts the connection and reads commands, answers nothing: a stopped Redis.
    const server = createServer((socket) => {
      sockets.push(socket)
      socket.on('data', () => {})
    })
    servers.push(server)
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const redis = new Redis({ host: '127.0.0.1', port: (server.address() as { port: number }).port, maxRetriesPerRequest: 0, retryStrategy: () => null })
    clients.push(redis)
    redis.on('error', () => {})
    await new Promise<void>((resolve) => redis.once('connect', () => resolve()))
    const breaker = new RedisBreaker(redis, BUDGET, 60_000)

    const first = performance.now()
    await expect(breaker.call((r) => r.ping())).rejects.toBeInstanceOf(RedisUnavailableError)
    expect(performance.now() - first).toBeGreaterThanOrEqual(BUDGET - 1)
    expect(breaker.open).toBe(true)

    const second = performance.now()
    await expect(breaker.call((r) => r.ping())).rejects.toBeInstanceOf(RedisUnavailableError)
    expect(performance.now() - second).toBeLessThan(BUDGET / 2)
  })

  it.skipIf(!available)('an error Redis answers with does not open it; trip() and reset() are shared knowledge', async () => {
    const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 })
    clients.push(redis)
    const breaker = new RedisBreaker(redis, 1_000)
    await expect(breaker.call((r) => r.eval("return redis.error_reply('not a Redis outage')", 0))).rejects.toThrow('not a Redis outage')
    expect(breaker.open).toBe(false)
    expect(await breaker.call((r) => r.ping())).toBe('PONG')
    breaker.trip()
    await expect(breaker.call((r) => r.ping())).rejects.toBeInstanceOf(RedisUnavailableError)
    breaker.reset()
    expect(await breaker.call((r) => r.ping())).toBe('PONG')
  })
})
