import { fork, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import pino from 'pino'
import { Redis } from 'ioredis'
import { afterEach, describe, expect, it } from 'vitest'
import { createStore } from '../../src/store/index.js'
import { resolveOptions } from '../../src/options/resolve.js'
import { openBullQueue } from '../../src/jobs/bullmq.js'
import { createDiscordSimulator, type DiscordSimulator } from '../../src/testing/index.js'
import { generousLimits } from '../helpers/world.js'
import { REDIS_URL, redisAvailable, uniquePrefix } from '../helpers/redis.js'
import { BOT_TOKEN, IDS, isWrite, seedSimulator, until } from '../sync/helpers.js'

/*
 * jobs.backend "bullmq" across processes sharing a SQLite file and Redis: worker A takes a guild
 * sync and is SIGKILLed mid-run (some role writes done, no shutdown hook). Its job lock lapses,
 * worker B's stalled-job check puts the job back, B's attempts find the guild still held by A's
 * dead run (by its lock, and once that lapsed by its record, still "running") and back off until
 * the run's heartbeat is stale, then sweep it and sync the guild: every member converges and the
 * dead run is recorded as interrupted (never two running runs on the guild, never a phantom one).
 */

const WORKER = fileURLToPath(new URL('./fixtures/jobs-process.ts', import.meta.url))
const hasRedis = await redisAvailable()
const MEMBERS = 120

interface Message { name: string, type: string, status?: string, sync_type?: string, target_id?: string | null, run_id?: string }

class Worker {
  readonly child: ChildProcess
  readonly messages: Message[] = []
  readonly #waiters: Array<{ accept: (m: Message) => boolean, resolve: (m: Message) => void }> = []

  constructor (name: string, env: Record<string, string>) {
    this.child = fork(WORKER, [], { execArgv: ['--import', 'tsx'], env: { ...process.env, ...env, NAME: name }, stdio: ['ignore', process.env.WORKER_LOG === undefined ? 'ignore' : 'inherit', 'inherit', 'ipc'] })
    this.child.on('message', (m: Message) => {
      this.messages.push(m)
      for (const w of [...this.#waiters]) {
        if (!w.accept(m)) continue
        this.#waiters.splice(this.#waiters.indexOf(w), 1)
        w.resolve(m)
      }
    })
  }

  next (accept: (m: Message) => boolean): Promise<Message> {
    const seen = this.messages.find(accept)
    if (seen !== undefined) return Promise.resolve(seen)
    return new Promise((resolve) => this.#waiters.push({ accept, resolve }))
  }

  async kill (): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return
    const exited = new Promise((resolve) => this.child.once('exit', resolve))
    this.child.kill('SIGKILL')
    await exited
  }
}

const memberId = (i: number): string => `15${String(i).padStart(17, '0')}`

const workers: Worker[] = []
const cleanups: Array<() => Promise<unknown>> = []
let sim: DiscordSimulator | undefined
let dir: string | undefined
afterEach(async () => {
  for (const w of workers.splice(0)) await w.kill()
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => {})
  await sim?.close()
  sim = undefined
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true })
})

describe.skipIf(!hasRedis)('BullMQ: a worker SIGKILLed mid-job', () => {
  it('its job is taken over by another worker through the stalled-job check, and the guild converges', async () => {
    // Every answer takes 20 ms, so the sync is still writing when A is killed.
    sim = await createDiscordSimulator({ ...generousLimits(), faults: { latencyMs: 20 } })
    seedSimulator(sim)
    dir = mkdtempSync(join(tmpdir(), 'jobs-stalled-'))
    const dbPath = join(dir, 'store.sqlite')
    const base = { store: { type: 'sqlite' as const, path: dbPath }, encryptionKey: Buffer.alloc(32, 7).toString('base64') }
    const store = await createStore(resolveOptions(base))
    await store.createGuild({ guild_id: IDS.g1, guild_name: 'Alpha Guild', bot_token: BOT_TOKEN, bot_user_id: IDS.bot, settings: { max_role_changes_per_sync: 10_000 } })
    await store.createMapping({ guild_id: IDS.g1, group_id: 'pilots', discord_role_id: IDS.pilot })
    for (let i = 0; i < MEMBERS; i++) {
      const id = memberId(i)
      sim.state.addUser({ id })
      sim.state.addMember(IDS.g1, id)
      await store.createUser({ user_id: `user-${i}`, discord_user_id: id, username: `u${i}`, guilds: [] })
    }
    await store.close()

    const prefix = uniquePrefix('jobs-stalled')
    const env = { SIM_API: sim.apiBaseUrl, DB_PATH: dbPath, REDIS_URL, PREFIX: prefix, STALE_AFTER: '5s', CONCURRENCY: '2' }
    const a = new Worker('a', env)
    workers.push(a)
    await a.next((m) => m.type === 'ready')

    // Queued as the role-sync tick queues it (same code, same job id).
    const redis = new Redis(REDIS_URL)
    cleanups.push(async () => { redis.disconnect() })
    const q = await openBullQueue(resolveOptions({ ...base, redis, redisKeyPrefix: prefix, jobs: { backend: 'bullmq' } }), redis, pino({ level: 'silent' }))
    cleanups.push(async () => { await q.queue.close(); q.connection.disconnect() })
    await q.syncGuild(IDS.g1)

    // A is mid-run: some members written, most not.
    const writes = (): number => (sim as DiscordSimulator).requests.filter(isWrite).length
    await until(async () => writes() >= 10 ? true : null, 8_000).catch(async (err) => {
      console.log(JSON.stringify(a.messages), await q.queue.getJobCounts(), (sim as DiscordSimulator).requests.length, JSON.stringify(await q.queue.getJobs(['failed', 'wait', 'active', 'delayed', 'completed'])).slice(0, 2000))
      throw err
    })
    await a.kill()
    const writtenByA = writes()
    expect(writtenByA).toBeLessThan(MEMBERS)

    const b = new Worker('b', env)
    workers.push(b)
    const finished = await b.next((m) => m.type === 'run' && m.sync_type === 'guild' && m.status === 'completed')
    expect(finished.target_id).toBe(IDS.g1)

    // Every member holds the mapped role, written once (A's writes were not redone).
    const missing = Array.from({ length: MEMBERS }, (_, i) => memberId(i)).filter((id) => sim?.state.getMember(IDS.g1, id)?.roles.includes(IDS.pilot) !== true)
    expect(missing).toEqual([])
    expect(writes()).toBeLessThanOrEqual(MEMBERS + 2 * 5)
    // A's run was swept as interrupted; B's completed; the job is gone from the queue.
    const after = await createStore(resolveOptions(base))
    cleanups.push(() => after.close())
    const runs = await after.listSyncRuns({ sync_type: 'guild', target_id: IDS.g1, limit: 10 })
    expect(runs.map((r) => r.status).sort()).toEqual(['completed', 'failed'])
    const dead = runs.find((r) => r.status === 'failed')
    expect(dead?.results.errors.map((e) => e.code)).toContain('stale')
    await until(async () => (await q.queue.getJob(`guild-${IDS.g1}`)) === undefined ? true : null)
  }, 120_000)
})
