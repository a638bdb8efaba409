import { createHash } from 'node:crypto'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import type { DiscordSimulator } from '../../src/testing/index.js'
import { IDS, json, OAUTH, seededSimulators, useSimulatorTime } from './seed.js'

const start = seededSimulators()
let sim: DiscordSimulator

beforeEach(async () => {
  sim = await start({ rateLimits: { enabled: false } })
})
afterEach(() => {
  vi.useRealTimers()
})

function authorizeUrl (params: Record<string, string>, base = sim.url): string {
  const u = new URL('/oauth2/authorize', base)
  if (base !== sim.url) u.pathname = new URL(base).pathname + '/oauth2/authorize'
  for (const [k, v] of Object.entries(params)) u.searchParams.set(k, v)
  return u.toString()
}

const standard = (): Record<string, string> => ({ response_type: 'code', client_id: OAUTH.clientId, scope: 'identify guilds', state: 'st-123', redirect_uri: OAUTH.redirectUri })

async function get (url: string): Promise<Response> {
  return fetch(url, { redirect: 'manual' })
}

function location (res: Response): URL {
  const loc = res.headers.get('location')
  expect(loc).not.toBeNull()
  return new URL(loc as string)
}

const basic = (id: string = OAUTH.clientId, secret: string = OAUTH.clientSecret): string => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`

async function token (fields: Record<string, string>, headers: Record<string, string> = { authorization: basic() }, path = '/oauth2/token'): Promise<Response> {
  return fetch(`${sim.apiBaseUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body: new URLSearchParams(fields).toString() })
}

/** Runs the consent page as a browser would: GET the page, POST the form as `userId`. */
async function consent (userId: string, decision = 'authorize', params = standard()): Promise<URL> {
  const page = await get(authorizeUrl(params))
  expect(page.status).toBe(200)
  const html = await page.text()
  const requestId = /name="request_id" value="([^"]+)"/.exec(html)?.[1]
  expect(requestId).toBeDefined()
  const res = await fetch(authorizeUrl({}), {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ request_id: requestId as string, user_id: userId, decision }).toString()
  })
  expect(res.status).toBe(302)
  return location(res)
}

async function codeFor (userId: string = IDS.alice, params = standard()): Promise<string> {
  const loc = await consent(userId, 'authorize', params)
  return loc.searchParams.get('code') as string
}

