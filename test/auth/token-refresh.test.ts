import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import Fastify from 'fastify'
import fastifySchedule from '@fastify/schedule'
import { Redis } from 'ioredis'
import { AsyncTask, SimpleIntervalJob, type ToadScheduler } from 'toad-scheduler'
import { HEALTH_CHECK_JOB_ID } from '../../src/health/guild-health.js'
import { ROLE_SYNC_JOB_ID } from '../../src/tasks/role-sync.js'
import { SYNC_CLEANUP_JOB_ID } from '../../src/tasks/cleanup.js'
import type { DiscordSimulator } from '../../src/testing/index.js'
import { DiscordRestClient, type DiscordOAuth2Client } from '../../src/discord/index.js'
import { resolveScheduler, scheduleOnReady } from '../../src/jobs/local.js'
import { TOKEN_REFRESH_JOB_ID, TokenRefreshTask } from '../../src/tasks/token-refresh.js'
import { RedisTaskLock, type TaskLock } from '../../src/tasks/lock.js'
import { DiscordSyncEvents } from '../../src/events.js'
import type { DiscordStore } from '../../src/store/port/index.js'
import { redisAvailable, REDIS_URL, uniquePrefix } from '../helpers/redis.js'
import { bearer, buildWorld, dumpDatabase, sessionFor, type World } from '../helpers/world.js'
import { authWorld, CLIENT_ID, CLIENT_SECRET, startSimulator } from './helpers.js'

/*
 * The token refresh task: rotation and invalid_grant against the simulator, batching and bounded
 * concurrency, the cross-instance lock, run records, and the schedule (fake timers).
 */

let sim: DiscordSimulator
let t: World | null = null
const silentLog = { info () {}, warn () {}, error () {}, debug () {}, trace () {}, fatal () {}, child () { return silentLog }, level: 'silent' } as never

beforeAll(async () => { sim = await startSimulator() })
afterAll(async () => { await sim.close() })
afterEach(async () => {
  vi.useRealTimers()
  await t?.close()
  t = null
  sim.clearFaults()
})

let nextUser = 0
/** Seeds a Discord user in the simulator with an authorisation, and its link in the store with a token expiring soon. */
async function seedLink (store: DiscordStore, opts: { expiresInMs?: number, hostUser?: string } = {}): Promise<{ id: string, access: string, refresh: string }> {
  const id = String(300000000000000000n + BigInt(++nextUser))
  sim.state.addUser({ id, username: `user${nextUser}` })
  const issued = sim.state.issueUserToken({ clientId: CLIENT_ID, userId: id, scopes: ['identify', 'guilds'] })
  await store.createUser({
    user_id: opts.hostUser ?? `host-${id}`,
    discord_user_id: id,
    username: `user${nextUser}`,
    tokens: { access_token: issued.access_token, refresh_token: issued.refresh_token as string, expires_at: new Date(Date.now() + (opts.expiresInMs ?? 60_000)), scopes: ['identify', 'guilds'] }
  })
  return { id, access: issued.access_token, refresh: issued.refresh_token as string }
}

function taskFor (app: World, over: Partial<ConstructorParameters<typeof TokenRefreshTask>[0]> = {}): TokenRefreshTask {
  return new TokenRefreshTask({
    store: app.app.discord.store,
    oauth: app.app.discord.client.oauth2({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET }),
    thresholdMs: 86_400_000,
    batchSize: 50,
    concurrency: 5,
    lock: null,
    log: silentLog,
    events: new DiscordSyncEvents(silentLog),
    retentionMs: null,
    ...over
  })
}

