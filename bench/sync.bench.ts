/*
 * Role sync benchmark (issue 6). Not a test: it prints figures. Run it with
 *
 *   npx tsx bench/sync.bench.ts [--sizes 1000,10000,100000] [--scale 100] [--baseline-scale 1000] [--strategies ours,seed,alliance] [--nick] [--store memory|file] [--no-renice]
 *
 * `--unforced`: our run without `force` (the guild's limit is 1,000,000 so the brake never holds it):
 * it plans every page before the first write and keeps every candidate meanwhile, where a forced run
 * (the default here) streams pages while it writes (docs/sync.md).
 *
 * `--store`: the benchmark's SQLite store of linked accounts in memory or in a temporary file.
 * Default: in memory up to 100k members, a file above (a million linked accounts in an
 * in-memory database would be ~300 MB of this process's RSS that no real deployment has).
 *
 * `--nick` runs our engine alone on the nickname scenario (bench/sync.sim.ts nickWorld): the guild
 * has the template `[{ticker}] {name}`, 15% of members need a change (roles, nickname or both),
 * and writes must equal exactly those members (the nickname rides in the roles' PATCH).
 *
 * A Discord simulator with Discord's default limits (global 50/s per bot, member writes 10 per
 * 10 s per guild, member reads 5/s, member list pages 10 per 10 s), time-scaled, runs in a
 * child process (bench/sync.sim.ts) so the engine's RSS is measured alone. Guilds of 1k, 10k
 * and 100k linked members, 10% of whom need a change (half of those two changes). Three
 * strategies against the same world:
 *
 * - ours: the plugin's SyncEngine (list pages of 1000, plan, re-read and write once per changed
 *   member, the shared rate limiter sets the pace);
 * - seed: the seed's algorithm: a GET per linked user, one PUT/DELETE per role change, all
 *   behind a fixed 1 request/s limiter (5 workers, as the seed's SyncConfig);
 * - alliance: Alliance Auth's: GET each linked member, PATCH when different, ~1 request/s.
 *
 * For each: requests by kind, writes, 429s (and non-shared ones after their bucket's first
 * response), simulated time (real elapsed x time scale), the ratio to the floor (list pages at
 * 10 per 10 s plus writes at 10 per 10 s), peak RSS of this process during the run, and whether
 * the guild ended exactly right. Baselines never approach a limit (1 req/s), so they run at a
 * larger time scale to finish in minutes; their simulated time does not depend on it.
 */
