import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import type { DiscordSimulator } from '../../src/testing/index.js'
import { generateState } from '../../src/auth/flow.js'
import { authorizeAs, bearer, buildWorld, dumpDatabase, sessionCookie, sessionFor, type RecordedResponse, type World } from '../helpers/world.js'
import { ALICE, authWorld, BOB, callbackUrl, CLIENT_ID, CLIENT_SECRET, FRONTEND, GUILD, REDIRECT_URI, startSimulator } from './helpers.js'

/*
 * The OAuth2 flow against the Discord simulator over real HTTP: login, linking, every refused
 * input, Discord failures, unlinking and the status, with the authorisation matrix of each route.
 * Every response of the suite is kept and finally scanned for the tokens the simulator issued.
 */

let sim: DiscordSimulator
let t: World
const allResponses: RecordedResponse[] = []
const issuedTokens = new Set<string>()

beforeAll(async () => { sim = await startSimulator() })
afterAll(async () => { await sim.close() })
beforeEach(async () => { t = await buildWorld(authWorld(sim)) })
afterEach(async () => {
  // Whatever the test linked, remember the tokens Discord issued for it before the app goes away.
  const links = t.db.prepare('SELECT discord_user_id FROM discord_users').all() as Array<{ discord_user_id: string }>
  for (const { discord_user_id: id } of links) {
    const tokens = await t.app.discord.store.getUserTokens(id).catch(() => null)
    if (tokens) {
      issuedTokens.add(tokens.access_token)
      if (tokens.refresh_token) issuedTokens.add(tokens.refresh_token)
    }
  }
  allResponses.push(...t.responses)
  await t.close()
})

async function login (query: Record<string, string> = {}, headers: Record<string, string> = {}): Promise<{ auth_url: string, state: string, expires_at: string }> {
  const res = await t.inject({ method: 'GET', url: `/discord/auth/login?${new URLSearchParams(query).toString()}`, headers })
  expect(res.statusCode, res.body).toBe(200)
  return res.json()
}

/** Login flow end to end: returns the callback response. */
async function loginAs (discordUserId: string, query: Record<string, string> = {}): Promise<ReturnType<World['inject']>> {
  const { auth_url } = await login(query)
  const { code, state } = await authorizeAs(sim, auth_url, discordUserId)
  return t.callback({ code, state })
}

async function linkAs (userSession: string, discordUserId: string): Promise<Awaited<ReturnType<World['inject']>>> {
  const started = await t.inject({ method: 'POST', url: '/discord/auth/link', headers: bearer(userSession), payload: {} })
  expect(started.statusCode, started.body).toBe(200)
  const { code, state } = await authorizeAs(sim, started.json().auth_url, discordUserId)
  return t.callback({ code, state })
}

