import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import Fastify from 'fastify'
import { fastifyCookie } from '@fastify/cookie'
import Database from 'better-sqlite3'
import type { LightMyRequestResponse } from 'fastify'
import type { DiscordSimulator } from '../../src/testing/index.js'
import { generateState } from '../../src/auth/flow.js'
import { STATE_BINDING_COOKIE, StateBinding } from '../../src/auth/state-binding.js'
import { resolveOptions } from '../../src/options/index.js'
import { authorizeAs, bearer, buildWorld, discordOptions, JWT_SECRET, sessionCookie, sessionFor, TEST_KEY, type World } from '../helpers/world.js'
import { ALICE, AUTH_APP, authWorld, BOB, callbackUrl, CLIENT_SECRET, FRONTEND, startSimulator } from './helpers.js'

/*
 * The OAuth state is bound to the browser that started the flow (auth.bindStateToBrowser).
 * Without it, whoever starts a flow can have someone else's browser finish it: a login CSRF (the
 * victim signed in as the attacker) or, worse, the victim's Discord account linked to the
 * attacker's host user. Each attack is played here as the attacker would, and refused.
 */

const CALLBACK_PATH = '/discord/auth/callback'
const MISMATCH = 'FST_DISCORD_OAUTH_BROWSER_MISMATCH'

let sim: DiscordSimulator
let t: World
beforeAll(async () => { sim = await startSimulator() })
afterAll(async () => { await sim.close() })
beforeEach(async () => { t = await buildWorld(authWorld(sim)) })
afterEach(async () => { await t.close() })

function setCookieHeaders (res: LightMyRequestResponse): string[] {
  const header = res.headers['set-cookie']
  return header === undefined ? [] : Array.isArray(header) ? header : [header]
}

function bindingOf (res: LightMyRequestResponse): { value: string, raw: string } | null {
  return sessionCookie(res, STATE_BINDING_COOKIE)
}

/** The response expires the binding cookie with the attributes it was set with. */
function expectBindingCleared (res: LightMyRequestResponse): void {
  const raw = bindingOf(res)?.raw
  expect(raw, `no binding cookie cleared by ${res.statusCode} ${res.body}`).toBeDefined()
  expect(raw).toMatch(new RegExp(`^${STATE_BINDING_COOKIE}=;`))
  expect(raw).toMatch(/Expires=Thu, 01 Jan 1970 00:00:00 GMT/)
  expect(raw).toContain(`Path=${CALLBACK_PATH}`)
}

async function startLogin (query: Record<string, string> = {}): Promise<{ auth_url: string, state: string, cookie: string }> {
  const res = await t.inject({ method: 'GET', url: `/discord/auth/login?${new URLSearchParams(query).toString()}` })
  expect(res.statusCode, res.body).toBe(200)
  return { ...res.json(), cookie: bindingOf(res)?.value as string }
}

async function startLink (hostUser: string): Promise<{ auth_url: string, state: string, cookie: string }> {
  const res = await t.inject({ method: 'POST', url: '/discord/auth/link', headers: bearer(sessionFor(t.app, hostUser)), payload: {} })
  expect(res.statusCode, res.body).toBe(200)
  return { ...res.json(), cookie: bindingOf(res)?.value as string }
}

/** GET /auth/callback as a browser holding exactly `cookie` (or no binding cookie at all). */
async function callbackWith (params: Record<string, string>, cookie: string | null): Promise<LightMyRequestResponse> {
  return await t.inject({ method: 'GET', url: callbackUrl(params), headers: cookie === null ? {} : { cookie: `${STATE_BINDING_COOKIE}=${cookie}` } })
}

function linkCount (): number {
  return (t.db.prepare('SELECT COUNT(*) AS n FROM discord_users').get() as { n: number }).n
}

