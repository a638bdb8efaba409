/*
 * Many guilds (issue 16, "Show"). Not a test: it prints figures. Run it with
 *
 *   npx tsx bench/guilds.bench.ts [--scenarios 20x5000,100x1000] [--scale 1] [--guild-concurrency N] [--no-renice]
 *
 * One bot in G guilds of N members each (the same N users in every guild; 10% need a change, as
 * bench/sync.sim.ts world(i)), Discord's default limits (global 50/s per bot, member writes
 * 10 per 10 s per guild, member reads 5/s, list pages 10 per 10 s), time-scaled, in a child
 * process (bench/guilds.sim.ts). One full sync of every guild by the plugin's SyncEngine at the
 * plugin's default settings (`--guild-concurrency` overrides `sync.guildConcurrency` to compare
 * with the old fixed default 2).
 *
 * Printed per scenario: simulated time (real elapsed x time scale) and its ratio to the all-guild
 * floor, the larger of
 * - the per-guild write floor: list pages plus writes of one guild, each at 10 per 10 s (as
 *   bench/sync.bench.ts), guilds in parallel;
 * - the global floor: every request the run needed (answered, not 429) at 50 per second;
 * global 429s, non-shared 429s after their bucket's first response, the most requests that
 * reached the simulator in any sliding simulated second (and in one of its fixed windows), and
 * whether every member of every guild ended exactly right.
 *
 * Backends: `--backend local` (default) runs the engine in this process. The shape leaves room for
 * `--backend bullmq --workers N` (N worker processes sharing Redis): a backend only has to start
 * the run against the simulator's URL and resolve when every guild has finished; the simulator's
 * statistics and the floor are computed the same way for every backend.
 */
import { fork, type ChildProcess } from 'node:child_process'
import { loadavg } from 'node:os'
import { fileURLToPath } from 'node:url'
import { performance } from 'node:perf_hooks'
import { DEFAULT_REST_OPTIONS, DiscordRestClient } from '../src/discord/index.js'
import { createStore } from '../src/store/index.js'
import { resolveOptions } from '../src/options/index.js'
import type { DiscordStore } from '../src/store/port/index.js'
import { SyncEngine } from '../src/sync/engine.js'
import { SyncMetrics } from '../src/sync/metrics.js'
import { DiscordSyncEvents } from '../src/events.js'
import type { MembershipInfo, MembershipProvider } from '../src/sync/membership.js'
import { BENCH, memberId, world } from './sync.sim.js'
import { BenchPriority } from './priority.js'
import { guildWorld, type GuildsSimStats } from './guilds.sim.js'

