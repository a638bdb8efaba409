import { createServer } from 'node:net'
import { Redis } from 'ioredis'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { DiscordRestClient, type DiscordRestClientOptions, type StoreEvent } from '../../src/discord/index.js'
import { maxInSimulatorWindows, maxInSlidingWindow, type DiscordSimulator } from '../../src/testing/index.js'
import { REDIS_URL, redisAvailable, uniquePrefix } from '../helpers/redis.js'
import { IDS, seededWorld, type World } from './helpers/sim.js'
import { withLowLag } from './helpers/lag.js'

/*
 * Several client instances (standing in for several processes) sharing one bot token.
 * The simulator runs at time scale 4, so Discord's 1 s global window lasts 250 ms real;
 * the clients are configured with the same window (`globalWindowMs`) and a global limit
 * of 10, which keeps each test around a second while every ratio is Discord's.
 *
 * The simulator runs in this same process, so event-loop lag on a loaded machine (two
 * cores, several suites at once) delays some arrivals more than others. The clients get a
 * 150 ms safety offset (now the default too) to absorb that lag; against Discord
 * the offset only has to absorb network jitter.
 */

const SCALE = 4
const WINDOW = 1000 / SCALE
const GLOBAL = 10
const OFFSET = 150
const PER_CLIENT = 8
/** How often a client fallen back to in-process limits probes Redis. */
const RETRY_INTERVAL = 100
/** Runs whose event loop stalled longer than this are repeated (see helpers/lag.ts). */
const MAX_LAG = OFFSET - 50

const available = await redisAvailable()

