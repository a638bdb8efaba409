import { Value } from '@sinclair/typebox/value'
import { afterEach, describe, expect, it } from 'vitest'
import { BotToken } from '../../src/schemas/guilds.js'
import { createBotToken, createDiscordSimulator, PermissionFlags, tokenId } from '../../src/testing/index.js'
import { buildWorld, type World } from '../helpers/world.js'
import { USERS } from '../routes/helpers.js'

/*
 * Issue 15.5: `fastify-discord-sync/testing` hands hosts a bot token the plugin accepts, so a
 * host's first test does not trip over POST /guilds refusing 'test-bot-token'.
 */

const BOT = '400000000000000001'
const GUILD = '400000000000000100'

let t: World | undefined
afterEach(async () => { await t?.close(); t = undefined })

describe('createBotToken', () => {
  it('passes the plugin\'s bot token schema, is Discord-shaped and new on every call', () => {
    const a = createBotToken(BOT)
    const b = createBotToken(BOT)
    expect(Value.Check(BotToken, a)).toBe(true)
    expect(a).not.toBe(b)
    const parts = a.split('.')
    expect(parts).toHaveLength(3)
    expect(Buffer.from(parts[0] as string, 'base64url').toString()).toBe(BOT)
  })

  it('refuses an id that is not a snowflake', () => {
    expect(() => createBotToken('test-bot')).toThrow(/not a Discord user id/)
  })

  it('configures a guild through POST /guilds against the simulator', async () => {
    const sim = await createDiscordSimulator()
    const token = createBotToken(BOT)
    sim.state.addBot({ token, user: { id: BOT, username: 'hostbot' } })
    sim.state.addGuild({ id: GUILD, name: 'Host Guild', owner_id: '400000000000000009' })
    sim.state.addRole(GUILD, { id: '400000000000000201', name: 'hostbot', position: 2, permissions: PermissionFlags.MANAGE_ROLES | PermissionFlags.VIEW_CHANNEL })
    sim.state.addMember(GUILD, BOT, ['400000000000000201'])
    t = await buildWorld({ sim, closeSim: true, users: USERS, plugin: { rateLimit: false } })
    const res = await t.inject({ method: 'POST', url: '/discord/guilds', as: 'admin', payload: { guild_id: GUILD, bot_token: token } })
    expect(res.statusCode, res.body).toBe(201)
    expect(res.json()).toMatchObject({ guild_id: GUILD, guild_name: 'Host Guild', has_bot_token: true })
    expect(res.body).not.toContain(token)
    // The plugin proved the token against the simulator (GET /users/@me as that bot).
    expect(sim.requests.some((r) => r.tokenId === tokenId(token))).toBe(true)
  })
})
