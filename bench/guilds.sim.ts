/*
 * The Discord side of bench/guilds.bench.ts, in its own process (as bench/sync.sim.ts): one bot in
 * G guilds of N members each, Discord's default limits (global 50/s per bot, member writes 10 per
 * 10 s per guild, ...) at a time scale. Driven over IPC: start, stats, close.
 *
 * Every guild holds the same N users (a community network: the same people in many guilds), with
 * roles from bench/sync.sim.ts world(i) translated to the guild's own role ids: 10% need a change.
 */
import { createDiscordSimulator, maxInSimulatorWindows, maxInSlidingWindow, PermissionFlags, type DiscordSimulator } from '../src/testing/index.js'
import { BENCH, memberId, world } from './sync.sim.js'

/** Guild g's id and role ids (distinct snowflakes per guild, as Discord's are). */
export function guildWorld (g: number): { guild: string, botRole: string, pilot: string, corp: string, hand: string } {
  const base = 1_300_000_000_000_000_000n + BigInt(g) * 10n
  return { guild: String(base), botRole: String(base + 1n), pilot: String(base + 2n), corp: String(base + 3n), hand: String(base + 4n) }
}

/** world(i)'s roles, as guild g's role ids. */
export function rolesIn (g: number, roles: string[]): string[] {
  const w = guildWorld(g)
  const map: Record<string, string> = { [BENCH.pilot]: w.pilot, [BENCH.corp]: w.corp, [BENCH.hand]: w.hand }
  return roles.map((r) => map[r] ?? r)
}

export interface GuildsSimStats {
  requests: Record<string, number>
  total: number
  writes: number
  rate_limited: Record<string, number>
  /** 429s of scope user/global after the first response of their bucket (a client that read the headers should have none). */
  non_shared_429_after_first_response: number
  /** Most requests that reached the simulator in any sliding (simulated) second. */
  max_sliding_second: number
  /** Most requests inside one of the simulator's own fixed global windows. */
  max_fixed_window: number
  /** Members (over all guilds) whose final roles differ from world(i).after. */
  mismatches: number
}

type Message =
  | { op: 'start', guilds: number, members: number, timeScale: number }
  | { op: 'stats' }
  | { op: 'close' }

let sim: DiscordSimulator | null = null
let shape = { guilds: 0, members: 0 }

async function start (guilds: number, members: number, timeScale: number): Promise<{ apiBaseUrl: string }> {
  if (sim !== null) await sim.close()
  sim = await createDiscordSimulator({ timeScale, requestLogLimit: Infinity })
  shape = { guilds, members }
  const s = sim.state
  s.addBot({ token: BENCH.botToken, user: { id: BENCH.bot, username: 'benchbot' } })
  const ids = Array.from({ length: members }, (_, i) => memberId(i))
  s.addUsers(ids)
  for (let g = 0; g < guilds; g++) {
    const w = guildWorld(g)
    s.addGuild({ id: w.guild, name: `Bench Guild ${g}`, owner_id: BENCH.owner })
    s.addRole(w.guild, { id: w.botRole, name: 'benchbot', position: 10, permissions: PermissionFlags.MANAGE_ROLES | PermissionFlags.MANAGE_NICKNAMES })
    s.addRole(w.guild, { id: w.pilot, name: 'EVE Pilot', position: 5 })
    s.addRole(w.guild, { id: w.corp, name: 'Corporation Member', position: 4 })
    s.addRole(w.guild, { id: w.hand, name: 'Hand Picked', position: 1 })
    s.addMember(w.guild, BENCH.bot, [w.botRole])
    s.addMembers(w.guild, ids.map((userId, i) => ({ userId, roleIds: rolesIn(g, world(i).before) })))
  }
  return { apiBaseUrl: sim.apiBaseUrl }
}

function stats (): GuildsSimStats {
  if (sim === null) throw new Error('not started')
  const requests: Record<string, number> = {}
  const rateLimited: Record<string, number> = {}
  const firstResponse = new Set<string>()
  let nonSharedAfterFirst = 0
  const times: number[] = []
  for (const r of sim.requests) {
    const kind = r.route ?? 'unknown'
    requests[kind] = (requests[kind] ?? 0) + 1
    times.push(r.at)
    const bucket = `${r.bucket ?? kind}:${r.majorId}`
    if (r.status === 429) {
      const scope = r.scope ?? 'unknown'
      rateLimited[scope] = (rateLimited[scope] ?? 0) + 1
      if (scope !== 'shared' && firstResponse.has(bucket)) nonSharedAfterFirst++
    }
    firstResponse.add(bucket)
  }
  const writes = (requests['PATCH /guilds/:guild_id/members/:user_id'] ?? 0) +
    (requests['PUT /guilds/:guild_id/members/:user_id/roles/:role_id'] ?? 0) +
    (requests['DELETE /guilds/:guild_id/members/:user_id/roles/:role_id'] ?? 0)
  let mismatches = 0
  for (let g = 0; g < shape.guilds; g++) {
    const w = guildWorld(g)
    for (let i = 0; i < shape.members; i++) {
      const got = [...(sim.state.memberRoles(w.guild, memberId(i)) ?? [])].sort().join(',')
      if (got !== rolesIn(g, world(i).after).sort().join(',')) mismatches++
    }
  }
  // The request log holds real milliseconds: one simulated second is 1000 / timeScale of them.
  const second = 1000 / sim.timeScale
  return {
    requests,
    total: times.length,
    writes,
    rate_limited: rateLimited,
    non_shared_429_after_first_response: nonSharedAfterFirst,
    max_sliding_second: maxInSlidingWindow(times, second),
    max_fixed_window: maxInSimulatorWindows(times, second),
    mismatches
  }
}

if (process.send !== undefined) {
  process.on('message', (msg: Message) => {
    const reply = (value: unknown): void => { process.send?.({ ok: true, value }) }
    const fail = (err: unknown): void => { process.send?.({ ok: false, error: String((err as Error)?.stack ?? err) }) }
    ;(async () => {
      try {
        if (msg.op === 'start') reply(await start(msg.guilds, msg.members, msg.timeScale))
        else if (msg.op === 'stats') reply(stats())
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