describe.skipIf(!available)('client limits shared through Redis', () => {
  const closing: Array<{ close: () => Promise<void> }> = []
  const redisClients: Redis[] = []
  const prefixes: string[] = []

  afterEach(async () => {
    while (closing.length > 0) await closing.pop()?.close()
  })

  afterAll(async () => {
    const redis = connect()
    for (const prefix of prefixes) {
      const keys = await redis.keys(`${prefix}*`)
      if (keys.length > 0) await redis.del(...keys)
    }
    for (const r of redisClients) r.disconnect()
  })

  function connect (): Redis {
    const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 })
    redisClients.push(redis)
    return redis
  }

  function prefix (name: string): string {
    const p = uniquePrefix(name)
    prefixes.push(p)
    return p
  }

  async function world (): Promise<World> {
    const w = await seededWorld({
      timeScale: SCALE,
      members: 20,
      rateLimits: {
        global: { limit: GLOBAL, windowMs: 1000 },
        buckets: { 'guild-member-get': { limit: 1000, windowMs: 1000 }, 'guild-get': { limit: 1000, windowMs: 1000 }, 'guild-member-write': { limit: 3, windowMs: 1000 } }
      }
    })
    closing.push(w.sim)
    return w
  }

  function client (sim: DiscordSimulator, options: DiscordRestClientOptions = {}): DiscordRestClient {
    const c = new DiscordRestClient({ baseUrl: sim.apiBaseUrl, globalRequestsPerSecond: GLOBAL, globalWindowMs: WINDOW, offsetMs: OFFSET, ...options })
    closing.push(c)
    return c
  }

  /** 3 x PER_CLIENT reads per client over three buckets (two guilds, two routes), all concurrent. */
  function reads (c: DiscordRestClient, token: string, members: string[]): Array<Promise<unknown>> {
    const bot = c.bot(token)
    const calls: Array<Promise<unknown>> = []
    for (let i = 0; i < PER_CLIENT; i++) {
      calls.push(bot.getGuildMember(IDS.guild, members[i] as string), bot.getGuildMember(IDS.guild2, i % 2 === 0 ? IDS.bot : IDS.user), bot.getGuild(IDS.guild2))
    }
    return calls
  }

  it('two instances sharing Redis stay under the global limit in every window at the simulator', async () => {
    await withLowLag(MAX_LAG, async () => {
      const { sim, token, members } = await world()
      const keyPrefix = prefix('shared-global')
      const a = client(sim, { redis: connect(), redisKeyPrefix: keyPrefix })
      const b = client(sim, { redis: connect(), redisKeyPrefix: keyPrefix })
      await Promise.all([...reads(a, token, members), ...reads(b, token, members)])
      return { sim, token, keyPrefix, backend: a.limiterBackend }
    }, async ({ sim, token, keyPrefix, backend }, lagMs) => {
      const arrivals = sim.requests.map((r) => r.at)
      const note = `worst event-loop lag ${lagMs.toFixed(0)} ms`
      expect(sim.requests.filter((r) => r.status === 429), note).toEqual([])
      expect(sim.requests).toHaveLength(6 * PER_CLIENT)
      expect(maxInSimulatorWindows(arrivals, WINDOW), note).toBeLessThanOrEqual(GLOBAL)
      // Discord does not document how it cuts its windows: under the limit in every sliding window too.
      expect(maxInSlidingWindow(arrivals, WINDOW), note).toBeLessThanOrEqual(GLOBAL)
      expect(backend).toBe('redis')
      // Limiter keys are under the prefix, expiring, and carry a hash of the token, never the token.
      const keys = await connect().keys(`${keyPrefix}*`)
      expect(keys.length).toBeGreaterThan(0)
      for (const key of keys) {
        expect(key).not.toContain(token)
        expect(key).not.toContain(token.slice(0, 12))
      }
    })
  })

  it('the same two instances without Redis exceed the global limit (the simulator answers global 429s)', async () => {
    const { sim, token, members } = await world()
    const a = client(sim)
    const b = client(sim)
    await Promise.all([...reads(a, token, members), ...reads(b, token, members)])
    const arrivals = sim.requests.map((r) => r.at)
    expect(maxInSimulatorWindows(arrivals, WINDOW)).toBeGreaterThan(GLOBAL)
    expect(maxInSlidingWindow(arrivals, WINDOW)).toBeGreaterThan(GLOBAL)
    expect(sim.requests.filter((r) => r.status === 429 && r.scope === 'global').length).toBeGreaterThan(0)
    // Each instance still honoured the 429s, so every call completed.
    expect(sim.requests.filter((r) => r.status === 200)).toHaveLength(6 * PER_CLIENT)
  })

  it('two instances sharing Redis serialise one bucket between them: no request into an exhausted bucket', async () => {
    await withLowLag(MAX_LAG, async () => {
      const { sim, token, members } = await world()
      const keyPrefix = prefix('shared-bucket')
      const a = client(sim, { redis: connect(), redisKeyPrefix: keyPrefix })
      const b = client(sim, { redis: connect(), redisKeyPrefix: keyPrefix })
      await Promise.all(members.slice(0, 12).map((id, i) => (i % 2 === 0 ? a : b).bot(token).addMemberRole(IDS.guild, id, IDS.low)))
      return { sim, token, members }
    }, async ({ sim, token, members }, lagMs) => {
      const note = `worst event-loop lag ${lagMs.toFixed(0)} ms`
      const writes = sim.requests.filter((r) => r.route === 'PUT /guilds/:guild_id/members/:user_id/roles/:role_id')
      expect(writes.filter((r) => r.status === 429), note).toEqual([])
      expect(writes).toHaveLength(12)
      expect(maxInSimulatorWindows(writes.map((r) => r.at), WINDOW), note).toBeLessThanOrEqual(3)

      // Without Redis the two instances each believe they own the bucket: user-scope 429s follow.
      sim.clearRequests()
      const c = client(sim)
      const d = client(sim)
      await Promise.all(members.slice(0, 12).map((id, i) => (i % 2 === 0 ? c : d).bot(token).removeMemberRole(IDS.guild, id, IDS.low)))
      expect(sim.requests.filter((r) => r.status === 429 && r.scope === 'user').length).toBeGreaterThan(0)
    })
  })

  it('falls back to in-process limits when Redis goes away mid-run, logs once, and recovers', async () => {
    await withLowLag(MAX_LAG, async () => {
      const { sim, token, members } = await world()
      const keyPrefix = prefix('fallback')
      const redis = connect()
      const warnings: unknown[] = []
      const infos: unknown[] = []
      const events: StoreEvent[] = []
      const c = client(sim, {
        redis,
        redisKeyPrefix: keyPrefix,
        redisTimeoutMs: 200,
        redisRetryIntervalMs: RETRY_INTERVAL,
        logger: { warn: (obj, msg) => warnings.push({ obj, msg }), info: (obj, msg) => infos.push({ obj, msg }) }
      })
      c.on('store', (e) => events.push(e))
      const bot = c.bot(token)

      // 1. Redis healthy.
      await Promise.all(members.slice(0, 5).map((id) => bot.getGuildMember(IDS.guild, id)))
      const before = { backend: c.limiterBackend, keys: (await redis.keys(`${keyPrefix}*`)).length }

      // 2. Redis goes away mid-run.
      redis.disconnect()
      sim.clearRequests()
      await Promise.all(reads(c, token, members))
      const during = {
        backend: c.limiterBackend,
        warnings: warnings.length,
        events: [...events],
        requests: [...sim.requests]
      }

      // 3. Redis comes back.
      const recovered = new Promise<void>((resolve) => c.on('store', (e) => { if (e.state === 'recovered') resolve() }))
      await redis.connect()
      // A real wait on purpose: the fallback store probes Redis at most every redisRetryIntervalMs of
      // wall-clock time, and the last failed probe may be that recent. Faking Date here would also
      // move the in-process limiter's windows, which this scenario runs against a real-time simulator.
      await new Promise((resolve) => setTimeout(resolve, RETRY_INTERVAL + 50))
      await bot.getGuild(IDS.guild) // due for a probe: this call goes in-process while the PING runs
      await recovered
      const recoveredBackend = c.limiterBackend
      await bot.getGuild(IDS.guild2)
      const after = { keys: (await redis.keys(`${keyPrefix}gl:*`)).length }
      return { token, before, during, recoveredBackend, after, warnings, infos, events }
    }, ({ token, before, during, recoveredBackend, after, warnings, infos, events }, lagMs) => {
      expect(before).toMatchObject({ backend: 'redis' })
      expect(before.keys).toBeGreaterThan(0)

      expect(during.backend).toBe('memory')
      expect(during.warnings).toBe(1)
      expect(warnings[0]).toMatchObject({ msg: expect.stringContaining('falling back to in-process limits') })
      expect(during.events).toEqual([{ state: 'fallback', reason: expect.any(String) }])
      // The in-process limits still hold this single instance under the global limit.
      const note = `worst event-loop lag ${lagMs.toFixed(0)} ms`
      expect(during.requests.filter((r) => r.status === 429), note).toEqual([])
      expect(during.requests).toHaveLength(3 * PER_CLIENT)
      expect(maxInSimulatorWindows(during.requests.map((r) => r.at), WINDOW), note).toBeLessThanOrEqual(GLOBAL)

      expect(recoveredBackend).toBe('redis')
      expect(events.map((e) => e.state)).toEqual(['fallback', 'recovered'])
      expect(infos).toHaveLength(1)
      expect(warnings).toHaveLength(1)
      // State is written to Redis again.
      expect(after.keys).toBe(1)
      expect(JSON.stringify({ warnings, infos, events })).not.toContain(token)
    })
  })

  it('a Redis that was never reachable (closed port) means in-process limits and a single warning', async () => {
    const { sim, token, members } = await world()
    const port = await new Promise<number>((resolve) => {
      const server = createServer()
      server.listen(0, '127.0.0.1', () => {
        const address = server.address()
        server.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 0))
      })
    })
    const dead = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null })
    redisClients.push(dead)
    // An application would log connection errors itself; here they are the expected condition.
    dead.on('error', () => {})
    const warnings: unknown[] = []
    const probeIntervalMs = 50
    const c = client(sim, { redis: dead, redisTimeoutMs: 200, redisRetryIntervalMs: probeIntervalMs, logger: { warn: (obj, msg) => warnings.push({ obj, msg }), info: () => {} } })
    const started = performance.now()
    await Promise.all(reads(c, token, members))
    // The global limit paces the reads over several windows, so Redis was probed (and found down) again
    // and again meanwhile: none of those probes may warn a second time.
    expect(performance.now() - started).toBeGreaterThan(3 * probeIntervalMs)
    await c.bot(token).getGuild(IDS.guild)
    expect(c.limiterBackend).toBe('memory')
    expect(warnings).toHaveLength(1)
    expect(sim.requests.filter((r) => r.status === 429)).toEqual([])
  })
})
