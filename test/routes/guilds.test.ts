import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import type { DiscordSimulator } from '../../src/testing/index.js'
import { buildWorld, dumpDatabase, type World } from '../helpers/world.js'
import {
  ADMIN_BOT_TOKEN,
  BOT_TOKEN,
  configureGuild,
  createMapping,
  expectDocumentedStatuses,
  expectNoSecrets,
  IDS,
  routeWorld,
  startSimulator,
  UNKNOWN_TOKEN,
  WEAK_TOKEN
} from './helpers.js'

let sim: DiscordSimulator
let t: World

beforeAll(async () => { sim = await startSimulator() })
afterAll(async () => { await sim.close() })
beforeEach(async () => { t = await buildWorld(routeWorld(sim)) })
afterEach(async () => {
  // No response of any test in this file may carry a bot token value.
  expectNoSecrets(t)
  await expectDocumentedStatuses(t)
  await t.close()
})

const MANAGE_ROLES = 1n << 28n

describe('POST /discord/guilds', () => {
  it('with a bot token: checks it against Discord and stores permissions, bot user and health; never returns the token', async () => {
    const res = await t.inject({ method: 'POST', url: '/discord/guilds', as: 'admin', payload: { guild_id: IDS.guild, bot_token: BOT_TOKEN } })
    expect(res.statusCode).toBe(201)
    const body = res.json()
    expect(body).toMatchObject({
      guild_id: IDS.guild,
      guild_name: 'My Discord Server', // Discord's name when none is given
      enabled: true,
      is_enabled: true,
      has_bot_token: true,
      bot_user_id: IDS.bot,
      owner_id: 'admin-1',
      health_status: 'healthy',
      last_error: null,
      settings: { auto_sync: true, sync_interval: '15m', sync_on_join: true, remove_roles_on_leave: true, audit_channel_id: null, notification_channel_id: null, max_role_changes_per_sync: 100 }
    })
    // @everyone's default permissions plus the bot role's: Manage Roles is in there.
    expect(BigInt(body.bot_permissions) & MANAGE_ROLES).toBe(MANAGE_ROLES)
    expect(typeof body.last_health_check).toBe('string')
    expect(body).not.toHaveProperty('bot_token')
    // Sealed at rest: the raw database never holds the token.
    expect(dumpDatabase(t.db)).not.toContain(BOT_TOKEN)
    expect(await t.app.discord.store.getBotToken(IDS.guild)).toBe(BOT_TOKEN)
  })

  it('an Administrator bot is accepted with every permission', async () => {
    const res = await t.inject({ method: 'POST', url: '/discord/guilds', as: 'admin', payload: { guild_id: IDS.guild, bot_token: ADMIN_BOT_TOKEN } })
    expect(res.statusCode).toBe(201)
    expect(BigInt(res.json().bot_permissions) & 8n).toBe(8n)
  })

  it('without a token: stores the guild with health "unknown" (the seed\'s example)', async () => {
    const res = await t.inject({ method: 'POST', url: '/discord/guilds', as: 'admin', payload: { guild_id: IDS.guild, guild_name: 'My Discord Server', is_enabled: false } })
    expect(res.statusCode).toBe(201)
    expect(res.json()).toMatchObject({ enabled: false, is_enabled: false, has_bot_token: false, health_status: 'unknown', bot_permissions: null, bot_user_id: null })
  })

  it.each([
    [{ guild_id: IDS.guild, bot_token: WEAK_TOKEN }, 'FST_DISCORD_BOT_MISSING_PERMISSION', /Bot missing Manage Roles permission/],
    [{ guild_id: IDS.guild, bot_token: UNKNOWN_TOKEN }, 'FST_DISCORD_BOT_TOKEN_INVALID', /rejected the bot token/],
    [{ guild_id: IDS.noBotGuild, bot_token: BOT_TOKEN }, 'FST_DISCORD_BOT_NOT_IN_GUILD', /not a member of guild 123456789012345679/],
    [{ guild_id: IDS.unknownGuild, bot_token: BOT_TOKEN }, 'FST_DISCORD_GUILD_UNKNOWN', /does not know guild 123456789012345670/]
  ])('refuses %j with 422 %s and stores nothing', async (payload, code, message) => {
    const res = await t.inject({ method: 'POST', url: '/discord/guilds', as: 'admin', payload })
    expect(res.statusCode).toBe(422)
    expect(res.json()).toMatchObject({ statusCode: 422, code, error: 'Unprocessable Entity' })
    expect(res.json().message).toMatch(message)
    expect(await t.app.discord.store.listGuilds()).toEqual([])
  })

  it.each([
    ['a non-snowflake guild_id', { guild_id: '12345', guild_name: 'x' }, /guild_id/],
    ['a 21-digit guild_id', { guild_id: '123456789012345678901', guild_name: 'x' }, /guild_id/],
    ['an unknown field', { guild_id: IDS.guild, guild_name: 'x', colour: 'red' }, /colour/],
    ['an unknown settings field', { guild_id: IDS.guild, guild_name: 'x', settings: { autosync: true } }, /autosync/],
    ['a string for is_enabled', { guild_id: IDS.guild, guild_name: 'x', is_enabled: 'true' }, /is_enabled/],
    ['a blank guild_name', { guild_id: IDS.guild, guild_name: '  ' }, /guild_name/],
    ['a malformed bot token', { guild_id: IDS.guild, bot_token: 'has spaces in it and is long' }, /bot_token/],
    ['a bad sync_interval', { guild_id: IDS.guild, guild_name: 'x', settings: { sync_interval: 'soon' } }, /sync_interval/],
    ['a too short sync_interval', { guild_id: IDS.guild, guild_name: 'x', settings: { sync_interval: '10s' } }, /sync_interval must be a duration from 1m to 7d/],
    ['a too long sync_interval', { guild_id: IDS.guild, guild_name: 'x', settings: { sync_interval: '8d' } }, /sync_interval/],
    ['a non-snowflake channel', { guild_id: IDS.guild, guild_name: 'x', settings: { notification_channel_id: 'general' } }, /notification_channel_id/],
    ['max_role_changes_per_sync 0', { guild_id: IDS.guild, guild_name: 'x', settings: { max_role_changes_per_sync: 0 } }, /max_role_changes_per_sync/],
    ['enabled and is_enabled disagreeing', { guild_id: IDS.guild, guild_name: 'x', enabled: true, is_enabled: false }, /"enabled" and "is_enabled"/],
    ['neither guild_name nor bot_token', { guild_id: IDS.guild }, /guild_name is required/]
  ])('refuses %s with 400 FST_DISCORD_VALIDATION', async (_what, payload, message) => {
    const res = await t.inject({ method: 'POST', url: '/discord/guilds', as: 'admin', payload })
    expect(res.statusCode).toBe(400)
    expect(res.json()).toMatchObject({ statusCode: 400, code: 'FST_DISCORD_VALIDATION' })
    expect(res.json().message).toMatch(message)
  })

  it('refuses malformed JSON, non-JSON and oversized bodies with FST_DISCORD_ codes', async () => {
    const bad = await t.inject({ method: 'POST', url: '/discord/guilds', as: 'admin', headers: { 'content-type': 'application/json' }, payload: '{"guild_id":' })
    expect(bad.statusCode).toBe(400)
    expect(bad.json().code).toBe('FST_DISCORD_VALIDATION')
    const xml = await t.inject({ method: 'POST', url: '/discord/guilds', as: 'admin', headers: { 'content-type': 'application/xml' }, payload: '<guild/>' })
    expect(xml.statusCode).toBe(415)
    expect(xml.json().code).toBe('FST_DISCORD_UNSUPPORTED_MEDIA_TYPE')
    // Fastify parses text/plain itself; the schema then refuses a string where an object is due.
    const text = await t.inject({ method: 'POST', url: '/discord/guilds', as: 'admin', headers: { 'content-type': 'text/plain' }, payload: 'guild' })
    expect(text.statusCode).toBe(400)
    expect(text.json().code).toBe('FST_DISCORD_VALIDATION')
    const big = await t.inject({ method: 'POST', url: '/discord/guilds', as: 'admin', payload: { guild_id: IDS.guild, guild_name: 'x'.repeat(20_000) } })
    expect(big.statusCode).toBe(413)
    expect(big.json().code).toBe('FST_DISCORD_PAYLOAD_TOO_LARGE')
  })

  it('Discord failing during the check is a 502 FST_DISCORD_UPSTREAM and stores nothing', async () => {
    sim.scriptFault({ kind: 'error', status: 500, route: 'GET /guilds/:guild_id', times: 10 })
    try {
      const res = await t.inject({ method: 'POST', url: '/discord/guilds', as: 'admin', payload: { guild_id: IDS.guild, bot_token: BOT_TOKEN } })
      expect(res.statusCode).toBe(502)
      expect(res.json().code).toBe('FST_DISCORD_UPSTREAM')
      expect(res.json().message).toMatch(/nothing was changed/)
      expect(await t.app.discord.store.listGuilds()).toEqual([])
    } finally {
      sim.clearFaults()
    }
  }, 20_000)

  it('without a session configuration the admin routes answer 503 FST_DISCORD_AUTH_NOT_CONFIGURED', async () => {
    const bare = await buildWorld(routeWorld(sim, { auth: { jwtSecret: undefined } }))
    try {
      const res = await bare.app.inject({ url: '/discord/guilds', headers: { authorization: 'Bearer x.y.z' } })
      expect(res.statusCode).toBe(503)
      expect(res.json().code).toBe('FST_DISCORD_AUTH_NOT_CONFIGURED')
    } finally {
      await bare.close()
    }
  })

  it('a second configuration of the same guild is a 409 and costs no Discord call', async () => {
    await configureGuild(t)
    sim.clearRequests()
    const res = await t.inject({ method: 'POST', url: '/discord/guilds', as: 'admin', payload: { guild_id: IDS.guild, bot_token: BOT_TOKEN } })
    expect(res.statusCode).toBe(409)
    expect(res.json().code).toBe('FST_DISCORD_CONFLICT')
    expect(sim.requests).toHaveLength(0)
  })
})

