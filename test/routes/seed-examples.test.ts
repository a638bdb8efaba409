import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { DiscordSimulator } from '../../src/testing/index.js'
import { buildWorld, type World } from '../helpers/world.js'
import { BOT_TOKEN, expectDocumentedStatuses, expectNoSecrets, IDS, routeWorld, startSimulator } from './helpers.js'

/*
 * The seed's curl examples (spec "API Examples" and "Troubleshooting"), replayed with their
 * bodies byte for byte as written, under the seed's /api/discord prefix. Only the JWT
 * placeholders ("your-jwt-token", "your-cookie-token") are replaced by real sessions.
 */

// "Configure Discord Guild", Bearer variant, exactly as in the spec.
const GUILD_BODY_BEARER = `{
    "guild_id": "123456789012345678",
    "guild_name": "My Discord Server",
    "is_enabled": true
  }`

// The cookie variant: note the trailing space after the guild_id line, as in the spec.
const GUILD_BODY_COOKIE = `{
    "guild_id": "123456789012345678", 
    "guild_name": "My Discord Server",
    "is_enabled": true
  }`

// "Create Role Mapping", exactly as in the spec.
const MAPPING_BODY = `{
    "group_id": "go-falcon-group-id",
    "discord_role_id": "987654321098765432",
    "discord_role_name": "EVE Pilot",
    "is_active": true
  }`

let sim: DiscordSimulator
let t: World
let bearer: string
let cookie: string

beforeAll(async () => {
  sim = await startSimulator()
  t = await buildWorld(routeWorld(sim, { prefix: '/api' } as never))
  bearer = `Bearer ${t.tokenFor('admin')}`
  cookie = `falcon_auth_token=${t.tokenFor('admin')}`
})
afterAll(async () => {
  expectNoSecrets(t)
  await expectDocumentedStatuses(t)
  await t.close()
  await sim.close()
})

function post (url: string, payload: string, auth: { authorization?: string, cookie?: string }) {
  return t.inject({ method: 'POST', url, payload, headers: { 'content-type': 'application/json', ...auth } as Record<string, string> })
}

describe('the seed\'s API examples', () => {
  it('Configure Discord Guild (Bearer) creates the guild as written', async () => {
    expect(GUILD_BODY_BEARER).toContain('"is_enabled": true')
    const res = await post('/api/discord/guilds', GUILD_BODY_BEARER, { authorization: bearer })
    expect(res.statusCode).toBe(201)
    expect(res.json()).toMatchObject({ guild_id: '123456789012345678', guild_name: 'My Discord Server', is_enabled: true, enabled: true, has_bot_token: false })
  })

  it('Configure Discord Guild (cookie) works as written too', async () => {
    // On a second app, so this example stands on its own and the next steps keep the first guild.
    const other = await buildWorld(routeWorld(sim, { prefix: '/api' } as never))
    try {
      expect(GUILD_BODY_COOKIE).toContain('"123456789012345678", \n')
      const res = await other.inject({
        method: 'POST',
        url: '/api/discord/guilds',
        payload: GUILD_BODY_COOKIE,
        headers: { 'content-type': 'application/json', cookie: `falcon_auth_token=${other.tokenFor('admin')}` }
      })
      expect({ status: res.statusCode, body: res.json() }).toMatchObject({ status: 201, body: { guild_id: '123456789012345678', guild_name: 'My Discord Server', is_enabled: true } })
    } finally {
      await other.close()
    }
  })

  it('Create Role Mapping works as written once the guild has its bot token', async () => {
    // Not a seed example: the seed stores bot tokens "via API"; this is that API.
    const token = await t.inject({ method: 'PUT', url: `/api/discord/guilds/${IDS.guild}`, headers: { authorization: bearer }, payload: { bot_token: BOT_TOKEN } })
    expect(token.statusCode).toBe(200)
    const res = await post('/api/discord/guilds/123456789012345678/role-mappings', MAPPING_BODY, { authorization: bearer })
    expect(res.statusCode).toBe(201)
    expect(res.json()).toMatchObject({
      guild_id: '123456789012345678',
      group_id: 'go-falcon-group-id',
      discord_role_id: '987654321098765432',
      discord_role_name: 'EVE Pilot',
      is_active: true,
      enabled: true,
      created_by: 'admin-1'
    })
  })

  it('List Role Mappings, Bearer and cookie', async () => {
    const a = await t.inject({ url: '/api/discord/guilds/123456789012345678/role-mappings', headers: { authorization: bearer } })
    const b = await t.inject({ url: '/api/discord/guilds/123456789012345678/role-mappings', headers: { cookie } })
    expect(a.statusCode).toBe(200)
    expect(b.statusCode).toBe(200)
    expect(a.json()).toEqual(b.json())
    expect(a.json().mappings.map((m: { group_id: string }) => m.group_id)).toEqual(['go-falcon-group-id'])
  })
})

describe('the seed\'s troubleshooting commands', () => {
  it('Review role mappings: GET /role-mappings?guild_id=', async () => {
    const res = await t.inject({ url: `/api/discord/role-mappings?guild_id=${IDS.guild}`, headers: { authorization: bearer } })
    expect(res.statusCode).toBe(200)
    expect(res.json().total).toBe(1)
  })

  it('Bot Permission Issues: the guild shows bot_permissions, health_status "unhealthy" and last_error as in the example', async () => {
    sim.state.setRolePermissions(IDS.guild, IDS.botRole, 1n << 10n)
    try {
      const check = await t.app.discord.guildHealth?.run()
      expect(check?.results).toEqual([expect.objectContaining({ guild_id: IDS.guild, status: 'unhealthy' })])
      const res = await t.inject({ url: `/api/discord/guilds/${IDS.guild}`, headers: { authorization: bearer } })
      expect(res.statusCode).toBe(200)
      const body = res.json()
      expect(body.health_status).toBe('unhealthy')
      expect(body.last_error).toBe('Bot missing Manage Roles permission')
      expect(body.bot_permissions).toMatch(/^\d+$/)
      expect(BigInt(body.bot_permissions) & (1n << 28n)).toBe(0n)
      // The module status reports it (seed "Health Endpoints": module, status, message).
      const status = await t.inject({ url: '/api/discord/status' })
      expect(status.json()).toMatchObject({ module: 'discord', status: 'degraded' })
      expect(status.json().message).toContain(IDS.guild)
    } finally {
      sim.state.setRolePermissions(IDS.guild, IDS.botRole, (1n << 28n) | (1n << 10n) | (1n << 11n))
    }
  })
})
