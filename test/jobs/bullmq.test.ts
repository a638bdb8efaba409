import { afterEach, describe, expect, it } from 'vitest'
import { Queue, QueueEvents } from 'bullmq'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { resolveOptions } from '../../src/options/resolve.js'
import { bullPrefix, QUEUE_NAME } from '../../src/jobs/bullmq.js'
import { lockKeys } from '../../src/sync/locks.js'
import type { FastifyDiscordSyncOptions } from '../../src/index.js'
import { REDIS_URL, redisAvailable, uniquePrefix } from '../helpers/redis.js'
import { TEST_KEY } from '../helpers/world.js'
import { aliceNeedsPilot, buildSyncWorld, HOST, IDS, until, type SyncWorld, type SyncWorldOptions } from '../sync/helpers.js'

/*
 * jobs.backend "bullmq" with one app per process role, on the shared Redis under a prefix of each
 * test's own: job ids keep one pending job per target, an `api` process only enqueues and a
 * `worker` process runs what it queued, a failing guild sync is retried with exponential backoff,
 * and the periodic tasks run from Job Schedulers. (A worker SIGKILLed mid-job: stalled.test.ts.)
 */

const hasRedis = await redisAvailable()
const worlds: SyncWorld[] = []
const closers: Array<() => Promise<unknown>> = []
const dirs: string[] = []
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c().catch(() => {})
  for (const w of worlds.splice(0).reverse()) await w.close()
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

type Jobs = NonNullable<FastifyDiscordSyncOptions['jobs']>

async function jobsWorld (prefix: string, jobs: Jobs, more: Partial<FastifyDiscordSyncOptions> = {}, world: SyncWorldOptions = {}): Promise<SyncWorld> {
  const w = await buildSyncWorld({ ...world, plugin: { redis: REDIS_URL, redisKeyPrefix: prefix, jobs: { backend: 'bullmq', ...jobs }, ...more } })
  worlds.push(w)
  return w
}

/** A SQLite file two apps share (each a process role), as a deployment shares its database. */
function sharedStore (): FastifyDiscordSyncOptions['store'] {
  const dir = mkdtempSync(join(tmpdir(), 'jobs-'))
  dirs.push(dir)
  return { type: 'sqlite', path: join(dir, 'store.sqlite') }
}

/** The test's own client on the plugin's queue, to look at it from outside. */
function outside (prefix: string): { queue: Queue, events: QueueEvents } {
  const url = new URL(REDIS_URL)
  const connection = { host: url.hostname, port: Number(url.port === '' ? 6379 : url.port) }
  const queue = new Queue(QUEUE_NAME, { connection, prefix: bullPrefix(prefix) })
  const events = new QueueEvents(QUEUE_NAME, { connection, prefix: bullPrefix(prefix) })
  closers.push(() => queue.close(), () => events.close())
  return { queue, events }
}

const hasPilot = async (w: SyncWorld): Promise<true | null> => w.sim.state.getMember(IDS.g1, IDS.alice)?.roles.includes(IDS.pilot) === true ? true : null

describe('jobs options', () => {
  it('bullmq without Redis is refused at start-up, naming the option', () => {
    expect(() => resolveOptions({ encryptionKey: TEST_KEY, jobs: { backend: 'bullmq' } })).toThrow(/"jobs\.backend": "bullmq" keeps its queue in Redis/)
  })
  it('an api or worker role needs the bullmq backend', () => {
    expect(() => resolveOptions({ encryptionKey: TEST_KEY, redis: REDIS_URL, jobs: { role: 'worker' } })).toThrow(/"jobs\.role": "worker" needs jobs\.backend "bullmq"/)
  })
  it('defaults to the local backend, all roles', () => {
    expect(resolveOptions({ encryptionKey: TEST_KEY }).jobs).toMatchObject({ backend: 'local', role: 'all', attempts: 8, backoffMs: 5000, lockDurationMs: 30_000 })
  })
})