describe('refreshing against the simulator', () => {
  it('rotates tokens: new access and refresh tokens stored, the old refresh token dead at Discord', async () => {
    t = await buildWorld(authWorld(sim))
    const link = await seedLink(t.app.discord.store)
    const run = await taskFor(t).run()
    expect(run).toMatchObject({ status: 'completed', candidates: 1, refreshed: 1, reauth_required: 0, failed: 0, errors: [] })

    const stored = await t.app.discord.store.getUserTokens(link.id)
    expect(stored?.access_token).not.toBe(link.access)
    expect(stored?.refresh_token).not.toBe(link.refresh)
    expect(sim.state.findRefreshToken(link.refresh)).toBeUndefined()
    expect(sim.state.findRefreshToken(stored?.refresh_token as string)).toBeDefined()
    expect(sim.state.findAccessToken(stored?.access_token as string)).toBeDefined()
    // Discord's expires_in is 7 days: the link is no longer a candidate.
    expect(Math.abs((stored?.expires_at?.getTime() ?? 0) - Date.now() - 604_800_000)).toBeLessThan(5000)
    expect(await taskFor(t).run()).toMatchObject({ candidates: 0, refreshed: 0 })
  })

  it('leaves links expiring after the threshold alone', async () => {
    t = await buildWorld(authWorld(sim))
    const link = await seedLink(t.app.discord.store, { expiresInMs: 3 * 86_400_000 })
    expect(await taskFor(t).run()).toMatchObject({ candidates: 0 })
    expect((await t.app.discord.store.getUserTokens(link.id))?.refresh_token).toBe(link.refresh)
  })

  it('invalid_grant marks the link needs_reauth, keeps it, shows it in auth/status, and does not retry it', async () => {
    t = await buildWorld(authWorld(sim))
    const link = await seedLink(t.app.discord.store, { hostUser: 'host-revoked' })
    // The user revoked the app in Discord: the refresh token no longer works.
    sim.state.revokeAuthorization(sim.state.findRefreshToken(link.refresh) as NonNullable<ReturnType<typeof sim.state.findRefreshToken>>)
    const run = await taskFor(t).run()
    expect(run).toMatchObject({ status: 'completed', candidates: 1, refreshed: 0, reauth_required: 1, failed: 0 })

    const kept = await t.app.discord.store.getUserByDiscordId(link.id)
    expect(kept).toMatchObject({ needs_reauth: true, has_tokens: true })
    const status = await t.inject({ method: 'GET', url: '/discord/auth/status', headers: bearer(sessionFor(t.app, 'host-revoked')) })
    expect(status.json()).toMatchObject({ authenticated: true, linked: true, needs_reauth: true, accounts: [{ discord_user_id: link.id, needs_reauth: true }] })
    expect(await taskFor(t).run()).toMatchObject({ candidates: 0 })
  })

  it('Discord failing: counted and recorded per link (no token in the record), the link neither flagged nor changed', async () => {
    t = await buildWorld(authWorld(sim))
    const link = await seedLink(t.app.discord.store)
    sim.scriptFault({ kind: 'error', status: 500, route: 'POST /oauth2/token', times: 20 })
    const run = await taskFor(t).run()
    expect(run).toMatchObject({ status: 'completed', candidates: 1, refreshed: 0, failed: 1 })
    expect(run.errors).toEqual([{ discord_user_id: link.id, code: 'FST_DISCORD_API_SERVER_ERROR', message: expect.stringContaining('500') }])
    expect(JSON.stringify(run)).not.toContain(link.refresh)
    expect(JSON.stringify(run)).not.toContain(CLIENT_SECRET)
    expect((await t.app.discord.store.getUserByDiscordId(link.id))?.needs_reauth).toBe(false)
    expect((await t.app.discord.store.getUserTokens(link.id))?.refresh_token).toBe(link.refresh)
  })

  it('works through every candidate in batches with bounded concurrency', async () => {
    t = await buildWorld(authWorld(sim))
    const links = await Promise.all(Array.from({ length: 12 }, () => seedLink((t as World).app.discord.store)))
    const store = t.app.discord.store
    const real = t.app.discord.client.oauth2({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET })
    let inFlight = 0
    let maxInFlight = 0
    const oauth = {
      async refreshToken (token: string) {
        maxInFlight = Math.max(maxInFlight, ++inFlight)
        try { return await real.refreshToken(token) } finally { inFlight-- }
      }
    } as unknown as DiscordOAuth2Client
    const limits: number[] = []
    const countingStore = new Proxy(store, {
      get (target, prop) {
        if (prop === 'listUsersWithTokensExpiringBefore') return async (before: Date, limit: number) => { limits.push(limit); return target.listUsersWithTokensExpiringBefore(before, limit) }
        const value = Reflect.get(target, prop, target) as unknown
        return typeof value === 'function' ? value.bind(target) : value
      }
    })
    const run = await taskFor(t, { store: countingStore, oauth, batchSize: 5, concurrency: 2 }).run()
    expect(run).toMatchObject({ candidates: 12, refreshed: 12, failed: 0 })
    expect(maxInFlight).toBe(2)
    expect(limits).toEqual([5, 10, 15, 17])
    for (const l of links) expect((await store.getUserTokens(l.id))?.refresh_token).not.toBe(l.refresh)
  })

  it('does not loop on links that keep failing: each is tried once per run', async () => {
    t = await buildWorld(authWorld(sim))
    await Promise.all(Array.from({ length: 4 }, () => seedLink((t as World).app.discord.store)))
    const oauth = { refreshToken: vi.fn(async () => { throw new Error('boom') }) } as unknown as DiscordOAuth2Client
    const run = await taskFor(t, { oauth, batchSize: 3 }).run()
    expect(run).toMatchObject({ candidates: 4, failed: 4 })
    expect(run.errors.map((e) => e.code)).toEqual(Array(4).fill('FST_DISCORD_INTERNAL'))
    expect((oauth.refreshToken as ReturnType<typeof vi.fn>).mock.calls).toHaveLength(4)
  })

  it('records each run (newest first), and a second run() while one is running joins it', async () => {
    t = await buildWorld(authWorld(sim))
    await seedLink(t.app.discord.store)
    const task = taskFor(t)
    const [a, b] = await Promise.all([task.run(), task.run()])
    expect(a).toBe(b)
    await task.run()
    const history = await task.history()
    expect(history).toHaveLength(2)
    expect(history[0]).toMatchObject({ refreshed: 0, candidates: 0 })
    expect(history[1]).toMatchObject({ refreshed: 1, candidates: 1 })
    expect(Date.parse(history[1]?.finished_at as string)).toBeGreaterThanOrEqual(Date.parse(history[1]?.started_at as string))
  })
})

