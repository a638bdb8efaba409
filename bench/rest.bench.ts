/*
 * REST benchmark (issue 3, "Benchmark"): prints figures, asserts nothing. Run with
 *
 *   npx tsx bench/rest.bench.ts [--part compare|procs|all] [--scale 10] [--scaled-global]
 *
 * Part 1 (compare): the same request mix, issued all at once as a sync engine would, through
 * our DiscordRestClient and then through @discordjs/rest, each against a fresh simulator with
 * Discord's default limits running --scale times faster than real time. Per guild: get guild,
 * get roles, list every member in pages of 1000, --reads GET member, --writes role writes
 * (PATCH / PUT / DELETE in turn), over --guilds guilds, so that the per-guild member-write
 * bucket and the global 50/s both bind. Printed for each client: completion time (simulated
 * = wall x scale), requests the simulator received, 429s by scope, invalid requests the
 * simulator counted, whether the final simulator state is the expected one, and the ratio to
 * the theoretical floor.
 *
 * Both clients run with their defaults except the base URL. Both keep their global limit in
 * REAL time (50 per real second), which against a time-scaled simulator is 50/scale per
 * simulated second; --scaled-global expresses it in simulated time instead, as far as each
 * client allows (ours: globalWindowMs = 1000/scale; @discordjs/rest has no window option,
 * so globalRequestsPerSecond = 50 x scale over its fixed 1 s window). --scale 1 needs neither.
 *
 * Part 2 (procs): --procs child processes (bench/rest-worker.ts) share one bot token and,
 * in the first round, one Redis (a key prefix unique to this run, deleted afterwards)
 * against ONE simulator started here; each issues --per-proc reads at once over --proc-guilds
 * guilds (three 5/s buckets per guild, far above the global limit together). From the
 * simulator's own arrival times: the most requests in any sliding window of one simulated
 * second, and 429s by scope. The second round repeats it without Redis. Each round has a
 * fresh simulator, so no window of an earlier round is still open. --proc-offset-ms sets the
 * workers' offsetMs (default: the client's DEFAULT_REST_OPTIONS.offsetMs). --proc-stall-ms N makes
 * worker 0 block its event loop for N ms every 1.5 s (a GC pause or long synchronous task), to
 * see the shared limiter with a stalled process; each worker prints its Redis fallbacks.
 */
import { fork } from 'node:child_process'
import { setMaxListeners } from 'node:events'
import { loadavg } from 'node:os'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { REST } from '@discordjs/rest'
import { Routes, type APIGuild, type APIGuildMember, type APIRole } from 'discord-api-types/v10'
import { Redis } from 'ioredis'
import { DEFAULT_REST_OPTIONS, DiscordRestClient } from '../src/discord/index.js'
import { createDiscordSimulator, maxInSimulatorWindows, maxInSlidingWindow, PermissionFlags, type DiscordSimulator, type RecordedRequest } from '../src/testing/index.js'
import type { FromWorker, WorkerResult } from './rest-shared.js'

