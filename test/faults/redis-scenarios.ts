import { Redis } from 'ioredis'
import { DiscordRestClient, type StoreEvent } from '../../src/discord/index.js'
import { maxInSlidingWindow } from '../../src/testing/index.js'
import { IDS, seededWorld } from '../discord/helpers/sim.js'
import { freePort, RedisServer } from '../helpers/redis-server.js'
import { ADMIN, buildWorld, type World } from '../helpers/world.js'
import { BOT_TOKEN, IDS as ROUTE_IDS, seedRoutes } from '../routes/helpers.js'

/*
 * Redis faults against real processes: a private redis-server per scenario (SIGSTOP, SIGKILL,
 * started late), the plugin in a host app, REST clients against the simulator over loopback.
 * Each scenario registers everything it opens with a Cleanup as soon as it exists, so the
 * caller (a test's afterEach, the bench's finally) can close it all even when the scenario
 * throws half-way. Shared by test/faults/redis.test.ts (which asserts) and bench/faults.ts
 * (which prints the table).
 */

interface Closable { close: () => Promise<void> | void }

/** Longest a single close may take before the cleanup moves on (a close must never strand the rest). */
const CLOSE_BUDGET_MS = 10_000

/**
 * What a scenario opened; safe to run twice. Redis servers are killed first, stopped ones
 * included: a client closing against a stopped Redis could otherwise wait on it, and a process
 * left behind would outlive the test run. Then the rest, in reverse order, each bounded.
 */
export class Cleanup {
  readonly #items: Closable[] = []

  add<T extends Closable> (item: T): T {
    this.#items.push(item)
    return item
  }

  async run (): Promise<void> {
    const errors: unknown[] = []
    const servers = this.#items.filter((i) => i instanceof RedisServer)
    const rest = this.#items.filter((i) => !(i instanceof RedisServer)).reverse()
    this.#items.length = 0
    for (const item of [...servers, ...rest]) {
      let timer: NodeJS.Timeout | undefined
      const late = new Promise<never>((_resolve, reject) => { timer = setTimeout(() => reject(new Error(`close did not finish within ${CLOSE_BUDGET_MS} ms`)), CLOSE_BUDGET_MS) })
      try { await Promise.race([item.close(), late]) } catch (err) { errors.push(err) } finally { clearTimeout(timer) }
    }
    if (errors.length > 0) throw new AggregateError(errors, 'cleanup failed')
  }
}

/** The row every Redis scenario reports (bench/faults.ts prints these). */
export interface FaultRow {
  scenario: string
  /** Requests the scenario measured (plugin routes, or Discord requests at the simulator). */
  requests: number
  /** Most Discord requests that arrived at the simulator within any sliding second; null when not measured. */
  maxPerSecond: number | null
  /** 99th percentile latency of the plugin's routes while Redis was stopped; null when not measured. */
  apiP99Ms: number | null
  /** The module status (GET /status) at the end. */
  finalStatus: string
}

/** The p-th percentile (nearest rank) of `values`. */
export function percentile (values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0
}

interface StatusBody { status: string, checks: { redis: string } }

async function status (world: World): Promise<StatusBody> {
  return (await world.inject({ method: 'GET', url: '/discord/status' })).json<StatusBody>()
}

/**
 * Asks GET /status until it reports `wanted` or `timeoutMs` passes; returns the last answer.
 * Nothing announces the plugin's background PING succeeding, so this polls (bounded).
 */