describe('GET /auth/login', () => {
  it('returns the authorize URL and a state stored with scopes, redirect and expiry', async () => {
    const before = Date.now()
    const body = await login({ redirect_url: FRONTEND, scopes: 'guilds identify' })
    const url = new URL(body.auth_url)
    expect(`${url.origin}${url.pathname}`).toBe(`${sim.url}/oauth2/authorize`)
    expect(Object.fromEntries(url.searchParams)).toEqual({ response_type: 'code', client_id: CLIENT_ID, scope: 'guilds identify', state: body.state, redirect_uri: REDIRECT_URI })
    expect(body.auth_url).toContain('scope=guilds%20identify')
    expect(body.state).toMatch(/^[A-Za-z0-9_-]{43}$/)
    const expires = Date.parse(body.expires_at)
    expect(expires - before).toBeGreaterThanOrEqual(600_000 - 1000)
    expect(expires - before).toBeLessThanOrEqual(600_000 + 5000)
    const row = t.db.prepare('SELECT * FROM discord_oauth_states').get() as Record<string, unknown>
    expect(row).toMatchObject({ state: body.state, flow: 'login', user_id: null, redirect_url: FRONTEND })
    expect(JSON.parse(String(row.scopes))).toEqual(['guilds', 'identify'])
  })

  it('accepts a redirect_url of 512 characters (the cap)', async () => {
    const redirect = `${FRONTEND}?q=${'x'.repeat(512 - FRONTEND.length - 3)}`
    expect(redirect).toHaveLength(512)
    const body = await login({ redirect_url: redirect })
    expect(t.db.prepare('SELECT redirect_url FROM discord_oauth_states WHERE state = ?').get(body.state)).toEqual({ redirect_url: redirect })
  })

  it('defaults to the configured scopes (identify guilds)', async () => {
    const body = await login()
    expect(new URL(body.auth_url).searchParams.get('scope')).toBe('identify guilds')
  })

  it('refuses unknown query parameters with 400 FST_DISCORD_VALIDATION, so none can be smuggled toward Discord', async () => {
    for (const [name, value] of [['prompt', 'none'], ['client_id', '1'], ['redirect_uri', 'https://evil.test/']]) {
      const res = await t.inject({ method: 'GET', url: `/discord/auth/login?${name}=${encodeURIComponent(value as string)}` })
      expect(res.statusCode).toBe(400)
      expect(res.json()).toMatchObject({ code: 'FST_DISCORD_VALIDATION', message: expect.stringContaining(name as string) })
    }
    expect(t.db.prepare('SELECT COUNT(*) AS n FROM discord_oauth_states').get()).toEqual({ n: 0 })
  })

  it('treats an expired or invalid session as none: logging in is how it gets replaced', async () => {
    for (const headers of [{ cookie: 'falcon_auth_token=expired.or.garbage' }, bearer('not-a-jwt')]) {
      const body = await login({}, headers)
      expect(t.db.prepare('SELECT flow, user_id FROM discord_oauth_states WHERE state = ?').get(body.state)).toEqual({ flow: 'login', user_id: null })
    }
  })

  it('starts a link flow for the caller when a session is present', async () => {
    const body = await login({}, bearer(sessionFor(t.app, 'host-user-1')))
    const row = t.db.prepare('SELECT flow, user_id FROM discord_oauth_states WHERE state = ?').get(body.state)
    expect(row).toEqual({ flow: 'link', user_id: 'host-user-1' })
  })

  it.each([
    ['a disallowed scope', { scopes: 'identify bot' }, 'FST_DISCORD_SCOPE_NOT_ALLOWED'],
    ['scopes without identify', { scopes: 'guilds' }, 'FST_DISCORD_SCOPE_NOT_ALLOWED'],
    ['an allowed scope discord.scopes does not configure', { scopes: 'identify email' }, 'FST_DISCORD_SCOPE_NOT_ALLOWED'],
    ['a redirect off the allow-list', { redirect_url: 'https://evil.test/auth/done' }, 'FST_DISCORD_REDIRECT_NOT_ALLOWED'],
    ['a redirect with a longer path', { redirect_url: `${FRONTEND}/x` }, 'FST_DISCORD_REDIRECT_NOT_ALLOWED'],
    ['an empty scopes value', { scopes: '' }, 'FST_DISCORD_VALIDATION'],
    ['a redirect over 512 characters', { redirect_url: `${FRONTEND}?q=${'x'.repeat(513 - FRONTEND.length - 3)}` }, 'FST_DISCORD_VALIDATION']
  ])('refuses %s with 400 and stores no state', async (_what, query, code) => {
    const res = await t.inject({ method: 'GET', url: `/discord/auth/login?${new URLSearchParams(query).toString()}` })
    expect(res.statusCode).toBe(400)
    expect(res.json().code).toBe(code)
    expect(t.db.prepare('SELECT COUNT(*) AS n FROM discord_oauth_states').get()).toEqual({ n: 0 })
  })

  it('answers 503 FST_DISCORD_AUTH_NOT_CONFIGURED for a login when sessions cannot be signed, before sending anyone to Discord', async () => {
    const noJwt = await buildWorld(authWorld(sim, { auth: { jwtSecret: undefined } }))
    try {
      const res = await noJwt.inject({ method: 'GET', url: '/discord/auth/login' })
      expect(res.statusCode).toBe(503)
      expect(res.json().code).toBe('FST_DISCORD_AUTH_NOT_CONFIGURED')
      expect(noJwt.db.prepare('SELECT COUNT(*) AS n FROM discord_oauth_states').get()).toEqual({ n: 0 })
    } finally {
      allResponses.push(...noJwt.responses)
      await noJwt.close()
    }
  })

  it('answers 503 FST_DISCORD_NOT_CONFIGURED without a Discord application', async () => {
    const bare = await buildWorld(authWorld(null))
    try {
      const res = await bare.inject({ method: 'GET', url: '/discord/auth/login' })
      expect(res.statusCode).toBe(503)
      expect(res.json().code).toBe('FST_DISCORD_NOT_CONFIGURED')
    } finally {
      allResponses.push(...bare.responses)
      await bare.close()
    }
  })
})