describe('run records in the store', () => {
  it('each run is stored with its counts and errors, visible to any instance sharing the store, with no token in it', async () => {
    t = await buildWorld(authWorld(sim))
    const store = t.app.discord.store
    const ok = await seedLink(store)
    await taskFor(t).run()
    const bad = await seedLink(store)
    sim.scriptFault({ kind: 'error', status: 500, route: 'POST /oauth2/token', times: 20 })
    await taskFor(t).run()

    // A fresh task object stands in for another instance: it reads what the first one recorded.
    const runs = await taskFor(t).history()
    expect(runs).toHaveLength(2)
    expect(runs[0]).toMatchObject({ status: 'completed', candidates: 1, refreshed: 0, failed: 1, reason: null })
    expect(runs[0]?.errors).toEqual([{ discord_user_id: bad.id, code: 'FST_DISCORD_API_SERVER_ERROR', message: expect.stringContaining('500') }])
    expect(runs[1]).toMatchObject({ status: 'completed', candidates: 1, refreshed: 1, failed: 0, errors: [] })
    expect(t.db.prepare("SELECT COUNT(*) AS n FROM discord_task_runs WHERE task = 'token_refresh'").get()).toEqual({ n: 2 })
    const dump = dumpDatabase(t.db)
    const stored = await store.getUserTokens(ok.id)
    for (const secret of [ok.access, ok.refresh, bad.access, bad.refresh, stored?.access_token, stored?.refresh_token, CLIENT_SECRET]) {
      expect(dump).not.toContain(secret as string)
    }
  })

  it('a skipped run is recorded with its reason (lock held elsewhere, Redis unreachable)', async () => {
    t = await buildWorld(authWorld(sim))
    const held: TaskLock = { acquire: async () => null, renew: async () => true, release: async () => {} }
    // Runs are ordered by start time (to the millisecond): the faked clock keeps the two apart.
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() })
    await taskFor(t, { lock: held }).run()
    vi.setSystemTime(Date.now() + 5)
    const down: TaskLock = { acquire: async () => { throw new Error('connect ECONNREFUSED') }, renew: async () => false, release: async () => {} }
    await taskFor(t, { lock: down }).run()
    expect((await taskFor(t).history()).map((r) => [r.status, r.reason])).toEqual([
      ['skipped', expect.stringContaining('lock unavailable')],
      ['skipped', 'another instance holds the lock']
    ])
  })

  it('deletes recorded runs older than the retention after each run', async () => {
    t = await buildWorld(authWorld(sim))
    const store = t.app.discord.store
    const day = 86_400_000
    const old = new Date(Date.now() - 91 * day)
    const kept = new Date(Date.now() - 89 * day)
    for (const started of [old, kept]) {
      await store.recordTaskRun({ task: 'token_refresh', status: 'completed', reason: null, started_at: started, finished_at: started, duration_ms: 0, counts: { refreshed: 7 }, errors: [] })
    }
    await taskFor(t, { retentionMs: 90 * day }).run()
    const runs = await taskFor(t).history()
    expect(runs.map((r) => r.started_at)).toEqual([expect.any(String), kept.toISOString()])
    expect(Date.parse(runs[0]?.started_at as string)).toBeGreaterThan(kept.getTime())
  })

  it('a store that cannot record the run costs the record only: the run still resolves, and a warning is logged', async () => {
    t = await buildWorld(authWorld(sim))
    await seedLink(t.app.discord.store)
    const store = t.app.discord.store
    const failing = new Proxy(store, {
      get (target, prop) {
        if (prop === 'recordTaskRun') return async () => { throw Object.assign(new Error('disk full'), { code: 'FST_DISCORD_STORE_UNAVAILABLE' }) }
        const value = Reflect.get(target, prop, target) as unknown
        return typeof value === 'function' ? value.bind(target) : value
      }
    })
    const warnings: unknown[] = []
    const log = { info () {}, error () {}, debug () {}, trace () {}, fatal () {}, child () { return log }, level: 'silent', warn (obj: unknown, msg: string) { warnings.push([obj, msg]) } }
    const run = await taskFor(t, { store: failing, log: log as never }).run()
    expect(run).toMatchObject({ status: 'completed', refreshed: 1 })
    expect(warnings).toEqual([[{ code: 'FST_DISCORD_STORE_UNAVAILABLE' }, 'recording the discord token refresh run failed']])
    expect(await taskFor(t).history()).toEqual([])
  })
})