import { fork, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { loadavg } from 'node:os'
import { fileURLToPath } from 'node:url'
import { performance } from 'node:perf_hooks'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import pLimit from 'p-limit'
import { DEFAULT_REST_OPTIONS, DiscordRestClient } from '../src/discord/index.js'
import { createStore } from '../src/store/index.js'
import { resolveOptions } from '../src/options/index.js'
import type { DiscordStore, RoleMappingRecord } from '../src/store/port/index.js'
import { SyncEngine } from '../src/sync/engine.js'
import { SyncMetrics } from '../src/sync/metrics.js'
import { DiscordSyncEvents } from '../src/events.js'
import type { MembershipInfo, MembershipProvider } from '../src/sync/membership.js'
import { compileGuildPlan } from '../src/sync/planner.js'
import { BENCH, memberId, nickWorld, world, type SimStats } from './sync.sim.js'
import { BenchPriority } from './priority.js'
import Database from 'better-sqlite3'

function arg (name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`)
  return i === -1 ? fallback : (process.argv[i + 1] ?? fallback)
}
const SIZES = arg('sizes', '1000,10000,100000').split(',').map(Number)
const SCALE = Number(arg('scale', '100'))
const STRATEGIES = arg('strategies', 'ours,seed,alliance').split(',')
const BASELINE_SCALE = Number(arg('baseline-scale', '1000'))
const NICK = process.argv.includes('--nick')
const STORE = arg('store', '')
const UNFORCED = process.argv.includes('--unforced')
const KEY = Buffer.alloc(32, 9).toString('base64')
const priority = new BenchPriority()

// A full collection before each measurement, without asking for a node flag on the command line.
setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

// ------------------------------------------------------------------ the simulator process

class Sim {
  readonly #child: ChildProcess
  #pending: Array<{ resolve: (v: any) => void, reject: (e: Error) => void }> = []

  constructor () {
    this.#child = fork(fileURLToPath(new URL('./sync.sim.ts', import.meta.url)), [], { execArgv: ['--import', 'tsx'], stdio: 'inherit' })
    priority.raise(this.#child.pid)
    this.#child.on('message', (m: { ok: boolean, value?: unknown, error?: string }) => {
      const p = this.#pending.shift()
      if (p === undefined) return
      if (m.ok) p.resolve(m.value)
      else p.reject(new Error(m.error))
    })
  }

  get pid (): number | undefined {
    return this.#child.pid
  }

  async call<T> (msg: Record<string, unknown>): Promise<T> {
    return await new Promise<T>((resolve, reject) => {
      this.#pending.push({ resolve, reject })
      this.#child.send(msg)
    })
  }
}

// ------------------------------------------------------------------ measurement helpers

function client (apiBaseUrl: string, scale: number): DiscordRestClient {
  // Windows, offsets and waits shrink with the time scale, exactly as the simulator's do; the
  // client's own defaults otherwise (offsetMs 150 since the three-process Redis benchmark).
  return new DiscordRestClient({
    baseUrl: apiBaseUrl,
    globalWindowMs: DEFAULT_REST_OPTIONS.globalWindowMs / scale,
    offsetMs: DEFAULT_REST_OPTIONS.offsetMs / scale,
    globalOffsetMs: DEFAULT_REST_OPTIONS.globalOffsetMs / scale,
    maxRateLimitWaitMs: 600_000 / scale,
    connections: 16
  })
}

/**
 * Peak RSS and heap of this process while `fn` runs (sampled every 20 ms), and the RSS right
 * before it (after a full collection): the difference is what the run itself added on top of
 * node, tsx, the loaded modules and the benchmark's own store of linked accounts.
 */
async function measured<T> (fn: () => Promise<T>): Promise<{ value: T, realMs: number, rssBefore: number, peakRss: number, peakHeap: number }> {
  gc()
  const rssBefore = process.memoryUsage().rss
  let peak = rssBefore
  let peakHeap = process.memoryUsage().heapUsed
  const sample = (): void => {
    const m = process.memoryUsage()
    peak = Math.max(peak, m.rss)
    peakHeap = Math.max(peakHeap, m.heapUsed)
  }
  const timer = setInterval(sample, 20)
  const started = performance.now()
  try {
    const value = await fn()
    const realMs = performance.now() - started
    sample()
    return { value, realMs, rssBefore, peakRss: peak, peakHeap }
  } finally {
    clearInterval(timer)
  }
}

/** A fixed-rate limiter: one request every `intervalMs`, whoever asks (the baselines' pacing). */
class FixedRate {
  #next = 0
  constructor (readonly intervalMs: number) {}
  async take (): Promise<void> {
    const now = performance.now()
    const at = Math.max(now, this.#next)
    this.#next = at + this.intervalMs
    if (at > now) await new Promise((resolve) => setTimeout(resolve, at - now))
  }
}

const provider: MembershipProvider = {
  getMembership: (userId) => membership(userId),
  getMemberships: (userIds) => new Map(userIds.map((id) => [id, membership(id)]))
}
function membership (userId: string): MembershipInfo {
  const i = Number(userId.slice(1))
  const info: MembershipInfo = { groups: world(i).groups.map((id) => ({ id, name: id })), character_count: 1, permissions: [] }
  return NICK ? { ...info, profile: { ticker: nickWorld(i).ticker, name: `m${i}` } } : info
}

// ------------------------------------------------------------------ strategies

interface Outcome {
  strategy: string
  members: number
  stats: SimStats
  simulatedS: number
  floorS: number
  /** The floor when list pages and writes overlap (they use separate buckets): see pipelineFloorSeconds. */
  pipeFloorS: number
  realS: number
  peakRssMb: number
  /** Peak RSS minus the RSS right before the run. */
  runRssMb: number
  peakHeapMb: number
  needingChange: number
}

function storePath (n: number): string {
  const kind = STORE !== '' ? STORE : n > 100_000 ? 'file' : 'memory'
  return kind === 'memory' ? ':memory:' : join(mkdtempSync(join(tmpdir(), 'sync-bench-')), 'bench.sqlite')
}

async function seedStore (n: number, path: string): Promise<{ store: DiscordStore, mappings: RoleMappingRecord[] }> {
  const store = await createStore(resolveOptions({ store: { type: 'sqlite', path }, encryptionKey: KEY }))
  await store.createGuild({ guild_id: BENCH.guild, guild_name: 'Bench Guild', bot_token: BENCH.botToken, bot_user_id: BENCH.bot, settings: { max_role_changes_per_sync: 1_000_000, ...(NICK ? { nickname_template: '[{ticker}] {name}' } : {}) } })
  const mappings = [
    await store.createMapping({ guild_id: BENCH.guild, group_id: 'pilots', discord_role_id: BENCH.pilot, priority: 1 }),
    await store.createMapping({ guild_id: BENCH.guild, group_id: 'corp', discord_role_id: BENCH.corp, priority: 2 })
  ]
  if (path === ':memory:') {
    for (let i = 0; i < n; i++) await store.createUser({ user_id: `h${i}`, discord_user_id: memberId(i), username: `m${i}` })
  } else {
    await seedFile(n, path)
  }
  return { store, mappings }
}

/** Seeding rows is set-up, not the run: through the store's own createUser, 10,000 to a transaction, on a second connection to the file. */
async function seedFile (n: number, path: string): Promise<void> {
  const db = new Database(path)
  db.pragma('journal_mode = WAL')
  db.pragma('synchronous = OFF')
  const seeding = await createStore(resolveOptions({ store: { type: 'sqlite', database: db }, encryptionKey: KEY }))
  try {
    for (let i = 0; i < n; i++) {
      if (i % 10_000 === 0) db.exec('BEGIN')
      await seeding.createUser({ user_id: `h${i}`, discord_user_id: memberId(i), username: `m${i}` })
      if (i % 10_000 === 9_999 || i === n - 1) db.exec('COMMIT')
    }
  } finally {
    await seeding.close()
    db.close()
  }
}

async function ours (store: DiscordStore, apiBaseUrl: string): Promise<void> {
  const rest = client(apiBaseUrl, SCALE)
  const engine = new SyncEngine({
    store,
    client: rest,
    redis: null,
    membership: provider,
    metrics: new SyncMetrics({ prefix: 'bench_' }),
    log: silentLog,
    events: new DiscordSyncEvents(silentLog),
    settings: { workers: 5, guildConcurrency: 1, lockTtlMs: 3_600_000, heartbeatMs: 15_000, staleAfterMs: 3_600_000, roleCacheTtlMs: 3_600_000, auditChannel: false, redisKeyPrefix: 'bench:' }
  })
  const started = await engine.startManual({ guild_id: BENCH.guild, force: !UNFORCED }, 'bench')
  const run = await started.done
  if (run.status !== 'completed') throw new Error(`our run ended ${run.status}: ${JSON.stringify(run.results.errors.slice(0, 3))}`)
  await rest.close()
}

/** Seed and Alliance Auth: walk the linked users (no member list), pace every request at 1/s. */
async function baseline (kind: 'seed' | 'alliance', n: number, mappings: RoleMappingRecord[], apiBaseUrl: string): Promise<void> {
  const rest = client(apiBaseUrl, BASELINE_SCALE)
  const bot = rest.bot(BENCH.botToken)
  const guild = await bot.getGuild(BENCH.guild, { withCounts: false })
  const roles = guild.roles.map((r) => ({ id: r.id, name: r.name, position: r.position, managed: r.managed }))
  const plan = compileGuildPlan({ guild_id: BENCH.guild, remove_roles_on_leave: true }, roles, 10, mappings)
  const limiter = new FixedRate(1000 / BASELINE_SCALE)
  const workers = pLimit(5)
  await Promise.all(Array.from({ length: n }, (_, i) => workers(async () => {
    const id = memberId(i)
    await limiter.take()
    const member = await bot.getGuildMember(BENCH.guild, id)
    const p = plan({ discord_user_id: id, roles: member.roles }, { user_id: `h${i}`, ...membership(`h${i}`) })
    if (!p.changed) return
    if (kind === 'alliance') {
      await limiter.take()
      await bot.setMemberRoles(BENCH.guild, id, p.desired_roles)
      return
    }
    for (const c of p.add) { await limiter.take(); await bot.addMemberRole(BENCH.guild, id, c.role_id) }
    for (const c of p.remove) { await limiter.take(); await bot.removeMemberRole(BENCH.guild, id, c.role_id) }
  })))
  await rest.close()
}

const noop = (): void => {}
const silentLog = { info: noop, warn: noop, error: noop, debug: noop, trace: noop, fatal: noop, child: () => silentLog, level: 'silent', silent: noop } as never

/**
 * The floor of an engine that reads pages while it writes (list pages and member writes are
 * separate buckets): the slower of the two streams, plus the first page before any write.
 */
function pipelineFloorSeconds (n: number, writes: number): number {
  const pages = Math.floor((n + 1) / 1000) + 1
  return Math.max(pages, writes) + 1
}

function floorSeconds (n: number, writes: number): number {
  // Members plus the bot, 1000 per page; a full last page costs one more (empty) page.
  const pages = Math.floor((n + 1) / 1000) + 1
  // Both buckets allow 10 per 10 s (one per second on average).
  return pages + writes
}

function row (o: Outcome): string {
  const r = o.stats.requests
  const kinds = [
    ['list', r['GET /guilds/:guild_id/members']],
    ['get', r['GET /guilds/:guild_id/members/:user_id']],
    ['guild', r['GET /guilds/:guild_id']],
    ['put', r['PUT /guilds/:guild_id/members/:user_id/roles/:role_id']],
    ['delete', r['DELETE /guilds/:guild_id/members/:user_id/roles/:role_id']],
    ['patch', r['PATCH /guilds/:guild_id/members/:user_id']]
  ].map(([k, v]) => `${k as string}=${(v as number | undefined) ?? 0}`).join(' ')
  const r429 = Object.entries(o.stats.rate_limited).map(([k, v]) => `${k}:${v}`).join(',') || '0'
  return [
    o.strategy.padEnd(9), String(o.members).padStart(6), kinds.padEnd(62),
    `writes=${o.stats.writes}`.padEnd(13), `429=${r429}`.padEnd(12), `ns429>1st=${o.stats.non_shared_429_after_first_response}`.padEnd(12),
    `sim=${o.simulatedS.toFixed(0)}s`.padEnd(12), `floor=${o.floorS}s`.padEnd(13), `ratio=${(o.simulatedS / o.floorS).toFixed(3)}`.padEnd(12),
    `pipe-floor=${o.pipeFloorS}s`.padEnd(18), `pipe-ratio=${(o.simulatedS / o.pipeFloorS).toFixed(3)}`.padEnd(17),
    `real=${o.realS.toFixed(1)}s`.padEnd(11), `rss=${o.peakRssMb.toFixed(0)}MB`.padEnd(10), `run+${o.runRssMb.toFixed(0)}MB`.padEnd(10),
    `heap=${o.peakHeapMb.toFixed(0)}MB`.padEnd(10), o.stats.mismatches === 0 ? 'final=exact' : `final=${o.stats.mismatches} wrong`
  ].join(' ')
}

async function main (): Promise<void> {
  priority.raise()
  const sim = new Sim()
  const outcomes: Outcome[] = []
  const mb = (n: number): string => (n / 1024 / 1024).toFixed(0)
  console.log(`sync benchmark: sizes ${SIZES.join(', ')}; ours at time scale ${SCALE}${UNFORCED ? ' (unforced: plan every page, then write)' : ' (forced: pages streamed while writing)'}, baselines at ${BASELINE_SCALE}; client offsetMs ${DEFAULT_REST_OPTIONS.offsetMs} (scaled); raised priority ${String(priority)}; ` +
    `node ${process.version}; load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}; RSS at start ${mb(process.memoryUsage().rss)} MB (node + tsx + modules)`)
  for (const n of SIZES) {
    // Counted member by member: materialising 100k worlds would grow this process's heap (and
    // its RSS, which V8 keeps) before the engine's run is even measured.
    let needingChange = 0
    for (let i = 0; i < n; i++) {
      const m = world(i)
      const nick = nickWorld(i)
      if (m.before.join() !== m.after.join() || (NICK && nick.before !== nick.after)) needingChange++
    }
    gc()
    const rssEmpty = process.memoryUsage().rss
    const path = storePath(n)
    const seeding = performance.now()
    const { store, mappings } = await seedStore(n, path)
    gc()
    console.log(`  ${n} linked accounts in the benchmark's SQLite store (${path === ':memory:' ? 'in memory' : path}, seeded in ${((performance.now() - seeding) / 1000).toFixed(0)} s): RSS ${mb(rssEmpty)} -> ${mb(process.memoryUsage().rss)} MB`)
    const strategies = ([
      { name: 'ours', scale: SCALE, run: (url: string) => ours(store, url) },
      { name: 'seed', scale: BASELINE_SCALE, run: (url: string) => baseline('seed', n, mappings, url) },
      { name: 'alliance', scale: BASELINE_SCALE, run: (url: string) => baseline('alliance', n, mappings, url) }
    ]).filter((s) => NICK ? s.name === 'ours' : STRATEGIES.includes(s.name))
    let current = null as { scale: number, url: string } | null
    for (const s of strategies) {
      if (current?.scale !== s.scale) {
        current = { scale: s.scale, url: (await sim.call<{ apiBaseUrl: string }>({ op: 'start', n, timeScale: s.scale, nick: NICK })).apiBaseUrl }
        console.log(`  simulator process (pid ${sim.pid ?? '?'}) holding ${n} members: RSS ${mb(await sim.call<number>({ op: 'rss' }))} MB (not counted in the figures below)`)
      } else {
        await sim.call({ op: 'reset' })
      }
      const m = await measured(() => s.run((current as { url: string }).url))
      const stats = await sim.call<SimStats>({ op: 'stats' })
      const o: Outcome = {
        strategy: s.name,
        members: n,
        stats,
        simulatedS: (m.realMs * s.scale) / 1000,
        floorS: floorSeconds(n, needingChange),
        pipeFloorS: pipelineFloorSeconds(n, needingChange),
        realS: m.realMs / 1000,
        peakRssMb: m.peakRss / 1024 / 1024,
        runRssMb: (m.peakRss - m.rssBefore) / 1024 / 1024,
        peakHeapMb: m.peakHeap / 1024 / 1024,
        needingChange
      }
      outcomes.push(o)
      console.log(row(o))
    }
    await store.close()
    if (path !== ':memory:') rmSync(dirname(path), { recursive: true, force: true })
  }
  console.log(`\nsummary (members needing a change = ${NICK ? '15%: roles, nickname or both' : '10%'}):`)
  for (const n of SIZES) {
    const by = (name: string): Outcome | undefined => outcomes.find((o) => o.members === n && o.strategy === name)
    const o = by('ours')
    if (o === undefined) continue
    const speed = (name: string): string => {
      const b = by(name)
      return b === undefined ? 'not run' : `${(b.simulatedS / o.simulatedS).toFixed(1)}x`
    }
    console.log(`  ${String(n).padStart(6)}: writes ${o.stats.writes} for ${o.needingChange} members needing a change (${o.stats.writes === o.needingChange ? 'exact' : 'NOT exact'}); ` +
      `time ${o.simulatedS.toFixed(0)} s = ${((o.simulatedS / o.floorS - 1) * 100).toFixed(1)}% over the floor (${((o.simulatedS / o.pipeFloorS - 1) * 100).toFixed(1)}% over the pipelined floor); faster than seed ${speed('seed')}, than Alliance Auth ${speed('alliance')}; ` +
      `non-shared 429s ${o.stats.non_shared_429} (after first response ${o.stats.non_shared_429_after_first_response}); peak RSS ${o.peakRssMb.toFixed(0)} MB, of which the run added ${o.runRssMb.toFixed(0)} MB (peak heap ${o.peakHeapMb.toFixed(0)} MB)`)
  }
  console.log(`load average at the end ${loadavg().map((l) => l.toFixed(2)).join(' ')}`)
  await sim.call({ op: 'close' }).catch(() => {})
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
