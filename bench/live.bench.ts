/*
 * Live events against the simulator at time scale 1 with Discord's default rate limits (issue 13
 * "Show"): members join and officers strip managed roles by hand while the Gateway connection is
 * dropped several times; then users deauthorise the app. For each, the seconds from the event to
 * roles being correct, how many never became correct, and how many drifts the plugin took from
 * its own writes. Discord's 429s are counted from the simulator's answers.
 *
 *   npx tsx bench/live.bench.ts [--joins 200] [--drifts 200] [--deauths 50] [--drops 5] [--rate 20]
 *
 * Nothing here asserts: test/live/ holds the bounded versions that do.
 */
import { loadavg } from 'node:os'
import { parseArgs } from 'node:util'
import type { DiscordSimulator } from '../src/testing/index.js'
import { PermissionFlags } from '../src/testing/index.js'
import { buildWorld, type TestMembership, type World } from '../test/helpers/world.js'

const { values } = parseArgs({
  options: {
    joins: { type: 'string', default: '200' },
    drifts: { type: 'string', default: '200' },
    deauths: { type: 'string', default: '50' },
    drops: { type: 'string', default: '5' },
    rate: { type: 'string', default: '20' }
  }
})
const JOINS = Number(values.joins)
const DRIFTS = Math.min(Number(values.drifts), JOINS)
const DEAUTHS = Math.min(Number(values.deauths), JOINS)
const DROPS = Number(values.drops)
/** Events started per second (joins, hand edits, deauthorisations). */
const RATE = Number(values.rate)
/** Longest wait for a member to become correct before it counts as missed. */
const MISS_AFTER_MS = 30_000

const BOT_TOKEN = 'MTEwMDAwMDAwMDAwMDAwMDAwMQ.Glive1.live-bench-bot-token-value-00'
const OAUTH = { clientId: '1500000000000000001', clientSecret: 'live-bench-client-secret', redirectUri: 'http://127.0.0.1/discord/auth/callback' }
const IDS = { bot: '1100000000000000001', owner: '1100000000000000002', guild: '1200000000000000001', botRole: '1210000000000000001', pilot: '1210000000000000002', hand: '1210000000000000007' }
const userId = (i: number): string => String(1400000000000000000n + BigInt(i + 1))
const hostId = (i: number): string => `host-${i}`

function seed (sim: DiscordSimulator): void {
  const s = sim.state
  s.addBot({ token: BOT_TOKEN, user: { id: IDS.bot, username: 'livebot' } })
  s.addUser({ id: IDS.owner, username: 'owner' })
  for (let i = 0; i < JOINS; i++) s.addUser({ id: userId(i) })
  s.addGuild({ id: IDS.guild, name: 'Live Guild', owner_id: IDS.owner })
  s.addRole(IDS.guild, { id: IDS.botRole, name: 'livebot', position: 10, permissions: PermissionFlags.MANAGE_ROLES | PermissionFlags.VIEW_CHANNEL })
  s.addRole(IDS.guild, { id: IDS.pilot, name: 'Pilot', position: 5 })
  s.addRole(IDS.guild, { id: IDS.hand, name: 'Hand Picked', position: 1 })
  s.addMember(IDS.guild, IDS.owner)
  s.addMember(IDS.guild, IDS.bot, [IDS.botRole])
}

/** Resolves when `ok` holds for the member, with the ms since `since` (null after MISS_AFTER_MS). */
function watch (sim: DiscordSimulator): (id: string, ok: (roles: readonly string[]) => boolean, since: number) => Promise<number | null> {
  const waiting = new Map<string, Array<{ ok: (roles: readonly string[]) => boolean, resolve: (ms: number | null) => void, since: number }>>()
  const check = (id: string, roles: readonly string[]): void => {
    const list = waiting.get(id)
    if (list === undefined) return
    for (const w of [...list]) {
      if (!w.ok(roles)) continue
      list.splice(list.indexOf(w), 1)
      w.resolve(performance.now() - w.since)
    }
  }
  sim.state.events.on('memberUpdate', ({ guildId, member }) => { if (guildId === IDS.guild) check(member.userId, member.roles) })
  sim.state.events.on('memberAdd', ({ guildId, member }) => { if (guildId === IDS.guild) check(member.userId, member.roles) })
  return async (id, ok, since) => {
    const roles = sim.state.getMember(IDS.guild, id)?.roles
    if (roles !== undefined && ok(roles)) return performance.now() - since
    return await new Promise((resolve) => {
      const entry = { ok, resolve, since }
      waiting.set(id, [...(waiting.get(id) ?? []), entry])
      setTimeout(() => {
        const list = waiting.get(id) ?? []
        if (list.includes(entry)) { list.splice(list.indexOf(entry), 1); resolve(null) }
      }, MISS_AFTER_MS).unref()
    })
  }
}

const pace = (i: number, start: number): Promise<void> => {
  const at = start + (i * 1000) / RATE
  const wait = at - performance.now()
  return wait > 0 ? new Promise((resolve) => setTimeout(resolve, wait)) : Promise.resolve()
}

function quantile (sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number
}

interface Phase { name: string, events: number, latencies: number[], missed: number }