describe('GET /oauth2/authorize', () => {
  it('renders an accessible consent page listing the scopes and the seeded users', async () => {
    const res = await get(authorizeUrl(standard()))
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toMatch(/^text\/html/)
    const html = await res.text()
    expect(html).toContain('<html lang="en">')
    expect(html).toContain('Sync App')
    expect(html).toContain('<code>identify</code>')
    expect(html).toContain('<code>guilds</code>')
    expect(html).toMatch(/<label for="user_id">[^<]+<\/label>\s*<select id="user_id"/)
    expect(html).toContain(`value="${IDS.alice}"`)
    expect(html).not.toContain(`value="${IDS.bot}"`) // bots cannot authorize apps
    expect(html).toContain('value="authorize"')
    expect(html).toContain('value="cancel"')
    expect(html).toContain('<form method="post"')
  })

  it('Authorize redirects to redirect_uri with code and state', async () => {
    const loc = await consent(IDS.alice)
    expect(`${loc.origin}${loc.pathname}`).toBe(OAUTH.redirectUri)
    expect(loc.searchParams.get('state')).toBe('st-123')
    expect(loc.searchParams.get('code')).toMatch(/^[A-Za-z0-9]{30}$/)
  })

  it('Cancel redirects with error=access_denied and the state', async () => {
    const loc = await consent(IDS.alice, 'cancel')
    expect(loc.searchParams.get('error')).toBe('access_denied')
    expect(loc.searchParams.get('state')).toBe('st-123')
    expect(loc.searchParams.has('code')).toBe(false)
  })

  it('a consent form can be answered only once', async () => {
    const page = await (await get(authorizeUrl(standard()))).text()
    const requestId = /name="request_id" value="([^"]+)"/.exec(page)![1] as string
    const post = (): Promise<Response> => fetch(authorizeUrl({}), { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `request_id=${requestId}&user_id=${IDS.alice}&decision=authorize` })
    expect((await post()).status).toBe(302)
    expect((await post()).status).toBe(400)
  })

  it('autoApproveUserId redirects at once, simulator-wide or per app', async () => {
    sim.setAutoApprove(IDS.bob)
    const res = await get(authorizeUrl(standard()))
    expect(res.status).toBe(302)
    const code = location(res).searchParams.get('code') as string
    const tokens = await json(token({ grant_type: 'authorization_code', code, redirect_uri: OAUTH.redirectUri }))
    const me = await json(fetch(`${sim.apiBaseUrl}/users/@me`, { headers: { authorization: `Bearer ${tokens.access_token}` } }))
    expect(me.id).toBe(IDS.bob)
    sim.setAutoApprove(null)
    expect((await get(authorizeUrl(standard()))).status).toBe(200)
    sim.state.addOAuthApp({ client_id: '1100000000000000078', client_secret: 's', redirect_uris: [OAUTH.redirectUri], autoApproveUserId: IDS.alice })
    const perApp = await get(authorizeUrl({ ...standard(), client_id: '1100000000000000078' }))
    expect(perApp.status).toBe(302)
    expect(location(perApp).searchParams.get('code')).toMatch(/^[A-Za-z0-9]{30}$/)
  })

  it('is also served under /api/v10 and /api', async () => {
    for (const base of [sim.apiBaseUrl, `${sim.url}/api`]) {
      expect((await get(authorizeUrl(standard(), base))).status).toBe(200)
    }
  })

  it('unknown client_id or unregistered redirect_uri: an error page, never a redirect', async () => {
    const badClient = await get(authorizeUrl({ ...standard(), client_id: '1199999999999999999' }))
    expect(badClient.status).toBe(400)
    expect(badClient.headers.get('location')).toBeNull()
    const badRedirect = await get(authorizeUrl({ ...standard(), redirect_uri: 'https://evil.example/cb' }))
    expect(badRedirect.status).toBe(400)
    expect(badRedirect.headers.get('location')).toBeNull()
    expect(await badRedirect.text()).toContain('redirect_uri')
  })

  it('a bad response_type or scope is reported to the redirect_uri with the state', async () => {
    const rt = location(await get(authorizeUrl({ ...standard(), response_type: 'token' })))
    expect(rt.searchParams.get('error')).toBe('unsupported_response_type')
    expect(rt.searchParams.get('state')).toBe('st-123')
    const scope = location(await get(authorizeUrl({ ...standard(), scope: 'identify nonsense' })))
    expect(scope.searchParams.get('error')).toBe('invalid_scope')
    const none = location(await get(authorizeUrl({ ...standard(), scope: '' })))
    expect(none.searchParams.get('error')).toBe('invalid_scope')
  })
})

