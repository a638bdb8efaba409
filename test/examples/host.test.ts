import { randomBytes } from 'node:crypto'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildHost } from '../../examples/host/app.js'
import { HostDatabase } from '../../examples/host/db.js'
import { configureDiscord, DISCORD, seedHost, startSimulatedDiscord, type HostPeople, type SimulatedDiscord } from '../../examples/host/seed.js'

/*
 * Issue 15.6: examples/host is a real host. Booted as server.ts boots it (against the simulator),
 * a user signs in with the host's own password login and links Discord through the simulator's
 * consent page, an officer signs in with Discord (resolveUser maps her to the host's user and
 * permissions), edits a group through the host's own API, and the user's Discord roles follow
 * through the push API. Every wait is on the plugin's sync.finished event.
 */

const PUBLIC_URL = 'http://127.0.0.1:3100'
const { member, officer } = DISCORD.roles

let app: FastifyInstance
let db: HostDatabase
let discord: SimulatedDiscord
let people: HostPeople

beforeAll(async () => {
  discord = await startSimulatedDiscord(`${PUBLIC_URL}/api/discord/auth/callback`)
  db = new HostDatabase()
  people = seedHost(db)
  app = await buildHost({
    db,
    jwtSecret: randomBytes(32).toString('base64url'),
    encryptionKey: randomBytes(32).toString('base64'),
    publicUrl: PUBLIC_URL,
    discord: { clientId: DISCORD.clientId, clientSecret: discord.clientSecret, apiBaseUrl: discord.sim.apiBaseUrl, authorizeUrl: `${discord.sim.url}/oauth2/authorize` },
    cookieSecure: false,
    // Short, so the test does not spend the default 2 s window per edit; the event is still awaited.
    pushDebounce: '50ms'
  })
  await app.ready()
  await configureDiscord(app, discord, people)
})

afterAll(async () => {
  await app?.close()
  await discord?.sim.close()
  db?.close()
})

const roles = (discordId: string): string[] => discord.sim.state.memberRoles(DISCORD.guildId, discordId) ?? []
const cookiesOf = (res: LightMyRequestResponse): Record<string, string> => Object.fromEntries(res.cookies.map((c) => [c.name, c.value]))

/** Follows an authorize URL through the simulator's consent page as `discordId`; answers the callback path and query. */
async function consent (authUrl: string, discordId: string): Promise<string> {
  discord.sim.setAutoApprove(discordId)
  const page = await fetch(authUrl, { redirect: 'manual' })
  expect(page.status).toBe(302)
  const back = new URL(page.headers.get('location') ?? '')
  expect(`${back.origin}${back.pathname}`).toBe(`${PUBLIC_URL}/api/discord/auth/callback`)
  return `${back.pathname}${back.search}`
}

