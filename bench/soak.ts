/*
 * Soak (issue 18). Not a test: it prints figures. A host app (the plugin on a SQLite file, a
 * membership provider) talking over real HTTP on 127.0.0.1 to the simulator in a child process
 * (bench/soak-sim.ts), under a steady mixed load for a configurable time, sampled at a fixed
 * interval. Two processes, so the host's heap is the plugin's alone and the simulator's own
 * memory is sampled and judged as a measure of its own:
 *
 *   node --expose-gc --import tsx bench/soak.ts [--minutes 15] [--sample-seconds 60]
 *     [--members 200] [--flip 10] [--complete-every 5] [--retention 10m] [--cleanup-interval 1m] [--sim-log 1000]
 *     [--sim-token-ttl 10m] [--heap-snapshots 25,45] [--redis redis://127.0.0.1:6379]
 *
 * Load: one OAuth login start a second (every `--complete-every`th one is completed against the
 * simulator: consent, callback, token exchange, link); every 15 s an applied guild sync (the
 * membership of `--flip` members changes first, so each applied run writes and audits), a dry
 * run and three user syncs; every 5 s GET /status (admin and anonymous) and GET /sync/status.
 *
 * Samples: RSS, heap after a forced GC (and, of it, what V8 compiled), open descriptors of both
 * processes, the host's event-loop delay since the last sample, rows per table, the SQLite file +
 * WAL, the simulator's request log. bench/soak-summary.ts fits a line to each measure after a
 * warm-up (the longer of sync retention + two cleanup intervals and 20 min for OAuth states:
 * 10 min expiry + 10 min purge interval; by then every pruned table has had time to level off)
 * and judges it flat or not; a run of 90 minutes or more past the warm-up is judged again over
 * its last hour alone.
 *
 * Retention is shortened (10m, cleanup every 1m; the plugin's defaults: 90 days, 6 h) so the
 * cleanup runs during the soak. With --redis the plugin's limits and locks live in that Redis.
 */