describe('GET /auth/callback: login flow', () => {
  it('links the account, sets an HttpOnly SameSite=Lax Secure session cookie, and redirects to the stored URL', async () => {
    const res = await loginAs(ALICE, { redirect_url: `${FRONTEND}?next=%2Fhome` })
    expect(res.statusCode).toBe(302)
    expect(res.headers.location).toBe(`${FRONTEND}?next=%2Fhome`)
    const cookie = sessionCookie(res)
    expect(cookie).not.toBeNull()
    expect(cookie?.raw).toMatch(/HttpOnly/i)
    expect(cookie?.raw).toMatch(/SameSite=Lax/i)
    expect(cookie?.raw).toMatch(/Secure/i)
    expect(cookie?.raw).toMatch(/Max-Age=86400/)
    expect(cookie?.raw).toMatch(/Path=\//)

    const user = t.app.discord.auth.verify(cookie?.value as string)
    const link = await t.app.discord.store.getUserByDiscordId(ALICE)
    expect(link).toMatchObject({ user_id: user.id, username: 'alice', global_name: 'Alice', has_tokens: true, needs_reauth: false, scopes: ['identify', 'guilds'] })
    expect(link?.guilds.map((g) => g.id)).toEqual([GUILD])

    const status = await t.inject({ method: 'GET', url: '/discord/auth/status', headers: { cookie: `falcon_auth_token=${cookie?.value as string}` } })
    expect(status.json()).toMatchObject({ authenticated: true, user_id: user.id, linked: true, needs_reauth: false, accounts: [{ discord_user_id: ALICE, username: 'alice', guild_count: 1, has_tokens: true }] })
  })

  it('answers JSON when no redirect was asked for', async () => {
    const res = await loginAs(ALICE)
    expect(res.statusCode).toBe(200)
    const body = res.json()
    expect(body).toMatchObject({ success: true, flow: 'login', account: { discord_user_id: ALICE }, session_expires_at: expect.any(String) })
    expect(sessionCookie(res)).not.toBeNull()
  })

  it('logs a returning Discord account in as the same user (default resolveUser)', async () => {
    const first = (await loginAs(ALICE)).json().user_id as string
    const second = (await loginAs(ALICE)).json().user_id as string
    expect(second).toBe(first)
    expect(await t.app.discord.store.listUsersByUserId(first)).toHaveLength(1)
  })

  it('asks the host resolveUser hook for the user id and session permissions', async () => {
    const calls: unknown[] = []
    await t.close()
    t = await buildWorld(authWorld(sim, {
      auth: {
        resolveUser: async (profile, ctx) => {
          calls.push({ id: profile.id, username: profile.username, guilds: profile.guilds.length, linked: ctx.linkedUserId })
          return { id: `host-${profile.username}`, permissions: ['discord:admin'] }
        }
      }
    }))
    const res = await loginAs(BOB)
    expect(res.json().user_id).toBe('host-bob')
    expect(calls).toEqual([{ id: BOB, username: 'bob', guilds: 1, linked: null }])
    const user = t.app.discord.auth.verify(sessionCookie(res)?.value as string)
    expect(user).toMatchObject({ id: 'host-bob', permissions: ['discord:admin'] })
  })

  it('stores tokens sealed: no plaintext token anywhere in the database', async () => {
    await loginAs(ALICE)
    const tokens = await t.app.discord.store.getUserTokens(ALICE)
    expect(tokens?.access_token).toMatch(/^[A-Za-z0-9]{30}$/)
    const dump = dumpDatabase(t.db)
    expect(dump).not.toContain(tokens?.access_token)
    expect(dump).not.toContain(tokens?.refresh_token)
    expect(dump).not.toContain(CLIENT_SECRET)
  })
})

describe('GET /auth/callback: refused input, nothing written', () => {
  async function expectNothingLinked (): Promise<void> {
    expect(t.db.prepare('SELECT COUNT(*) AS n FROM discord_users').get()).toEqual({ n: 0 })
  }

  it('a malformed state: 400 FST_DISCORD_VALIDATION', async () => {
    for (const state of ['short', 'x'.repeat(43) + '!', 'a'.repeat(44)]) {
      const res = await t.callback({ code: 'abc', state })
      expect(res.statusCode).toBe(400)
      expect(res.json().code).toBe('FST_DISCORD_VALIDATION')
    }
    const none = await t.inject({ method: 'GET', url: '/discord/auth/callback?code=abc' })
    expect(none.json().code).toBe('FST_DISCORD_VALIDATION')
    await expectNothingLinked()
  })

  it('a forged state (well-formed, never issued): 400 FST_DISCORD_OAUTH_STATE_UNKNOWN', async () => {
    const { auth_url } = await login()
    const { code } = await authorizeAs(sim, auth_url, ALICE)
    const res = await t.inject({ method: 'GET', url: callbackUrl({ code, state: generateState() }) })
    expect(res.statusCode).toBe(400)
    expect(res.json().code).toBe('FST_DISCORD_OAUTH_STATE_UNKNOWN')
    await expectNothingLinked()
    expect(sessionCookie(res)).toBeNull()
  })

  it('an expired state: 400 FST_DISCORD_OAUTH_STATE_EXPIRED', async () => {
    const state = generateState()
    await t.app.discord.store.createOAuthState({ state, flow: 'login', scopes: ['identify'], expires_at: new Date(Date.now() - 1000) })
    const res = await t.callback({ code: 'whatever', state })
    expect(res.statusCode).toBe(400)
    expect(res.json().code).toBe('FST_DISCORD_OAUTH_STATE_EXPIRED')
    await expectNothingLinked()
  })

  it('a reused state: 400 FST_DISCORD_OAUTH_STATE_USED, even with a fresh code', async () => {
    const { auth_url, state } = await login()
    const first = await authorizeAs(sim, auth_url, ALICE)
    expect((await t.callback({ code: first.code, state })).statusCode).toBe(200)
    const again = await authorizeAs(sim, auth_url, BOB)
    const res = await t.callback({ code: again.code, state })
    expect(res.statusCode).toBe(400)
    expect(res.json().code).toBe('FST_DISCORD_OAUTH_STATE_USED')
    expect(await t.app.discord.store.getUserByDiscordId(BOB)).toBeNull()
  })

  it('concurrent callbacks with one state: exactly one succeeds', async () => {
    const { auth_url, state } = await login()
    // Two codes for one state, one after the other: the simulator's auto-approval is one setting
    // that each authorizeAs clears when done. The callbacks are what must race.
    const codes = [(await authorizeAs(sim, auth_url, ALICE)).code, (await authorizeAs(sim, auth_url, ALICE)).code]
    const results = await Promise.all(codes.map((code) => t.callback({ code, state })))
    expect(results.map((r) => r.statusCode).sort()).toEqual([200, 400])
  })

  it('a missing code: 400 FST_DISCORD_OAUTH_CODE_MISSING, and the state stays usable', async () => {
    const { auth_url, state } = await login()
    const res = await t.callback({ state })
    expect(res.statusCode).toBe(400)
    expect(res.json().code).toBe('FST_DISCORD_OAUTH_CODE_MISSING')
    const { code } = await authorizeAs(sim, auth_url, ALICE)
    expect((await t.callback({ code, state })).statusCode).toBe(200)
  })

  it('the user cancelling at Discord: 400 FST_DISCORD_OAUTH_DENIED, and the state is burnt', async () => {
    const { auth_url, state } = await login()
    // The consent page's Cancel button posts decision=cancel; Discord redirects with error=access_denied.
    const page = await fetch(auth_url)
    const requestId = /name="request_id" value="([^"]+)"/.exec(await page.text())?.[1] as string
    const cancel = await fetch(`${sim.url}/oauth2/authorize`, { method: 'POST', redirect: 'manual', body: new URLSearchParams({ request_id: requestId, decision: 'cancel' }) })
    const back = new URL(cancel.headers.get('location') as string)
    expect(back.searchParams.get('error')).toBe('access_denied')
    const res = await t.callback(back.search)
    expect(res.statusCode).toBe(400)
    expect(res.json()).toMatchObject({ code: 'FST_DISCORD_OAUTH_DENIED', message: expect.stringContaining('access_denied') })
    expect((await t.callback({ code: 'x', state })).json().code).toBe('FST_DISCORD_OAUTH_STATE_USED')
    await expectNothingLinked()
  })

  it('a code Discord refuses (already used): 400 FST_DISCORD_OAUTH_INVALID_GRANT', async () => {
    const first = await login()
    const { code } = await authorizeAs(sim, first.auth_url, ALICE)
    expect((await t.callback({ code, state: first.state })).statusCode).toBe(200)
    const second = await login()
    const res = await t.callback({ code, state: second.state })
    expect(res.statusCode).toBe(400)
    expect(res.json().code).toBe('FST_DISCORD_OAUTH_INVALID_GRANT')
    expect(res.body).not.toContain(code)
  })

  it('Discord failing (5xx on every retry): 502 FST_DISCORD_UPSTREAM, no secret in the answer, nothing linked', async () => {
    const { auth_url, state } = await login()
    const { code } = await authorizeAs(sim, auth_url, ALICE)
    sim.scriptFault({ kind: 'error', status: 503, route: 'GET /users/@me', times: 10 })
    try {
      const res = await t.callback({ code, state })
      expect(res.statusCode).toBe(502)
      expect(res.json()).toMatchObject({ code: 'FST_DISCORD_UPSTREAM', message: expect.stringContaining('HTTP 503') })
      expect(res.body).not.toContain(CLIENT_SECRET)
      expect(res.body).not.toContain(code)
      await expectNothingLinked()
    } finally {
      sim.clearFaults()
    }
  })
})