describe('POST /oauth2/token: authorization_code', () => {
  it('answers exactly the documented token response', async () => {
    const res = await token({ grant_type: 'authorization_code', code: await codeFor(), redirect_uri: OAUTH.redirectUri })
    expect(res.status).toBe(200)
    expect(res.headers.get('cache-control')).toBe('no-store')
    const body = await json(res)
    expect(Object.keys(body)).toEqual(['access_token', 'token_type', 'expires_in', 'refresh_token', 'scope'])
    expect(body).toMatchObject({ token_type: 'Bearer', expires_in: 604800, scope: 'identify guilds' })
    expect(body.access_token).toMatch(/^[A-Za-z0-9]{30}$/)
    expect(body.refresh_token).toMatch(/^[A-Za-z0-9]{30}$/)
    expect(JSON.stringify(sim.requests)).not.toContain(body.access_token)
  })

  it('accepts client_id and client_secret in the form instead of Basic', async () => {
    const res = await token({ grant_type: 'authorization_code', code: await codeFor(), redirect_uri: OAUTH.redirectUri, client_id: OAUTH.clientId, client_secret: OAUTH.clientSecret }, {})
    expect(res.status).toBe(200)
  })

  it('codes are single use', async () => {
    const code = await codeFor()
    expect((await token({ grant_type: 'authorization_code', code, redirect_uri: OAUTH.redirectUri })).status).toBe(200)
    const again = await token({ grant_type: 'authorization_code', code, redirect_uri: OAUTH.redirectUri })
    expect(again.status).toBe(400)
    expect(await json(again)).toEqual({ error: 'invalid_grant', error_description: 'Invalid "code" in request.' })
  })

  it('codes are bound to the redirect_uri of the authorization and to the app', async () => {
    sim.state.addOAuthApp({ client_id: '1100000000000000077', client_secret: 'other-secret', redirect_uris: [OAUTH.redirectUri, 'http://127.0.0.1:9/other'] })
    const wrongUri = await token({ grant_type: 'authorization_code', code: await codeFor(), redirect_uri: 'http://127.0.0.1:9/other' })
    expect(wrongUri.status).toBe(400)
    expect((await json(wrongUri)).error).toBe('invalid_grant')
    const missingUri = await token({ grant_type: 'authorization_code', code: await codeFor() })
    expect((await json(missingUri)).error).toBe('invalid_grant')
    const otherApp = await token({ grant_type: 'authorization_code', code: await codeFor(), redirect_uri: OAUTH.redirectUri }, { authorization: basic('1100000000000000077', 'other-secret') })
    expect((await json(otherApp)).error).toBe('invalid_grant')
  })

  it('rejects JSON and other content types (form-urlencoded only)', async () => {
    const code = await codeFor()
    const asJson = await fetch(`${sim.apiBaseUrl}/oauth2/token`, { method: 'POST', headers: { authorization: basic(), 'content-type': 'application/json' }, body: JSON.stringify({ grant_type: 'authorization_code', code, redirect_uri: OAUTH.redirectUri }) })
    expect(asJson.status).toBe(400)
    expect((await json(asJson)).error).toBe('invalid_request')
    const asText = await fetch(`${sim.apiBaseUrl}/oauth2/token`, { method: 'POST', headers: { authorization: basic(), 'content-type': 'text/plain' }, body: `grant_type=authorization_code&code=${code}` })
    expect(asText.status).toBe(400)
    expect((await json(asText)).error).toBe('invalid_request')
    // The code was not consumed by the rejected requests.
    expect((await token({ grant_type: 'authorization_code', code, redirect_uri: OAUTH.redirectUri })).status).toBe(200)
  })

  it('invalid_client (401) for a wrong or missing secret, unsupported_grant_type, invalid_request', async () => {
    const wrong = await token({ grant_type: 'authorization_code', code: 'x', redirect_uri: OAUTH.redirectUri }, { authorization: basic(OAUTH.clientId, 'nope') })
    expect(wrong.status).toBe(401)
    expect((await json(wrong)).error).toBe('invalid_client')
    expect((await token({ grant_type: 'authorization_code', code: 'x' }, {})).status).toBe(401)
    const grant = await token({ grant_type: 'password' })
    expect(grant.status).toBe(400)
    expect((await json(grant)).error).toBe('unsupported_grant_type')
    expect((await json(token({ grant_type: 'authorization_code' }))).error).toBe('invalid_request')
    expect((await json(token({}))).error).toBe('invalid_request')
  })

  it('is reachable through the unversioned /api path the docs list', async () => {
    const res = await fetch(`${sim.url}/api/oauth2/token`, { method: 'POST', headers: { authorization: basic(), 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ grant_type: 'authorization_code', code: await codeFor(), redirect_uri: OAUTH.redirectUri }) })
    expect(res.status).toBe(200)
  })
})

describe('PKCE (RFC 7636; not in Discord\'s docs): checked when the authorize request sent a code_challenge', () => {
  const verifier = 'dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk'
  const challenge = createHash('sha256').update(verifier).digest('base64url')
  const pkce = (extra: Record<string, string> = {}): Record<string, string> => ({ ...standard(), code_challenge: challenge, code_challenge_method: 'S256', ...extra })
  const exchange = async (code: string, extra: Record<string, string> = {}): Promise<Response> =>
    await token({ grant_type: 'authorization_code', code, redirect_uri: OAUTH.redirectUri, ...extra })

  it('the matching code_verifier gets the tokens', async () => {
    const res = await exchange(await codeFor(IDS.alice, pkce()), { code_verifier: verifier })
    expect(res.status).toBe(200)
    expect((await json(res)).access_token).toMatch(/^[A-Za-z0-9]{30}$/)
  })

  it('a wrong or missing code_verifier: 400 invalid_grant, and the code is spent', async () => {
    for (const [extra, description] of [
      [{ code_verifier: `${verifier.slice(0, -1)}A` }, 'Invalid "code_verifier" in request.'],
      [{ code_verifier: 'short' }, 'Invalid "code_verifier" in request.'],
      [{}, 'Missing "code_verifier" in request.']
    ] as const) {
      const code = await codeFor(IDS.alice, pkce())
      const res = await exchange(code, extra)
      expect(res.status).toBe(400)
      expect(await json(res)).toEqual({ error: 'invalid_grant', error_description: description })
      expect((await json(exchange(code, { code_verifier: verifier }))).error).toBe('invalid_grant')
    }
  })

  it('without a challenge, a code_verifier is ignored (flows without PKCE are unchanged)', async () => {
    expect((await exchange(await codeFor(), { code_verifier: verifier })).status).toBe(200)
  })

  it('refuses, redirected as invalid_request, a method other than S256, a method alone, or a challenge that is no SHA-256 digest', async () => {
    for (const params of [pkce({ code_challenge_method: 'plain' }), { ...standard(), code_challenge: challenge }, { ...standard(), code_challenge_method: 'S256' }, pkce({ code_challenge: 'x'.repeat(42) })]) {
      const loc = location(await get(authorizeUrl(params)))
      expect(loc.searchParams.get('error')).toBe('invalid_request')
      expect(loc.searchParams.get('state')).toBe('st-123')
    }
  })
})