describe('GET /auth/token-refresh/runs', () => {
  const url = '/discord/auth/token-refresh/runs'

  it.each([
    ['anonymous', {}, 401, 'FST_DISCORD_AUTH_REQUIRED'],
    ['a user', { sub: 'host-1', permissions: [] }, 403, 'FST_DISCORD_FORBIDDEN'],
    ['another user', { sub: 'host-2', permissions: ['discord:read'] }, 403, 'FST_DISCORD_FORBIDDEN']
  ] as const)('refuses %s: %i %s', async (_who, claims, statusCode, code) => {
    t = await buildWorld(authWorld(sim))
    const headers = 'sub' in claims ? bearer(sessionFor(t.app, claims.sub, [...claims.permissions])) : {}
    const res = await t.inject({ method: 'GET', url, headers })
    expect(res.statusCode).toBe(statusCode)
    expect(res.json().code).toBe(code)
  })

  it('shows an admin the recorded runs, newest first, limited, with no token', async () => {
    t = await buildWorld(authWorld(sim, { tokenRefresh: { enabled: true } }))
    const task = t.app.discord.tokenRefresh as TokenRefreshTask
    const link = await seedLink(t.app.discord.store)
    await task.run()
    await task.run()
    const admin = bearer(sessionFor(t.app, 'admin-1', ['discord:admin']))
    const res = await t.inject({ method: 'GET', url, headers: admin })
    expect(res.statusCode).toBe(200)
    const body = res.json()
    expect(body).toMatchObject({ enabled: true, running: false })
    expect(body.runs).toHaveLength(2)
    expect(body.runs[0]).toMatchObject({ status: 'completed', candidates: 0, refreshed: 0 })
    expect(body.runs[1]).toMatchObject({ status: 'completed', candidates: 1, refreshed: 1, reauth_required: 0, failed: 0, skipped: 0, errors: [] })
    expect(res.body).not.toContain(link.refresh)
    const one = await t.inject({ method: 'GET', url: `${url}?limit=1`, headers: admin })
    expect(one.json().runs).toEqual([body.runs[0]])
    const bad = await t.inject({ method: 'GET', url: `${url}?limit=0`, headers: admin })
    expect(bad.statusCode).toBe(400)
    expect(bad.json().code).toBe('FST_DISCORD_VALIDATION')
  })

  it('with the task disabled: enabled false, and runs an earlier configuration recorded are still listed', async () => {
    t = await buildWorld(authWorld(sim, { tokenRefresh: { enabled: false } }))
    const at = new Date(Date.now() - 3_600_000)
    await t.app.discord.store.recordTaskRun({ task: 'token_refresh', status: 'completed', reason: null, started_at: at, finished_at: at, duration_ms: 12, counts: { candidates: 1, refreshed: 1 }, errors: [] })
    const res = await t.inject({ method: 'GET', url, headers: bearer(sessionFor(t.app, 'admin-1', ['discord:admin'])) })
    expect(res.json()).toEqual({
      enabled: false,
      running: false,
      runs: [{ status: 'completed', reason: null, started_at: at.toISOString(), finished_at: at.toISOString(), duration_ms: 12, candidates: 1, refreshed: 1, reauth_required: 0, failed: 0, skipped: 0, errors: [] }]
    })
  })
})