describe('GET /auth/callback: a failure returns the browser to the redirect URL with ?error=<code>', () => {
  const back = (code: string, query = ''): string => `${FRONTEND}?${query}${query === '' ? '' : '&'}error=${code}`

  async function cancelAt (authUrl: string): Promise<string> {
    const page = await fetch(authUrl)
    const requestId = /name="request_id" value="([^"]+)"/.exec(await page.text())?.[1] as string
    const cancel = await fetch(`${sim.url}/oauth2/authorize`, { method: 'POST', redirect: 'manual', body: new URLSearchParams({ request_id: requestId, decision: 'cancel' }) })
    return new URL(cancel.headers.get('location') as string).search
  }

  it('the user cancelling at Discord: 302 to the app with FST_DISCORD_OAUTH_DENIED, its own query kept, no session', async () => {
    const { auth_url } = await login({ redirect_url: `${FRONTEND}?next=%2Fhome` })
    const res = await t.callback(await cancelAt(auth_url))
    expect(res.statusCode).toBe(302)
    expect(res.headers.location).toBe(back('FST_DISCORD_OAUTH_DENIED', 'next=%2Fhome'))
    expect(sessionCookie(res)).toBeNull()
    expect(t.db.prepare('SELECT COUNT(*) AS n FROM discord_users').get()).toEqual({ n: 0 })
  })

  it('a code Discord refuses: FST_DISCORD_OAUTH_INVALID_GRANT; the code is not in the URL', async () => {
    const first = await login()
    const { code } = await authorizeAs(sim, first.auth_url, ALICE)
    expect((await t.callback({ code, state: first.state })).statusCode).toBe(200)
    const second = await login({ redirect_url: FRONTEND })
    const res = await t.callback({ code, state: second.state })
    expect(res.statusCode).toBe(302)
    expect(res.headers.location).toBe(back('FST_DISCORD_OAUTH_INVALID_GRANT'))
  })

  it('Discord failing: FST_DISCORD_UPSTREAM, without Discord\'s status or message in the URL', async () => {
    const { auth_url, state } = await login({ redirect_url: FRONTEND })
    const { code } = await authorizeAs(sim, auth_url, ALICE)
    sim.scriptFault({ kind: 'error', status: 503, route: 'GET /users/@me', times: 10 })
    try {
      const res = await t.callback({ code, state })
      expect(res.statusCode).toBe(302)
      expect(res.headers.location).toBe(back('FST_DISCORD_UPSTREAM'))
      expect(t.db.prepare('SELECT COUNT(*) AS n FROM discord_users').get()).toEqual({ n: 0 })
    } finally {
      sim.clearFaults()
    }
  })

  it('an expired or an already used state still knows its redirect URL: FST_DISCORD_OAUTH_STATE_EXPIRED / _USED', async () => {
    const expired = generateState()
    await t.app.discord.store.createOAuthState({ state: expired, flow: 'login', redirect_url: FRONTEND, scopes: ['identify'], expires_at: new Date(Date.now() - 1000) })
    const late = await t.callback({ code: 'whatever', state: expired })
    expect(late.statusCode).toBe(302)
    expect(late.headers.location).toBe(back('FST_DISCORD_OAUTH_STATE_EXPIRED'))

    const { auth_url, state } = await login({ redirect_url: FRONTEND })
    const { code } = await authorizeAs(sim, auth_url, ALICE)
    expect((await t.callback({ code, state })).headers.location).toBe(FRONTEND)
    const replay = await t.callback({ code, state })
    expect(replay.statusCode).toBe(302)
    expect(replay.headers.location).toBe(back('FST_DISCORD_OAUTH_STATE_USED'))
    expect(sessionCookie(replay)).toBeNull()
  })

  it('a link to an account linked elsewhere: FST_DISCORD_ACCOUNT_LINKED_ELSEWHERE, the first link untouched', async () => {
    expect((await linkAs(sessionFor(t.app, 'first-owner'), ALICE)).statusCode).toBe(200)
    const started = await t.inject({ method: 'POST', url: '/discord/auth/link', headers: bearer(sessionFor(t.app, 'second-owner')), payload: { redirect_url: FRONTEND } })
    const { code, state } = await authorizeAs(sim, started.json().auth_url, ALICE)
    const res = await t.callback({ code, state })
    expect(res.statusCode).toBe(302)
    expect(res.headers.location).toBe(back('FST_DISCORD_ACCOUNT_LINKED_ELSEWHERE'))
    expect((await t.app.discord.store.getUserByDiscordId(ALICE))?.user_id).toBe('first-owner')
  })

  it('an unexpected failure (a host resolveUser throwing): FST_DISCORD_INTERNAL, its message neither in the URL nor the body', async () => {
    await t.close()
    t = await buildWorld(authWorld(sim, { auth: { resolveUser: async () => { throw new Error('host directory down: secret-dsn') } } }))
    const { auth_url, state } = await login({ redirect_url: FRONTEND })
    const { code } = await authorizeAs(sim, auth_url, BOB)
    const res = await t.callback({ code, state })
    expect(res.statusCode).toBe(302)
    expect(res.headers.location).toBe(back('FST_DISCORD_INTERNAL'))
    expect(`${res.headers.location as string} ${res.body}`).not.toContain('secret-dsn')
    expect(sessionCookie(res)).toBeNull()
  })

  it('stays a JSON error when no redirect URL is known: forged state, missing code, or a flow started without one', async () => {
    const forged = await t.inject({ method: 'GET', url: callbackUrl({ code: 'c', state: generateState() }) })
    expect(forged.statusCode).toBe(400)
    expect(forged.json().code).toBe('FST_DISCORD_OAUTH_STATE_UNKNOWN')
    const { state } = await login({ redirect_url: FRONTEND })
    const noCode = await t.callback({ state })
    expect(noCode.statusCode).toBe(400)
    expect(noCode.json().code).toBe('FST_DISCORD_OAUTH_CODE_MISSING')
    const bare = await login()
    const denied = await t.callback(await cancelAt(bare.auth_url))
    expect(denied.statusCode).toBe(400)
    expect(denied.json().code).toBe('FST_DISCORD_OAUTH_DENIED')
  })
})