describe.skipIf(!hasRedis)('jobs.backend bullmq', () => {
  it('an api process only enqueues, one job per target; a worker process runs them', async () => {
    const prefix = uniquePrefix('jobs-roles')
    const { queue } = outside(prefix)
    const store = sharedStore()
    const api = await aliceNeedsPilot(await jobsWorld(prefix, { role: 'api' }, { store, sync: { enabled: true } }))
    expect(api.app.discord.jobs).toMatchObject({ backend: 'bullmq', role: 'api', works: false })
    for (let i = 0; i < 3; i++) api.app.discord.jobs.syncUser(HOST.alice, 'test')
    api.app.discord.jobs.runUnlinkRemoval('run-1')
    api.app.discord.jobs.runUnlinkRemoval('run-1')
    // The scheduled tick queues the due guild instead of running it.
    expect((await api.app.discord.sync.scheduler?.tick())?.queued).toEqual([IDS.g1])
    // Besides the first job of each Job Scheduler (`repeat:...`).
    const ids = async (): Promise<string[]> => (await queue.getJobs(['wait'])).map((j) => j.id as string).filter((id) => !id.startsWith('repeat:')).sort()
    await until(async () => (await ids()).length >= 3 ? true : null)
    expect(await ids()).toEqual([`guild-${IDS.g1}`, 'unlink-run-1', `user-${HOST.alice}`])
    // Nothing runs in the api process: the jobs wait.
    const stats = await api.app.discord.jobs.stats()
    const repeats = (await queue.getJobs(['wait'])).length - 3
    expect(stats).toMatchObject({ waiting: 3 + repeats, active: 0 })
    expect(stats?.oldest_waiting_ms).toBeGreaterThanOrEqual(0)
    expect(api.membership.calls).toBe(0)

    // A worker on the same store, Redis and simulator takes them.
    const worker = await jobsWorld(prefix, { role: 'worker' }, { store }, { sim: api.sim })
    worker.membership.set(HOST.alice, ['pilots'])
    await until(async () => await hasPilot(worker))
    await until(async () => (await queue.getJobCounts('wait', 'active')).wait === 0 && (await queue.getJobCounts('active')).active === 0 ? true : null)
    expect(api.membership.calls).toBe(0)
    expect(worker.membership.calls).toBeGreaterThan(0)
  })

  it('a guild sync that cannot start is retried with exponential backoff until it can', async () => {
    const prefix = uniquePrefix('jobs-retry')
    const { queue, events } = outside(prefix)
    await events.waitUntilReady()
    const logLines: string[] = []
    const w = await aliceNeedsPilot(await jobsWorld(prefix, { attempts: 8, backoff: '100ms' }, { sync: { enabled: true } }, { logLines }))
    // Another run holds the guild (a live one: its heartbeat is fresh, so no sweep frees it).
    const held = await w.app.discord.sync.engine.locks.acquire(lockKeys.guild(IDS.g1), 'someone-else')
    expect(held.ok).toBe(true)
    // attempt made → the backoff before the next one (read with its attempt, so a late read cannot mismatch them)
    const delays = new Map<number, number>()
    let twice: () => void = () => {}
    const retriedTwice = new Promise<void>((resolve) => { twice = resolve })
    events.on('delayed', ({ jobId }) => {
      if (!jobId.startsWith('guild-')) return
      queue.getJob(jobId).then((job) => {
        if (job === undefined) return
        delays.set(job.attemptsMade, job.delay)
        if (delays.size === 2) twice()
      }, () => {})
    })
    expect((await w.app.discord.sync.scheduler?.tick())?.queued).toEqual([IDS.g1])
    await retriedTwice
    expect(await hasPilot(w)).toBeNull()
    if (held.ok) await w.app.discord.sync.engine.locks.release(held.handle)
    await until(async () => await hasPilot(w))
    // 100 ms, then doubled at each attempt: BullMQ's exponential backoff from jobs.backoff.
    expect(delays.size).toBeGreaterThanOrEqual(2)
    for (const [attempt, delay] of delays) expect(delay).toBe(100 * 2 ** (attempt - 1))
    const retried = logLines.map((l) => JSON.parse(l) as { msg: string, job?: string, attempt?: number }).filter((l) => l.msg === 'job failed: retrying' && l.job === 'guild-sync')
    expect(retried.length).toBeGreaterThanOrEqual(2)
    // The same attempts in the metrics, with the queue's depth read from Redis at scrape time.
    const text = await w.app.discord.sync.metrics?.registry.metrics() ?? ''
    const value = (line: RegExp): number => Number(text.split('\n').find((l) => line.test(l))?.split(' ').pop())
    expect(value(/^discord_sync_jobs_total\{name="guild-sync",outcome="retried"\}/)).toBeGreaterThanOrEqual(2)
    await until(async () => (await w.app.discord.sync.metrics?.registry.metrics())?.includes('discord_sync_jobs_total{name="guild-sync",outcome="completed"} 1') === true ? true : null)
    expect(text).toMatch(/^discord_sync_job_queue_depth\{state="delayed"\} \d+$/m)
    expect(text).toMatch(/^discord_sync_job_wait_seconds_count\{name="guild-sync"\} 1$/m)
  })

  it('the periodic tasks are Job Schedulers, and the role-sync scheduler starts due guilds', async () => {
    const prefix = uniquePrefix('jobs-schedulers')
    const { queue } = outside(prefix)
    const w = await aliceNeedsPilot(await jobsWorld(prefix, {}, { sync: { enabled: true, schedulerTick: '1s' } }))
    const finished = new Promise<{ initiated_by: string, status: string }>((resolve) => {
      w.app.discord.events.on('sync.finished', (e) => { if (e.sync_type === 'guild') resolve(e) })
    })
    const schedulers = await queue.getJobSchedulers()
    expect(schedulers.map((s) => [s.name, s.every]).sort()).toEqual([
      ['role-sync', 1000], ['state-cleanup', 600_000], ['sync-cleanup', 21_600_000]
    ])
    // Nobody calls tick(): the scheduler's job does, in a worker, and queues the guild.
    expect(await finished).toMatchObject({ initiated_by: 'system', status: 'completed' })
    expect(await hasPilot(w)).toBe(true)
  })

  it('GET /status shows admins the queue', async () => {
    const prefix = uniquePrefix('jobs-status')
    const { queue } = outside(prefix)
    const w = await jobsWorld(prefix, { role: 'api' })
    w.app.discord.jobs.syncUser(HOST.alice, 'test')
    await until(async () => await queue.getJob(`user-${HOST.alice}`))
    const res = await w.call('GET', '/status')
    const waiting = (await queue.getJobs(['wait'])).length
    expect(res.body.jobs).toMatchObject({ backend: 'bullmq', role: 'api', queue: { waiting, active: 0, delayed: 0, failed: 0 } })
    expect(res.body.jobs.queue.oldest_waiting_ms).toBeGreaterThanOrEqual(0)
    const anon = await w.call('GET', '/status', { as: null })
    expect(anon.body.jobs).toBeUndefined()
  })
})