describe('examples/host: a Go-Falcon-style host with the plugin', () => {
  let aliceSession: Record<string, string>
  let oliviaSession: Record<string, string>

  it('a host user signs in with her password and links Discord; her roles follow her groups at once', async () => {
    const login = await app.inject({ method: 'POST', url: '/api/session', payload: { username: 'alice', password: 'alice-password' } })
    expect(login.statusCode).toBe(200)
    aliceSession = cookiesOf(login)
    expect(aliceSession.falcon_auth_token).toBeDefined()
    expect((await app.inject({ method: 'POST', url: '/api/session', payload: { username: 'alice', password: 'wrong' } })).statusCode).toBe(401)

    // The host's session is the plugin's session: the link flow starts as Alice.
    const start = await app.inject({ method: 'POST', url: '/api/discord/auth/link', cookies: aliceSession, payload: { redirect_url: `${PUBLIC_URL}/` } })
    expect(start.statusCode).toBe(200)
    const callback = await consent(start.json().auth_url as string, DISCORD.alice)
    const synced = app.discord.events.next('sync.finished', (e) => e.initiated_by === `link:${people.alice.id}`)
    const linked = await app.inject({ url: callback, cookies: { ...aliceSession, ...cookiesOf(start) } })
    expect(linked.statusCode).toBe(302)
    expect(linked.headers.location).toBe(`${PUBLIC_URL}/`)
    expect(await synced).toMatchObject({ status: 'completed' })
    expect(roles(DISCORD.alice)).toContain(member.id)
    expect(roles(DISCORD.alice)).not.toContain(officer.id)
  })

  it('an officer signs in with Discord: resolveUser makes her the host user with the host\'s permissions', async () => {
    const start = await app.inject({ url: `/api/discord/auth/login?redirect_url=${encodeURIComponent(`${PUBLIC_URL}/`)}` })
    const callback = await consent(start.json().auth_url as string, DISCORD.olivia)
    const synced = app.discord.events.next('sync.finished', (e) => e.initiated_by === `link:${people.olivia.id}`)
    const signedIn = await app.inject({ url: callback, cookies: cookiesOf(start) })
    expect(signedIn.statusCode).toBe(302)
    oliviaSession = { falcon_auth_token: cookiesOf(signedIn).falcon_auth_token as string }
    // The plugin issued the session with the host's key: the host's own route accepts it.
    const me = await app.inject({ url: '/api/session', cookies: oliviaSession })
    expect(me.json()).toMatchObject({ user: { id: people.olivia.id, username: 'olivia' }, permissions: expect.arrayContaining(['groups:manage', 'discord:admin']) })
    await synced
    expect(roles(DISCORD.olivia)).toEqual(expect.arrayContaining([member.id, officer.id]))
    // The admin gate: Olivia's groups grant discord:admin, Alice's do not.
    expect((await app.inject({ url: '/api/discord/guilds', cookies: oliviaSession })).statusCode).toBe(200)
    expect((await app.inject({ url: '/api/discord/guilds', cookies: aliceSession })).json()).toMatchObject({ code: 'FST_DISCORD_FORBIDDEN' })
  })

  it('an officer edits a group in the host; the member\'s Discord roles follow through the push API', async () => {
    const headers = { 'x-requested-with': 'test' }
    const promoted = app.discord.events.next('sync.finished', (e) => e.initiated_by === 'push' && e.target_id === people.alice.id)
    const add = await app.inject({ method: 'PUT', url: `/api/groups/officers/members/${people.alice.id}`, cookies: oliviaSession, headers })
    expect(add.statusCode).toBe(200)
    expect(add.json()).toMatchObject({ changed: true, sync: { queued: 1 } })
    expect(await promoted).toMatchObject({ status: 'completed', sync_type: 'user' })
    expect(roles(DISCORD.alice)).toEqual(expect.arrayContaining([member.id, officer.id]))

    const demoted = app.discord.events.next('sync.finished', (e) => e.initiated_by === 'push' && e.target_id === people.alice.id)
    const remove = await app.inject({ method: 'DELETE', url: `/api/groups/members/members/${people.alice.id}`, cookies: oliviaSession, headers })
    expect(remove.json()).toMatchObject({ changed: true })
    await demoted
    expect(roles(DISCORD.alice)).toContain(officer.id)
    expect(roles(DISCORD.alice)).not.toContain(member.id)

    // Editing again what is already so pushes nothing.
    const again = await app.inject({ method: 'DELETE', url: `/api/groups/members/members/${people.alice.id}`, cookies: oliviaSession, headers })
    expect(again.json()).toMatchObject({ changed: false, sync: null })
  })

  it('the host\'s own gate: members cannot edit groups, cookie writes need the header, bad ids are 400', async () => {
    const headers = { 'x-requested-with': 'test' }
    const url = `/api/groups/officers/members/${people.alice.id}`
    // Alice's session was issued before her promotion: its permissions claim still says member.
    expect((await app.inject({ method: 'PUT', url, cookies: aliceSession, headers })).json()).toMatchObject({ code: 'HOST_FORBIDDEN' })
    expect((await app.inject({ method: 'PUT', url, headers })).statusCode).toBe(401)
    expect((await app.inject({ method: 'PUT', url, cookies: oliviaSession })).json()).toMatchObject({ code: 'HOST_CSRF_HEADER_REQUIRED' })
    expect((await app.inject({ method: 'PUT', url: '/api/groups/officers/members/not-a-uuid', cookies: oliviaSession, headers })).statusCode).toBe(400)
    expect((await app.inject({ method: 'PUT', url: `/api/groups/nope/members/${people.alice.id}`, cookies: oliviaSession, headers })).statusCode).toBe(404)
  })
})