describe('linking', () => {
  it('POST /auth/link starts a link flow; the callback links to the caller and issues no new session', async () => {
    const res = await linkAs(sessionFor(t.app, 'host-7'), ALICE)
    expect(res.statusCode).toBe(200)
    expect(res.json()).toMatchObject({ flow: 'link', user_id: 'host-7', session_expires_at: null })
    expect(sessionCookie(res)).toBeNull()
    expect((await t.app.discord.store.getUserByDiscordId(ALICE))?.user_id).toBe('host-7')
  })

  it('POST /auth/link with code and state completes a link flow the caller started', async () => {
    const session = sessionFor(t.app, 'host-8')
    const started = (await t.inject({ method: 'POST', url: '/discord/auth/link', headers: bearer(session), payload: { scopes: 'identify' } })).json()
    const { code, state } = await authorizeAs(sim, started.auth_url, BOB)
    const res = await t.inject({ method: 'POST', url: '/discord/auth/link', headers: bearer(session), payload: { code, state } })
    expect(res.statusCode).toBe(200)
    expect(res.json()).toMatchObject({ flow: 'link', user_id: 'host-8', account: { discord_user_id: BOB, scopes: ['identify'], guild_count: 0 } })
  })

  it('POST /auth/link refuses a state another user started, or a login state', async () => {
    const started = (await t.inject({ method: 'POST', url: '/discord/auth/link', headers: bearer(sessionFor(t.app, 'host-a')), payload: {} })).json()
    const { code, state } = await authorizeAs(sim, started.auth_url, ALICE)
    const res = await t.inject({ method: 'POST', url: '/discord/auth/link', headers: bearer(sessionFor(t.app, 'host-b')), payload: { code, state } })
    expect(res.statusCode).toBe(400)
    expect(res.json().code).toBe('FST_DISCORD_OAUTH_STATE_MISMATCH')

    const loginState = (await login()).state
    const res2 = await t.inject({ method: 'POST', url: '/discord/auth/link', headers: bearer(sessionFor(t.app, 'host-a')), payload: { code: 'c', state: loginState } })
    expect(res2.json().code).toBe('FST_DISCORD_OAUTH_STATE_MISMATCH')
    expect(t.db.prepare('SELECT COUNT(*) AS n FROM discord_users').get()).toEqual({ n: 0 })
  })

  it.each([
    ['code without state', { code: 'abc' }, 'FST_DISCORD_VALIDATION'],
    ['state without code', { state: generateState() }, 'FST_DISCORD_VALIDATION'],
    ['code and state with scopes', { code: 'abc', state: generateState(), scopes: 'identify' }, 'FST_DISCORD_VALIDATION'],
    ['a disallowed scope', { scopes: 'identify guilds.channels.read' }, 'FST_DISCORD_SCOPE_NOT_ALLOWED'],
    ['a disallowed redirect', { redirect_url: 'https://evil.test/' }, 'FST_DISCORD_REDIRECT_NOT_ALLOWED']
  ])('POST /auth/link refuses %s with 400', async (_what, payload, code) => {
    const res = await t.inject({ method: 'POST', url: '/discord/auth/link', headers: bearer(sessionFor(t.app, 'host-1')), payload })
    expect(res.statusCode).toBe(400)
    expect(res.json().code).toBe(code)
  })

  it('POST /auth/link refuses a user_id in the body (400, no state): the flow is always for the caller', async () => {
    const res = await t.inject({ method: 'POST', url: '/discord/auth/link', headers: bearer(sessionFor(t.app, 'caller')), payload: { user_id: 'someone-else' } })
    expect(res.statusCode).toBe(400)
    expect(res.json()).toMatchObject({ code: 'FST_DISCORD_VALIDATION', message: expect.stringContaining('user_id') })
    expect(t.db.prepare('SELECT COUNT(*) AS n FROM discord_oauth_states').get()).toEqual({ n: 0 })
    const ok = await t.inject({ method: 'POST', url: '/discord/auth/link', headers: bearer(sessionFor(t.app, 'caller')), payload: {} })
    expect(t.db.prepare('SELECT user_id FROM discord_oauth_states WHERE state = ?').get(ok.json().state)).toEqual({ user_id: 'caller' })
  })

  it('linking a Discord account already linked to another user: 409, the first link untouched', async () => {
    expect((await linkAs(sessionFor(t.app, 'first-owner'), ALICE)).statusCode).toBe(200)
    const before = await t.app.discord.store.getUserTokens(ALICE)
    const res = await linkAs(sessionFor(t.app, 'second-owner'), ALICE)
    expect(res.statusCode).toBe(409)
    expect(res.json().code).toBe('FST_DISCORD_ACCOUNT_LINKED_ELSEWHERE')
    expect((await t.app.discord.store.getUserByDiscordId(ALICE))?.user_id).toBe('first-owner')
    expect(await t.app.discord.store.getUserTokens(ALICE)).toEqual(before)
  })

  it('re-linking the same account by its owner replaces the tokens and clears needs_reauth', async () => {
    const session = sessionFor(t.app, 'owner')
    await linkAs(session, ALICE)
    await t.app.discord.store.updateUser(ALICE, { needs_reauth: true })
    const old = await t.app.discord.store.getUserTokens(ALICE)
    expect((await linkAs(session, ALICE)).statusCode).toBe(200)
    expect((await t.app.discord.store.getUserByDiscordId(ALICE))?.needs_reauth).toBe(false)
    expect((await t.app.discord.store.getUserTokens(ALICE))?.access_token).not.toBe(old?.access_token)
  })
})