async function statusBecomes (world: World, wanted: string, timeoutMs: number): Promise<StatusBody> {
  const deadline = performance.now() + timeoutMs
  for (;;) {
    const body = await status(world)
    if (body.status === wanted || performance.now() > deadline) return body
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

/** A connection for looking into a private server (never the plugin's). */
function inspect (cleanup: Cleanup, server: RedisServer): Redis {
  const redis = new Redis(server.url, { maxRetriesPerRequest: 1, commandTimeout: 1_000 })
  redis.on('error', () => {})
  cleanup.add({ close: () => redis.disconnect() })
  return redis
}

/** Plugin routes a host's users call: several read the store, one calls Discord (through the REST client's limiter). */
export const ROUTES = ['/status', '/guilds', `/guilds/${ROUTE_IDS.guild}/discord-roles`, '/users', '/role-mappings', '/sync/runs', '/auth/status', '/session', '/openapi.json']

export interface RouteAnswer { path: string, status: number, ms: number }

export interface HungResult extends FaultRow {
  baseline: RouteAnswer[]
  during: RouteAnswer[]
  /** API rate-limit keys in Redis before the stop: the limit really counted there. */
  limitKeys: number
  statusWhileStopped: StatusBody
}

/**
 * Redis hangs (SIGSTOP) while the host app serves requests: `requests` route calls, `batch` at a
 * time, round robin over ROUTES; then SIGCONT and the status is awaited back to healthy.
 */
export async function hungRedis (cleanup: Cleanup, { requests = 50, batch = 10 } = {}): Promise<HungResult> {
  const server = cleanup.add(await RedisServer.start())
  const world = cleanup.add(await buildWorld({ seed: seedRoutes, plugin: { redis: server.url, rateLimit: { max: 100_000 } } }))
  const configured = await world.inject({ method: 'POST', url: '/discord/guilds', as: ADMIN, payload: { guild_id: ROUTE_IDS.guild, bot_token: BOT_TOKEN } })
  if (configured.statusCode !== 201) throw new Error(`configuring the guild answered ${configured.statusCode}: ${configured.body}`)
  const hit = async (path: string): Promise<RouteAnswer> => {
    const started = performance.now()
    const res = await world.inject({ method: 'GET', url: `/discord${path}`, as: ADMIN })
    return { path, status: res.statusCode, ms: performance.now() - started }
  }
  const baseline: RouteAnswer[] = []
  for (const path of ROUTES) baseline.push(await hit(path))
  const limitKeys = (await inspect(cleanup, server).keys('discord-sync:ratelimit:*')).length

  server.stop()
  const during: RouteAnswer[] = []
  for (let i = 0; i < requests; i += batch) {
    const paths = Array.from({ length: Math.min(batch, requests - i) }, (_, j) => ROUTES[(i + j) % ROUTES.length] as string)
    during.push(...await Promise.all(paths.map(hit)))
  }
  const statusWhileStopped = await status(world)
  server.resume()
  const final = await statusBecomes(world, 'healthy', 15_000)
  return {
    scenario: 'Redis hung (SIGSTOP) under API traffic',
    requests: during.length,
    maxPerSecond: null,
    apiP99Ms: Math.round(percentile(during.map((a) => a.ms), 99)),
    finalStatus: final.status,
    baseline,
    during,
    limitKeys,
    statusWhileStopped
  }
}

export interface RestartResult extends FaultRow {
  failed: number
  global429: number
  /** Store events (fallback / recovered) of every client. */
  events: Array<StoreEvent['state']>
}

/**
 * Redis restarts empty (SIGKILL, a new process on the same port) while `clients` REST clients
 * share it and one bot token, each with `perClient` reads queued at once against the simulator
 * (Discord's 50/s global limit; buckets wide enough that the global limit binds). The kill comes
 * once a third of the reads are answered.
 */
export async function restartEmpty (cleanup: Cleanup, { clients = 3, perClient = 80 } = {}): Promise<RestartResult> {
  const server = cleanup.add(await RedisServer.start())
  const { sim, token, members } = await seededWorld({
    members: 20,
    rateLimits: { buckets: { 'guild-member-get': { limit: 10_000 }, 'guild-get': { limit: 10_000 } } }
  })
  cleanup.add(sim)
  const events: Array<StoreEvent['state']> = []
  const rest = Array.from({ length: clients }, () => {
    // Reconnects quickly, as a host's connection would once Redis is back.
    const redis = new Redis(server.url, { maxRetriesPerRequest: 1, commandTimeout: 1_000, retryStrategy: () => 20 })
    redis.on('error', () => {})
    cleanup.add({ close: () => redis.disconnect() })
    const client = cleanup.add(new DiscordRestClient({ baseUrl: sim.apiBaseUrl, redis, redisKeyPrefix: 'faults:', redisRetryIntervalMs: 200 }))
    client.on('store', (e) => events.push(e.state))
    return client
  })
  const total = clients * perClient
  let answered = 0
  let third: () => void = () => {}
  const thirdAnswered = new Promise<void>((resolve) => { third = resolve })
  const calls = rest.flatMap((client) => Array.from({ length: perClient }, (_, i) => {
    const bot = client.bot(token)
    const call = i % 3 === 0 ? bot.getGuild(i % 2 === 0 ? IDS.guild : IDS.guild2) : bot.getGuildMember(i % 2 === 0 ? IDS.guild : IDS.guild2, i % 2 === 0 ? members[i % members.length] as string : IDS.user)
    return call.finally(() => { if (++answered === Math.floor(total / 3)) third() })
  }))
  await thirdAnswered
  await server.kill()
  await server.restart()
  const settled = await Promise.allSettled(calls)
  const arrivals = sim.requests.map((r) => r.at)
  return {
    scenario: `Redis restarted empty, ${clients} REST clients`,
    requests: sim.requests.length,
    maxPerSecond: maxInSlidingWindow(arrivals, 1000),
    apiP99Ms: null,
    finalStatus: rest.every((c) => c.limiterBackend === 'redis') ? 'limits shared (redis)' : 'in-process limits',
    failed: settled.filter((s) => s.status === 'rejected').length,
    global429: sim.requests.filter((r) => r.status === 429 && r.scope === 'global').length,
    events
  }
}

export interface BootResult extends FaultRow {
  atBoot: StatusBody
  /** How long that first GET /status took (its PING went to a connection still trying to connect). */
  atBootMs: number
  /** API rate-limit keys in Redis once it is up and a request was served. */
  limitKeys: number
}

/** Redis unreachable when the plugin starts, started later on the same port: degraded, then healthy. */
export async function lateRedis (cleanup: Cleanup): Promise<BootResult> {
  const port = await freePort()
  const world = cleanup.add(await buildWorld({ plugin: { redis: `redis://127.0.0.1:${port}` } }))
  const started = performance.now()
  const atBoot = await status(world)
  const atBootMs = performance.now() - started
  const server = cleanup.add(await RedisServer.start(port))
  const final = await statusBecomes(world, 'healthy', 20_000)
  await world.inject({ method: 'GET', url: '/discord/guilds', as: ADMIN })
  const limitKeys = (await inspect(cleanup, server).keys('discord-sync:ratelimit:*')).length
  return { scenario: 'Redis unreachable at boot, up later', requests: 0, maxPerSecond: null, apiP99Ms: null, finalStatus: final.status, atBoot, atBootMs, limitKeys }
}