import { fork, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { parseArgs } from 'node:util'
import { getHeapCodeStatistics, getHeapSpaceStatistics, writeHeapSnapshot } from 'node:v8'
import { fileURLToPath } from 'node:url'
import { ADMIN, buildWorld, type World } from '../test/helpers/world.js'
import { STATE_BINDING_COOKIE } from '../src/auth/state-binding.js'
import { parseDuration } from '../src/util/duration.js'
import type { SoakSimConfig, SoakSimSample } from './soak-sim.js'
import { header, line, summary, type Sample } from './soak-summary.js'

const { values: args } = parseArgs({
  options: {
    minutes: { type: 'string', default: '15' },
    'sample-seconds': { type: 'string', default: '60' },
    members: { type: 'string', default: '200' },
    flip: { type: 'string', default: '10' },
    'complete-every': { type: 'string', default: '5' },
    retention: { type: 'string', default: '10m' },
    'cleanup-interval': { type: 'string', default: '1m' },
    'sim-log': { type: 'string', default: '1000' },
    'sim-token-ttl': { type: 'string', default: '10m' },
    'heap-snapshots': { type: 'string', default: '' },
    redis: { type: 'string', default: '' }
  }
})
const MINUTES = Number(args.minutes)
const SAMPLE_MS = Number(args['sample-seconds']) * 1000
const MEMBERS = Number(args.members)
const FLIP = Number(args.flip)
const COMPLETE_EVERY = Number(args['complete-every'])
const RETENTION_MS = parseDuration(args.retention) as number
const CLEANUP_MS = parseDuration(args['cleanup-interval']) as number
/**
 * The simulator's request log and Discord audit log (rings, default 10,000 each): kept small so
 * they are full within the warm-up and the simulator's heap can be judged flat after it (~945 B
 * an entry: a 65-minute run with the defaults, simulator in the host's process then, grew the
 * heap 9 MB/h, ~8 of them the request log).
 */
const SIM_LOG = Number(args['sim-log'])
/**
 * The simulator, like Discord, keeps every access token it issued until it expires (and one
 * lifetime more, for revocation): with Discord's 7 days, every login's token stays in the
 * simulator for two weeks, ~1 KB each (issue 18's heap snapshots: an authorization, a token
 * record, code and key strings per login). Shortened so the simulator's token store levels
 * off within the warm-up; the plugin's token refresh then renews the linked users' tokens every
 * run (each expires within tokenRefreshThreshold).
 */
const SIM_TOKEN_TTL_S = (parseDuration(args['sim-token-ttl']) as number) / 1000
/** Ended OAuth authorizations the simulator keeps (its default 1,000 fills only after 80 to 100 minutes of this load). */
const SIM_ENDED_AUTHORIZATIONS = 50
/** Minutes after which the host writes a V8 heap snapshot (to diff when its heap is not flat). */
const SNAPSHOT_AT = args['heap-snapshots'] === '' ? [] : args['heap-snapshots'].split(',').map(Number)
/** OAuth states live 10 min (auth.stateExpiry) and are purged every 10 min: 20 min until they level off. */
const STATE_LEVEL_MIN = 20
/** When every pruned table has had time to level off. */
const WARMUP_MIN = Math.max((RETENTION_MS + 2 * CLEANUP_MS) / 60_000, STATE_LEVEL_MIN)
/** Discord accounts that log in through OAuth (the first members), the rest are linked up front. */
const LOGIN_POOL = 20

const gcFn = (globalThis as { gc?: () => void }).gc
if (gcFn === undefined) {
  console.error('run with node --expose-gc --import tsx bench/soak.ts'); process.exit(2)
}
const gc: () => void = gcFn

const ID = {
  botToken: 'MTEwMDAwMDAwMDAwMDAwMDAwMQ.Gsoak1.soak-benchmark-bot-token-val',
  bot: '1100000000000000001',
  owner: '1100000000000000002',
  guild: '1200000000000000001',
  botRole: '1210000000000000001',
  pilot: '1210000000000000002',
  corp: '1210000000000000003'
}
const OAUTH = { clientId: '1900000000000000001', clientSecret: 'soak-client-secret-0123456789abcdef', redirectUri: 'http://127.0.0.1:3999/discord/auth/callback' }
const memberId = (i: number): string => String(1_400_000_000_000_000_000n + BigInt(i))
const hostId = (i: number): string => `soak-user-${i}`

// ------------------------------------------------------------------ load

/** Responses by operation and status, and failures (thrown, not an HTTP answer). */
const counts = new Map<string, number>()
const count = (key: string): void => { counts.set(key, (counts.get(key) ?? 0) + 1) }

async function http (w: World, op: string, method: string, path: string, opts: { token?: string, body?: unknown, cookie?: string } = {}): Promise<Response | null> {
  const headers: Record<string, string> = {}
  if (opts.token !== undefined) headers.authorization = `Bearer ${opts.token}`
  if (opts.cookie !== undefined) headers.cookie = opts.cookie
  if (opts.body !== undefined) headers['content-type'] = 'application/json'
  try {
    const res = await fetch(`${w.baseUrl}/discord${path}`, { method, headers, redirect: 'manual', ...(opts.body === undefined ? {} : { body: JSON.stringify(opts.body) }) })
    count(`${op} ${res.status}`)
    return res
  } catch (err) {
    count(`${op} threw ${(err as Error).message.slice(0, 40)}`)
    return null
  }
}

// ------------------------------------------------------------------ the simulator's process

/** The simulator in a child process, asked over IPC. */
class SimProcess {
  private nextId = 0
  private readonly waiting = new Map<number, (reply: Record<string, unknown>) => void>()
  private constructor (private readonly child: ChildProcess, readonly ready: { url: string, apiBaseUrl: string, publicKey?: string }) {
    child.on('message', (raw) => {
      const reply = raw as { id: number }
      this.waiting.get(reply.id)?.(reply as unknown as Record<string, unknown>)
      this.waiting.delete(reply.id)
    })
  }

  get pid (): number | undefined { return this.child.pid }

  static async start (config: SoakSimConfig): Promise<SimProcess> {
    const child = fork(fileURLToPath(new URL('./soak-sim.ts', import.meta.url)), [JSON.stringify(config)], {
      execArgv: ['--expose-gc', '--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc']
    })
    const ready = await new Promise<SimProcess['ready']>((resolve, reject) => {
      child.once('message', (m) => { resolve(m as SimProcess['ready']) })
      child.once('exit', (code) => { reject(new Error(`the simulator process exited (${String(code)}) before it was ready`)) })
    })
    return new SimProcess(child, ready)
  }

  private async ask (msg: Record<string, unknown>): Promise<Record<string, unknown>> {
    const id = this.nextId++
    return await new Promise((resolve, reject) => {
      this.waiting.set(id, (reply) => { reply.ok === true ? resolve(reply) : reject(new Error(String(reply.error))) })
      this.child.send({ ...msg, id })
    })
  }

  /** Plays the browser at the consent page, approving as `userId`: Discord's redirect parameters. */
  async authorize (authUrl: string, userId: string): Promise<{ code: string, state: string }> {
    const r = await this.ask({ type: 'authorize', authUrl, userId })
    return { code: String(r.code), state: String(r.state) }
  }

  async sample (): Promise<SoakSimSample> { return (await this.ask({ type: 'sample' })).sample as SoakSimSample }

  async close (): Promise<void> {
    const exited = new Promise<void>((resolve) => { this.child.once('exit', () => { resolve() }) })
    this.child.send({ type: 'close' })
    await exited
  }
}

let logins = 0
async function login (w: World, sim: SimProcess): Promise<void> {
  const n = logins++
  const res = await http(w, 'login start', 'GET', '/auth/login')
  if (res === null) return
  const body = await res.json() as { auth_url?: string }
  if (n % COMPLETE_EVERY !== 0 || typeof body.auth_url !== 'string') return
  const binding = (res.headers.getSetCookie().find((c) => c.startsWith(`${STATE_BINDING_COOKIE}=`)) ?? '').split(';')[0]
  try {
    const { code, state } = await sim.authorize(body.auth_url, memberId((n / COMPLETE_EVERY) % LOGIN_POOL))
    const cb = await http(w, 'login callback', 'GET', `/auth/callback?${new URLSearchParams({ code, state }).toString()}`, { cookie: binding })
    await cb?.arrayBuffer()
  } catch (err) {
    count(`login authorize threw ${(err as Error).message.slice(0, 40)}`)
  }
}

let cycle = 0
async function syncCycle (w: World, admin: string): Promise<void> {
  // Members [c*FLIP, (c+1)*FLIP) change groups, so the applied run has writes to make and audit.
  const c = cycle++
  for (let k = 0; k < FLIP; k++) {
    const i = LOGIN_POOL + ((c * FLIP + k) % (MEMBERS - LOGIN_POOL))
    const groups = w.membership.users.get(hostId(i))?.groups.map((g) => g.id) ?? []
    w.membership.set(hostId(i), groups.includes('pilots') ? ['corp'] : ['pilots'])
  }
  await drain(await http(w, 'sync applied', 'POST', '/sync/manual', { token: admin, body: { guild_id: ID.guild, wait: true } }))
  await drain(await http(w, 'sync dry run', 'POST', '/sync/manual', { token: admin, body: { guild_id: ID.guild, dry_run: true, wait: true } }))
  for (let k = 0; k < 3; k++) {
    const i = LOGIN_POOL + ((c * 3 + k) % (MEMBERS - LOGIN_POOL))
    await drain(await http(w, 'sync user', 'POST', `/sync/user/${hostId(i)}`, { token: admin }))
  }
}

async function reads (w: World, admin: string): Promise<void> {
  await drain(await http(w, 'status admin', 'GET', '/status', { token: admin }))
  await drain(await http(w, 'status anon', 'GET', '/status'))
  await drain(await http(w, 'sync status', 'GET', '/sync/status', { token: admin }))
}

async function drain (res: Response | null): Promise<void> { await res?.arrayBuffer() }

/** Runs `fn` every `ms`, never two at once (a slow round delays the next instead of piling up). */
function every (ms: number, fn: () => Promise<void>, busy: Set<Promise<void>>): () => void {
  let running = false
  const timer = setInterval(() => {
    if (running) { count(`skipped tick ${ms} ms`); return }
    running = true
    const p = fn().catch((err: unknown) => { count(`load threw ${(err as Error).message.slice(0, 40)}`) }).finally(() => { running = false; busy.delete(p) })
    busy.add(p)
  }, ms)
  return () => clearInterval(timer)
}

// ------------------------------------------------------------------ world

async function start (path: string): Promise<{ w: World, sim: SimProcess }> {
  const sim = await SimProcess.start({
    sim: { requestLogLimit: SIM_LOG, auditLogLimit: SIM_LOG, messageLimit: SIM_LOG, accessTokenTtlSeconds: SIM_TOKEN_TTL_S, endedAuthorizationsLimit: SIM_ENDED_AUTHORIZATIONS },
    oauth: OAUTH,
    ids: ID,
    members: Array.from({ length: MEMBERS }, (_, i) => memberId(i))
  })
  const w = await buildWorld({
    sim: false,
    listen: true,
    membership: true,
    plugin: {
      // The plugin opens the file itself, as a deployment does (WAL mode, synchronous NORMAL).
      store: { type: 'sqlite', path },
      ...(args.redis === '' ? {} : { redis: args.redis, redisKeyPrefix: `soak-${process.pid}:` }),
      apiBaseUrl: sim.ready.apiBaseUrl,
      discord: {
        ...OAUTH,
        apiBaseUrl: sim.ready.apiBaseUrl,
        authorizeUrl: `${sim.ready.url}/oauth2/authorize`,
        ...(sim.ready.publicKey === undefined ? {} : { publicKey: sim.ready.publicKey })
      },
      auth: { stateRateLimit: { max: 600, timeWindow: '1m' } },
      tokenRefresh: { enabled: true, interval: '10m' },
      sync: {
        enabled: true,
        retention: RETENTION_MS,
        cleanupInterval: CLEANUP_MS,
        heartbeatInterval: '5s',
        staleAfter: '15s',
        guildTimeout: '2m'
      }
    } as never
  })
  await w.store.createGuild({
    guild_id: ID.guild,
    guild_name: 'Soak Guild',
    bot_token: ID.botToken,
    bot_user_id: ID.bot,
    // Scheduled syncs off: the load below decides when the guild syncs. Brake above any one cycle.
    settings: { auto_sync: false, max_role_changes_per_sync: 10_000 }
  })
  await w.store.createMapping({ guild_id: ID.guild, group_id: 'pilots', discord_role_id: ID.pilot, priority: 1 })
  await w.store.createMapping({ guild_id: ID.guild, group_id: 'corp', discord_role_id: ID.corp, priority: 2 })
  for (let i = LOGIN_POOL; i < MEMBERS; i++) {
    await w.store.createUser({ user_id: hostId(i), discord_user_id: memberId(i), username: `m${i}`, guilds: [{ id: ID.guild, name: 'Soak Guild', permissions: '0' }] })
    w.membership.set(hostId(i), i % 2 === 0 ? ['pilots'] : [])
  }
  return { w, sim }
}

// ------------------------------------------------------------------ sampling

async function storeStats (w: World): Promise<NonNullable<Awaited<ReturnType<NonNullable<World['store']['stats']>>>>> {
  if (w.store.stats === undefined) throw new Error('the SQLite store implements stats()')
  return await w.store.stats()
}

function fileBytes (path: string | undefined): number {
  if (path === undefined) return 0
  let total = 0
  for (const suffix of ['', '-wal', '-shm']) {
    try { total += statSync(path + suffix).size } catch { /* absent side file */ }
  }
  return total
}

const MB = 1024 * 1024

function compiledBytes (): number {
  const c = getHeapCodeStatistics()
  return c.code_and_metadata_size + c.bytecode_and_metadata_size
}

/** Rows from the store's own stats() (what GET /status shows admins); bytes from the files on disk. */
async function sample (w: World, sim: SimProcess, path: string, t0: number, loop: ReturnType<typeof monitorEventLoopDelay>): Promise<Sample> {
  const rows = Object.fromEntries((await storeStats(w)).tables.map((t) => [t.name, t.rows]))
  const child = await sim.sample()
  gc()
  const m = process.memoryUsage()
  const s: Sample = {
    t: (Date.now() - t0) / 60_000,
    rss: m.rss / MB,
    heap: m.heapUsed / MB,
    code: getHeapSpaceStatistics().filter((sp) => sp.space_name.startsWith('code')).reduce((a, sp) => a + sp.space_used_size, 0) / MB,
    compiled: compiledBytes() / MB,
    fds: readdirSync('/proc/self/fd').length,
    loopP99: loop.percentile(99) / 1e6,
    loopMax: loop.max / 1e6,
    dbBytes: fileBytes(path) / MB,
    simLog: child.requests,
    simRss: child.rss / MB,
    simHeap: child.heap / MB,
    simFds: child.fds,
    rows,
    load: loadavg()[0] as number
  }
  loop.reset()
  // The world records every response its hook saw; the soak reads none of them, and must not
  // count the harness's own list as the plugin's growth.
  w.served.length = 0
  return s
}

// ------------------------------------------------------------------ main

async function main (): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'discord-soak-'))
  const path = join(dir, 'discord.sqlite')
  const { w, sim } = await start(path)
  const admin = w.tokenFor(ADMIN)
  const names = (await storeStats(w)).tables.map((t) => t.name)
  console.log(`node ${process.version}; load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}; ${new Date().toISOString()}`)
  console.log(`soak: ${MINUTES} min, sample every ${SAMPLE_MS / 1000} s; guild of ${MEMBERS} members (${LOGIN_POOL} log in through OAuth, ${MEMBERS - LOGIN_POOL} linked up front), ${FLIP} change groups per 15 s cycle`)
  console.log('load: 1 login start/s (every ' + COMPLETE_EVERY + 'th completed: consent, callback, link, sync on link); every 15 s an applied guild sync, a dry run, 3 user syncs; every 5 s GET /status (admin, anonymous) and GET /sync/status')
  console.log(`retention SHORTENED for the soak: sync.retention ${args.retention}, sync.cleanupInterval ${args['cleanup-interval']} (plugin defaults 90d, 6h); ` +
    'OAuth states purged every auth.stateExpiry (10m); tokenRefresh every 10m, its runs kept tokenRefresh.retention (90d: at most 7 in this soak)')
  console.log(`store: SQLite file ${path}, opened by the plugin (WAL); rows from store.stats(), bytes = file + WAL + shm on disk; simulator in a child process (pid ${sim.pid}), its request log bounded at ${SIM_LOG} entries, its access tokens expire after ${args['sim-token-ttl']} (Discord: 7 days); rate limits generous (the world's default); Redis: ${args.redis === '' ? 'none' : args.redis}`)

  const loop = monitorEventLoopDelay({ resolution: 10 })
  loop.enable()
  const t0 = Date.now()
  const busy = new Set<Promise<void>>()
  const stops = [
    every(1000, async () => await login(w, sim), busy),
    every(15_000, async () => await syncCycle(w, admin), busy),
    every(5000, async () => await reads(w, admin), busy)
  ]
  const samples: Sample[] = []
  const snapshotted = new Set<number>()
  const snapshotDir = mkdtempSync(join(tmpdir(), 'discord-soak-heap-'))
  console.log(header(names))
  const first = await sample(w, sim, path, t0, loop)
  samples.push(first)
  console.log(line(first, names))
  const end = t0 + MINUTES * 60_000
  await new Promise<void>((resolve, reject) => {
    const timer = setInterval(() => {
      sample(w, sim, path, t0, loop).then((s) => {
        samples.push(s)
        console.log(line(s, names))
        const due = SNAPSHOT_AT.filter((m) => m <= s.t && !snapshotted.has(m))
        for (const m of due) {
          snapshotted.add(m)
          console.log(`heap snapshot (minute ${m}): ${writeHeapSnapshot(join(snapshotDir, `host-${m}min.heapsnapshot`))}`)
        }
        if (Date.now() + SAMPLE_MS / 2 > end) { clearInterval(timer); resolve() }
      }, (err: unknown) => { clearInterval(timer); reject(err instanceof Error ? err : new Error(String(err))) })
    }, SAMPLE_MS)
  })
  for (const stop of stops) stop()
  await Promise.allSettled([...busy])
  loop.disable()
  console.log('')
  console.log('responses: ' + [...counts.entries()].sort().map(([k, v]) => `${k}: ${v}`).join('; '))
  for (const l of summary(samples, names, WARMUP_MIN)) console.log(l)
  console.log(`load average at end ${loadavg().map((l) => l.toFixed(2)).join(' ')}; ${new Date().toISOString()}`)
  await w.close()
  await sim.close()
  rmSync(dir, { recursive: true, force: true })
}

await main()