describe('POST /oauth2/token: refresh_token', () => {
  it('rotates: new tokens work, the old refresh token is invalid_grant afterwards', async () => {
    const first = await json(token({ grant_type: 'authorization_code', code: await codeFor(), redirect_uri: OAUTH.redirectUri }))
    const second = await json(token({ grant_type: 'refresh_token', refresh_token: first.refresh_token }))
    expect(Object.keys(second)).toEqual(['access_token', 'token_type', 'expires_in', 'refresh_token', 'scope'])
    expect(second.refresh_token).not.toBe(first.refresh_token)
    expect(second.access_token).not.toBe(first.access_token)
    expect(second.scope).toBe('identify guilds')
    const reuse = await token({ grant_type: 'refresh_token', refresh_token: first.refresh_token })
    expect(reuse.status).toBe(400)
    expect(await json(reuse)).toEqual({ error: 'invalid_grant', error_description: 'Invalid "refresh_token" in request.' })
    expect((await token({ grant_type: 'refresh_token', refresh_token: second.refresh_token })).status).toBe(200)
  })

  it('a refresh token only works for its own app', async () => {
    sim.state.addOAuthApp({ client_id: '1100000000000000077', client_secret: 'other-secret', redirect_uris: [OAUTH.redirectUri] })
    const first = await json(token({ grant_type: 'authorization_code', code: await codeFor(), redirect_uri: OAUTH.redirectUri }))
    const res = await token({ grant_type: 'refresh_token', refresh_token: first.refresh_token }, { authorization: basic('1100000000000000077', 'other-secret') })
    expect((await json(res)).error).toBe('invalid_grant')
  })
})

describe('POST /oauth2/token: client_credentials', () => {
  it('issues an owner token without refresh token', async () => {
    const body = await json(token({ grant_type: 'client_credentials', scope: 'identify' }))
    expect(Object.keys(body)).toEqual(['access_token', 'token_type', 'expires_in', 'scope'])
    const me = await json(fetch(`${sim.apiBaseUrl}/users/@me`, { headers: { authorization: `Bearer ${body.access_token}` } }))
    expect(me.id).toBe(IDS.owner)
  })
})

describe('POST /oauth2/token/revoke', () => {
  it('revoking the access token revokes the refresh token of the same authorization, and vice versa', async () => {
    for (const which of ['access_token', 'refresh_token'] as const) {
      const t = await json(token({ grant_type: 'authorization_code', code: await codeFor(), redirect_uri: OAUTH.redirectUri }))
      const res = await token({ token: t[which], token_type_hint: which }, { authorization: basic() }, '/oauth2/token/revoke')
      expect(res.status).toBe(200)
      expect((await fetch(`${sim.apiBaseUrl}/users/@me`, { headers: { authorization: `Bearer ${t.access_token}` } })).status).toBe(401)
      expect((await json(token({ grant_type: 'refresh_token', refresh_token: t.refresh_token }))).error).toBe('invalid_grant')
    }
    expect(sim.state.listAuthorizations().every((a) => a.revoked && a.accessTokenIds.length === 0 && !a.hasRefreshToken)).toBe(true)
  })

  it('is form-only, needs client auth and a token; an unknown token is not an error', async () => {
    const asJson = await fetch(`${sim.apiBaseUrl}/oauth2/token/revoke`, { method: 'POST', headers: { authorization: basic(), 'content-type': 'application/json' }, body: '{"token":"x"}' })
    expect((await json(asJson)).error).toBe('invalid_request')
    expect((await token({ token: 'x' }, {}, '/oauth2/token/revoke')).status).toBe(401)
    expect((await json(token({}, { authorization: basic() }, '/oauth2/token/revoke'))).error).toBe('invalid_request')
    expect((await token({ token: 'unknown' }, { authorization: basic() }, '/oauth2/token/revoke')).status).toBe(200)
  })
})