describe('the binding cookie', () => {
  it('GET /auth/login sets it: HttpOnly, SameSite=Lax, Secure, Path = the callback, Max-Age = the state expiry, a keyed hash of the state', async () => {
    const res = await t.inject({ method: 'GET', url: '/discord/auth/login' })
    const cookie = bindingOf(res)
    expect(cookie).not.toBeNull()
    const attrs = (cookie?.raw as string).split(/;\s*/).slice(1).sort()
    expect(attrs).toEqual(['HttpOnly', 'Max-Age=600', `Path=${CALLBACK_PATH}`, 'SameSite=Lax', 'Secure'])
    const { state } = res.json()
    expect(cookie?.value).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect(cookie?.value).not.toBe(state)
    // Deterministic per state (any instance can check it), and different for every state.
    const other = await t.inject({ method: 'GET', url: '/discord/auth/login' })
    expect(bindingOf(other)?.value).not.toBe(cookie?.value)
    expect(t.app.discord.oauth.binding.matches(state, cookie?.value)).toBe(true)
    // Only the session cookie is a session: the binding is never one, nor derived from one.
    expect(setCookieHeaders(res).filter((c) => !c.startsWith(`${STATE_BINDING_COOKIE}=`))).toEqual([])
  })

  it('POST /auth/link sets it for a link flow started by Bearer or by cookie; a refused start sets none', async () => {
    const session = sessionFor(t.app, 'host-1')
    for (const headers of [bearer(session), { cookie: `falcon_auth_token=${session}`, 'content-type': 'application/json' }]) {
      const res = await t.inject({ method: 'POST', url: '/discord/auth/link', headers, payload: {} })
      expect(res.statusCode).toBe(200)
      expect(t.app.discord.oauth.binding.matches(res.json().state, bindingOf(res)?.value)).toBe(true)
      expect(bindingOf(res)?.raw).toContain(`Path=${CALLBACK_PATH}`)
    }
    const refused = await t.inject({ method: 'GET', url: '/discord/auth/login?scopes=identify+bot' })
    expect(refused.statusCode).toBe(400)
    expect(bindingOf(refused)).toBeNull()
  })

  it('follows auth.cookieSecure, auth.cookieDomain, stateExpiry and the redirect URI\'s path', async () => {
    await t.close()
    t = await buildWorld(authWorld(sim, { stateExpiry: '90s', auth: { cookieSecure: false, cookieDomain: 'example.test' } }))
    const raw = bindingOf(await t.inject({ method: 'GET', url: '/discord/auth/login' }))?.raw as string
    expect(raw.split(/;\s*/).slice(1).sort()).toEqual(['Domain=example.test', 'HttpOnly', 'Max-Age=90', `Path=${CALLBACK_PATH}`, 'SameSite=Lax'])

    // The browser returns to discord.redirectUri, which a proxy may map to another public path.
    const o = resolveOptions({ encryptionKey: TEST_KEY, discord: discordOptions(sim, AUTH_APP), auth: { jwtSecret: JWT_SECRET, redirectUrls: [FRONTEND] } })
    const binding = new StateBinding({ ...o.discord!, redirectUri: 'https://app.example.test/api/v1/discord/cb;v=2' }, o.auth, 60_000)
    const app = Fastify()
    await app.register(fastifyCookie)
    app.get('/', async (_req, reply) => { binding.set(reply, generateState()); return 'ok' })
    const res = await app.inject({ url: '/' })
    // A ';' cannot be in a cookie path: the directory before it still path-matches the callback.
    expect(bindingOf(res)?.raw).toContain('Path=/api/v1/discord/;')
    await app.close()
  })

  it('is compared in full: a missing, empty, shorter, longer or one-character-different value does not match', () => {
    const binding = t.app.discord.oauth.binding
    const state = generateState()
    const real = boundValue(binding, state)
    expect(binding.matches(state, real)).toBe(true)
    const changed = `${real.slice(0, -1)}${real.endsWith('A') ? 'B' : 'A'}`
    for (const wrong of [undefined, '', real.slice(1), `${real}A`, changed, state]) {
      expect(binding.matches(state, wrong)).toBe(false)
    }
  })

  it('depends on the client secret: another Discord application\'s binding does not match', () => {
    const state = generateState()
    const o = resolveOptions({ encryptionKey: TEST_KEY, discord: discordOptions(sim, AUTH_APP), auth: { jwtSecret: JWT_SECRET, redirectUrls: [FRONTEND] } })
    const mine = new StateBinding(o.discord, o.auth, 60_000)
    const theirs = new StateBinding({ ...o.discord!, clientSecret: `${CLIENT_SECRET}-other` }, o.auth, 60_000)
    expect(mine.matches(state, boundValue(theirs, state))).toBe(false)
    // Another instance of the same application computes the same binding (nothing per process).
    expect(t.app.discord.oauth.binding.matches(state, boundValue(mine, state))).toBe(true)
  })
})

