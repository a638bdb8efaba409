import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { DiscordSimulator } from '../../src/testing/index.js'
import { buildWorld, type World } from '../helpers/world.js'
import { BOT_TOKEN, configureGuild, createMapping, expectDocumentedStatuses, expectNoSecrets, IDS, routeWorld, startSimulator } from './helpers.js'

/*
 * The authorization matrix of every guild, role-mapping and user endpoint: anonymous,
 * a tampered session, a plain user, another user and an admin. Runs on one app; the
 * admin column runs last, in an order where each write leaves the next one valid.
 * At the end every response body and header of the whole tour is scanned for the
 * seeded bot token values.
 */

let sim: DiscordSimulator
let t: World
let mappingId: string

beforeAll(async () => {
  sim = await startSimulator()
  t = await buildWorld(routeWorld(sim))
  await configureGuild(t)
  mappingId = String((await createMapping(t, { group_id: 'pilots', discord_role_id: IDS.pilotRole })).id)
  await t.app.discord.store.createUser({ user_id: 'user-alice', discord_user_id: IDS.alice, username: 'alice' })
})
afterAll(async () => {
  await t.close()
  await sim.close()
})

interface Endpoint {
  name: string
  method: 'GET' | 'POST' | 'PUT' | 'DELETE'
  url: () => string
  payload?: unknown
  /** Status an admin gets. */
  admin: number
}

const g = `/discord/guilds/${IDS.guild}`
const ENDPOINTS: Endpoint[] = [
  { name: 'GET /discord/users', method: 'GET', url: () => '/discord/users', admin: 200 },
  { name: 'GET /discord/guilds', method: 'GET', url: () => '/discord/guilds', admin: 200 },
  { name: 'POST /discord/guilds', method: 'POST', url: () => '/discord/guilds', payload: { guild_id: IDS.noBotGuild, guild_name: 'Second' }, admin: 201 },
  { name: 'GET /discord/guilds/{guild_id}', method: 'GET', url: () => g, admin: 200 },
  { name: 'PUT /discord/guilds/{guild_id}', method: 'PUT', url: () => g, payload: { guild_name: 'Renamed' }, admin: 200 },
  { name: 'GET /discord/guilds/{guild_id}/role-mappings', method: 'GET', url: () => `${g}/role-mappings`, admin: 200 },
  { name: 'POST /discord/guilds/{guild_id}/role-mappings', method: 'POST', url: () => `${g}/role-mappings`, payload: { group_id: 'staff', discord_role_id: IDS.staffRole }, admin: 201 },
  { name: 'GET /discord/guilds/{guild_id}/role-mappings/export', method: 'GET', url: () => `${g}/role-mappings/export`, admin: 200 },
  { name: 'POST /discord/guilds/{guild_id}/role-mappings/import', method: 'POST', url: () => `${g}/role-mappings/import`, payload: { version: 1, dry_run: true, mappings: [] }, admin: 200 },
  { name: 'GET /discord/role-mappings', method: 'GET', url: () => `/discord/role-mappings?guild_id=${IDS.guild}`, admin: 200 },
  { name: 'GET /discord/role-mappings/{mapping_id}', method: 'GET', url: () => `/discord/role-mappings/${mappingId}`, admin: 200 },
  { name: 'PUT /discord/role-mappings/{mapping_id}', method: 'PUT', url: () => `/discord/role-mappings/${mappingId}`, payload: { priority: 2 }, admin: 200 },
  { name: 'DELETE /discord/role-mappings/{mapping_id}', method: 'DELETE', url: () => `/discord/role-mappings/${mappingId}`, admin: 200 },
  { name: 'DELETE /discord/guilds/{guild_id}', method: 'DELETE', url: () => g, admin: 200 }
]

describe('admin-only endpoints', () => {
  it.each(ENDPOINTS.map((e) => [e.name, e] as const))('%s: anonymous 401, tampered session 401, users 403', async (_name, e) => {
    const anonymous = await t.inject({ method: e.method, url: e.url(), payload: e.payload as never })
    expect(anonymous.statusCode).toBe(401)
    expect(anonymous.json()).toMatchObject({ statusCode: 401, code: 'FST_DISCORD_AUTH_REQUIRED' })

    const tampered = `${t.tokenFor('admin').slice(0, -4)}AAAA`
    const forged = await t.inject({ method: e.method, url: e.url(), payload: e.payload as never, headers: { authorization: `Bearer ${tampered}` } })
    expect(forged.statusCode).toBe(401)
    expect(forged.json().code).toBe('FST_DISCORD_AUTH_TOKEN_INVALID')

    for (const who of ['alice', 'bob'] as const) {
      for (const cookie of [false, true]) {
        const res = await t.inject({ method: e.method, url: e.url(), payload: e.payload as never, as: who, cookie })
        expect(res.statusCode).toBe(403)
        expect(res.json()).toMatchObject({ statusCode: 403, code: 'FST_DISCORD_FORBIDDEN' })
      }
    }
  })

  it('authorisation comes before validation: a malformed body from a non-admin is still 401/403, not 400', async () => {
    const junk = { nonsense: true }
    expect((await t.inject({ method: 'POST', url: '/discord/guilds', payload: junk })).statusCode).toBe(401)
    expect((await t.inject({ method: 'POST', url: '/discord/guilds', payload: junk, as: 'alice' })).statusCode).toBe(403)
    expect((await t.inject({ method: 'GET', url: '/discord/guilds/not-a-snowflake', as: 'alice' })).statusCode).toBe(403)
    expect((await t.inject({ method: 'POST', url: '/discord/guilds', payload: junk, as: 'admin' })).statusCode).toBe(400)
  })

  it('nothing changed through the refused calls', async () => {
    expect((await t.app.discord.store.listGuilds()).map((x) => x.guild_name)).toEqual(['My Discord Server'])
    expect(await t.app.discord.store.countMappings()).toBe(1)
  })

  it('an admin gets through every one of them (Bearer and cookie)', async () => {
    for (const [i, e] of ENDPOINTS.entries()) {
      const res = await t.inject({ method: e.method, url: e.url(), payload: e.payload as never, as: 'admin', cookie: i % 2 === 1 })
      expect({ name: e.name, status: res.statusCode }).toEqual({ name: e.name, status: e.admin })
    }
  })
})

describe('GET /discord/users/{user_id}', () => {
  it('anonymous 401, the user 200, another user 403, an admin 200', async () => {
    expect((await t.inject({ url: '/discord/users/user-alice' })).statusCode).toBe(401)
    expect((await t.inject({ url: '/discord/users/user-alice', as: 'alice' })).statusCode).toBe(200)
    expect((await t.inject({ url: '/discord/users/user-alice', as: 'bob' })).statusCode).toBe(403)
    expect((await t.inject({ url: '/discord/users/user-alice', as: 'admin' })).statusCode).toBe(200)
  })
})

describe('secrets', () => {
  it('no response of the whole tour carries a bot token value', () => {
    expect(t.responses.length).toBeGreaterThan(80)
    expectNoSecrets(t)
  })

  it('every status the tour got is declared for its operation in the OpenAPI document', async () => {
    expect(t.served.length).toBeGreaterThan(80)
    await expectDocumentedStatuses(t)
    // The scan is meaningful: the token was really used (stored and sent to Discord).
    expect(sim.requests.length).toBeGreaterThan(0)
    expect(BOT_TOKEN.length).toBeGreaterThan(20)
  })
})
