import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import type { FastifyBaseLogger } from 'fastify'
import type { DiscordSimulator } from '../../src/testing/index.js'
import { GuildHealthTask } from '../../src/health/guild-health.js'
import { RedisTaskLock, type TaskLock } from '../../src/tasks/lock.js'
import { Redis } from 'ioredis'
import { REDIS_URL, redisAvailable, uniquePrefix } from '../helpers/redis.js'
import { buildWorld, type World } from '../helpers/world.js'
import {
  BOT_TOKEN,
  configureGuild,
  createMapping,
  expectNoSecrets,
  IDS,
  routeWorld,
  SECRET_VALUES,
  startSimulator
} from '../routes/helpers.js'

/*
 * The health task against the simulator: each transition the issue names, the one
 * notification per transition, Discord outages that must not flip a status, and logs
 * that never carry a token.
 */

const HAS_REDIS = await redisAvailable()
const BOT_PERMISSIONS = (1n << 28n) | (1n << 10n) | (1n << 11n)

let sim: DiscordSimulator
let t: World
let logs: string[]
let task: GuildHealthTask

function capturingLogger (): FastifyBaseLogger {
  const record = (level: string) => (obj: unknown, msg?: string) => { logs.push(`${level} ${JSON.stringify(obj)} ${msg ?? ''}`) }
  const logger = {
    level: 'info',
    fatal: record('fatal'),
    error: record('error'),
    warn: record('warn'),
    info: record('info'),
    debug: record('debug'),
    trace: record('trace'),
    silent: () => {},
    child: () => logger
  }
  return logger as unknown as FastifyBaseLogger
}

beforeAll(async () => { sim = await startSimulator() })
afterAll(async () => { await sim.close() })
beforeEach(async () => {
  logs = []
  t = await buildWorld(routeWorld(sim))
  await configureGuild(t, { settings: { notification_channel_id: IDS.channel } })
  await createMapping(t, { group_id: 'pilots', discord_role_id: IDS.pilotRole })
  task = new GuildHealthTask({ store: t.app.discord.store, bots: (token) => t.app.discord.client.bot(token), log: capturingLogger() })
})
afterEach(async () => {
  // Restore the shared simulator world.
  sim.state.setRolePermissions(IDS.guild, IDS.botRole, BOT_PERMISSIONS)
  sim.state.setRolePosition(IDS.guild, IDS.pilotRole, 5)
  sim.clearFaults()
  for (const line of logs) for (const secret of SECRET_VALUES) expect(line).not.toContain(secret)
  expectNoSecrets(t)
  await t.close()
})

const messages = (): string[] => sim.state.channelMessages(IDS.channel).map((m) => m.content)

async function stored () {
  return await t.app.discord.store.getGuild(IDS.guild)
}