/** The value a binding would set for a state, read through a reply as the routes set it. */
function boundValue (binding: StateBinding, state: string): string {
  let value = ''
  binding.set({ setCookie: (_n: string, v: string) => { value = v } } as never, state)
  return value
}

describe('login CSRF: the victim\'s browser opening the attacker\'s callback is refused', () => {
  /** The attacker starts a login in their own browser and approves it at Discord as themselves (Bob). */
  async function attackerCallbackUrl (query: Record<string, string> = {}): Promise<{ code: string, state: string, attackerCookie: string }> {
    const started = await startLogin(query)
    const { code, state } = await authorizeAs(sim, started.auth_url, BOB)
    return { code, state, attackerCookie: started.cookie }
  }

  async function expectRefused (res: LightMyRequestResponse, state: string, attackerCookie: string, code: string): Promise<void> {
    expect(res.statusCode).toBe(400)
    expect(res.json()).toMatchObject({ code: MISMATCH, statusCode: 400 })
    expect(sessionCookie(res)).toBeNull()
    expectBindingCleared(res)
    expect(linkCount()).toBe(0)
    // Single use: the refused state is spent, even for the browser that started it.
    const replay = await callbackWith({ code, state }, attackerCookie)
    expect(replay.json().code).toBe('FST_DISCORD_OAUTH_STATE_USED')
    expect(linkCount()).toBe(0)
  }

  it('without the cookie: 400 FST_DISCORD_OAUTH_BROWSER_MISMATCH, no session, nothing written, the state spent', async () => {
    const { code, state, attackerCookie } = await attackerCallbackUrl()
    await expectRefused(await callbackWith({ code, state }, null), state, attackerCookie, code)
  })

  it('with the cookie of another flow (the victim\'s own login in progress)', async () => {
    const { code, state, attackerCookie } = await attackerCallbackUrl()
    const victims = await startLogin()
    await expectRefused(await callbackWith({ code, state }, victims.cookie), state, attackerCookie, code)
  })

  it.each([
    ['one character changed', (v: string) => `${v.slice(0, 10)}${v[10] === 'A' ? 'B' : 'A'}${v.slice(11)}`],
    ['truncated', (v: string) => v.slice(0, 42)],
    ['extended', (v: string) => `${v}x`],
    ['the state itself', (_v: string, state: string) => state],
    ['empty', () => '']
  ])('with a tampered cookie (%s)', async (_what, tamper) => {
    const { code, state, attackerCookie } = await attackerCallbackUrl()
    await expectRefused(await callbackWith({ code, state }, tamper(attackerCookie, state)), state, attackerCookie, code)
  })

  it('with a redirect URL: the browser goes back to the app with ?error=FST_DISCORD_OAUTH_BROWSER_MISMATCH and no session', async () => {
    const { code, state } = await attackerCallbackUrl({ redirect_url: FRONTEND })
    const res = await callbackWith({ code, state }, null)
    expect(res.statusCode).toBe(302)
    expect(res.headers.location).toBe(`${FRONTEND}?error=${MISMATCH}`)
    expect(sessionCookie(res)).toBeNull()
    expectBindingCleared(res)
    expect(linkCount()).toBe(0)
  })

  it('Discord\'s ?error redirect without the cookie is refused the same way (the state is not the victim\'s)', async () => {
    const { state } = await startLogin()
    const res = await callbackWith({ error: 'access_denied', state }, null)
    expect(res.json().code).toBe(MISMATCH)
  })
})