const { values: args } = parseArgs({
  options: {
    part: { type: 'string', default: 'all' },
    scale: { type: 'string', default: '10' },
    'scaled-global': { type: 'boolean', default: false },
    guilds: { type: 'string', default: '5' },
    members: { type: 'string', default: '2500' },
    reads: { type: 'string', default: '20' },
    writes: { type: 'string', default: '40' },
    'max-seconds': { type: 'string', default: '180' },
    procs: { type: 'string', default: '3' },
    'per-proc': { type: 'string', default: '200' },
    'proc-guilds': { type: 'string', default: '10' },
    'proc-scale': { type: 'string', default: '1' },
    'proc-offset-ms': { type: 'string' },
    'proc-stall-ms': { type: 'string', default: '0' },
    redis: { type: 'string', default: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' }
  }
})

function num (name: keyof typeof args): number {
  const n = Number(args[name])
  if (!Number.isFinite(n) || n <= 0) throw new RangeError(`--${name} must be a positive number, got ${String(args[name])}`)
  return n
}

const PART = args.part as string
const SCALE = num('scale')
const SCALED_GLOBAL = args['scaled-global'] === true
const GUILDS = num('guilds')
const MEMBERS = num('members')
const READS = num('reads')
const WRITES = num('writes')
const MAX_MS = num('max-seconds') * 1000
const PROCS = num('procs')
const PER_PROC = num('per-proc')
const PROC_GUILDS = num('proc-guilds')
const PROC_SCALE = num('proc-scale')
/** Client offsetMs in the workers; undefined keeps the client's default. */
const PROC_OFFSET_MS = args['proc-offset-ms'] === undefined ? undefined : Number(args['proc-offset-ms'])
if (PROC_OFFSET_MS !== undefined && !(PROC_OFFSET_MS >= 0)) throw new RangeError('--proc-offset-ms must be a non-negative number')
/** Worker 0 blocks its event loop this long every 1.5 s (a stalled process); 0: never. */
const PROC_STALL_MS = Number(args['proc-stall-ms'])
if (!(PROC_STALL_MS >= 0)) throw new RangeError('--proc-stall-ms must be a non-negative number')
const REDIS_URL = args.redis as string
if (!['compare', 'procs', 'all'].includes(PART)) throw new RangeError('--part must be compare, procs or all')
if (!REDIS_URL.startsWith('redis://127.0.0.1') && !REDIS_URL.startsWith('redis://localhost')) throw new RangeError('--redis must be on loopback')

const TOKEN = 'MTEwMDAwMDAwMDAwMDAwMDAwMQ.bench.rest-benchmark-token'
const BOT_ID = '1100000000000000001'
const OWNER_ID = '1100000000000000002'
const guildId = (g: number): string => String(1300000000000000000n + BigInt(g + 1))
const roleId = (g: number, r: number): string => String(1310000000000000000n + BigInt(g * 10 + r))
/** Per guild: bot role (10, Manage Roles), A (5), B (4), D (3, every seeded member holds it). */
const ROLE = { bot: 0, a: 1, b: 2, d: 3 } as const

const fmt = (n: number, digits = 2): string => n.toFixed(digits)
const load = (): string => loadavg().map((l) => l.toFixed(2)).join(' ')

// ------------------------------------------------------------------ world

interface GuildWorld {
  id: string
  members: string[]
  roles: { bot: string, a: string, b: string, d: string }
}

function seed (sim: DiscordSimulator, guilds: number, members: number): GuildWorld[] {
  const s = sim.state
  s.addBot({ token: TOKEN, user: { id: BOT_ID, username: 'bench-bot' } })
  const out: GuildWorld[] = []
  for (let g = 0; g < guilds; g++) {
    const id = guildId(g)
    const roles = { bot: roleId(g, ROLE.bot), a: roleId(g, ROLE.a), b: roleId(g, ROLE.b), d: roleId(g, ROLE.d) }
    s.addGuild({ id, name: `bench ${g}`, owner_id: OWNER_ID })
    s.addRole(id, { id: roles.bot, name: 'bench-bot', position: 10, permissions: PermissionFlags.MANAGE_ROLES })
    s.addRole(id, { id: roles.a, name: 'A', position: 5 })
    s.addRole(id, { id: roles.b, name: 'B', position: 4 })
    s.addRole(id, { id: roles.d, name: 'D', position: 3 })
    s.addMember(id, BOT_ID, [roles.bot])
    out.push({ id, roles, members: s.seedMembers(id, members, [roles.d]) })
  }
  return out
}

// ------------------------------------------------------------------ part 1: the request mix

/** The operations both clients perform; each returns what the state check needs. */
interface Ops {
  getGuild: (guild: string) => Promise<APIGuild>
  getRoles: (guild: string) => Promise<APIRole[]>
  /** Every member id, paging by 1000 with `after`. */
  listMembers: (guild: string) => Promise<string[]>
  getMember: (guild: string, user: string) => Promise<APIGuildMember>
  patchRoles: (guild: string, user: string, roles: string[]) => Promise<unknown>
  addRole: (guild: string, user: string, role: string) => Promise<unknown>
  removeRole: (guild: string, user: string, role: string) => Promise<unknown>
  close: () => Promise<void>
}

const REASON = 'bench: role sync'

function ourOps (sim: DiscordSimulator, signal: AbortSignal): Ops {
  const client = new DiscordRestClient({
    baseUrl: sim.apiBaseUrl,
    ...(SCALED_GLOBAL ? { globalWindowMs: 1000 / SCALE } : {})
  })
  const bot = client.bot(TOKEN)
  return {
    getGuild: (g) => bot.getGuild(g, { signal }),
    getRoles: (g) => bot.getGuildRoles(g, { signal }),
    listMembers: async (g) => {
      const ids: string[] = []
      for await (const page of bot.listGuildMembers(g, { limit: 1000, signal })) ids.push(...page.map((m) => m.user.id))
      return ids
    },
    getMember: (g, u) => bot.getGuildMember(g, u, { signal }),
    patchRoles: (g, u, roles) => bot.setMemberRoles(g, u, roles, { reason: REASON, signal }),
    addRole: (g, u, r) => bot.addMemberRole(g, u, r, { reason: REASON, signal }),
    removeRole: (g, u, r) => bot.removeMemberRole(g, u, r, { reason: REASON, signal }),
    close: () => client.close()
  }
}

function discordjsOps (sim: DiscordSimulator, signal: AbortSignal): Ops {
  const rest = new REST({
    api: `${sim.url}/api`,
    version: '10',
    ...(SCALED_GLOBAL ? { globalRequestsPerSecond: 50 * SCALE } : {})
  }).setToken(TOKEN)
  return {
    getGuild: async (g) => await rest.get(Routes.guild(g), { query: new URLSearchParams({ with_counts: 'true' }), signal }) as APIGuild,
    getRoles: async (g) => await rest.get(Routes.guildRoles(g), { signal }) as APIRole[],
    listMembers: async (g) => {
      const ids: string[] = []
      let after = '0'
      for (;;) {
        const page = await rest.get(Routes.guildMembers(g), { query: new URLSearchParams({ limit: '1000', after }), signal }) as APIGuildMember[]
        ids.push(...page.map((m) => m.user.id))
        if (page.length < 1000) return ids
        after = (page.at(-1) as APIGuildMember).user.id
      }
    },
    getMember: async (g, u) => await rest.get(Routes.guildMember(g, u), { signal }) as APIGuildMember,
    patchRoles: (g, u, roles) => rest.patch(Routes.guildMember(g, u), { body: { roles }, reason: REASON, signal }),
    addRole: (g, u, r) => rest.put(Routes.guildMemberRole(g, u, r), { reason: REASON, signal }),
    removeRole: (g, u, r) => rest.delete(Routes.guildMemberRole(g, u, r), { reason: REASON, signal }),
    close: async () => {
      rest.clearHashSweeper()
      rest.clearHandlerSweeper()
    }
  }
}

/** Route template and guild of every logical request of the mix (for the floor). */
type Logical = Array<{ route: string, guild: string }>

interface CompareResult {
  name: string
  wallMs: number
  failures: number
  firstError: string | null
  stateProblems: string[]
  requests: RecordedRequest[]
  invalid: number
  internalErrors: number
  lagMaxMs: number
  lagP99Ms: number
  loadBefore: string
  loadAfter: string
}

/** Issues the whole mix at once and checks answers and the final state. */
async function runMix (name: string, makeOps: (sim: DiscordSimulator, signal: AbortSignal) => Ops): Promise<CompareResult> {
  const sim = await createDiscordSimulator({ timeScale: SCALE, requestLogLimit: Infinity })
  const world = seed(sim, GUILDS, MEMBERS)
  const signal = AbortSignal.timeout(MAX_MS)
  // One signal bounds every call of the run; each pending call listens on it.
  setMaxListeners(100_000, signal)
  const ops = makeOps(sim, signal)
  const problems: string[] = []
  let failures = 0
  let firstError: string | null = null
  const attempt = async <T>(p: Promise<T>): Promise<T | undefined> => {
    try {
      return await p
    } catch (err) {
      failures++
      firstError ??= err instanceof Error ? `${err.name}: ${err.message}` : String(err)
      return undefined
    }
  }

  const expected = new Map<string, Map<string, string[]>>()
  const calls: Array<Promise<unknown>> = []
  for (const g of world) {
    const exp = new Map<string, string[]>()
    expected.set(g.id, exp)
    calls.push(attempt(ops.getGuild(g.id)).then((guild) => {
      if (guild?.approximate_member_count !== MEMBERS + 1) problems.push(`${g.id}: guild count ${String(guild?.approximate_member_count)}`)
    }))
    calls.push(attempt(ops.getRoles(g.id)).then((roles) => {
      if (roles?.length !== 5) problems.push(`${g.id}: ${String(roles?.length)} roles`)
    }))
    calls.push(attempt(ops.listMembers(g.id)).then((ids) => {
      if (ids === undefined || new Set(ids).size !== MEMBERS + 1) problems.push(`${g.id}: listed ${String(ids?.length)} members`)
    }))
    for (let i = 0; i < READS; i++) {
      const user = g.members[i] as string
      calls.push(attempt(ops.getMember(g.id, user)).then((m) => {
        if (m?.user.id !== user) problems.push(`${g.id}/${user}: GET member`)
      }))
    }
    for (let i = 0; i < WRITES; i++) {
      const user = g.members[READS + i] as string
      const kind = i % 3
      if (kind === 0) {
        exp.set(user, [g.roles.a, g.roles.b].sort())
        calls.push(attempt(ops.patchRoles(g.id, user, [g.roles.a, g.roles.b])))
      } else if (kind === 1) {
        exp.set(user, [g.roles.a, g.roles.d].sort())
        calls.push(attempt(ops.addRole(g.id, user, g.roles.a)))
      } else {
        exp.set(user, [])
        calls.push(attempt(ops.removeRole(g.id, user, g.roles.d)))
      }
    }
  }

  const lag = monitorEventLoopDelay({ resolution: 10 })
  const loadBefore = load()
  lag.enable()
  const t0 = performance.now()
  await Promise.all(calls)
  const wallMs = performance.now() - t0
  lag.disable()
  const loadAfter = load()

  // Final state, read from the simulator itself: every written member as planned, the
  // untouched members (readers and the rest) still holding only D.
  for (const g of world) {
    for (const [user, roles] of expected.get(g.id) ?? []) {
      const actual = (sim.state.memberRoles(g.id, user) ?? []).sort()
      if (JSON.stringify(actual) !== JSON.stringify(roles)) problems.push(`${g.id}/${user}: roles ${actual.join(',')} != ${roles.join(',')}`)
    }
    for (const user of [...g.members.slice(0, READS), ...g.members.slice(READS + WRITES)]) {
      const actual = sim.state.memberRoles(g.id, user) ?? []
      if (actual.length !== 1 || actual[0] !== g.roles.d) problems.push(`${g.id}/${user}: untouched member has ${actual.join(',')}`)
    }
  }

  await ops.close()
  const result: CompareResult = {
    name,
    wallMs,
    failures,
    firstError,
    stateProblems: problems,
    requests: [...sim.requests],
    invalid: sim.invalidRequestCount(),
    internalErrors: sim.internalErrors.length,
    lagMaxMs: lag.max / 1e6,
    lagP99Ms: lag.percentile(99) / 1e6,
    loadBefore,
    loadAfter
  }
  await sim.close()
  return result
}

/**
 * The theoretical floor: for every bucket (group x guild) and the global limit, the moment the
 * last of its n requests can be admitted, (ceil(n / limit) - 1) windows after the first one
 * (fixed windows let the first `limit` go at t = 0). The slowest bucket sets the floor.
 * Also the rate-only figure (n / limit windows), the brief's "requests at its documented rate".
 */
function floorOf (sim: Pick<DiscordSimulator, 'rateLimits'>, logical: Logical): { seconds: number, rateSeconds: number, what: string } {
  const cfg = sim.rateLimits
  const counts = new Map<string, { group: string, n: number }>()
  for (const r of logical) {
    const group = cfg.routeGroups[r.route] ?? r.route
    const key = `${group} ${r.guild}`
    const c = counts.get(key) ?? { group, n: 0 }
    c.n++
    counts.set(key, c)
  }
  let best = { seconds: 0, rateSeconds: 0, what: '' }
  const consider = (what: string, n: number, limit: number, windowMs: number): void => {
    const seconds = (Math.ceil(n / limit) - 1) * windowMs / 1000
    if (seconds > best.seconds || (seconds === best.seconds && n / limit * windowMs / 1000 > best.rateSeconds)) {
      best = { seconds, rateSeconds: n / limit * windowMs / 1000, what: `${what}: ${n} requests at ${limit} per ${windowMs / 1000} s` }
    }
  }
  for (const { group, n } of counts.values()) {
    const b = cfg.buckets[group]
    if (b !== undefined) consider(`bucket ${group} (per guild)`, n, b.limit, b.windowMs)
  }
  consider('global', logical.length, cfg.global.limit, cfg.global.windowMs)
  return best
}

function plannedLogical (): Logical {
  const out: Logical = []
  const pages = Math.floor((MEMBERS + 1) / 1000) + 1
  for (let g = 0; g < GUILDS; g++) {
    const guild = guildId(g)
    out.push({ route: 'GET /guilds/:guild_id', guild }, { route: 'GET /guilds/:guild_id/roles', guild })
    for (let p = 0; p < pages; p++) out.push({ route: 'GET /guilds/:guild_id/members', guild })
    for (let i = 0; i < READS; i++) out.push({ route: 'GET /guilds/:guild_id/members/:user_id', guild })
    const writeRoutes = ['PATCH /guilds/:guild_id/members/:user_id', 'PUT /guilds/:guild_id/members/:user_id/roles/:role_id', 'DELETE /guilds/:guild_id/members/:user_id/roles/:role_id']
    for (let i = 0; i < WRITES; i++) out.push({ route: writeRoutes[i % 3] as string, guild })
  }
  return out
}

function countScopes (requests: readonly RecordedRequest[]): { user: number, global: number, shared: number } {
  const c = { user: 0, global: 0, shared: 0 }
  for (const r of requests) if (r.status === 429 && r.scope !== undefined) c[r.scope]++
  return c
}

async function partCompare (): Promise<void> {
  const logical = plannedLogical()
  const probe = await createDiscordSimulator({ timeScale: SCALE, requestLogLimit: Infinity })
  const floor = floorOf(probe, logical)
  const cfg = probe.rateLimits
  await probe.close()

  console.log(`== Part 1: same request mix, our client vs @discordjs/rest (simulator timeScale ${SCALE}, Discord's default limits)`)
  console.log(`mix: ${GUILDS} guilds x (get guild, get roles, list ${MEMBERS + 1} members by 1000, ${READS} GET member, ${WRITES} role writes PATCH/PUT/DELETE) = ${logical.length} logical requests, all issued at once`)
  console.log(`limits: global ${cfg.global.limit}/${cfg.global.windowMs / 1000} s; member writes ${cfg.buckets['guild-member-write']?.limit}/${(cfg.buckets['guild-member-write']?.windowMs ?? 0) / 1000} s per guild; member reads ${cfg.buckets['guild-member-get']?.limit}/${(cfg.buckets['guild-member-get']?.windowMs ?? 0) / 1000} s per guild; member list ${cfg.buckets['guild-members-list']?.limit}/${(cfg.buckets['guild-members-list']?.windowMs ?? 0) / 1000} s per guild`)
  console.log(`client global limit: ${SCALED_GLOBAL
    ? `expressed in simulated time (ours globalWindowMs ${fmt(1000 / SCALE, 0)} ms; @discordjs/rest globalRequestsPerSecond ${50 * SCALE} over its fixed 1 s real window)`
    : `each client's default, 50 per REAL second${SCALE === 1 ? '' : ` = ${fmt(50 / SCALE, 1)} per simulated second at this scale`}`}`)
  console.log(`floor: ${floor.what} -> last one admissible at ${fmt(floor.seconds, 1)} simulated s (rate-only: ${fmt(floor.rateSeconds, 1)} s)`)
  if (!SCALED_GLOBAL && SCALE !== 1) {
    const clientGlobal = (Math.ceil(logical.length / 50) - 1) * SCALE
    console.log(`        the clients' own real-time global limit alone needs ${fmt(clientGlobal, 1)} simulated s for ${logical.length} requests`)
  }

  const rows: Array<{ r: CompareResult, ratio: number }> = []
  for (const [name, make] of [['fastify-discord-sync DiscordRestClient', ourOps], ['@discordjs/rest 2.6.3', discordjsOps]] as const) {
    const r = await runMix(name, make)
    const simSeconds = r.wallMs / 1000 * SCALE
    const ratio = floor.seconds > 0 ? simSeconds / floor.seconds : Number.NaN
    rows.push({ r, ratio })
    const scopes = countScopes(r.requests)
    const byStatus = new Map<number, number>()
    for (const q of r.requests) byStatus.set(q.status, (byStatus.get(q.status) ?? 0) + 1)
    console.log(`\n-- ${name}`)
    console.log(`completion        ${fmt(simSeconds)} simulated s (${fmt(r.wallMs / 1000, 3)} wall s)   ratio to floor ${fmt(ratio)}`)
    console.log(`requests at sim   ${r.requests.length} (logical ${logical.length}; by status ${[...byStatus].sort((a, b) => a[0] - b[0]).map(([s, n]) => `${s}:${n}`).join(' ')})`)
    console.log(`429s              user ${scopes.user}, global ${scopes.global}, shared ${scopes.shared}`)
    const limitedRoutes = new Map<string, number>()
    for (const q of r.requests) if (q.status === 429) limitedRoutes.set(`${q.scope ?? '?'} ${q.route ?? '?'}`, (limitedRoutes.get(`${q.scope ?? '?'} ${q.route ?? '?'}`) ?? 0) + 1)
    if (limitedRoutes.size > 0) console.log(`429s by route     ${[...limitedRoutes].map(([k, n]) => `${k}: ${n}`).join('; ')}`)
    console.log(`invalid (sim)     ${r.invalid}`)
    console.log(`calls failed      ${r.failures}${r.firstError === null ? '' : ` (first: ${r.firstError})`}`)
    console.log(`final state       ${r.stateProblems.length === 0 ? 'as expected' : `${r.stateProblems.length} problems, e.g. ${r.stateProblems.slice(0, 3).join('; ')}`}${r.internalErrors > 0 ? `; simulator internal errors ${r.internalErrors}` : ''}`)
    console.log(`event loop        max lag ${fmt(r.lagMaxMs, 0)} ms, p99 ${fmt(r.lagP99Ms, 0)} ms; load average ${r.loadBefore} -> ${r.loadAfter}`)
  }
}

// ------------------------------------------------------------------ part 2: processes sharing a token

interface RoundResult {
  requests: RecordedRequest[]
  /** Epoch ms of the simulator clock's origin (arrival epoch = origin + at). */
  simOrigin: number
  workers: WorkerResult[]
  invalid: number
  internalErrors: number
  redisKeys: number
  lagMaxMs: number
  loadBefore: string
  loadAfter: string
}

const WORKER_PATH = fileURLToPath(new URL('./rest-worker.ts', import.meta.url))

/** One round on a fresh simulator (no window left open by an earlier round), shared by every worker. */
async function runRound (redisUrl: string | null, prefix: string, admin: Redis | null): Promise<RoundResult> {
  const sim = await createDiscordSimulator({ timeScale: PROC_SCALE, requestLogLimit: Infinity })
  const guilds = seed(sim, PROC_GUILDS, 20).map((g) => ({ id: g.id, members: g.members }))
  const children = Array.from({ length: PROCS }, (_, i) => fork(WORKER_PATH, [String(i)], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc']
  }))
  const exits = children.map((c) => new Promise<number | null>((resolve) => c.once('exit', (code) => resolve(code))))
  const next = (c: (typeof children)[number]): Promise<FromWorker> => new Promise((resolve, reject) => {
    const onExit = (code: number | null): void => reject(new Error(`worker exited with ${String(code)} before answering`))
    c.once('exit', onExit)
    c.once('message', (m) => {
      c.off('exit', onExit)
      resolve(m as FromWorker)
    })
  })
  const roundMs = MAX_MS
  const killer = setTimeout(() => { for (const c of children) c.kill() }, roundMs + 30_000)
  const lag = monitorEventLoopDelay({ resolution: 10 })
  try {
    children.forEach((c, i) => c.send({
      type: 'job',
      job: { baseUrl: sim.apiBaseUrl, token: TOKEN, redisUrl, redisKeyPrefix: prefix, globalWindowMs: 1000 / PROC_SCALE, count: PER_PROC, maxMs: roundMs, guilds, offset: i * 7, stallMs: PROC_STALL_MS, ...(PROC_OFFSET_MS !== undefined ? { offsetMs: PROC_OFFSET_MS } : {}) }
    }))
    const ready = await Promise.all(children.map(next))
    for (const m of ready) if (m.type !== 'ready') throw new Error(`worker not ready: ${JSON.stringify(m)}`)
    const loadBefore = load()
    const done = children.map(next)
    lag.enable()
    for (const c of children) c.send({ type: 'go' })
    const answers = await Promise.all(done)
    lag.disable()
    const loadAfter = load()
    const workers: WorkerResult[] = []
    for (const m of answers) {
      if (m.type !== 'done') throw new Error(`worker failed: ${JSON.stringify(m)}`)
      workers.push(m.result)
    }
    const codes = await Promise.all(exits)
    if (codes.some((c) => c !== 0)) throw new Error(`worker exit codes ${codes.join(',')}`)
    let redisKeys = 0
    if (admin !== null) {
      const keys = await scanKeys(admin, prefix)
      redisKeys = keys.length
      if (keys.length > 0) await admin.del(...keys)
    }
    return {
      requests: [...sim.requests],
      simOrigin: sim.clockOrigin,
      workers,
      invalid: sim.invalidRequestCount(),
      internalErrors: sim.internalErrors.length,
      redisKeys,
      lagMaxMs: lag.max / 1e6,
      loadBefore,
      loadAfter
    }
  } finally {
    clearTimeout(killer)
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill()
    await sim.close()
  }
}

async function scanKeys (redis: Redis, prefix: string): Promise<string[]> {
  const keys: string[] = []
  let cursor = '0'
  for (let i = 0; i < 10_000; i++) {
    const [next, batch] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000)
    keys.push(...batch)
    cursor = next
    if (cursor === '0') break
  }
  return keys
}

