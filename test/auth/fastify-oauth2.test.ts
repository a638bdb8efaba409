import { createHash } from 'node:crypto'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import Fastify, { type LightMyRequestResponse } from 'fastify'
import discordSync from '../../src/index.js'
import { PKCE_VERIFIER_COOKIE, STATE_BINDING_COOKIE } from '../../src/auth/state-binding.js'
import type { DiscordSimulator } from '../../src/testing/index.js'
import { authorizeAs, bearer, buildWorld, discordOptions, JWT_SECRET, sessionCookie, sessionFor, TEST_KEY, type World } from '../helpers/world.js'
import { ALICE, AUTH_APP, authWorld, BOB, callbackUrl, CLIENT_SECRET, startSimulator } from './helpers.js'

/*
 * The authorisation-code flow on @fastify/oauth2: PKCE (auth.pkce) end to end against the
 * simulator, which checks the verifier; the exchange's failure modes (retried without claiming
 * the state twice, mapped to stable codes, never 500); registration in separate contexts.
 * The OAuth security suites (oauth-flow, state-binding, state-limits) run unchanged on top of it.
 */

const CALLBACK_PATH = '/discord/auth/callback'
const TOKEN_ROUTE = 'POST /oauth2/token'

let sim: DiscordSimulator
let t: World
beforeAll(async () => { sim = await startSimulator() })
afterAll(async () => { await sim.close() })
afterEach(async () => {
  sim.clearFaults()
  await t.close()
})

const s256 = (verifier: string): string => createHash('sha256').update(verifier).digest('base64url')

function linked (): number {
  return (t.db.prepare('SELECT COUNT(*) AS n FROM discord_users').get() as { n: number }).n
}

function tokenRequests (): Array<{ status: number | undefined }> {
  return t.discordCalls((c) => c.route === TOKEN_ROUTE).map((c) => ({ status: c.status }))
}

interface Started { auth_url: string, state: string, binding: string, verifier: { value: string, raw: string } | null }

async function startLogin (): Promise<Started> {
  const res = await t.inject({ method: 'GET', url: '/discord/auth/login' })
  expect(res.statusCode, res.body).toBe(200)
  return { ...res.json(), binding: sessionCookie(res, STATE_BINDING_COOKIE)?.value as string, verifier: sessionCookie(res, PKCE_VERIFIER_COOKIE) }
}

async function callbackWith (params: Record<string, string>, cookies: Record<string, string>): Promise<LightMyRequestResponse> {
  const cookie = Object.entries(cookies).map(([k, v]) => `${k}=${v}`).join('; ')
  return await t.inject({ method: 'GET', url: callbackUrl(params), headers: cookie === '' ? {} : { cookie } })
}