describe('link confusion: the victim completing the attacker\'s link flow links nothing', () => {
  it('the attacker\'s auth_url approved by the victim, back in the victim\'s browser: 400, the victim\'s account linked to nobody', async () => {
    // The attacker, signed in to the host as "attacker", starts a link flow and sends auth_url to Alice.
    const attacker = await startLink('attacker')
    const { code, state } = await authorizeAs(sim, attacker.auth_url, ALICE)
    // Alice's browser: her own session, and a flow of her own in progress, but not the attacker's cookie.
    const alicesFlow = await startLink('alice-host')
    const res = await t.inject({
      method: 'GET',
      url: callbackUrl({ code, state }),
      headers: { cookie: `falcon_auth_token=${sessionFor(t.app, 'alice-host')}; ${STATE_BINDING_COOKIE}=${alicesFlow.cookie}` }
    })
    expect(res.statusCode).toBe(400)
    expect(res.json().code).toBe(MISMATCH)
    expectBindingCleared(res)
    expect(await t.app.discord.store.getUserByDiscordId(ALICE)).toBeNull()
    expect(await t.app.discord.store.listUsersByUserId('attacker')).toEqual([])
    expect(await t.app.discord.store.getUserTokens(ALICE)).toBeNull()
  })

  it('nor through POST /auth/link with code and state: the victim\'s session is not the one the state was issued to', async () => {
    const attacker = await startLink('attacker')
    const { code, state } = await authorizeAs(sim, attacker.auth_url, ALICE)
    const res = await t.inject({ method: 'POST', url: '/discord/auth/link', headers: bearer(sessionFor(t.app, 'alice-host')), payload: { code, state } })
    expect(res.statusCode).toBe(400)
    expect(res.json().code).toBe('FST_DISCORD_OAUTH_STATE_MISMATCH')
    expect(linkCount()).toBe(0)
  })
})

describe('the browser that started the flow', () => {
  it('completes a login: session cookie set, binding cookie cleared', async () => {
    const started = await startLogin({ redirect_url: FRONTEND })
    const { code, state } = await authorizeAs(sim, started.auth_url, ALICE)
    const res = await callbackWith({ code, state }, started.cookie)
    expect(res.statusCode).toBe(302)
    expect(res.headers.location).toBe(FRONTEND)
    expect(t.app.discord.auth.verify(sessionCookie(res)?.value as string).id).toBe((await t.app.discord.store.getUserByDiscordId(ALICE))?.user_id)
    expectBindingCleared(res)
  })

  it('completes a link to the user who started it, with the session cookie beside the binding cookie', async () => {
    const session = sessionFor(t.app, 'host-9')
    const started = await t.inject({ method: 'POST', url: '/discord/auth/link', headers: { cookie: `falcon_auth_token=${session}`, 'x-requested-with': 'XMLHttpRequest' }, payload: {} })
    const { code, state } = await authorizeAs(sim, started.json().auth_url, ALICE)
    const res = await t.inject({ method: 'GET', url: callbackUrl({ code, state }), headers: { cookie: `falcon_auth_token=${session}; ${STATE_BINDING_COOKIE}=${bindingOf(started)?.value as string}` } })
    expect(res.statusCode).toBe(200)
    expect(res.json()).toMatchObject({ flow: 'link', user_id: 'host-9' })
    expect(sessionCookie(res)).toBeNull()
    expectBindingCleared(res)
    expect((await t.app.discord.store.getUserByDiscordId(ALICE))?.user_id).toBe('host-9')
  })

  it('started on one instance, completes on another sharing the store: the key is not per process', async () => {
    const db = new Database(':memory:')
    const instances: World[] = []
    try {
      for (let i = 0; i < 2; i++) instances.push(await buildWorld(authWorld(sim, { store: { type: 'sqlite', database: db } })))
      const started = await instances[0]!.inject({ url: '/discord/auth/login' })
      const { code, state } = await authorizeAs(sim, started.json().auth_url, ALICE)
      const res = await instances[1]!.inject({ url: callbackUrl({ code, state }), headers: { cookie: `${STATE_BINDING_COOKIE}=${bindingOf(started)?.value as string}` } })
      expect(res.statusCode, res.body).toBe(200)
      expect(res.json()).toMatchObject({ flow: 'login', account: { discord_user_id: ALICE } })
    } finally {
      for (const w of instances) await w.close()
      db.close()
    }
  })

  it('POST /auth/link with code and state needs no binding cookie: the session that started the flow binds it', async () => {
    const session = sessionFor(t.app, 'host-10')
    const started = await startLink('host-10')
    const { code, state } = await authorizeAs(sim, started.auth_url, BOB)
    const res = await t.inject({ method: 'POST', url: '/discord/auth/link', headers: bearer(session), payload: { code, state } })
    expect(res.statusCode).toBe(200)
    expect(res.json()).toMatchObject({ flow: 'link', user_id: 'host-10', account: { discord_user_id: BOB } })
  })
})

