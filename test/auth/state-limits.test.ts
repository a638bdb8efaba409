import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import fastifySchedule from '@fastify/schedule'
import type { AsyncTask, SimpleIntervalJob, ToadScheduler } from 'toad-scheduler'
import type { DiscordSimulator } from '../../src/testing/index.js'
import { StateRateLimiter } from '../../src/auth/state-rate-limit.js'
import { STATE_CLEANUP_JOB_ID } from '../../src/tasks/state-cleanup.js'
import { SYNC_CLEANUP_JOB_ID } from '../../src/tasks/cleanup.js'
import { bearer, buildWorld, sessionFor, type World } from '../helpers/world.js'
import { authWorld, FRONTEND, startSimulator } from './helpers.js'

/*
 * Anonymous state is bounded: each IP may start a few flows per window (auth.stateRateLimit),
 * expired and used states are purged at start and on a job that runs with sync off, and so a
 * flood of login requests from one IP leaves a small, fixed amount of data in the store.
 */

let sim: DiscordSimulator
let t: World | undefined

beforeAll(async () => { sim = await startSimulator() })
afterAll(async () => { await sim.close() })
afterEach(async () => {
  vi.useRealTimers()
  await t?.close()
  t = undefined
})

const count = (w: World): number => (w.db.prepare('SELECT COUNT(*) AS n FROM discord_oauth_states').get() as { n: number }).n
/** Bytes the states table and its indexes occupy in the database file (SQLite's dbstat). */
const tableBytes = (w: World): number =>
  (w.db.prepare("SELECT COALESCE(SUM(pgsize), 0) AS b FROM dbstat WHERE name = 'discord_oauth_states' OR name LIKE 'discord_oauth_states_%'").get() as { b: number }).b
const login = async (w: World, ip = '203.0.113.7', query = ''): Promise<{ statusCode: number, headers: Record<string, unknown>, json: () => any }> =>
  await w.inject({ method: 'GET', url: `/discord/auth/login${query}`, remoteAddress: ip })

describe('the per-IP budget of flow starts (auth.stateRateLimit)', () => {
  it('answers the start after the budget with 429 FST_DISCORD_RATE_LIMITED and Retry-After, storing nothing; other IPs are not affected', async () => {
    t = await buildWorld(authWorld(sim, { auth: { stateRateLimit: { max: 3, timeWindow: '1m' } } }))
    // A request refused for what it asks (here a redirect off the allow-list) stores nothing and costs nothing.
    for (let i = 0; i < 5; i++) expect((await login(t, '203.0.113.7', `?redirect_url=${encodeURIComponent('https://evil.test/')}`)).statusCode).toBe(400)
    for (let i = 0; i < 3; i++) expect((await login(t)).statusCode).toBe(200)
    const refused = await login(t)
    expect(refused.statusCode).toBe(429)
    expect(refused.json()).toMatchObject({ statusCode: 429, code: 'FST_DISCORD_RATE_LIMITED' })
    const retryAfter = Number(refused.headers['retry-after'])
    expect(retryAfter).toBeGreaterThanOrEqual(1)
    expect(retryAfter).toBeLessThanOrEqual(60)
    expect(count(t)).toBe(3)
    expect((await login(t, '198.51.100.1')).statusCode).toBe(200)
    expect(count(t)).toBe(4)
  })

  it('counts link starts (POST /auth/link without a code) per IP too, but not link completions', async () => {
    t = await buildWorld(authWorld(sim, { auth: { stateRateLimit: { max: 2, timeWindow: '1m' } } }))
    const user = bearer(sessionFor(t.app, 'host-user-1'))
    const link = async (payload: Record<string, unknown>): Promise<number> =>
      (await t?.inject({ method: 'POST', url: '/discord/auth/link', headers: user, payload, remoteAddress: '203.0.113.9' }))?.statusCode ?? 0
    expect(await link({})).toBe(200)
    expect((await login(t, '203.0.113.9')).statusCode).toBe(200)
    expect(await link({})).toBe(429)
    // A completion consumes a state and stores none: it is judged on its state, not refused by the budget.
    const completion = await t.inject({ method: 'POST', url: '/discord/auth/link', headers: user, payload: { code: 'abc', state: 'Q'.repeat(43) }, remoteAddress: '203.0.113.9' })
    expect(completion.json().code).toBe('FST_DISCORD_OAUTH_STATE_UNKNOWN')
  })

  it('gives a fresh budget once the window has passed', async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    t = await buildWorld(authWorld(sim, { auth: { stateRateLimit: { max: 1, timeWindow: '10s' } } }))
    expect((await login(t)).statusCode).toBe(200)
    expect((await login(t)).statusCode).toBe(429)
    vi.setSystemTime(Date.now() + 10_001)
    expect((await login(t)).statusCode).toBe(200)
  })

  it('can be turned off (stateRateLimit: false)', async () => {
    t = await buildWorld(authWorld(sim, { auth: { stateRateLimit: false } }))
    for (let i = 0; i < 40; i++) expect((await login(t)).statusCode).toBe(200)
  })

  it('keeps its own memory bounded: the oldest client windows are forgotten first', () => {
    let now = 0
    const limiter = new StateRateLimiter({ max: 1, timeWindowMs: 1000, maxKeys: 100, now: () => now })
    for (let i = 0; i < 10_000; i++) expect(limiter.take(`ip-${i}`).ok).toBe(true)
    expect(limiter.size).toBeLessThanOrEqual(100)
    // The most recent client is still tracked; an expired window is dropped when the next one starts.
    expect(limiter.take('ip-9999')).toEqual({ ok: false, retryAfterMs: 1000 })
    now = 5000
    expect(limiter.take('ip-0').ok).toBe(true)
    expect(limiter.size).toBe(1)
  })
})