describe('one instance at a time', () => {
  it('skips the run when another instance holds the lock, or when the lock cannot be reached', async () => {
    t = await buildWorld(authWorld(sim))
    await seedLink(t.app.discord.store)
    const held: TaskLock = { acquire: async () => null, renew: async () => true, release: async () => {} }
    expect(await taskFor(t, { lock: held }).run()).toMatchObject({ status: 'skipped', reason: 'another instance holds the lock', candidates: 0 })
    const down: TaskLock = { acquire: async () => { throw new Error('connect ECONNREFUSED') }, renew: async () => false, release: async () => {} }
    expect(await taskFor(t, { lock: down }).run()).toMatchObject({ status: 'skipped', reason: expect.stringContaining('lock unavailable') })
  })

  it('stops after the batch in which it lost the lock (it expired and another instance may run): failed, "lock lost", recorded', async () => {
    t = await buildWorld(authWorld(sim))
    const links = [await seedLink(t.app.discord.store, { expiresInMs: 10_000 }), await seedLink(t.app.discord.store, { expiresInMs: 20_000 })]
    const released: string[] = []
    const lost: TaskLock = { acquire: async () => 'tok-1', renew: async () => false, release: async (tok) => { released.push(tok) } }
    const run = await taskFor(t, { lock: lost, batchSize: 1 }).run()
    expect(run).toMatchObject({ status: 'failed', reason: 'lock lost', candidates: 1, refreshed: 1 })
    // The second link (next batch) was left for whoever holds the lock now.
    expect((await t.app.discord.store.getUserTokens(links[1]?.id as string))?.refresh_token).toBe(links[1]?.refresh)
    expect(released).toEqual(['tok-1'])
    expect((await taskFor(t).history())[0]).toMatchObject({ status: 'failed', reason: 'lock lost' })
  })

  it('with Redis: two instances racing, one refreshes, the other skips; the lock is released and expires by TTL', async (ctx) => {
    if (!(await redisAvailable())) ctx.skip()
    const redis = new Redis(REDIS_URL, { lazyConnect: true })
    await redis.connect()
    try {
      t = await buildWorld(authWorld(sim))
      await seedLink(t.app.discord.store)
      const key = `${uniquePrefix('token-refresh')}lock`
      const [a, b] = await Promise.all([
        taskFor(t, { lock: new RedisTaskLock(redis, key, 10_000) }).run(),
        taskFor(t, { lock: new RedisTaskLock(redis, key, 10_000) }).run()
      ])
      expect([a.status, b.status].sort()).toEqual(['completed', 'skipped'])
      expect(a.refreshed + b.refreshed).toBe(1)
      expect(await redis.exists(key)).toBe(0)

      // A holder that died: its lock expires after the TTL and the next run proceeds.
      const dead = new RedisTaskLock(redis, key, 300)
      expect(await dead.acquire()).not.toBeNull()
      expect(await taskFor(t, { lock: new RedisTaskLock(redis, key, 10_000) }).run()).toMatchObject({ status: 'skipped' })
      // Redis keeps the TTL on its own clock: check it is the lock's, then let it run out there.
      const ttl = await redis.pttl(key)
      expect(ttl > 0 && ttl <= 300, `pttl ${ttl}`).toBe(true)
      await redis.pexpire(key, 0)
      expect(await redis.exists(key)).toBe(0)
      expect(await taskFor(t, { lock: new RedisTaskLock(redis, key, 10_000) }).run()).toMatchObject({ status: 'completed' })
      // Only the holder may renew or release.
      const mine = new RedisTaskLock(redis, key, 10_000)
      const token = await mine.acquire()
      expect(await mine.renew('not-the-token')).toBe(false)
      await mine.release('not-the-token')
      expect(await redis.exists(key)).toBe(1)
      expect(await mine.renew(token as string)).toBe(true)
      await mine.release(token as string)
      expect(await redis.exists(key)).toBe(0)
    } finally {
      redis.disconnect()
    }
  })
})