describe('GET /discord/guilds and /discord/guilds/{guild_id}', () => {
  it('lists configured guilds, filtered by enabled', async () => {
    await configureGuild(t)
    await t.inject({ method: 'POST', url: '/discord/guilds', as: 'admin', payload: { guild_id: IDS.noBotGuild, guild_name: 'Off', enabled: false } })
    const all = await t.inject({ url: '/discord/guilds', as: 'admin' })
    expect(all.statusCode).toBe(200)
    expect(all.json().total).toBe(2)
    expect(all.json().guilds.map((g: { guild_id: string }) => g.guild_id).sort()).toEqual([IDS.guild, IDS.noBotGuild].sort())
    const off = await t.inject({ url: '/discord/guilds?enabled=false', as: 'admin' })
    expect(off.json().guilds.map((g: { guild_id: string }) => g.guild_id)).toEqual([IDS.noBotGuild])
    const bad = await t.inject({ url: '/discord/guilds?enabled=maybe', as: 'admin' })
    expect(bad.statusCode).toBe(400)
    expect(bad.json().code).toBe('FST_DISCORD_VALIDATION')
    const unknownQuery = await t.inject({ url: '/discord/guilds?page=2', as: 'admin' })
    expect(unknownQuery.statusCode).toBe(400)
  })

  it('shows bot_permissions, health_status and last_error as the seed\'s troubleshooting example', async () => {
    await configureGuild(t)
    const res = await t.inject({ url: `/discord/guilds/${IDS.guild}`, as: 'admin' })
    expect(res.statusCode).toBe(200)
    const body = res.json()
    expect(Object.keys(body)).toEqual(expect.arrayContaining(['bot_permissions', 'health_status', 'last_error']))
    expect(body.bot_permissions).toMatch(/^\d+$/)
    expect(body.health_status).toBe('healthy')
    expect(body.last_error).toBeNull()
  })

  it('answers 404 for a guild that is not configured and 400 for a malformed id', async () => {
    const missing = await t.inject({ url: `/discord/guilds/${IDS.guild}`, as: 'admin' })
    expect(missing.statusCode).toBe(404)
    expect(missing.json()).toMatchObject({ code: 'FST_DISCORD_NOT_FOUND', message: `Guild ${IDS.guild} is not configured` })
    const malformed = await t.inject({ url: '/discord/guilds/not-a-snowflake', as: 'admin' })
    expect(malformed.statusCode).toBe(400)
    expect(malformed.json().code).toBe('FST_DISCORD_VALIDATION')
  })
})