/** Starts `count` events at RATE per second, dropping the Gateway socket `drops` times spread over the phase. */
async function phase (name: string, count: number, drops: number, sim: DiscordSimulator, fire: (i: number) => Promise<number | null>): Promise<Phase> {
  const start = performance.now()
  const dropEvery = drops > 0 ? Math.max(1, Math.floor(count / (drops + 1))) : Infinity
  const pending: Array<Promise<number | null>> = []
  let dropped = 0
  for (let i = 0; i < count; i++) {
    await pace(i, start)
    if (dropped < drops && i > 0 && i % dropEvery === 0) {
      sim.gateway.dropConnection()
      dropped++
    }
    pending.push(fire(i))
  }
  const results = await Promise.all(pending)
  const latencies = results.filter((r): r is number => r !== null).sort((a, b) => a - b)
  return { name, events: count, latencies, missed: results.length - latencies.length }
}

async function main (): Promise<void> {
  const w: World = await buildWorld({ sim: {}, seed, oauth: OAUTH, membership: true, listen: true, plugin: { healthCheck: { enabled: false }, rateLimit: false, sync: { enabled: false }, gateway: { enabled: true } } })
  const { sim, store } = w
  const membership = w.membership as TestMembership
  try {
    sim.state.setEventWebhooksUrl(OAUTH.clientId, `${w.baseUrl}/discord/webhooks/events`)
    await store.createGuild({ guild_id: IDS.guild, guild_name: 'Live Guild', bot_token: BOT_TOKEN, bot_user_id: IDS.bot, settings: { max_role_changes_per_sync: 10_000 } })
    await store.createMapping({ guild_id: IDS.guild, group_id: 'pilots', discord_role_id: IDS.pilot })
    for (let i = 0; i < JOINS; i++) {
      // The user authorised the app in Discord (so it can be deauthorised) and is linked here.
      const t = sim.state.issueUserToken({ clientId: OAUTH.clientId, userId: userId(i), scopes: ['identify', 'guilds'], withRefreshToken: true })
      await store.createUser({ user_id: hostId(i), discord_user_id: userId(i), username: `u${i}`, guilds: [], tokens: { access_token: t.access_token, refresh_token: t.refresh_token ?? null, expires_at: new Date(Date.now() + 86_400_000), scopes: ['identify', 'guilds'] } })
      membership.set(hostId(i), ['pilots'])
    }
    const connected = w.app.discord.events.next('gateway.state', (e) => e.status === 'connected')
    await w.app.discord.gateway?.reconcile()
    await connected
    let resumes = 0
    w.app.discord.events.on('gateway.state', (e) => { if (e.status === 'connected') resumes = e.resumes })
    // Counted as runs finish (the store's run list is paged).
    const finished = { drift: 0, join: 0, deauthorized: 0 }
    w.app.discord.events.on('sync.finished', (e) => {
      const kind = e.initiated_by.split(':')[0] as keyof typeof finished
      if (kind in finished) finished[kind]++
    })
    const until = watch(sim)
    const has = (roles: readonly string[]): boolean => roles.includes(IDS.pilot)
    const hasNot = (roles: readonly string[]): boolean => !roles.includes(IDS.pilot)

    const rows: Phase[] = []
    rows.push(await phase('join → roles', JOINS, Math.ceil(DROPS / 2), sim, async (i) => {
      const since = performance.now()
      sim.state.addMember(IDS.guild, userId(i))
      return await until(userId(i), has, since)
    }))
    rows.push(await phase('hand edit → reverted', DRIFTS, DROPS - Math.ceil(DROPS / 2), sim, async (i) => {
      const since = performance.now()
      sim.state.setMemberRoles(IDS.guild, userId(i), [IDS.hand])
      // The revert is correct when the managed role is back (the hand-picked one stays).
      return await until(userId(i), has, since)
    }))
    rows.push(await phase('deauthorise → removed', DEAUTHS, 0, sim, async (i) => {
      const since = performance.now()
      await sim.deauthorize(userId(i), { clientId: OAUTH.clientId })
      return await until(userId(i), hasNot, since)
    }))

    const driftTotal = (await w.app.discord.sync.metrics?.registry.getSingleMetric('discord_sync_drift_total')?.get())?.values.reduce((n, v) => n + v.value, 0) ?? 0
    const counts = sim.requestCounts()
    const r429 = counts.filter((c) => c.status === 429).reduce((n, c) => n + c.count, 0)
    const requests = counts.reduce((n, c) => n + c.count, 0)

    console.log(`\nLive events, simulator at time scale 1 with Discord's default limits; ${RATE} events/s; load ${loadavg().map((l) => l.toFixed(2)).join(' ')}`)
    console.log('| phase | events | p50 s | p99 s | max s | missed |')
    console.log('|---|---:|---:|---:|---:|---:|')
    for (const r of rows) {
      const s = (q: number): string => (quantile(r.latencies, q) / 1000).toFixed(3)
      console.log(`| ${r.name} | ${r.events} | ${s(0.5)} | ${s(0.99)} | ${((r.latencies.at(-1) ?? NaN) / 1000).toFixed(3)} | ${r.missed} |`)
    }
    console.log(`\nGateway drops: ${DROPS}, sessions resumed: ${resumes}`)
    console.log(`runs started by events: ${finished.join} joins, ${finished.drift} drifts, ${finished.deauthorized} deauthorisations`)
    console.log(`drifts counted: ${driftTotal} for ${DRIFTS} hand edits → false drifts from our own writes: ${Math.max(0, driftTotal - DRIFTS)}; drift runs beyond the hand edits: ${Math.max(0, finished.drift - DRIFTS)}`)
    console.log(`Discord requests: ${requests}, 429 answers: ${r429}`)
  } finally {
    await w.close()
  }
}

await main()
