import { afterEach, describe, expect, it } from 'vitest'
import { DiscordRestClient } from '../../src/discord/index.js'
import { DiscordSyncEvents } from '../../src/events.js'
import { resolveOptions } from '../../src/options/index.js'
import { createStore } from '../../src/store/index.js'
import type { DiscordStore } from '../../src/store/port/index.js'
import { SyncEngine } from '../../src/sync/engine.js'
import type { MembershipInfo, MembershipProvider } from '../../src/sync/membership.js'
import { SyncMetrics } from '../../src/sync/metrics.js'
import { createDiscordSimulator, maxInSimulatorWindows, PermissionFlags, type DiscordSimulator } from '../../src/testing/index.js'

/*
 * Many guilds at default settings against the simulator (issue 16 part 1): every guild of a full
 * run is synced at once (the derived concurrency) and the global arbiter keeps them, together,
 * under the bot's global limit, which the simulator enforces (global 429s, scope global).
 *
 * The simulator runs at time scale 4 with a global limit of 20 per second (Discord's ratio of
 * global budget to per-guild buckets is kept: 12 guilds want more than 20 requests per second
 * between them); the client gets the same budget and window, and its default safety margin.
 */

const SCALE = 4
const GLOBAL = 20
const GUILDS = 12
const MEMBERS = 12
const TOKEN = 'MTEwMDAwMDAwMDAwMDAwMDAwMQ.Gmany.many-guilds-test-bot-token'
const BOT = '1100000000000000001'
const KEY = Buffer.alloc(32, 5).toString('base64')

function guildIds (g: number): { guild: string, botRole: string, pilot: string } {
  const base = 1_300_000_000_000_000_000n + BigInt(g) * 10n
  return { guild: String(base), botRole: String(base + 1n), pilot: String(base + 2n) }
}
const member = (i: number): string => String(1_400_000_000_000_000_000n + BigInt(i))
/** Even members belong to the pilots group; half of them lack the role before the sync, and odd members with it hold it wrongly. */
const pilotBefore = (i: number): boolean => i % 4 === 0 || i % 4 === 1
const pilotAfter = (i: number): boolean => i % 2 === 0

const membership = (userId: string): MembershipInfo => ({ groups: pilotAfter(Number(userId.slice(1))) ? [{ id: 'pilots', name: 'pilots' }] : [], character_count: 1, permissions: [] })
const provider: MembershipProvider = { getMembership: membership, getMemberships: (ids) => new Map(ids.map((id) => [id, membership(id)])) }
const noop = (): void => {}
const silent = { info: noop, warn: noop, error: noop, debug: noop, trace: noop, fatal: noop, child: () => silent, level: 'silent', silent: noop } as never

describe('many guilds at default settings', () => {
  const closing: Array<() => Promise<unknown>> = []
  afterEach(async () => {
    while (closing.length > 0) await closing.pop()?.()
  })

  async function world (): Promise<{ sim: DiscordSimulator, store: DiscordStore }> {
    const sim = await createDiscordSimulator({ timeScale: SCALE, rateLimits: { global: { limit: GLOBAL, windowMs: 1000 } } })
    closing.push(() => sim.close())
    const s = sim.state
    s.addBot({ token: TOKEN, user: { id: BOT, username: 'manybot' } })
    s.addUsers(Array.from({ length: MEMBERS }, (_, i) => member(i)))
    const options = resolveOptions({ store: { type: 'sqlite', path: ':memory:' }, encryptionKey: KEY })
    const store = await createStore(options)
    closing.push(() => store.close())
    for (let g = 0; g < GUILDS; g++) {
      const w = guildIds(g)
      s.addGuild({ id: w.guild, name: `g${g}`, owner_id: BOT })
      s.addRole(w.guild, { id: w.botRole, name: 'bot', position: 10, permissions: PermissionFlags.MANAGE_ROLES })
      s.addRole(w.guild, { id: w.pilot, name: 'Pilot', position: 5 })
      s.addMember(w.guild, BOT, [w.botRole])
      s.addMembers(w.guild, Array.from({ length: MEMBERS }, (_, i) => ({ userId: member(i), roleIds: pilotBefore(i) ? [w.pilot] : [] })))
      await store.createGuild({ guild_id: w.guild, guild_name: `g${g}`, bot_token: TOKEN, bot_user_id: BOT, settings: { max_role_changes_per_sync: 1000 } })
      await store.createMapping({ guild_id: w.guild, group_id: 'pilots', discord_role_id: w.pilot, priority: 1 })
    }
    for (let i = 0; i < MEMBERS; i++) await store.createUser({ user_id: `h${i}`, discord_user_id: member(i), username: `m${i}` })
    return { sim, store }
  }

  it('syncs every guild at once with no global 429 and no window over the budget at the simulator', async () => {
    const { sim, store } = await world()
    // The client's budget and window as the simulator's, nothing else changed.
    const client = new DiscordRestClient({ baseUrl: sim.apiBaseUrl, globalRequestsPerSecond: GLOBAL, globalWindowMs: 1000 / SCALE })
    closing.push(() => client.close())
    const sync = resolveOptions({ store: { type: 'sqlite', path: ':memory:' }, encryptionKey: KEY }).sync
    expect(sync.guildConcurrency).toBeUndefined()
    const engine = new SyncEngine({
      store,
      client,
      redis: null,
      membership: provider,
      metrics: new SyncMetrics({ prefix: 'many_' }),
      log: silent,
      events: new DiscordSyncEvents(silent),
      settings: { ...sync, redisKeyPrefix: 'many:' }
    })
    const run = await (await engine.startManual({ force: true }, 'test')).done
    expect(run.status).toBe('completed')
    expect((run.results.guilds ?? []).filter((g) => g.status === 'completed')).toHaveLength(GUILDS)

    const requests = sim.requests
    expect(requests.filter((r) => r.status === 429)).toEqual([])
    expect(maxInSimulatorWindows(requests.map((r) => r.at), 1000 / SCALE)).toBeLessThanOrEqual(GLOBAL)
    // Every guild was in flight at once: each one's first request came before any guild's last write.
    const writes = requests.filter((r) => r.route?.startsWith('GET ') === false)
    expect(writes).toHaveLength(GUILDS * MEMBERS / 2)
    const lastWrite = Math.min(...Array.from({ length: GUILDS }, (_, g) => Math.max(...writes.filter((r) => r.majorId === guildIds(g).guild).map((r) => r.at))))
    for (let g = 0; g < GUILDS; g++) {
      expect(Math.min(...requests.filter((r) => r.majorId === guildIds(g).guild).map((r) => r.at))).toBeLessThan(lastWrite)
    }
    // The end state is exact in every guild.
    for (let g = 0; g < GUILDS; g++) {
      const w = guildIds(g)
      for (let i = 0; i < MEMBERS; i++) expect(sim.state.memberRoles(w.guild, member(i))?.includes(w.pilot), `guild ${g} member ${i}`).toBe(pilotAfter(i))
    }
  })
})
