/*
 * Many guilds on BullMQ workers (issue 16, part 2): W worker processes (jobs.backend "bullmq",
 * jobs.role "worker") share Redis and a SQLite file and sync G guilds of M members each against
 * the Discord simulator at Discord's default limits (one bot, its global 50 requests a second).
 * One worker is SIGKILLed once a third of the writes are done. Prints whether every guild
 * converged, the runs, the 429s by scope and the most requests the simulator saw in any sliding
 * second (Discord's global limit is 50).
 *
 *   npx tsx bench/guilds-workers.ts [--guilds 20] [--members 500] [--workers 3] [--no-kill]
 *
 * Needs Redis (REDIS_URL, default redis://127.0.0.1:6379); keys under a prefix of the run's own.
 * The worker process is test/jobs/fixtures/jobs-process.ts (the one the stalled-job test runs).
 */
import { fork, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { Redis } from 'ioredis'
import pino from 'pino'
import { openBullQueue } from '../src/jobs/bullmq.js'
import { resolveOptions } from '../src/options/resolve.js'
import { createStore } from '../src/store/index.js'
import { createDiscordSimulator, PermissionFlags } from '../src/testing/index.js'

const { values: args } = parseArgs({
  options: {
    guilds: { type: 'string', default: '20' },
    members: { type: 'string', default: '500' },
    workers: { type: 'string', default: '3' },
    'no-kill': { type: 'boolean', default: false }
  }
})
const GUILDS = Number(args.guilds)
const MEMBERS = Number(args.members)
const WORKERS = Number(args.workers)
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
const WORKER = fileURLToPath(new URL('../test/jobs/fixtures/jobs-process.ts', import.meta.url))

const BOT_TOKEN = 'MTEwMDAwMDAwMDAwMDAwMDAwMQ.Gbench.guilds-workers-bench-bot-token'
const BOT = '1100000000000000001'
const guildId = (g: number): string => String(1_200_000_000_000_000_000n + BigInt(g))
const botRole = (g: number): string => String(1_300_000_000_000_000_000n + BigInt(g))
const pilotRole = (g: number): string => String(1_400_000_000_000_000_000n + BigInt(g))
const memberId = (i: number): string => String(300_000_000_000_000_000n + BigInt(i))
/** 10% of each guild's members lack the role they are entitled to. */
const needsChange = (i: number): boolean => i % 10 === 0

const sim = await createDiscordSimulator()
const s = sim.state
s.addBot({ token: BOT_TOKEN, user: { id: BOT, username: 'benchbot' } })
s.addUser({ id: '1100000000000000002', username: 'owner' })
for (let i = 0; i < MEMBERS; i++) s.addUser({ id: memberId(i) })
const dir = mkdtempSync(join(tmpdir(), 'guilds-workers-'))
const dbPath = join(dir, 'store.sqlite')
const base = { store: { type: 'sqlite' as const, path: dbPath }, encryptionKey: Buffer.alloc(32, 7).toString('base64') }
const store = await createStore(resolveOptions(base))
for (let g = 0; g < GUILDS; g++) {
  const id = guildId(g)
  s.addGuild({ id, name: `Guild ${g}`, owner_id: '1100000000000000002' })
  s.addRole(id, { id: botRole(g), name: 'benchbot', position: 10, permissions: PermissionFlags.MANAGE_ROLES })
  s.addRole(id, { id: pilotRole(g), name: 'Pilot', position: 5 })
  s.addMember(id, BOT, [botRole(g)])
  for (let i = 0; i < MEMBERS; i++) s.addMember(id, memberId(i), needsChange(i) ? [] : [pilotRole(g)])
  await store.createGuild({ guild_id: id, guild_name: `Guild ${g}`, bot_token: BOT_TOKEN, bot_user_id: BOT, settings: { max_role_changes_per_sync: MEMBERS } })
  await store.createMapping({ guild_id: id, group_id: 'pilots', discord_role_id: pilotRole(g) })
}
for (let i = 0; i < MEMBERS; i++) await store.createUser({ user_id: `h${i}`, discord_user_id: memberId(i), username: `m${i}`, guilds: [] })
await store.close()

const prefix = `bench:guilds-workers:${process.pid}:${Date.now().toString(36)}:`
const env = { SIM_API: sim.apiBaseUrl, DB_PATH: dbPath, REDIS_URL, PREFIX: prefix, STALE_AFTER: '5s', CONCURRENCY: '4' }
const runs: Array<{ name: string, status: string }> = []
const children: ChildProcess[] = []
const ready: Array<Promise<void>> = []
for (let w = 0; w < WORKERS; w++) {
  const child = fork(WORKER, [], { execArgv: ['--import', 'tsx'], env: { ...process.env, ...env, NAME: `w${w}` }, stdio: ['ignore', 'ignore', 'inherit', 'ipc'] })
  children.push(child)
  ready.push(new Promise((resolve, reject) => {
    child.once('exit', (code) => { reject(new Error(`worker w${w} exited (${code ?? 'signal'}) before it was ready`)) })
    child.on('message', (m: { type: string, name: string, sync_type?: string, status?: string }) => {
      if (m.type === 'ready') resolve()
      if (m.type === 'run' && m.sync_type === 'guild') runs.push({ name: m.name, status: m.status ?? '' })
    })
  }))
}
await Promise.all(ready).catch((err: unknown) => {
  for (const c of children) c.kill('SIGKILL')
  throw err
})

const redis = new Redis(REDIS_URL)
const queue = await openBullQueue(resolveOptions({ ...base, redis, redisKeyPrefix: prefix, jobs: { backend: 'bullmq' } }), redis, pino({ level: 'silent' }))
const started = performance.now()
sim.clearRequests()
for (let g = 0; g < GUILDS; g++) await queue.syncGuild(guildId(g))

const isWrite = (r: { method: string, route: string | null }): boolean => r.method !== 'GET' && r.route !== null && r.route.includes('/members/')
const totalChanges = GUILDS * Math.ceil(MEMBERS / 10)
const wrong = (): number => {
  let n = 0
  for (let g = 0; g < GUILDS; g++) for (let i = 0; i < MEMBERS; i++) if (s.getMember(guildId(g), memberId(i))?.roles.includes(pilotRole(g)) !== true) n++
  return n
}
let killedAt: number | null = null
// A bench waits on the world it measures: every member update in the simulator re-checks
// convergence (and, a third of the way through the writes, kills worker 0); 10 min bounds it.
let written = 0
await new Promise<void>((resolve) => {
  const deadline = setTimeout(finish, 600_000)
  const off = s.events.on('memberUpdate', () => {
    written++
    if (!args['no-kill'] && killedAt === null && written >= totalChanges / 3) {
      children[0]?.kill('SIGKILL')
      killedAt = (performance.now() - started) / 1000
    }
    if (wrong() === 0) finish()
  })
  function finish (): void {
    clearTimeout(deadline)
    off()
    resolve()
  }
  if (wrong() === 0) finish()
})
const seconds = (performance.now() - started) / 1000
const requests = sim.requests
let maxWindow = 0
for (let a = 0, b = 0; b < requests.length; b++) {
  while ((requests[b]?.at ?? 0) - (requests[a]?.at ?? 0) >= 1000) a++
  maxWindow = Math.max(maxWindow, b - a + 1)
}
const by429 = new Map<string, number>()
for (const r of requests) if (r.status === 429) by429.set(r.scope ?? 'unknown', (by429.get(r.scope ?? 'unknown') ?? 0) + 1)
const writes = requests.filter(isWrite).length
console.log(JSON.stringify({
  guilds: GUILDS,
  members_per_guild: MEMBERS,
  workers: WORKERS,
  killed_worker_at_s: killedAt,
  seconds: Number(seconds.toFixed(2)),
  members_wrong_at_end: wrong(),
  converged: wrong() === 0,
  changes_needed: totalChanges,
  writes,
  requests: requests.length,
  floor_s_global: Number((requests.length / 50).toFixed(2)),
  ratio_to_global_floor: Number((seconds / (requests.length / 50)).toFixed(2)),
  max_requests_in_any_sliding_second: maxWindow,
  rate_limited_429: Object.fromEntries(by429),
  guild_runs: runs.reduce<Record<string, number>>((o, r) => { o[`${r.name}:${r.status}`] = (o[`${r.name}:${r.status}`] ?? 0) + 1; return o }, {})
}, null, 2))

for (const c of children) c.kill('SIGKILL')
await queue.queue.obliterate({ force: true }).catch(() => {})
await queue.queue.close()
queue.connection.disconnect()
redis.disconnect()
await sim.close()
rmSync(dir, { recursive: true, force: true })