describe('auth.pkce: S256', () => {
  beforeEach(async () => { t = await buildWorld(authWorld(sim, { auth: { pkce: 'S256' } })) })

  it('the authorize URL carries the S256 challenge of the verifier cookie @fastify/oauth2 set; the login completes and the cookie is cleared', async () => {
    const started = await startLogin()
    const verifier = started.verifier?.value as string
    expect(verifier).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect((started.verifier?.raw as string).split(/;\s*/).slice(1).sort()).toEqual(['HttpOnly', 'Max-Age=600', `Path=${CALLBACK_PATH}`, 'SameSite=Lax', 'Secure'])
    const url = new URL(started.auth_url)
    expect(url.searchParams.get('code_challenge')).toBe(s256(verifier))
    expect(url.searchParams.get('code_challenge_method')).toBe('S256')
    expect(url.searchParams.get('state')).toBe(started.state)
    expect(started.auth_url).toContain('scope=identify%20guilds')

    const { code, state } = await authorizeAs(sim, started.auth_url, ALICE)
    const res = await callbackWith({ code, state }, { [STATE_BINDING_COOKIE]: started.binding, [PKCE_VERIFIER_COOKIE]: verifier })
    expect(res.statusCode, res.body).toBe(200)
    expect(res.json().account.discord_user_id).toBe(ALICE)
    expect(sessionCookie(res)).not.toBeNull()
    const cleared = sessionCookie(res, PKCE_VERIFIER_COOKIE)?.raw
    expect(cleared).toMatch(new RegExp(`^${PKCE_VERIFIER_COOKIE}=;.*Expires=Thu, 01 Jan 1970 00:00:00 GMT`))
    expect(cleared).toContain(`Path=${CALLBACK_PATH}`)
    expect(tokenRequests().at(-1)?.status).toBe(200)
  })

  it('a wrong or missing verifier is refused by the simulator: 400 FST_DISCORD_OAUTH_INVALID_GRANT, the state spent, nothing linked', async () => {
    for (const verifierOf of [(v: string) => `${v.slice(0, -1)}${v.endsWith('A') ? 'B' : 'A'}`, () => null]) {
      const started = await startLogin()
      const { code, state } = await authorizeAs(sim, started.auth_url, ALICE)
      const sent = verifierOf(started.verifier?.value as string)
      const before = tokenRequests().length
      const res = await callbackWith({ code, state }, { [STATE_BINDING_COOKIE]: started.binding, ...(sent === null ? {} : { [PKCE_VERIFIER_COOKIE]: sent }) })
      expect(res.statusCode).toBe(400)
      expect(res.json().code).toBe('FST_DISCORD_OAUTH_INVALID_GRANT')
      // The exchange reached the simulator once (no retry of a 400), and the simulator refused it.
      expect(tokenRequests().slice(before)).toEqual([{ status: 400 }])
      expect(linked()).toBe(0)
      const again = await callbackWith({ code, state }, { [STATE_BINDING_COOKIE]: started.binding, [PKCE_VERIFIER_COOKIE]: started.verifier?.value as string })
      expect(again.json().code).toBe('FST_DISCORD_OAUTH_STATE_USED')
    }
  })

  it('POST /auth/link starts a PKCE flow but cannot complete one (the verifier cookie is scoped to the callback): 400 FST_DISCORD_VALIDATION', async () => {
    const session = sessionFor(t.app, 'host-1')
    const started = await t.inject({ method: 'POST', url: '/discord/auth/link', headers: bearer(session), payload: {} })
    expect(started.statusCode).toBe(200)
    expect(sessionCookie(started, PKCE_VERIFIER_COOKIE)).not.toBeNull()
    const { code, state } = await authorizeAs(sim, started.json().auth_url, BOB)
    const res = await t.inject({ method: 'POST', url: '/discord/auth/link', headers: bearer(session), payload: { code, state } })
    expect(res.statusCode).toBe(400)
    expect(res.json()).toMatchObject({ code: 'FST_DISCORD_VALIDATION', message: expect.stringContaining('GET /auth/callback') })
    expect(linked()).toBe(0)
  })

  it('is refused without bindStateToBrowser and for any value but false or \'S256\'', async () => {
    for (const auth of [{ pkce: 'S256', bindStateToBrowser: false }, { pkce: 'plain' }, { pkce: true }]) {
      const app = Fastify({ logger: false })
      app.register(discordSync, { encryptionKey: TEST_KEY, store: { type: 'sqlite', path: ':memory:' }, discord: discordOptions(sim, AUTH_APP), auth: { jwtSecret: JWT_SECRET, ...auth } } as never)
      await expect(app.ready()).rejects.toThrow(/auth\.pkce/)
      await app.close().catch(() => {})
    }
  })
})