describe('PUT /discord/guilds/{guild_id}', () => {
  it('updates name, enabled (either spelling) and merges settings', async () => {
    await configureGuild(t, { settings: { sync_interval: '30m' } })
    const res = await t.inject({ method: 'PUT', url: `/discord/guilds/${IDS.guild}`, as: 'admin', payload: { guild_name: 'Renamed', is_enabled: false, settings: { notification_channel_id: IDS.channel } } })
    expect(res.statusCode).toBe(200)
    expect(res.json()).toMatchObject({ guild_name: 'Renamed', enabled: false, is_enabled: false, settings: { sync_interval: '30m', notification_channel_id: IDS.channel } })
    const again = await t.inject({ method: 'PUT', url: `/discord/guilds/${IDS.guild}`, as: 'admin', payload: { enabled: true } })
    expect(again.json().enabled).toBe(true)
  })

  it('a new token is checked first: a refused one changes nothing', async () => {
    await configureGuild(t)
    const res = await t.inject({ method: 'PUT', url: `/discord/guilds/${IDS.guild}`, as: 'admin', payload: { bot_token: WEAK_TOKEN, guild_name: 'Should not stick' } })
    expect(res.statusCode).toBe(422)
    expect(res.json().code).toBe('FST_DISCORD_BOT_MISSING_PERMISSION')
    expect(await t.app.discord.store.getBotToken(IDS.guild)).toBe(BOT_TOKEN)
    expect((await t.app.discord.store.getGuild(IDS.guild))?.guild_name).toBe('My Discord Server')
  })

  it('a new token re-judges existing mappings with the new bot\'s hierarchy', async () => {
    await configureGuild(t)
    // Above the sync bot (10) but below the admin bot (15): created through the admin bot first.
    await t.inject({ method: 'PUT', url: `/discord/guilds/${IDS.guild}`, as: 'admin', payload: { bot_token: ADMIN_BOT_TOKEN } })
    await createMapping(t, { group_id: 'peers', discord_role_id: IDS.peerRole })
    const res = await t.inject({ method: 'PUT', url: `/discord/guilds/${IDS.guild}`, as: 'admin', payload: { bot_token: BOT_TOKEN } })
    expect(res.statusCode).toBe(200)
    expect(res.json()).toMatchObject({ health_status: 'degraded', bot_user_id: IDS.bot })
    expect(res.json().last_error).toMatch(/Peer.*not below the bot's highest role/)
  })

  it('bot_token null removes the token and what was learnt from it', async () => {
    await configureGuild(t)
    const res = await t.inject({ method: 'PUT', url: `/discord/guilds/${IDS.guild}`, as: 'admin', payload: { bot_token: null } })
    expect(res.statusCode).toBe(200)
    expect(res.json()).toMatchObject({ has_bot_token: false, bot_permissions: null, bot_user_id: null, health_status: 'unknown' })
    expect(await t.app.discord.store.getBotToken(IDS.guild)).toBeNull()
  })

  it('refuses an empty body, unknown fields, guild_id changes and unknown guilds', async () => {
    await configureGuild(t)
    for (const payload of [{}, { guild_id: IDS.noBotGuild }, { name: 'x' }]) {
      const res = await t.inject({ method: 'PUT', url: `/discord/guilds/${IDS.guild}`, as: 'admin', payload })
      expect(res.statusCode).toBe(400)
      expect(res.json().code).toBe('FST_DISCORD_VALIDATION')
    }
    const missing = await t.inject({ method: 'PUT', url: `/discord/guilds/${IDS.noBotGuild}`, as: 'admin', payload: { guild_name: 'x' } })
    expect(missing.statusCode).toBe(404)
  })
})

describe('DELETE /discord/guilds/{guild_id}', () => {
  it('removes the guild and its mappings, says syncing stopped, and leaves Discord roles alone', async () => {
    await configureGuild(t)
    await createMapping(t, { group_id: 'pilots', discord_role_id: IDS.pilotRole })
    await createMapping(t, { group_id: 'staff', discord_role_id: IDS.staffRole })
    sim.state.setMemberRoles(IDS.guild, IDS.alice, [IDS.pilotRole])
    const res = await t.inject({ method: 'DELETE', url: `/discord/guilds/${IDS.guild}`, as: 'admin' })
    expect(res.statusCode).toBe(200)
    expect(res.json()).toMatchObject({ guild_id: IDS.guild, deleted: true, mappings_deleted: 2, sync_stopped: true })
    expect(res.json().message).toMatch(/not removed/)
    expect(await t.app.discord.store.listMappings({ guild_id: IDS.guild })).toEqual([])
    expect(await t.app.discord.store.getBotToken(IDS.guild)).toBeNull()
    expect(sim.state.memberRoles(IDS.guild, IDS.alice)).toEqual([IDS.pilotRole])
    const again = await t.inject({ method: 'DELETE', url: `/discord/guilds/${IDS.guild}`, as: 'admin' })
    expect(again.statusCode).toBe(404)
    // Syncing stopped: the sync engine and the health task pick guilds from this list.
    expect(await t.app.discord.store.listGuilds({ enabled: true })).toEqual([])
  })
})

describe('channel settings (audit_channel_id, notification_channel_id) are checked with the bot', () => {
  const put = (settings: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
    t.inject({ method: 'PUT', url: `/discord/guilds/${IDS.guild}`, as: 'admin', payload: { settings, ...extra } })

  it('accepts text and announcement channels the bot can post in, including a private one its role is let into', async () => {
    const created = await t.inject({ method: 'POST', url: '/discord/guilds', as: 'admin', payload: { guild_id: IDS.guild, bot_token: BOT_TOKEN, settings: { audit_channel_id: IDS.channel, notification_channel_id: IDS.staffChannel } } })
    expect(created.statusCode).toBe(201)
    expect(created.json().settings).toMatchObject({ audit_channel_id: IDS.channel, notification_channel_id: IDS.staffChannel })
    const news = await put({ notification_channel_id: IDS.announcementChannel })
    expect(news.statusCode).toBe(200)
    expect(news.json().settings.notification_channel_id).toBe(IDS.announcementChannel)
  })

  it.each([
    ['a voice channel', IDS.voiceChannel, /settings.audit_channel_id: channel "#Lobby" \(333333333333333332\) is a voice channel/],
    ['a channel of another guild', IDS.foreignChannel, /settings.audit_channel_id: channel 333333333333333337 is not a channel of guild 123456789012345678/],
    ['an id no channel has', '333333333333333399', /is not a channel of guild/],
    ['a channel the bot cannot see', IDS.privateChannel, /cannot see channel "#officers".*View Channels/],
    ['a channel the bot cannot post in', IDS.readOnlyChannel, /cannot post in channel "#rules".*Send Messages/]
  ])('refuses %s with 422 FST_DISCORD_CHANNEL_INVALID, on create and on update, storing nothing', async (_what, channelId, message) => {
    const create = await t.inject({ method: 'POST', url: '/discord/guilds', as: 'admin', payload: { guild_id: IDS.guild, bot_token: BOT_TOKEN, settings: { audit_channel_id: channelId } } })
    expect(create.statusCode).toBe(422)
    expect(create.json()).toMatchObject({ statusCode: 422, code: 'FST_DISCORD_CHANNEL_INVALID', error: 'Unprocessable Entity' })
    expect(create.json().message).toMatch(message)
    expect(await t.app.discord.store.listGuilds()).toEqual([])

    await configureGuild(t)
    const update = await put({ audit_channel_id: channelId }, { guild_name: 'Should not stick' })
    expect(update.statusCode).toBe(422)
    expect(update.json().code).toBe('FST_DISCORD_CHANNEL_INVALID')
    expect(update.json().message).toMatch(message)
    expect(await t.app.discord.store.getGuild(IDS.guild)).toMatchObject({ guild_name: 'My Discord Server', settings: { audit_channel_id: null } })
  })

  it('the notification channel is checked the same way', async () => {
    await configureGuild(t)
    const res = await put({ notification_channel_id: IDS.voiceChannel })
    expect(res.statusCode).toBe(422)
    expect(res.json().message).toMatch(/^settings.notification_channel_id: .*voice channel/)
  })

  it('a channel cannot be set without a bot token to check it with', async () => {
    const create = await t.inject({ method: 'POST', url: '/discord/guilds', as: 'admin', payload: { guild_id: IDS.guild, guild_name: 'x', settings: { notification_channel_id: IDS.channel } } })
    expect(create.statusCode).toBe(422)
    expect(create.json().code).toBe('FST_DISCORD_CHANNEL_INVALID')
    expect(create.json().message).toMatch(/settings.notification_channel_id can only be set with a bot token.*send bot_token in the same request/i)
    expect(await t.app.discord.store.listGuilds()).toEqual([])

    await t.inject({ method: 'POST', url: '/discord/guilds', as: 'admin', payload: { guild_id: IDS.guild, guild_name: 'x' } })
    const update = await put({ audit_channel_id: IDS.channel })
    expect(update.statusCode).toBe(422)
    expect(update.json().code).toBe('FST_DISCORD_CHANNEL_INVALID')
    // Removing the token in the same request is no way around it.
    await t.inject({ method: 'PUT', url: `/discord/guilds/${IDS.guild}`, as: 'admin', payload: { bot_token: BOT_TOKEN } })
    const dropping = await put({ audit_channel_id: IDS.channel }, { bot_token: null })
    expect(dropping.statusCode).toBe(422)
    expect(await t.app.discord.store.getBotToken(IDS.guild)).toBe(BOT_TOKEN)
    // With the token in the same request it works, and clearing a channel never needs one.
    const withToken = await t.inject({ method: 'PUT', url: `/discord/guilds/${IDS.guild}`, as: 'admin', payload: { bot_token: BOT_TOKEN, settings: { audit_channel_id: IDS.channel } } })
    expect(withToken.statusCode).toBe(200)
    const cleared = await put({ audit_channel_id: null }, { bot_token: null })
    expect(cleared.statusCode).toBe(200)
    expect(cleared.json().settings.audit_channel_id).toBeNull()
  })

  it('an id saved again unchanged is not re-checked (a form sends every field), so other edits keep working', async () => {
    await configureGuild(t, { settings: { audit_channel_id: IDS.staffChannel } })
    // The channel is deleted in Discord afterwards.
    const channel = sim.state.channels.get(IDS.staffChannel)
    sim.state.channels.delete(IDS.staffChannel)
    try {
      sim.clearRequests()
      const res = await put({ audit_channel_id: IDS.staffChannel, sync_interval: '30m' })
      expect(res.statusCode).toBe(200)
      expect(sim.requests).toHaveLength(0)
      // Setting it to another id is checked again.
      expect((await put({ audit_channel_id: IDS.voiceChannel })).statusCode).toBe(422)
    } finally {
      if (channel !== undefined) sim.state.channels.set(IDS.staffChannel, channel)
    }
  })

  it('Discord failing while listing channels is a 502 and changes nothing', async () => {
    await configureGuild(t)
    sim.scriptFault({ kind: 'error', status: 500, route: 'GET /guilds/:guild_id/channels', times: 10 })
    try {
      const res = await put({ audit_channel_id: IDS.channel })
      expect(res.statusCode).toBe(502)
      expect(res.json().code).toBe('FST_DISCORD_UPSTREAM')
      expect((await t.app.discord.store.getGuild(IDS.guild))?.settings.audit_channel_id).toBeNull()
    } finally {
      sim.clearFaults()
    }
  }, 20_000)
})
