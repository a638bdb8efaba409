/*
 * The Discord side of bench/sync.bench.ts, in its own process so the engine's peak RSS is
 * measured without the simulator's world (100k members, every recorded request) in it.
 * Driven over IPC: start (seed a guild at a time scale), reset (restore the initial roles),
 * stats (requests by kind, 429s, final-state check), close.
 *
 * The world is a pure function of the member index, shared with the bench: see world().
 */
import { pathToFileURL } from 'node:url'
import { createDiscordSimulator, PermissionFlags, type DiscordSimulator } from '../src/testing/index.js'

export const BENCH = Object.freeze({
  botToken: 'MTEwMDAwMDAwMDAwMDAwMDAwMQ.Gbench.sync-benchmark-bot-token',
  bot: '1100000000000000001',
  owner: '1100000000000000002',
  guild: '1200000000000000001',
  botRole: '1210000000000000001',
  pilot: '1210000000000000002',
  corp: '1210000000000000003',
  hand: '1210000000000000004'
})

/** Member i's Discord id (numeric order = index order). */
export function memberId (i: number): string {
  return String(300_000_000_000_000_000n + BigInt(i))
}

/**
 * Member i: host user `h<i>`, its groups, its roles before the sync, and its managed roles after.
 * 10% need a change: 5% lack Pilot (one change), 5% lack Pilot and hold Corp undeservedly
 * (two changes: one PATCH for us, two writes for a per-role strategy). A third hold an
 * unmanaged role that must survive.
 */
export function world (i: number): { groups: string[], before: string[], after: string[] } {
  const k = i % 100
  const hand = i % 3 === 0 ? [BENCH.hand] : []
  if (k < 5) return { groups: ['pilots'], before: [...hand], after: [BENCH.pilot, ...hand] }
  if (k < 10) return { groups: ['pilots'], before: [BENCH.corp, ...hand], after: [BENCH.pilot, ...hand] }
  if (k % 2 === 0) return { groups: ['pilots'], before: [BENCH.pilot, ...hand], after: [BENCH.pilot, ...hand] }
  return { groups: [], before: [...hand], after: [...hand] }
}

/**
 * The nickname scenario (`--nick`): every member starts named `[OLD] m<i>`; the template
 * `[{ticker}] {name}` renames the 8% whose ticker is now NEW: 3% also need roles (one PATCH
 * carries both), 5% need only the nickname. Members needing any change: 15%.
 */
export function nickWorld (i: number): { ticker: string, before: string, after: string } {
  const k = i % 100
  const ticker = k < 3 || (k >= 10 && k < 15) ? 'NEW' : 'OLD'
  return { ticker, before: `[OLD] m${i}`, after: `[${ticker}] m${i}` }
}

export interface SimStats {
  requests: Record<string, number>
  writes: number
  rate_limited: Record<string, number>
  /** 429s of scope user/global: each one counts toward Discord's invalid-request ban. */
  non_shared_429: number
  /** Of those, the ones after the first response of their bucket (a client that read the headers should have none). */
  non_shared_429_after_first_response: number
  /** Members whose final roles differ from world(i).after. */
  mismatches: number
  members: number
}

type Message =
  | { op: 'start', n: number, timeScale: number, nick?: boolean }
  | { op: 'reset' }
  | { op: 'stats' }
  | { op: 'rss' }
  | { op: 'close' }

let sim: DiscordSimulator | null = null
let size = 0
let nicks = false