describe('Bearer routes and scopes', () => {
  async function bearer (scopes: string[], userId: string = IDS.alice): Promise<string> {
    return sim.state.issueUserToken({ clientId: OAUTH.clientId, userId, scopes }).access_token
  }
  const get = async (path: string, accessToken: string): Promise<Response> => fetch(`${sim.apiBaseUrl}${path}`, { headers: { authorization: `Bearer ${accessToken}` } })

  it('/users/@me needs identify; the email fields need the email scope', async () => {
    const noEmail = await json(get('/users/@me', await bearer(['identify'])))
    expect(noEmail).toMatchObject({ id: IDS.alice, username: 'alice', global_name: 'Alice' })
    expect(noEmail).not.toHaveProperty('email')
    const withEmail = await json(get('/users/@me', await bearer(['identify', 'email'])))
    expect(withEmail).toMatchObject({ email: 'alice@example.test', verified: true })
    const missing = await get('/users/@me', await bearer(['guilds']))
    expect(missing.status).toBe(403)
    expect((await json(missing)).code).toBe(50001)
  })

  it('/users/@me/guilds needs guilds and reports owner and permissions relative to the user', async () => {
    expect((await get('/users/@me/guilds', await bearer(['identify']))).status).toBe(403)
    const guilds = await json(get('/users/@me/guilds?with_counts=true', await bearer(['guilds'])))
    expect(guilds.map((g: { id: string }) => g.id)).toEqual([IDS.guild, IDS.guild2])
    expect(guilds[0]).toMatchObject({ owner: false, approximate_member_count: 4 })
    expect(BigInt(guilds[0].permissions)).toBeGreaterThan(0n)
    const owner = await json(get('/users/@me/guilds', await bearer(['guilds'], IDS.owner)))
    expect(owner[0].owner).toBe(true)
    const paged = await json(get(`/users/@me/guilds?after=${IDS.guild}`, await bearer(['guilds'])))
    expect(paged.map((g: { id: string }) => g.id)).toEqual([IDS.guild2])
    expect((await get('/users/@me/guilds?limit=201', await bearer(['guilds']))).status).toBe(400)
  })

  it('/users/@me/guilds/{guild.id}/member needs guilds.members.read', async () => {
    const m = await json(get(`/users/@me/guilds/${IDS.guild}/member`, await bearer(['guilds.members.read'])))
    expect(m.roles).toEqual([IDS.roleA])
    expect((await get(`/users/@me/guilds/${IDS.foreignGuild}/member`, await bearer(['guilds.members.read']))).status).toBe(404)
    expect((await get(`/users/@me/guilds/${IDS.guild}/member`, await bearer(['identify']))).status).toBe(403)
  })

  it('/oauth2/@me describes the authorization', async () => {
    const info = await json(get('/oauth2/@me', await bearer(['identify', 'guilds'])))
    expect(info.scopes).toEqual(['identify', 'guilds'])
    expect(info.application.id).toBe(OAUTH.clientId)
    expect(info.user.id).toBe(IDS.alice)
    expect(new Date(info.expires).getTime()).toBeGreaterThan(Date.now())
  })

  it('401 for an unknown, expired or revoked token, and for a Bearer token on a bot route', async () => {
    expect((await get('/users/@me', 'not-a-token')).status).toBe(401)
    const t = await bearer(['identify'])
    sim.state.expireAccessToken(t)
    const expired = await get('/users/@me', t)
    expect(expired.status).toBe(401)
    expect(await json(expired)).toEqual({ message: '401: Unauthorized', code: 0 })
    expect((await get(`/guilds/${IDS.guild}`, await bearer(['identify', 'guilds']))).status).toBe(401)
  })

  it('tokens expire after expires_in (time-scaled)', async () => {
    useSimulatorTime()
    sim = await start({ accessTokenTtlSeconds: 100, timeScale: 100 })
    const issued = sim.state.issueUserToken({ clientId: OAUTH.clientId, userId: IDS.alice, scopes: ['identify'] })
    expect(issued.expires_in).toBe(1) // 100 Discord seconds at 100x: one real second, reported in real seconds
    expect((await get('/users/@me', issued.access_token)).status).toBe(200)
    vi.advanceTimersByTime(999)
    expect((await get('/users/@me', issued.access_token)).status).toBe(200)
    vi.advanceTimersByTime(1)
    expect((await get('/users/@me', issued.access_token)).status).toBe(401)
  })
})