describe('authorisation matrix', () => {
  const OWNER = 'owner-user'
  const OTHER = 'other-user'

  beforeEach(async () => {
    expect((await linkAs(sessionFor(t.app, OWNER), ALICE)).statusCode).toBe(200)
  })

  const who = {
    anonymous: (): Record<string, string> => ({}),
    user: (): Record<string, string> => bearer(sessionFor(t.app, OWNER)),
    'other user': (): Record<string, string> => bearer(sessionFor(t.app, OTHER)),
    admin: (): Record<string, string> => bearer(sessionFor(t.app, 'admin-user', ['discord:admin']))
  }

  it.each([
    ['anonymous', 200, { authenticated: false }],
    ['user', 200, { authenticated: true, user_id: OWNER, linked: true }],
    ['other user', 200, { authenticated: true, user_id: OTHER, linked: false, accounts: [] }],
    ['admin', 200, { authenticated: true, user_id: 'admin-user', linked: false }]
  ] as const)('GET /auth/status as %s: %i, own links only', async (role, statusCode, body) => {
    const res = await t.inject({ method: 'GET', url: '/discord/auth/status', headers: who[role]() })
    expect(res.statusCode).toBe(statusCode)
    expect(res.json()).toMatchObject(body)
  })

  it.each([
    ['anonymous', 401],
    ['user', 200],
    ['other user', 200],
    ['admin', 200]
  ] as const)('POST /auth/link as %s: %i', async (role, statusCode) => {
    const res = await t.inject({ method: 'POST', url: '/discord/auth/link', headers: who[role](), payload: {} })
    expect(res.statusCode).toBe(statusCode)
    if (statusCode === 401) expect(res.json().code).toBe('FST_DISCORD_AUTH_REQUIRED')
  })

  it.each([
    ['anonymous', 401, 'FST_DISCORD_AUTH_REQUIRED'],
    ['other user', 404, 'FST_DISCORD_NOT_FOUND']
  ] as const)('DELETE /auth/unlink as %s: %i %s, link kept', async (role, statusCode, code) => {
    const res = await t.inject({ method: 'DELETE', url: `/discord/auth/unlink/${ALICE}`, headers: who[role]() })
    expect(res.statusCode).toBe(statusCode)
    expect(res.json().code).toBe(code)
    expect(await t.app.discord.store.getUserByDiscordId(ALICE)).not.toBeNull()
  })

  it('DELETE /auth/unlink as a non-admin: someone else\'s link and no link at all get the same answer', async () => {
    const notYours = await t.inject({ method: 'DELETE', url: `/discord/auth/unlink/${ALICE}`, headers: who['other user']() })
    const absent = await t.inject({ method: 'DELETE', url: `/discord/auth/unlink/${BOB}`, headers: who['other user']() })
    expect(notYours.statusCode).toBe(404)
    expect(notYours.body).toBe(absent.body)
    expect(await t.app.discord.store.getUserByDiscordId(ALICE)).not.toBeNull()
  })

  it.each(['user', 'admin'] as const)('DELETE /auth/unlink as %s: revokes at Discord, deletes tokens and link', async (role) => {
    const tokens = await t.app.discord.store.getUserTokens(ALICE)
    const res = await t.inject({ method: 'DELETE', url: `/discord/auth/unlink/${ALICE}`, headers: who[role]() })
    expect(res.statusCode).toBe(200)
    expect(res.json()).toMatchObject({ discord_user_id: ALICE, user_id: OWNER, unlinked: true, token_revocation: 'revoked', tokens_deleted: true, role_removal: { queued: false, guild_ids: [] } })
    expect(await t.app.discord.store.getUserByDiscordId(ALICE)).toBeNull()
    expect(sim.state.findRefreshToken(tokens?.refresh_token as string)).toBeUndefined()
    expect(sim.state.findAccessToken(tokens?.access_token as string)).toBeUndefined()
  })

  it('DELETE /auth/unlink: 404 for an account that is not linked, 400 for a malformed id', async () => {
    const missing = await t.inject({ method: 'DELETE', url: `/discord/auth/unlink/${BOB}`, headers: who.admin() })
    expect(missing.statusCode).toBe(404)
    expect(missing.json().code).toBe('FST_DISCORD_NOT_FOUND')
    const bad = await t.inject({ method: 'DELETE', url: '/discord/auth/unlink/not-a-snowflake', headers: who.admin() })
    expect(bad.statusCode).toBe(400)
    expect(bad.json().code).toBe('FST_DISCORD_VALIDATION')
  })

  it('DELETE /auth/unlink queues managed-role removal in configured guilds the member is in', async () => {
    await t.app.discord.store.createGuild({ guild_id: GUILD, guild_name: 'Falcon Guild', bot_token: 'bot-token-not-used-here' })
    const res = await t.inject({ method: 'DELETE', url: `/discord/auth/unlink/${ALICE}`, headers: who.user() })
    const body = res.json()
    expect(body.role_removal).toMatchObject({ queued: true, guild_ids: [GUILD] })
    const run = await t.app.discord.store.getSyncRun(body.role_removal.sync_run_id)
    expect(run).toMatchObject({ sync_type: 'user', target_id: ALICE, status: 'pending', initiated_by: `unlink:${OWNER}` })
  })

  it('DELETE /auth/unlink still unlinks when Discord refuses the revocation, and says so', async () => {
    sim.scriptFault({ kind: 'error', status: 500, route: 'POST /oauth2/token/revoke', times: 10 })
    try {
      const res = await t.inject({ method: 'DELETE', url: `/discord/auth/unlink/${ALICE}`, headers: who.user() })
      expect(res.statusCode).toBe(200)
      expect(res.json()).toMatchObject({ token_revocation: 'failed', tokens_deleted: true })
      expect(await t.app.discord.store.getUserByDiscordId(ALICE)).toBeNull()
    } finally {
      sim.clearFaults()
    }
  })

  it('GET /auth/callback is public, and GET /auth/login is public', async () => {
    expect((await t.inject({ method: 'GET', url: '/discord/auth/login' })).statusCode).toBe(200)
    expect((await t.inject({ method: 'GET', url: callbackUrl({ code: 'c', state: generateState() }) })).statusCode).toBe(400)
  })
})

describe('secrets never leave', () => {
  it('no response of this suite contained a token Discord issued or the client secret', () => {
    expect(allResponses.length).toBeGreaterThan(50)
    expect(issuedTokens.size).toBeGreaterThan(10)
    for (const r of allResponses) {
      for (const token of issuedTokens) {
        expect(r.body.includes(token) || r.headers.includes(token), `${r.url} leaked a Discord token`).toBe(false)
      }
      expect(r.body.includes(CLIENT_SECRET) || r.headers.includes(CLIENT_SECRET), `${r.url} leaked the client secret`).toBe(false)
    }
  })
})