async function start (n: number, timeScale: number, nick = false): Promise<{ apiBaseUrl: string }> {
  nicks = nick
  if (sim !== null) await sim.close()
  // Discord's default limits (global 50/s, member writes 10/10 s, member reads 5/s...), time-scaled.
  // The benchmark counts every request from the log, so it keeps them all (the default keeps the last 10,000).
  sim = await createDiscordSimulator({ timeScale, requestLogLimit: Infinity })
  size = n
  const s = sim.state
  s.addBot({ token: BENCH.botToken, user: { id: BENCH.bot, username: 'benchbot' } })
  s.addGuild({ id: BENCH.guild, name: 'Bench Guild', owner_id: BENCH.owner })
  s.addRole(BENCH.guild, { id: BENCH.botRole, name: 'benchbot', position: 10, permissions: PermissionFlags.MANAGE_ROLES | PermissionFlags.MANAGE_NICKNAMES })
  s.addRole(BENCH.guild, { id: BENCH.pilot, name: 'EVE Pilot', position: 5 })
  s.addRole(BENCH.guild, { id: BENCH.corp, name: 'Corporation Member', position: 4 })
  s.addRole(BENCH.guild, { id: BENCH.hand, name: 'Hand Picked', position: 1 })
  s.addMember(BENCH.guild, BENCH.bot, [BENCH.botRole])
  const ids = Array.from({ length: n }, (_, i) => memberId(i))
  s.addUsers(ids)
  s.addMembers(BENCH.guild, ids.map((userId, i) => ({ userId, roleIds: world(i).before })))
  if (nick) for (let i = 0; i < n; i++) s.updateMember(BENCH.guild, memberId(i), { nick: nickWorld(i).before })
  return { apiBaseUrl: sim.apiBaseUrl }
}

function reset (): void {
  if (sim === null) throw new Error('not started')
  for (let i = 0; i < size; i++) sim.state.updateMember(BENCH.guild, memberId(i), { roles: world(i).before, ...(nicks ? { nick: nickWorld(i).before } : {}) })
  sim.clearRequests()
  // Forget every open rate-limit window: the next strategy starts from a quiet API.
  sim.setRateLimits({})
}

function stats (): SimStats {
  if (sim === null) throw new Error('not started')
  const requests: Record<string, number> = {}
  const rateLimited: Record<string, number> = {}
  const firstResponse = new Map<string, number>()
  let nonShared = 0
  let nonSharedAfterFirst = 0
  for (const r of sim.requests) {
    const kind = r.route ?? 'unknown'
    requests[kind] = (requests[kind] ?? 0) + 1
    const bucket = `${r.bucket ?? kind}:${r.majorId}`
    if (r.status === 429) {
      const scope = r.scope ?? 'unknown'
      rateLimited[scope] = (rateLimited[scope] ?? 0) + 1
      if (scope !== 'shared') {
        nonShared++
        if (firstResponse.has(bucket)) nonSharedAfterFirst++
      }
    }
    if (!firstResponse.has(bucket)) firstResponse.set(bucket, r.at)
  }
  const writes = (requests['PATCH /guilds/:guild_id/members/:user_id'] ?? 0) +
    (requests['PUT /guilds/:guild_id/members/:user_id/roles/:role_id'] ?? 0) +
    (requests['DELETE /guilds/:guild_id/members/:user_id/roles/:role_id'] ?? 0)
  let mismatches = 0
  for (let i = 0; i < size; i++) {
    const got = [...(sim.state.memberRoles(BENCH.guild, memberId(i)) ?? [])].sort().join(',')
    const nickWrong = nicks && sim.state.getMember(BENCH.guild, memberId(i))?.nick !== nickWorld(i).after
    if (got !== [...world(i).after].sort().join(',') || nickWrong) mismatches++
  }
  return { requests, writes, rate_limited: rateLimited, non_shared_429: nonShared, non_shared_429_after_first_response: nonSharedAfterFirst, mismatches, members: size }
}

// Only as the forked process itself: bench/guilds.sim.ts imports world() from here and answers its own messages.
if (process.send !== undefined && import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  process.on('message', (msg: Message) => {
    const reply = (value: unknown): void => { process.send?.({ ok: true, value }) }
    const fail = (err: unknown): void => { process.send?.({ ok: false, error: String((err as Error)?.stack ?? err) }) }
    ;(async () => {
      try {
        if (msg.op === 'start') reply(await start(msg.n, msg.timeScale, msg.nick))
        else if (msg.op === 'reset') reply(reset())
        else if (msg.op === 'stats') reply(stats())
        else if (msg.op === 'rss') reply(process.memoryUsage().rss)
        else if (msg.op === 'close') {
          await sim?.close()
          reply(null)
          process.exit(0)
        }
      } catch (err) {
        fail(err)
      }
    })().catch(fail)
  })
}