describe('schedule', () => {
  it('runs every interval once the server is ready, never before, and stops on close (fake timers)', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] })
    t = await buildWorld(authWorld(sim, { tokenRefresh: { enabled: true, interval: '30m' } }))
    const task = t.app.discord.tokenRefresh as TokenRefreshTask
    expect(task).not.toBeNull()
    await seedLink(t.app.discord.store)
    const run = vi.spyOn(task, 'run')

    await vi.advanceTimersByTimeAsync(30 * 60_000 - 1)
    expect(run).not.toHaveBeenCalled()
    await vi.advanceTimersByTimeAsync(1)
    expect(run).toHaveBeenCalledTimes(1)
    await vi.waitFor(async () => expect(await task.history()).toHaveLength(1), { timeout: 5000 })
    expect((await task.history())[0]).toMatchObject({ status: 'completed', refreshed: 1 })
    await vi.advanceTimersByTimeAsync(30 * 60_000)
    expect(run).toHaveBeenCalledTimes(2)
    await vi.waitFor(() => expect(task.running).toBe(false), { timeout: 5000 })

    await t.close()
    t = null
    await vi.advanceTimersByTimeAsync(3 * 30 * 60_000)
    expect(run).toHaveBeenCalledTimes(2)
  })

  it('is not scheduled when disabled or without a Discord application', async () => {
    t = await buildWorld(authWorld(sim, { tokenRefresh: { enabled: false } }))
    expect(t.app.discord.tokenRefresh).toBeNull()
    await t.close()
    t = await buildWorld(authWorld(null, { tokenRefresh: { enabled: true } }))
    expect(t.app.discord.tokenRefresh).toBeNull()
  })

  it('uses a host @fastify/schedule when present, and removes only its own jobs on close (every task of the plugin)', async () => {
    t = await buildWorld(authWorld(sim, { tokenRefresh: { enabled: true } }, {
      before: async (app) => {
        await app.register(fastifySchedule)
        const host = (app as unknown as { scheduler: ToadScheduler }).scheduler
        host.addSimpleIntervalJob(new SimpleIntervalJob({ hours: 1 }, new AsyncTask('host-job', async () => {}), { id: 'host-job', unref: true }))
      }
    }))
    const hostScheduler = (t.app as unknown as { scheduler: ToadScheduler }).scheduler
    const ours = [TOKEN_REFRESH_JOB_ID, HEALTH_CHECK_JOB_ID, ROLE_SYNC_JOB_ID, SYNC_CLEANUP_JOB_ID]
    expect(ours.map((id) => hostScheduler.existsById(id))).toEqual([true, true, true, true])
    await t.close()
    t = null
    expect(ours.map((id) => hostScheduler.existsById(id))).toEqual([false, false, false, false])
    expect(hostScheduler.existsById('host-job')).toBe(true)
    hostScheduler.stop()
  })

  it('leaves the host without a scheduler decorator, and its interval timer does not keep the process alive', async () => {
    const app = Fastify({ logger: false })
    try {
      const { scheduler, own } = await resolveScheduler(app)
      expect(own).toBe(true)
      expect((await resolveScheduler(app)).scheduler).toBe(scheduler)
      scheduleOnReady(app, scheduler, 'probe', 60_000, async () => {}, () => {})
      expect(scheduler.existsById('probe')).toBe(false)
      await app.ready()
      expect(app.hasDecorator('scheduler')).toBe(false)
      const job = scheduler.getById('probe') as unknown as { timer: NodeJS.Timeout }
      expect(job.timer.hasRef()).toBe(false)
    } finally {
      await app.close()
    }
  })
})