function percentile (sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p / 100 * sorted.length))] ?? Number.NaN
}

function printRound (title: string, r: RoundResult): void {
  const windowMs = 1000 / PROC_SCALE
  const all = r.requests.map((q) => q.at)
  const counted = r.requests.filter((q) => q.scope !== 'global').map((q) => q.at)
  const admitted = r.requests.filter((q) => q.status !== 429).map((q) => q.at)
  const sent = r.workers.flatMap((w) => w.sentAt)
  const scopes = countScopes(r.requests)
  const span = all.length === 0 ? 0 : (Math.max(...all) - Math.min(...all)) / 1000
  console.log(`\n-- ${title}`)
  console.log(`requests at sim   ${r.requests.length} over ${fmt(span * PROC_SCALE)} simulated s (${fmt(span, 3)} wall s); 2xx ${r.requests.filter((q) => q.status >= 200 && q.status < 300).length}`)
  console.log('max in any sliding 1 simulated s window, at the simulator (arrival time):')
  console.log(`                  ${maxInSlidingWindow(all, windowMs)} arrivals; ${maxInSlidingWindow(counted, windowMs)} counted toward the global limit (all but global 429s); ${maxInSlidingWindow(admitted, windowMs)} answered non-429`)
  console.log(`max in one of the simulator's own fixed global windows: ${maxInSimulatorWindows(counted, windowMs)} (limit 50; rebuilt from arrival times, can be off by one at a window edge)`)
  console.log(`max in any sliding 1 simulated s window at send time ('request' events, workers' clocks, all processes): ${maxInSlidingWindow(sent, windowMs)}`)
  if (sent.length === all.length && sent.length > 0) {
    // k-th send vs k-th arrival (both sorted): an estimate of the delay from the client's grant to the simulator.
    const arrivals = all.map((t) => r.simOrigin + t).sort((a, b) => a - b)
    const delays = [...sent].sort((a, b) => a - b).map((t, k) => (arrivals[k] as number) - t).sort((a, b) => a - b)
    console.log(`send -> arrival   p50 ${fmt(percentile(delays, 50), 1)} ms, p99 ${fmt(percentile(delays, 99), 1)} ms, max ${fmt(delays.at(-1) as number, 1)} ms (sorted matching, approximate); simulator process max event-loop lag ${fmt(r.lagMaxMs, 0)} ms`)
  } else {
    console.log(`simulator process max event-loop lag ${fmt(r.lagMaxMs, 0)} ms`)
  }
  console.log(`429s              user ${scopes.user}, global ${scopes.global}, shared ${scopes.shared}; invalid (sim) ${r.invalid}${r.internalErrors > 0 ? `; simulator internal errors ${r.internalErrors}` : ''}`)
  for (const w of r.workers) {
    console.log(`  worker ${w.worker} [${w.backend}]: ${w.attempts} attempts, ${w.ok} ok, ${w.failed} failed${w.firstError === null ? '' : ` (${w.firstError})`}, 429 user ${w.rateLimited.user} / global ${w.rateLimited.global}, Redis fallbacks ${w.fallbacks}, ${fmt(w.elapsedMs / 1000, 3)} wall s, max event-loop lag ${w.lagMaxMs} ms`)
  }
  console.log(`load average      ${r.loadBefore} -> ${r.loadAfter}${r.redisKeys > 0 ? `; ${r.redisKeys} Redis keys under the run's prefix deleted` : ''}`)
}

async function partProcs (): Promise<void> {
  console.log(`\n== Part 2: ${PROCS} processes, one bot token, one simulator per round (timeScale ${PROC_SCALE}), ${PER_PROC} reads each issued at once over ${PROC_GUILDS} guilds x 3 routes; client defaults (global 50 per ${fmt(1000 / PROC_SCALE, 0)} ms window, offset ${PROC_OFFSET_MS === undefined ? `${DEFAULT_REST_OPTIONS.offsetMs} ms, the default` : `${PROC_OFFSET_MS} ms (--proc-offset-ms)`})${PROC_STALL_MS > 0 ? `; worker 0 stalls ${PROC_STALL_MS} ms every 1.5 s (--proc-stall-ms)` : ''}`)
  const prefix = `bench:rest:${process.pid}:${Date.now().toString(36)}:`
  const admin = new Redis(REDIS_URL, { maxRetriesPerRequest: 1, connectTimeout: 2_000 })
  try {
    await admin.ping()
    printRound(`with Redis (prefix ${prefix})`, await runRound(REDIS_URL, prefix, admin))
    printRound('without Redis (in-process limits)', await runRound(null, prefix, null))
  } finally {
    const left = await scanKeys(admin, prefix)
    if (left.length > 0) await admin.del(...left)
    console.log(`\nRedis keys left under ${prefix}: ${(await scanKeys(admin, prefix)).length}`)
    admin.disconnect()
  }
}

console.log(`node ${process.version}; load average ${load()}; ${new Date().toISOString()}`)
if (PART === 'compare' || PART === 'all') await partCompare()
if (PART === 'procs' || PART === 'all') await partProcs()
