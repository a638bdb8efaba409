import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import type { DiscordSimulator } from '../../src/testing/index.js'
import { buildWorld, type World } from '../helpers/world.js'
import { expectDocumentedStatuses, expectNoSecrets, IDS, routeWorld, startSimulator } from './helpers.js'

let sim: DiscordSimulator
let t: World

const OAUTH_SECRETS = ['alice-access-token-value-1', 'alice-refresh-token-value-1', 'alice-alt-access-token-2', 'bob-access-token-value-3', 'bob-refresh-token-value-3']

beforeAll(async () => { sim = await startSimulator() })
afterAll(async () => { await sim.close() })
beforeEach(async () => {
  t = await buildWorld(routeWorld(sim))
  const store = t.app.discord.store
  const expires = new Date('2030-01-01T00:00:00Z')
  await store.createUser({
    user_id: 'user-alice',
    discord_user_id: IDS.alice,
    username: 'alice',
    guilds: [{ id: IDS.guild, name: 'My Discord Server', permissions: '2147483647', joined_at: new Date('2024-01-10T10:00:00Z') }],
    tokens: { access_token: OAUTH_SECRETS[0] as string, refresh_token: OAUTH_SECRETS[1] as string, expires_at: expires, scopes: ['identify', 'guilds'] }
  })
  await store.createUser({
    user_id: 'user-alice',
    discord_user_id: '222222222222222229',
    username: 'alice-alt',
    tokens: { access_token: OAUTH_SECRETS[2] as string, refresh_token: null, expires_at: expires, scopes: ['identify'] }
  })
  await store.createUser({
    user_id: 'user-bob',
    discord_user_id: IDS.bob,
    username: 'bob',
    is_active: false,
    guilds: [{ id: IDS.noBotGuild, name: 'No Bot Here', permissions: '0' }],
    tokens: { access_token: OAUTH_SECRETS[3] as string, refresh_token: OAUTH_SECRETS[4] as string, expires_at: expires, scopes: ['identify', 'guilds'] }
  })
})
afterEach(async () => {
  expectNoSecrets(t, OAUTH_SECRETS)
  await expectDocumentedStatuses(t)
  await t.close()
})

describe('GET /discord/users', () => {
  it('pages through every link with a total and no token', async () => {
    const res = await t.inject({ url: '/discord/users?page_size=2', as: 'admin' })
    expect(res.statusCode).toBe(200)
    const first = res.json()
    expect(first).toMatchObject({ total: 3, page: 1, page_size: 2 })
    expect(first.users).toHaveLength(2)
    const second = await t.inject({ url: '/discord/users?page_size=2&page=2', as: 'admin' })
    expect(second.json()).toMatchObject({ total: 3, page: 2, page_size: 2 })
    expect(second.json().users).toHaveLength(1)
    // The pages partition the links (stable order: created_at, then id).
    const all = [...first.users, ...second.json().users]
    expect(all.map((u: { username: string }) => u.username).sort()).toEqual(['alice', 'alice-alt', 'bob'])
    const alice = all.find((u: { username: string }) => u.username === 'alice')
    expect(alice).toMatchObject({ user_id: 'user-alice', discord_user_id: IDS.alice, has_tokens: true, needs_reauth: false, is_active: true, scopes: ['identify', 'guilds'], token_expires_at: '2030-01-01T00:00:00.000Z' })
    expect(alice.guilds).toEqual([{ id: IDS.guild, name: 'My Discord Server', permissions: '2147483647', joined_at: '2024-01-10T10:00:00.000Z' }])
    for (const u of all) expect(Object.keys(u).filter((k) => /token$/.test(k))).toEqual([])
    const beyond = await t.inject({ url: '/discord/users?page=9', as: 'admin' })
    expect(beyond.json()).toMatchObject({ total: 3, users: [] })
    const defaults = await t.inject({ url: '/discord/users', as: 'admin' })
    expect(defaults.json()).toMatchObject({ total: 3, page: 1, page_size: 20 })
  })

  it('filters by is_active and by guild_id', async () => {
    const inactive = await t.inject({ url: '/discord/users?is_active=false', as: 'admin' })
    expect(inactive.json().users.map((u: { username: string }) => u.username)).toEqual(['bob'])
    const inGuild = await t.inject({ url: `/discord/users?guild_id=${IDS.guild}`, as: 'admin' })
    expect(inGuild.json()).toMatchObject({ total: 1, users: [expect.objectContaining({ username: 'alice' })] })
  })

  it.each([
    ['page_size over 100', 'page_size=101'],
    ['page_size 0', 'page_size=0'],
    ['page 0', 'page=0'],
    ['a word for page', 'page=two'],
    ['a malformed guild_id', 'guild_id=guild'],
    ['a bad is_active', 'is_active=yes'],
    ['an unknown filter', 'username=alice']
  ])('refuses %s with 400 FST_DISCORD_VALIDATION', async (_what, query) => {
    const res = await t.inject({ url: `/discord/users?${query}`, as: 'admin' })
    expect(res.statusCode).toBe(400)
    expect(res.json().code).toBe('FST_DISCORD_VALIDATION')
  })
})

describe('GET /discord/users/{user_id}', () => {
  it('the user sees their own accounts; an admin sees anyone\'s', async () => {
    const own = await t.inject({ url: '/discord/users/user-alice', as: 'alice' })
    expect(own.statusCode).toBe(200)
    expect(own.json().user_id).toBe('user-alice')
    expect(own.json().accounts.map((a: { username: string }) => a.username).sort()).toEqual(['alice', 'alice-alt'])
    const byAdmin = await t.inject({ url: '/discord/users/user-bob', as: 'admin' })
    expect(byAdmin.json().accounts).toEqual([expect.objectContaining({ discord_user_id: IDS.bob, is_active: false })])
  })

  it('another user is refused with 403 before any lookup (no probing who has links)', async () => {
    const other = await t.inject({ url: '/discord/users/user-alice', as: 'bob' })
    expect(other.statusCode).toBe(403)
    expect(other.json().code).toBe('FST_DISCORD_FORBIDDEN')
    const nobody = await t.inject({ url: '/discord/users/user-nobody', as: 'bob' })
    expect(nobody.statusCode).toBe(403)
  })

  it('no link is a 404 for the user themself and for an admin', async () => {
    const self = await t.inject({ url: '/discord/users/user-carol', as: { id: 'user-carol', permissions: [] } })
    expect(self.statusCode).toBe(404)
    expect(self.json().code).toBe('FST_DISCORD_NOT_FOUND')
    expect((await t.inject({ url: '/discord/users/user-carol', as: 'admin' })).statusCode).toBe(404)
  })

  it('works with the session cookie as well as the Bearer token', async () => {
    const res = await t.inject({ url: '/discord/users/user-alice', as: 'alice', cookie: true })
    expect(res.statusCode).toBe(200)
  })
})