describe('shutdown', () => {
  it('close waits for a run in progress and no batch starts afterwards', async () => {
    t = await buildWorld(authWorld(sim))
    await Promise.all(Array.from({ length: 3 }, () => seedLink((t as World).app.discord.store)))
    const real = new DiscordRestClient({ baseUrl: sim.apiBaseUrl }).oauth2({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET })
    let release: () => void = () => {}
    const gate = new Promise<void>((resolve) => { release = resolve })
    let entered: () => void = () => {}
    const inFlight = new Promise<void>((resolve) => { entered = resolve })
    const oauth = { refreshToken: async (tok: string) => { entered(); await gate; return real.refreshToken(tok) } } as unknown as DiscordOAuth2Client
    const task = taskFor(t, { oauth, batchSize: 1, concurrency: 1 })
    const running = task.run()
    const stopped = task.stop()
    let done = false
    stopped.then(() => { done = true }, () => {})
    // The run is at Discord; everything else stop could wait for has had a turn of the event loop.
    await inFlight
    await new Promise((resolve) => setImmediate(resolve))
    expect(done).toBe(false)
    release()
    await stopped
    expect(await running).toMatchObject({ candidates: 1, refreshed: 1 })
    expect(await task.run()).toMatchObject({ status: 'skipped', reason: 'stopping' })
  })
})

describe('GET /auth/token-refresh/runs and the read cache', () => {
  it('a run in progress here answers running with no-store, so no kept page can outlive it', async () => {
    t = await buildWorld(authWorld(sim, { tokenRefresh: { enabled: true } }))
    const w = t
    await seedLink(w.app.discord.store)
    const url = '/discord/auth/token-refresh/runs'
    const admin = bearer(sessionFor(w.app, 'admin-1', ['discord:admin']))
    const before = await w.inject({ method: 'GET', url, headers: admin })
    expect(before.json()).toMatchObject({ running: false, runs: [] })
    expect(before.headers['cache-control']).toBeUndefined()
    // Hold the plugin's own run inside its first store read.
    let release: () => void = () => {}
    const gate = new Promise<void>((resolve) => { release = resolve })
    let entered: () => void = () => {}
    const inside = new Promise<void>((resolve) => { entered = resolve })
    const store = w.app.discord.store
    const list = store.listUsersWithTokensExpiringBefore.bind(store)
    vi.spyOn(store, 'listUsersWithTokensExpiringBefore').mockImplementationOnce(async (...args) => { entered(); await gate; return await list(...args) })
    const run = (w.app.discord.tokenRefresh as TokenRefreshTask).run()
    await inside
    const during = await w.inject({ method: 'GET', url, headers: admin })
    expect(during.json()).toMatchObject({ running: true, runs: [] })
    expect(during.headers['cache-control']).toBe('no-store')
    release()
    await run
    const after = await w.inject({ method: 'GET', url, headers: admin })
    expect(after.json()).toMatchObject({ running: false, runs: [{ status: 'completed', refreshed: 1 }] })
  })
})