describe('purging OAuth states', () => {
  it('happens once when the server is ready, and on a job scheduled with sync disabled', async () => {
    let seeded = 0
    t = await buildWorld(authWorld(sim, { sync: { enabled: false } }, {
      before: async (app) => { await app.register(fastifySchedule) },
      // Left by an earlier process: expired, used, and one still live.
      after: async (app) => {
        const store = app.discord.store
        const base = { flow: 'login' as const, scopes: ['identify'] }
        await store.createOAuthState({ ...base, state: 'e'.repeat(43), expires_at: new Date(Date.now() - 1000) })
        await store.createOAuthState({ ...base, state: 'u'.repeat(43), expires_at: new Date(Date.now() + 600_000) })
        await store.consumeOAuthState('u'.repeat(43))
        await store.createOAuthState({ ...base, state: 'l'.repeat(43), expires_at: new Date(Date.now() + 600_000) })
        seeded = 3
      }
    }))
    expect(seeded).toBe(3)
    expect(t.db.prepare('SELECT state FROM discord_oauth_states').all()).toEqual([{ state: 'l'.repeat(43) }])

    const scheduler = (t.app as unknown as { scheduler: ToadScheduler }).scheduler
    expect(scheduler.existsById(SYNC_CLEANUP_JOB_ID)).toBe(false)
    const job = scheduler.getById(STATE_CLEANUP_JOB_ID) as SimpleIntervalJob
    expect(job).toBeDefined()
    // Every state lifetime (stateExpiry, 10 minutes by default).
    expect((job as unknown as { schedule: { milliseconds?: number } }).schedule.milliseconds).toBe(600_000)
    await t.store.createOAuthState({ flow: 'login', scopes: ['identify'], state: 'x'.repeat(43), expires_at: new Date(Date.now() - 1) })
    expect(count(t)).toBe(2)
    await (job as unknown as { task: AsyncTask }).task.executeAsync()
    expect(count(t)).toBe(1)
  })
})

describe('a flood of anonymous logins from one IP', () => {
  /*
   * The flood goes through the whole route (validation, limiter, service, store). The clock (Date
   * only) is spread over 1,000 simulated seconds whatever the number of requests, so the limiter's
   * window (the default, 30 per minute) restarts 17 times and states expire (10 minutes) while it
   * goes on, as under a slow, steady attack. The purge job is a timer of real time; its run is
   * stood in for by the same store call every simulated 10 minutes (the job's interval, checked
   * above). What is stored is then bounded by the budget and the time, not by the number of
   * requests: every request past the budget is refused before the store. 100,000 requests take
   * about 65 s here (0.65 ms each) and store 510 states, 360 KiB; the default run sends 20,000
   * over the same simulated time and must store exactly as many. FLOOD_REQUESTS=100000 runs the full one.
   */
  it('leaves at most 1 MB of state in the SQLite file, whatever the number of requests', async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    t = await buildWorld({ ...authWorld(sim), store: 'file' })
    const w = t
    const before = tableBytes(w)
    // The longest redirect accepted (512 characters), so every stored row is as large as it can be.
    const redirect = `${FRONTEND}?q=${'x'.repeat(512 - FRONTEND.length - 3)}`
    const query = `?redirect_url=${encodeURIComponent(redirect)}`
    const N = Number(process.env.FLOOD_REQUESTS ?? 20_000)
    const SPAN_S = 1000
    const started = performance.now()
    let ok = 0
    let limited = 0
    let peakBytes = 0
    let clockS = 0
    let purgedAtS = 0
    for (let i = 1; i <= N; i++) {
      const res = await w.app.inject({ method: 'GET', url: `/discord/auth/login${query}`, remoteAddress: '203.0.113.66' })
      if (res.statusCode === 200) ok++
      else if (res.statusCode === 429) limited++
      else throw new Error(`unexpected ${res.statusCode}: ${res.body}`)
      const due = Math.floor(i * SPAN_S / N)
      if (due > clockS) {
        vi.setSystemTime(Date.now() + (due - clockS) * 1000)
        clockS = due
        if (clockS - purgedAtS >= 600) {
          await w.store.purgeExpiredOAuthStates()
          purgedAtS = clockS
        }
        if (clockS % 50 === 0) peakBytes = Math.max(peakBytes, tableBytes(w))
      }
    }
    const elapsedMs = performance.now() - started
    peakBytes = Math.max(peakBytes, tableBytes(w))
    // 1,000 simulated seconds: 17 windows of 30 starts, whatever N.
    expect(ok).toBe(30 * 17)
    expect(ok + limited).toBe(N)
    // The states of the first 10 minutes were purged once they expired.
    expect(count(w)).toBeLessThan(ok)
    expect(peakBytes - before).toBeLessThanOrEqual(1024 * 1024)
    // Per request, the flood costs time only: report it, so a regression in the refusal path shows.
    console.info(`state flood: ${N} requests in ${Math.round(elapsedMs)} ms (${(elapsedMs / N).toFixed(3)} ms each), ${ok} states, ${peakBytes - before} bytes`)
  }, 180_000)
})