function arg (name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`)
  return i === -1 ? fallback : (process.argv[i + 1] ?? fallback)
}
const SCENARIOS = arg('scenarios', '20x5000,100x1000').split(',').map((s) => {
  const [g, n] = s.split('x').map(Number)
  if (!Number.isInteger(g) || !Number.isInteger(n) || (g as number) < 1 || (n as number) < 1) throw new Error(`bad scenario ${s} (want GUILDSxMEMBERS)`)
  return { guilds: g as number, members: n as number }
})
const SCALE = Number(arg('scale', '1'))
const CONCURRENCY = arg('guild-concurrency', '')
const BACKEND = arg('backend', 'local')
const WORKERS = Number(arg('workers', '1'))
const KEY = Buffer.alloc(32, 9).toString('base64')
const GLOBAL_PER_SECOND = 50

// ------------------------------------------------------------------ the simulator process

const priority = new BenchPriority()

class Sim {
  readonly #child: ChildProcess
  #pending: Array<{ resolve: (v: any) => void, reject: (e: Error) => void }> = []

  constructor () {
    this.#child = fork(fileURLToPath(new URL('./guilds.sim.ts', import.meta.url)), [], { execArgv: ['--import', 'tsx'], stdio: 'inherit' })
    priority.raise(this.#child.pid)
    this.#child.on('message', (m: { ok: boolean, value?: unknown, error?: string }) => {
      const p = this.#pending.shift()
      if (p === undefined) return
      if (m.ok) p.resolve(m.value)
      else p.reject(new Error(m.error))
    })
  }

  kill (): void {
    this.#child.kill()
  }

  async call<T> (msg: Record<string, unknown>): Promise<T> {
    return await new Promise<T>((resolve, reject) => {
      this.#pending.push({ resolve, reject })
      this.#child.send(msg)
    })
  }
}

// ------------------------------------------------------------------ the world on the host's side

const provider: MembershipProvider = {
  getMembership: (userId) => membership(userId),
  getMemberships: (userIds) => new Map(userIds.map((id) => [id, membership(id)]))
}
function membership (userId: string): MembershipInfo {
  const i = Number(userId.slice(1))
  return { groups: world(i).groups.map((id) => ({ id, name: id })), character_count: 1, permissions: [] }
}

async function seedStore (guilds: number, members: number): Promise<DiscordStore> {
  const store = await createStore(resolveOptions({ store: { type: 'sqlite', path: ':memory:' }, encryptionKey: KEY }))
  for (let g = 0; g < guilds; g++) {
    const w = guildWorld(g)
    await store.createGuild({ guild_id: w.guild, guild_name: `Bench Guild ${g}`, bot_token: BENCH.botToken, bot_user_id: BENCH.bot, settings: { max_role_changes_per_sync: 1_000_000 } })
    await store.createMapping({ guild_id: w.guild, group_id: 'pilots', discord_role_id: w.pilot, priority: 1 })
    await store.createMapping({ guild_id: w.guild, group_id: 'corp', discord_role_id: w.corp, priority: 2 })
  }
  for (let i = 0; i < members; i++) await store.createUser({ user_id: `h${i}`, discord_user_id: memberId(i), username: `m${i}` })
  return store
}

const noop = (): void => {}
const silentLog = { info: noop, warn: noop, error: noop, debug: noop, trace: noop, fatal: noop, child: () => silentLog, level: 'silent', silent: noop } as never

// ------------------------------------------------------------------ backends

/** Runs one full sync of every guild against the simulator; resolves when every guild has finished. */
type Backend = (input: { store: DiscordStore, apiBaseUrl: string, guilds: number }) => Promise<void>

/** The plugin's engine in this process, at the plugin's default `sync` settings. */
const local: Backend = async ({ store, apiBaseUrl, guilds }) => {
  // Windows, offsets and waits shrink with the time scale, exactly as the simulator's do.
  const rest = new DiscordRestClient({
    baseUrl: apiBaseUrl,
    globalWindowMs: DEFAULT_REST_OPTIONS.globalWindowMs / SCALE,
    offsetMs: DEFAULT_REST_OPTIONS.offsetMs / SCALE,
    globalOffsetMs: DEFAULT_REST_OPTIONS.globalOffsetMs / SCALE,
    maxRateLimitWaitMs: 600_000 / SCALE
  })
  const sync = resolveOptions({ store: { type: 'sqlite', path: ':memory:' }, encryptionKey: KEY, ...(CONCURRENCY === '' ? {} : { sync: { guildConcurrency: Number(CONCURRENCY) } }) }).sync
  const engine = new SyncEngine({
    store,
    client: rest,
    redis: null,
    membership: provider,
    metrics: new SyncMetrics({ prefix: 'bench_' }),
    log: silentLog,
    events: new DiscordSyncEvents(silentLog),
    settings: { ...sync, redisKeyPrefix: 'bench:' }
  })
  const started = await engine.startManual({ force: true }, 'bench')
  const run = await started.done
  const done = (run.results.guilds ?? []).filter((g) => g.status === 'completed').length
  if (run.status !== 'completed' || done !== guilds) throw new Error(`run ended ${run.status} with ${done}/${guilds} guilds completed: ${JSON.stringify(run.results.errors.slice(0, 3))}`)
  await rest.close()
}

const BACKENDS: Record<string, Backend> = { local }

// ------------------------------------------------------------------ figures

/** One guild's pages plus writes at 10 per 10 s each (one per second), as bench/sync.bench.ts. */
function guildFloorSeconds (members: number, writes: number): number {
  return Math.floor((members + 1) / 1000) + 1 + writes
}

async function main (): Promise<void> {
  const backend = BACKENDS[BACKEND]
  if (backend === undefined) throw new Error(`backend ${BACKEND} is not built yet (known: ${Object.keys(BACKENDS).join(', ')})`)
  if (BACKEND === 'local' && WORKERS !== 1) throw new Error('--workers needs a multi-process backend')
  priority.raise()
  const sim = new Sim()
  try {
    await scenarios(sim, backend)
  } finally {
    await sim.call({ op: 'close' }).catch(() => {})
    sim.kill()
  }
}

async function scenarios (sim: Sim, backend: Backend): Promise<void> {
  const load = (): string => loadavg().map((l) => l.toFixed(2)).join(' ')
  console.log(`guilds benchmark: backend ${BACKEND}; time scale ${SCALE}; sync.guildConcurrency ${CONCURRENCY === '' ? 'default' : CONCURRENCY}; raised priority ${String(priority)}; node ${process.version}; load average ${load()}`)
  for (const { guilds, members } of SCENARIOS) {
    let perGuildWrites = 0
    for (let i = 0; i < members; i++) if (world(i).before.join() !== world(i).after.join()) perGuildWrites++
    const store = await seedStore(guilds, members)
    const { apiBaseUrl } = await sim.call<{ apiBaseUrl: string }>({ op: 'start', guilds, members, timeScale: SCALE })
    const started = performance.now()
    await backend({ store, apiBaseUrl, guilds })
    const simulatedS = (performance.now() - started) * SCALE / 1000
    const s = await sim.call<GuildsSimStats>({ op: 'stats' })
    await store.close()
    const answered = s.total - Object.values(s.rate_limited).reduce((a, b) => a + b, 0)
    const guildFloor = guildFloorSeconds(members, perGuildWrites)
    const globalFloor = answered / GLOBAL_PER_SECOND
    const floor = Math.max(guildFloor, globalFloor)
    const r429 = Object.entries(s.rate_limited).map(([k, v]) => `${k}:${v}`).join(',') || '0'
    console.log(`${guilds} guilds x ${members} members: time ${simulatedS.toFixed(0)} s, floor ${floor.toFixed(0)} s (per-guild writes ${guildFloor} s, ` +
      `${answered} requests / ${GLOBAL_PER_SECOND} per s = ${globalFloor.toFixed(0)} s) -> ratio ${(simulatedS / floor).toFixed(3)}; ` +
      `writes ${s.writes} (expected ${guilds * perGuildWrites}); 429s ${r429}; global 429s ${s.rate_limited.global ?? 0}; ` +
      `non-shared 429s after first contact ${s.non_shared_429_after_first_response}; max requests in a sliding second ${s.max_sliding_second} ` +
      `(in a simulator window ${s.max_fixed_window}); end state ${s.mismatches === 0 ? 'exact' : `${s.mismatches} members wrong`}; load average ${load()}`)
  }
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