describe('GuildHealthTask against the simulator', () => {
  it('a working bot with assignable roles is healthy and posts nothing', async () => {
    const before = messages().length
    const summary = await task.run()
    expect(summary).toMatchObject({ ran: true, checked: 1, results: [{ guild_id: IDS.guild, previous: 'healthy', status: 'healthy', last_error: null, notified: false }] })
    expect((await stored())?.last_health_check).toBeInstanceOf(Date)
    expect(messages()).toHaveLength(before)
  })

  it('revoking Manage Roles → unhealthy with the seed\'s message; one notification, not one per check', async () => {
    const before = messages().length
    sim.state.setRolePermissions(IDS.guild, IDS.botRole, (1n << 10n) | (1n << 11n))
    const first = await task.run()
    expect(first.results[0]).toMatchObject({ status: 'unhealthy', previous: 'healthy', last_error: 'Bot missing Manage Roles permission', notified: true })
    const guild = await stored()
    expect(guild).toMatchObject({ health_status: 'unhealthy', last_error: 'Bot missing Manage Roles permission' })
    expect(BigInt(guild?.bot_permissions ?? '0') & (1n << 28n)).toBe(0n)
    expect(messages()).toHaveLength(before + 1)
    expect(messages().at(-1)).toMatch(/My Discord Server.*unhealthy.*Manage Roles/)

    const second = await task.run()
    expect(second.results[0]).toMatchObject({ status: 'unhealthy', previous: 'unhealthy', notified: false })
    expect(messages()).toHaveLength(before + 1)
    expect(logs.some((l) => l.startsWith('warn') && l.includes(IDS.guild) && l.includes('Manage Roles'))).toBe(true)

    // The module status reports an unhealthy guild as degraded.
    const status = await t.inject({ url: '/discord/status' })
    expect(status.json()).toMatchObject({ module: 'discord', status: 'degraded' })

    sim.state.setRolePermissions(IDS.guild, IDS.botRole, BOT_PERMISSIONS)
    const healed = await task.run()
    expect(healed.results[0]).toMatchObject({ status: 'healthy', previous: 'unhealthy', last_error: null, notified: false })
    expect((await t.inject({ url: '/discord/status' })).json().status).toBe('healthy')
  })

  it('moving a mapped role above the bot → degraded, naming the role; back below → healthy', async () => {
    const before = messages().length
    sim.state.setRolePosition(IDS.guild, IDS.pilotRole, 25)
    const degraded = await task.run()
    expect(degraded.results[0]).toMatchObject({ status: 'degraded', notified: true })
    expect(degraded.results[0]?.last_error).toMatch(/1 mapped role\(s\) cannot be assigned: Role "EVE Pilot" \(987654321098765432, position 25\) is not below/)
    expect((await stored())?.health_status).toBe('degraded')
    expect(messages()).toHaveLength(before + 1)
    // Degraded alone does not degrade the module: the guild still syncs its other roles.
    expect((await t.inject({ url: '/discord/status' })).json().status).toBe('healthy')

    sim.state.setRolePosition(IDS.guild, IDS.pilotRole, 5)
    expect((await task.run()).results[0]).toMatchObject({ status: 'healthy', previous: 'degraded' })
  })

  it('healthy → degraded → unhealthy → degraded → healthy: one message per turn into a bad state, none on recovery', async () => {
    const before = messages().length
    sim.state.setRolePosition(IDS.guild, IDS.pilotRole, 25)
    expect((await task.run()).results[0]).toMatchObject({ previous: 'healthy', status: 'degraded', notified: true })
    sim.state.setRolePermissions(IDS.guild, IDS.botRole, (1n << 10n) | (1n << 11n))
    expect((await task.run()).results[0]).toMatchObject({ previous: 'degraded', status: 'unhealthy', notified: true })
    expect((await task.run()).results[0]).toMatchObject({ previous: 'unhealthy', status: 'unhealthy', notified: false })
    sim.state.setRolePermissions(IDS.guild, IDS.botRole, BOT_PERMISSIONS)
    expect((await task.run()).results[0]).toMatchObject({ previous: 'unhealthy', status: 'degraded', notified: true })
    sim.state.setRolePosition(IDS.guild, IDS.pilotRole, 5)
    expect((await task.run()).results[0]).toMatchObject({ previous: 'degraded', status: 'healthy', notified: false })
    expect(messages().slice(before).map((m) => /\*\*(degraded|unhealthy)\*\*/.exec(m)?.[1])).toEqual(['degraded', 'unhealthy', 'degraded'])
  })

  it('a notification the bot can no longer post is logged, never thrown; the status is stored and the post not retried', async () => {
    const channel = sim.state.channels.get(IDS.channel)
    if (channel === undefined) throw new Error('the suite\'s channel is missing')
    const overwrites = channel.permission_overwrites
    // Someone took Send Messages from the bot's role in the notification channel after it was set.
    channel.permission_overwrites = [{ id: IDS.botRole, type: 0, allow: '0', deny: (1n << 11n).toString() }]
    try {
      const before = messages().length
      sim.state.setRolePermissions(IDS.guild, IDS.botRole, (1n << 10n) | (1n << 11n))
      const first = (await task.run()).results[0]
      expect(first).toMatchObject({ previous: 'healthy', status: 'unhealthy', notified: false })
      expect((await stored())?.health_status).toBe('unhealthy')
      expect(logs.some((l) => l.startsWith('warn') && l.includes('could not post the health notification') && l.includes(IDS.channel))).toBe(true)
      sim.clearRequests()
      expect((await task.run()).results[0]).toMatchObject({ status: 'unhealthy', notified: false })
      expect(sim.requests.filter((r) => r.method === 'POST')).toEqual([])
      expect(messages()).toHaveLength(before)
    } finally {
      channel.permission_overwrites = overwrites
    }
  })

  it('a disabled mapping above the bot does not degrade the guild', async () => {
    const [mapping] = await t.app.discord.store.listMappings({ guild_id: IDS.guild })
    await t.app.discord.store.updateMapping(mapping?.id as string, { enabled: false })
    sim.state.setRolePosition(IDS.guild, IDS.pilotRole, 25)
    expect((await task.run()).results[0]?.status).toBe('healthy')
  })

  it('a revoked bot token → unhealthy; no message is attempted with it', async () => {
    const before = messages().length
    const revoked = 'MTExMTExMTExMTExMTExMTE0.GrevkB.revoked-bot-token-value-0004'
    sim.state.addBot({ token: revoked, user: { id: IDS.bot, username: 'syncbot' } })
    await t.app.discord.store.updateGuild(IDS.guild, { bot_token: revoked })
    sim.state.revokeBotToken(revoked)
    sim.clearRequests()
    const result = (await task.run()).results[0]
    expect(result).toMatchObject({ status: 'unhealthy', notified: false })
    expect(result?.last_error).toMatch(/rejected the bot token/)
    expect(messages()).toHaveLength(before)
    expect(sim.requests.filter((r) => r.method === 'POST')).toEqual([])
    for (const line of logs) expect(line).not.toContain(revoked)
  })

  it('a Discord outage keeps the previous status and only records the failed check', async () => {
    sim.scriptFault({ kind: 'error', status: 503, route: 'GET /users/@me', times: 20 })
    const result = (await task.run()).results[0]
    expect(result).toMatchObject({ previous: 'healthy', status: 'healthy', notified: false })
    expect(result?.last_error).toMatch(/Health check could not complete/)
    expect(await stored()).toMatchObject({ health_status: 'healthy' })
    expect((await stored())?.last_error).toMatch(/could not complete/)
  }, 20_000)

  it('skips disabled guilds and guilds without a token', async () => {
    await t.app.discord.store.createGuild({ guild_id: IDS.noBotGuild, guild_name: 'No token', enabled: true })
    await t.app.discord.store.updateGuild(IDS.guild, { enabled: false })
    sim.clearRequests()
    const summary = await task.run()
    expect(summary.results).toEqual([{ guild_id: IDS.noBotGuild, previous: 'unknown', status: 'unknown', last_error: null, notified: false }])
    expect(sim.requests).toHaveLength(0)
  })

  it('does nothing while another instance holds the lock, and releases its own', async () => {
    const held: TaskLock = { acquire: async () => null, renew: async () => false, release: async () => {} }
    const locked = new GuildHealthTask({ store: t.app.discord.store, bots: (token) => t.app.discord.client.bot(token), log: capturingLogger(), lock: held })
    expect(await locked.run()).toEqual({ ran: false, checked: 0, results: [] })

    const released: string[] = []
    const free: TaskLock = { acquire: async () => 'tok-1', renew: async () => true, release: async (tok) => { released.push(tok) } }
    const owner = new GuildHealthTask({ store: t.app.discord.store, bots: (token) => t.app.discord.client.bot(token), log: capturingLogger(), lock: free })
    expect((await owner.run()).ran).toBe(true)
    expect(released).toEqual(['tok-1'])
  })

  it('one guild failing on our side does not stop the pass', async () => {
    await t.app.discord.store.createGuild({ guild_id: IDS.noBotGuild, guild_name: 'Broken', enabled: true, bot_token: 'MTExMTExMTExMTExMTExMTE2.GbrknB.broken-token-value-0006' })
    const store = t.app.discord.store
    const failing = new Proxy(store, {
      get (target, prop, receiver) {
        if (prop === 'getBotToken') {
          return async (guildId: string) => {
            if (guildId === IDS.noBotGuild) throw Object.assign(new Error('A stored secret could not be decrypted (unknown key id)'), { code: 'FST_DISCORD_SECRET_DECRYPT' })
            return await target.getBotToken(guildId)
          }
        }
        const value = Reflect.get(target, prop, receiver)
        return typeof value === 'function' ? value.bind(target) : value
      }
    })
    const guarded = new GuildHealthTask({ store: failing, bots: (token) => t.app.discord.client.bot(token), log: capturingLogger() })
    const summary = await guarded.run()
    expect(summary.checked).toBe(2)
    expect(summary.results.find((r) => r.guild_id === IDS.guild)?.status).toBe('healthy')
    expect(summary.results.find((r) => r.guild_id === IDS.noBotGuild)).toMatchObject({ status: 'unknown', notified: false })
    expect(logs.some((l) => l.startsWith('error') && l.includes(IDS.noBotGuild) && l.includes('FST_DISCORD_SECRET_DECRYPT'))).toBe(true)
  })

  it.runIf(HAS_REDIS)('with Redis, one instance runs at a time (real lock)', async () => {
    const redis = new Redis(REDIS_URL)
    const key = `${uniquePrefix('guild-health')}lock`
    try {
      const other = new RedisTaskLock(redis, key, 60_000)
      const held = await other.acquire()
      expect(held).not.toBeNull()
      const mine = new GuildHealthTask({ store: t.app.discord.store, bots: (token) => t.app.discord.client.bot(token), log: capturingLogger(), lock: new RedisTaskLock(redis, key, 60_000) })
      expect((await mine.run()).ran).toBe(false)
      await other.release(held as string)
      expect((await mine.run())).toMatchObject({ ran: true, checked: 1 })
      expect(await redis.exists(key)).toBe(0)
    } finally {
      await redis.del(key)
      redis.disconnect()
    }
  })

  it('concurrent runs share one pass', async () => {
    sim.clearRequests()
    const [a, b] = await Promise.all([task.run(), task.run()])
    expect(a).toBe(b)
    expect(sim.requests.filter((r) => r.route === 'GET /users/@me')).toHaveLength(1)
  })

  it('the plugin schedules the task (enabled by default) and exposes it', async () => {
    expect(t.app.discord.guildHealth).toBeInstanceOf(GuildHealthTask)
    const off = await buildWorld(routeWorld(sim, { healthCheck: { enabled: false } }))
    try {
      expect(off.app.discord.guildHealth).toBeNull()
    } finally {
      await off.close()
    }
    expect(BOT_TOKEN).not.toBe('')
  })
})