describe('every callback answer clears the binding cookie', () => {
  it.each([
    ['a malformed state (schema 400)', async () => callbackWith({ code: 'c', state: 'short' }, 'x'), 400],
    ['a forged state', async () => callbackWith({ code: 'c', state: generateState() }, 'x'), 400],
    ['a missing code', async () => callbackWith({ state: (await startLogin()).state }, 'x'), 400],
    ['an expired state', async () => {
      const state = generateState()
      await t.app.discord.store.createOAuthState({ state, flow: 'login', scopes: ['identify'], expires_at: new Date(Date.now() - 1000) })
      return await callbackWith({ code: 'c', state }, 'x')
    }, 400],
    ['Discord refusing the code', async () => {
      const started = await startLogin()
      return await callbackWith({ code: 'never-issued', state: started.state }, started.cookie)
    }, 400]
  ] as const)('%s', async (_what, call, status) => {
    const res = await call()
    expect(res.statusCode).toBe(status)
    expectBindingCleared(res)
    expect(linkCount()).toBe(0)
  })
})

describe('without a Discord application', () => {
  it('the callback answers 503 FST_DISCORD_NOT_CONFIGURED and touches no cookie', async () => {
    const bare = await buildWorld(authWorld(null))
    try {
      const res = await bare.inject({ method: 'GET', url: callbackUrl({ code: 'c', state: generateState() }), headers: { cookie: `${STATE_BINDING_COOKIE}=x` } })
      expect(res.statusCode).toBe(503)
      expect(res.json().code).toBe('FST_DISCORD_NOT_CONFIGURED')
      expect(setCookieHeaders(res)).toEqual([])
    } finally {
      await bare.close()
    }
  })
})

describe('auth.bindStateToBrowser: false (API clients completing flows outside the starting browser)', () => {
  beforeEach(async () => {
    await t.close()
    t = await buildWorld(authWorld(sim, { auth: { bindStateToBrowser: false } }))
  })

  it('sets no cookie, clears none, and completes a login and a link without one, as before the binding existed', async () => {
    const login = await t.inject({ method: 'GET', url: '/discord/auth/login' })
    expect(setCookieHeaders(login)).toEqual([])
    const a = await authorizeAs(sim, login.json().auth_url, ALICE)
    const loggedIn = await callbackWith({ code: a.code, state: a.state }, null)
    expect(loggedIn.statusCode).toBe(200)
    expect(bindingOf(loggedIn)).toBeNull()
    expect(sessionCookie(loggedIn)).not.toBeNull()

    const link = await t.inject({ method: 'POST', url: '/discord/auth/link', headers: bearer(sessionFor(t.app, 'api-user')), payload: {} })
    expect(setCookieHeaders(link)).toEqual([])
    const b = await authorizeAs(sim, link.json().auth_url, BOB)
    const linked = await callbackWith({ code: b.code, state: b.state }, null)
    expect(linked.statusCode).toBe(200)
    expect(setCookieHeaders(linked)).toEqual([])
    expect((await t.app.discord.store.getUserByDiscordId(BOB))?.user_id).toBe('api-user')
  })
})

describe('the option', () => {
  it('defaults to true and refuses a non-boolean', () => {
    expect(resolveOptions({ encryptionKey: TEST_KEY, auth: { jwtSecret: JWT_SECRET } }).auth.bindStateToBrowser).toBe(true)
    expect(resolveOptions({ encryptionKey: TEST_KEY, auth: { bindStateToBrowser: false } }).auth.bindStateToBrowser).toBe(false)
    expect(() => resolveOptions({ encryptionKey: TEST_KEY, auth: { jwtSecret: JWT_SECRET, bindStateToBrowser: 'no' as never } })).toThrow(expect.objectContaining({ code: 'FST_DISCORD_INVALID_OPTIONS', message: expect.stringContaining('auth.bindStateToBrowser') }))
  })
})