describe('the code exchange on @fastify/oauth2', () => {
  beforeEach(async () => { t = await buildWorld(authWorld(sim)) })

  it('without auth.pkce: no challenge in the URL and no verifier cookie', async () => {
    const started = await startLogin()
    expect(started.verifier).toBeNull()
    expect([...new URL(started.auth_url).searchParams.keys()].sort()).toEqual(['client_id', 'redirect_uri', 'response_type', 'scope', 'state'])
  })

  it('follows discord.authorizeUrl with a path and a query of its own, and the token endpoint under apiBaseUrl', async () => {
    await t.close()
    const authorizeUrl = `${sim.apiBaseUrl}/oauth2/authorize?prompt=consent`
    t = await buildWorld(authWorld(sim, { discord: { ...discordOptions(sim, AUTH_APP), authorizeUrl } }))
    const started = await startLogin()
    const url = new URL(started.auth_url)
    expect(`${url.origin}${url.pathname}`).toBe(`${sim.apiBaseUrl}/oauth2/authorize`)
    expect(url.searchParams.get('prompt')).toBe('consent')
    const { code, state } = await authorizeAs(sim, started.auth_url, ALICE)
    const before = tokenRequests().length
    expect((await t.callback({ code, state })).statusCode).toBe(200)
    expect(tokenRequests().slice(before)).toEqual([{ status: 200 }])
  })

  it('a lost connection and a 5xx are retried without claiming the state again: the login completes', async () => {
    const started = await startLogin()
    const { code, state } = await authorizeAs(sim, started.auth_url, ALICE)
    sim.scriptFault({ kind: 'reset', route: TOKEN_ROUTE, times: 1 })
    sim.scriptFault({ kind: 'error', status: 502, route: TOKEN_ROUTE, times: 1 })
    const res = await t.callback({ code, state })
    expect(res.statusCode, res.body).toBe(200)
    expect(tokenRequests().map((r) => r.status).slice(-2)).toEqual([502, 200])
    expect(linked()).toBe(1)
  })

  it('a 429 from the token endpoint\'s own rate limit is waited out (its retry_after) and the login completes', async () => {
    // A simulator of its own whose token endpoint takes one request per 3 s: the spent bucket is
    // still spent when the callback arrives, however loaded the machine.
    const limited = await startSimulator({ rateLimits: { buckets: { 'oauth2-token': { limit: 1, windowMs: 3_000 } } } })
    try {
      await t.close()
      t = await buildWorld(authWorld(limited))
      const started = await startLogin()
      const { code, state } = await authorizeAs(limited, started.auth_url, ALICE)
      const spent = await fetch(`${limited.apiBaseUrl}/oauth2/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'authorization_code', code: 'spent', redirect_uri: AUTH_APP.redirectUri, client_id: AUTH_APP.clientId, client_secret: CLIENT_SECRET })
      })
      expect(spent.status).toBe(400)
      const res = await t.callback({ code, state })
      expect(res.statusCode, res.body).toBe(200)
      expect(tokenRequests().map((r) => r.status)).toEqual([400, 429, 200])
      expect(linked()).toBe(1)
    } finally {
      await t.close()
      t = await buildWorld(authWorld(sim))
      await limited.close()
    }
  })

  it.each([
    ['a 429', { kind: 'error', status: 429 }, 'rate limited by Discord'],
    ['an unreadable 200', { kind: 'malformed' }, 'unreadable answer'],
    ['invalid_client', { kind: 'error', status: 401 }, 'HTTP 401']
  ] as const)('%s: 502 FST_DISCORD_UPSTREAM (never 500), not retried, nothing linked, no secret or code in the answer', async (_what, fault, message) => {
    const started = await startLogin()
    const { code, state } = await authorizeAs(sim, started.auth_url, ALICE)
    const before = tokenRequests().length
    sim.scriptFault({ ...fault, route: TOKEN_ROUTE, times: 5 })
    const res = await t.callback({ code, state })
    expect(res.statusCode).toBe(502)
    expect(res.json()).toMatchObject({ code: 'FST_DISCORD_UPSTREAM', message: expect.stringContaining(message) })
    expect(tokenRequests().length - before).toBe(1)
    expect(res.body).not.toContain(CLIENT_SECRET)
    expect(res.body).not.toContain(code)
    expect(linked()).toBe(0)
  })

  it('Discord unreachable: 502 FST_DISCORD_UPSTREAM after the retries, the state spent', async () => {
    await t.close()
    const closed = await startSimulator()
    const apiBaseUrl = closed.apiBaseUrl
    await closed.close()
    t = await buildWorld(authWorld(sim, { apiBaseUrl }))
    const started = await startLogin()
    const { code, state } = await authorizeAs(sim, started.auth_url, ALICE)
    const res = await t.callback({ code, state })
    expect(res.statusCode).toBe(502)
    expect(res.json()).toMatchObject({ code: 'FST_DISCORD_UPSTREAM', message: expect.stringContaining('no response') })
    expect((await t.callback({ code, state })).json().code).toBe('FST_DISCORD_OAUTH_STATE_USED')
  })
})

describe('registration', () => {
  it('in two encapsulated contexts, each with its own @fastify/oauth2; the host instance gets no oauth2 decorator', async () => {
    const app = Fastify({ logger: false })
    t = { close: async () => { await app.close() } } as World
    for (const routePrefix of ['/one', '/two']) {
      app.register(async (child) => {
        await child.register(discordSync, { encryptionKey: TEST_KEY, routePrefix, store: { type: 'sqlite', path: ':memory:' }, discord: discordOptions(sim, AUTH_APP), auth: { jwtSecret: JWT_SECRET } })
      })
    }
    await app.ready()
    for (const prefix of ['/one', '/two']) {
      const res = await app.inject({ url: `${prefix}/auth/login` })
      expect(res.statusCode, res.body).toBe(200)
      expect(new URL(res.json().auth_url).searchParams.get('state')).toBe(res.json().state)
    }
    expect(app.hasDecorator('fastifyDiscordSync')).toBe(false)
    expect(app.hasDecorator('oauth2FastifyDiscordSync')).toBe(false)
  })
})
