import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { LightMyRequestResponse } from 'fastify'
import { PermissionFlags } from '../../src/testing/index.js'
import { authorizeAs, buildWorld, sessionCookie, type World } from '../helpers/world.js'
import { STATE_BINDING_COOKIE } from '../../src/auth/state-binding.js'
import { BOT2_TOKEN, BOT_TOKEN, HOST, IDS, OAUTH_APP } from '../sync/helpers.js'
import { deployment, FRONTEND, PREFIX } from './helpers.js'

/*
 * Secrets never leak, end to end. One deployment of the whole plugin (simulated Discord, SQLite
 * file, logger at trace) goes through a full life: sign-in through the consent page, linking a
 * second account, two guilds configured with bot tokens, a mapping, dry run and real syncs, a
 * user sync, token refreshes, an unlink, and every failure Discord can answer with (401 for a
 * revoked bot token and a token it never issued, 403 50013 after Manage Roles is taken away, 5xx
 * on the token exchange, a member write and a refresh, invalid_grant on a replayed code and a
 * revoked refresh token).
 *
 * Collected on the way: every response (status, headers, body), every log line, every error an
 * onError hook saw, the audit-channel messages the bot posted, and at the end the raw bytes of
 * the SQLite file and its side files. None may contain a bot token, an access or refresh token,
 * an authorisation code, the client secret, the JWT secret or the encryption key, raw or in
 * base64, base64url, hex or URL-encoded form.
 */

/** Fresh for this run, so a hit cannot be a constant some other code path happens to print. */
const JWT_SECRET = `jwt-${randomBytes(24).toString('base64url')}`
const KEY = randomBytes(32)
const NEVER_ISSUED = 'MTEwMDAwMDAwMDAwMDAwMDAwOQ.Gnone1.never-issued-bot-token-value'
/** A token an admin mistyped (a space in it): refused by the schema, and still a secret. */
const MISTYPED = 'MTEwMDAwMDAwMDAwMDAwMDAwMQ.Gsync1 sync-suite-bot-token-value'

let w: World
/** Every access and refresh token and authorisation code the simulated Discord issued. */
const issued: string[] = []
const admin = { id: 'admin-1', permissions: ['discord:admin'] }

beforeAll(async () => {
  w = await buildWorld(deployment({
    encryptionKey: KEY.toString('base64'),
    jwtSecret: JWT_SECRET,
    plugin: {
      // The refresh task exists (it is run by hand below); its schedule never fires during the test.
      tokenRefresh: { enabled: true, interval: '1d' },
      auth: { resolveUser: (profile) => profile.id === IDS.alice ? HOST.alice : profile.id === IDS.bob ? HOST.bob : `discord-${profile.id}` }
    }
  }))
  // Record what the simulator hands out, at the only places it mints.
  const state = w.sim.state
  const issue = state.issueUserToken.bind(state)
  const rotate = state.rotate.bind(state)
  const code = state.createAuthorizationCode.bind(state)
  state.issueUserToken = (input) => { const t = issue(input); issued.push(t.access_token, ...(t.refresh_token === undefined ? [] : [t.refresh_token])); return t }
  state.rotate = (a) => { const t = rotate(a); issued.push(t.access_token, ...(t.refresh_token === undefined ? [] : [t.refresh_token])); return t }
  state.createAuthorizationCode = (input) => { const c = code(input); issued.push(c); return c }
}, 30_000)

afterAll(async () => { await w?.close() })

/** The forms a secret could take on its way out: as is, encoded for a header, a URL or a byte dump. */
function forms (secret: string | Buffer): string[] {
  const buf = Buffer.isBuffer(secret) ? secret : Buffer.from(secret)
  const out = [buf.toString('base64'), buf.toString('base64url'), buf.toString('hex')]
  if (Buffer.isBuffer(secret)) out.push(buf.toString('latin1'))
  else out.push(secret, encodeURIComponent(secret))
  // base64 without its padding, as JWT-style encoders write it.
  return [...new Set(out.map((f) => f.replace(/=+$/, '')))]
}

function leaks (haystack: string | Buffer, secrets: Record<string, string | Buffer>): string[] {
  const found: string[] = []
  const text = Buffer.isBuffer(haystack) ? haystack.toString('latin1') : haystack
  for (const [name, secret] of Object.entries(secrets)) {
    for (const form of forms(secret)) if (text.includes(form)) found.push(`${name} (${form.slice(0, 12)}…)`)
    if (Buffer.isBuffer(haystack)) {
      // Raw bytes, and UTF-16 as some drivers spill strings.
      const raw = Buffer.isBuffer(secret) ? secret : Buffer.from(secret)
      if (haystack.includes(raw)) found.push(`${name} (raw bytes)`)
      if (!Buffer.isBuffer(secret) && haystack.includes(Buffer.from(secret, 'utf16le'))) found.push(`${name} (utf-16)`)
    }
  }
  return found
}

describe('secrets never leak, through a whole deployment\'s life', () => {
  it('the scanner finds a secret in each form it looks for', () => {
    const probe = 'probe-secret-value-0123456789'
    for (const form of [probe, Buffer.from(probe).toString('base64'), Buffer.from(probe).toString('base64url'), Buffer.from(probe).toString('hex'), encodeURIComponent(probe)]) {
      expect(leaks(`before ${form} after`, { probe })).not.toEqual([])
    }
    expect(leaks(Buffer.concat([Buffer.from('x'), KEY, Buffer.from('y')]), { key: KEY })).toContain('key (raw bytes)')
    expect(leaks(Buffer.from(`..${probe}..`, 'utf16le'), { probe })).toContain('probe (utf-16)')
    expect(leaks('nothing here', { probe, key: KEY })).toEqual([])
  })

  it('responses, headers, logs, hook errors, audit messages and the database file hold none of them', async () => {
    const { sim } = w
    const bearer = (user: { id: string, permissions: string[] }): Record<string, string> => ({ authorization: `Bearer ${w.tokenFor(user)}` })
    const json = (user: { id: string, permissions: string[] }): Record<string, string> => ({ ...bearer(user), 'content-type': 'application/json' })
    const expectStatus = (res: LightMyRequestResponse, status: number, code?: string): void => {
      expect({ url: res.raw.req.url, status: res.statusCode, code: code === undefined ? undefined : res.json().code }).toEqual({ url: res.raw.req.url, status, code })
    }
    /** The cookie header of the browser that started a flow: its binding cookie, after any others it holds. */
    const startedBy = (started: LightMyRequestResponse, headers: Record<string, string> = {}): Record<string, string> => {
      const binding = `${STATE_BINDING_COOKIE}=${sessionCookie(started, STATE_BINDING_COOKIE)?.value as string}`
      return { ...headers, cookie: headers.cookie === undefined ? binding : `${headers.cookie}; ${binding}` }
    }
    const callback = async (started: LightMyRequestResponse, discordId: string, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> => {
      const { code, state } = await authorizeAs(sim, started.json().auth_url, discordId)
      return await w.inject({ url: `${PREFIX}/auth/callback?code=${encodeURIComponent(code)}&state=${state}`, headers: startedBy(started, headers) })
    }

    // Sign in as Alice through the consent page: a session cookie, tokens sealed in the store.
    const login = await w.inject({ url: `${PREFIX}/auth/login?redirect_url=${encodeURIComponent(FRONTEND)}` })
    expectStatus(login, 200)
    const signedIn = await callback(login, IDS.alice)
    expectStatus(signedIn, 302)
    const session = sessionCookie(signedIn)?.value as string
    expect(session.length).toBeGreaterThan(20)
    const cookie = { cookie: `falcon_auth_token=${session}`, 'x-requested-with': 'XMLHttpRequest' }
    expectStatus(await w.inject({ url: `${PREFIX}/auth/status`, headers: cookie }), 200)

    // Alice links a second Discord account (Carol's) with her session.
    const link = await w.inject({ method: 'POST', url: `${PREFIX}/auth/link`, headers: { ...cookie, 'content-type': 'application/json' }, payload: {} })
    expectStatus(link, 200)
    expectStatus(await callback(link, IDS.carol, cookie), 200)

    // A 5xx on the token exchange, then invalid_grant for a code used twice: both refused, nothing linked.
    const bobLogin = await w.inject({ url: `${PREFIX}/auth/login` })
    sim.scriptFault({ kind: 'error', status: 500, route: 'POST /oauth2/token', times: 4 })
    expectStatus(await callback(bobLogin, IDS.bob), 502, 'FST_DISCORD_UPSTREAM')
    const first = await w.inject({ url: `${PREFIX}/auth/login` })
    const { code, state } = await authorizeAs(sim, first.json().auth_url, IDS.bob)
    expectStatus(await w.inject({ url: `${PREFIX}/auth/callback?code=${code}&state=${state}`, headers: startedBy(first) }), 200)
    const replay = await w.inject({ url: `${PREFIX}/auth/login` })
    expectStatus(await w.inject({ url: `${PREFIX}/auth/callback?code=${code}&state=${replay.json().state}`, headers: startedBy(replay) }), 400, 'FST_DISCORD_OAUTH_INVALID_GRANT')

    // Two guilds configured with their bot tokens; a token Discord never issued, and a mistyped one, refused.
    expectStatus(await w.inject({ method: 'POST', url: `${PREFIX}/guilds`, headers: json(admin), payload: JSON.stringify({ guild_id: IDS.g1, bot_token: BOT_TOKEN, settings: { audit_channel_id: IDS.channel } }) }), 201)
    expectStatus(await w.inject({ method: 'POST', url: `${PREFIX}/guilds`, headers: json(admin), payload: JSON.stringify({ guild_id: IDS.g2, bot_token: BOT2_TOKEN }) }), 201)
    expectStatus(await w.inject({ method: 'PUT', url: `${PREFIX}/guilds/${IDS.g2}`, headers: json(admin), payload: JSON.stringify({ bot_token: NEVER_ISSUED }) }), 422, 'FST_DISCORD_BOT_TOKEN_INVALID')
    expectStatus(await w.inject({ method: 'PUT', url: `${PREFIX}/guilds/${IDS.g2}`, headers: json(admin), payload: JSON.stringify({ bot_token: MISTYPED }) }), 400, 'FST_DISCORD_VALIDATION')
    expectStatus(await w.inject({ method: 'POST', url: `${PREFIX}/guilds`, headers: json(admin), payload: `{"guild_id": "${IDS.g2}", "bot_token": "${BOT_TOKEN}", ` }), 400, 'FST_DISCORD_VALIDATION')
    for (const g of [IDS.g1, IDS.g2]) {
      expectStatus(await w.inject({ url: `${PREFIX}/guilds/${g}`, headers: bearer(admin) }), 200)
      expectStatus(await w.inject({ url: `${PREFIX}/guilds/${g}/discord-roles`, headers: bearer(admin) }), 200)
    }
    expectStatus(await w.inject({ method: 'POST', url: `${PREFIX}/guilds/${IDS.g1}/role-mappings`, headers: json(admin), payload: JSON.stringify({ group_id: 'pilots', discord_role_id: IDS.pilot }) }), 201)
    expectStatus(await w.inject({ method: 'POST', url: `${PREFIX}/guilds/${IDS.g2}/role-mappings`, headers: json(admin), payload: JSON.stringify({ group_id: 'pilots', discord_role_id: IDS.pilot2 }) }), 201)
    expectStatus(await w.inject({ url: `${PREFIX}/guilds/${IDS.g1}/role-mappings/export`, headers: bearer(admin) }), 200)

    // Syncs: a dry run, a real run (with a 5xx on one member write), a user sync; Alice's groups come from the host.
    for (const id of [IDS.alice, IDS.carol, IDS.bob]) { sim.state.addMember(IDS.g1, id); sim.state.addMember(IDS.g2, id) }
    w.membership.set(HOST.alice, ['pilots'])
    w.membership.set(HOST.bob, ['pilots'])
    expectStatus(await w.inject({ method: 'POST', url: `${PREFIX}/sync/manual`, headers: json(admin), payload: JSON.stringify({ dry_run: true, wait: true }) }), 200)
    sim.scriptFault({ kind: 'error', status: 503, route: 'PUT /guilds/:guild_id/members/:user_id/roles/:role_id', times: 4 })
    expectStatus(await w.inject({ method: 'POST', url: `${PREFIX}/sync/manual`, headers: json(admin), payload: JSON.stringify({ wait: true }) }), 200)
    expectStatus(await w.inject({ method: 'POST', url: `${PREFIX}/sync/user/${HOST.alice}`, headers: cookie }), 200)
    expect(w.sim.state.memberRoles(IDS.g1, IDS.alice)).toContain(IDS.pilot)

    // Discord refuses: Manage Roles taken away in guild 1 (403 50013), guild 2's token revoked (401).
    sim.state.setRolePermissions(IDS.g1, IDS.botRole, PermissionFlags.VIEW_CHANNEL)
    sim.state.revokeBotToken(BOT2_TOKEN)
    w.membership.set(HOST.bob, [])
    expectStatus(await w.inject({ method: 'POST', url: `${PREFIX}/sync/manual`, headers: json(admin), payload: JSON.stringify({ wait: true, force: true }) }), 200)
    for (const g of [IDS.g1, IDS.g2]) expectStatus(await w.inject({ method: 'POST', url: `${PREFIX}/guilds/${g}/health-check`, headers: bearer(admin) }), 200)
    expectStatus(await w.inject({ url: `${PREFIX}/guilds/${IDS.g2}/discord-roles`, headers: bearer(admin) }), 422, 'FST_DISCORD_BOT_TOKEN_INVALID')
    const runs = await w.app.discord.store.listSyncRuns({ limit: 100 })
    const codes = new Set(runs.flatMap((r) => r.results.errors.map((e) => String(e.code))))
    expect(codes.has('50013')).toBe(true)
    expect([...codes].some((c) => /401|BOT_TOKEN_INVALID|unauthor/i.test(c))).toBe(true)

    // Token refresh: rotated once, then a 5xx from Discord, then invalid_grant once the authorisation is revoked.
    const refresh = w.app.discord.tokenRefresh
    if (refresh === null) throw new Error('the token refresh task is off')
    const soon = async (): Promise<void> => {
      const tokens = await w.app.discord.store.getUserTokens(IDS.alice)
      if (tokens === null) throw new Error('Alice has no tokens')
      await w.app.discord.store.setUserTokens(IDS.alice, { ...tokens, expires_at: new Date(Date.now() + 1000) })
    }
    await soon()
    expect(await refresh.run()).toMatchObject({ refreshed: 1 })
    await soon()
    sim.scriptFault({ kind: 'error', status: 503, route: 'POST /oauth2/token', times: 4 })
    expect(await refresh.run()).toMatchObject({ refreshed: 0, failed: 1 })
    const current = await w.app.discord.store.getUserTokens(IDS.alice)
    const authorization = sim.state.findAuthorizationByToken(current?.refresh_token as string)
    if (authorization === undefined) throw new Error('Alice\'s authorisation is unknown to the simulator')
    sim.state.revokeAuthorization(authorization)
    expect(await refresh.run()).toMatchObject({ reauth_required: 1 })
    expectStatus(await w.inject({ url: `${PREFIX}/auth/token-refresh/runs`, headers: bearer(admin) }), 200)

    // Read everything an admin or a user can read, then unlink both of Alice's accounts and Bob's.
    for (const url of ['/sync/status', '/sync/runs?limit=100', '/sync/audit?page_size=100', '/users?page_size=100', `/users/${HOST.alice}`, '/metrics', '/status', '/session', '/role-mappings']) {
      expectStatus(await w.inject({ url: `${PREFIX}${url}`, headers: bearer(admin) }), 200)
    }
    expectStatus(await w.inject({ url: `${PREFIX}/auth/status`, headers: cookie }), 200)
    expectStatus(await w.inject({ method: 'DELETE', url: `${PREFIX}/auth/unlink/${IDS.carol}`, headers: cookie }), 200)
    expectStatus(await w.inject({ method: 'DELETE', url: `${PREFIX}/auth/unlink/${IDS.alice}`, headers: bearer({ id: HOST.alice, permissions: [] }) }), 200)
    expectStatus(await w.inject({ method: 'DELETE', url: `${PREFIX}/auth/unlink/${IDS.bob}`, headers: bearer(admin) }), 200)
    expectStatus(await w.inject({ method: 'DELETE', url: `${PREFIX}/session`, headers: cookie }), 200)
    expectStatus(await w.inject({ method: 'DELETE', url: `${PREFIX}/guilds/${IDS.g2}`, headers: bearer(admin) }), 200)

    // The life above really handled each kind of secret.
    expect(issued.length).toBeGreaterThanOrEqual(12)
    expect(w.logLines.length).toBeGreaterThan(100)
    // Every component logged (the guild health check now logs as discord_bot, like the scheduled check).
    for (const component of ['discord_oauth', 'discord_bot', 'discord_sync']) {
      expect(w.logLines.some((l) => l.includes(`"component":"${component}"`)), component).toBe(true)
    }
    expect(w.hookErrors.length).toBeGreaterThan(3)
    expect(sim.state.messages.length).toBeGreaterThan(0)

    const secrets: Record<string, string | Buffer> = {
      'bot token': BOT_TOKEN,
      'second bot token': BOT2_TOKEN,
      'never-issued bot token': NEVER_ISSUED,
      'mistyped bot token': MISTYPED,
      'client secret': OAUTH_APP.clientSecret,
      'client credentials (Basic)': `${OAUTH_APP.clientId}:${OAUTH_APP.clientSecret}`,
      'JWT secret': JWT_SECRET,
      'encryption key (base64)': KEY.toString('base64'),
      'encryption key': KEY,
      ...Object.fromEntries(issued.map((t, i) => [`Discord token or code #${i}`, t]))
    }
    // Close first: the store flushes, and the last log lines (shutdown) are written too.
    await w.app.close()
    const found: Record<string, string[]> = {}
    const scan = (where: string, haystack: string | Buffer): void => {
      const hits = leaks(haystack, secrets)
      if (hits.length > 0) found[where] = hits
    }
    for (const r of w.responses) scan(`response ${r.method} ${r.url.split('?')[0] as string} ${r.statusCode}`, `${r.headers}\n${r.body}`)
    w.logLines.forEach((line, i) => scan(`log line ${i}: ${line.slice(0, 160)}`, line))
    w.hookErrors.forEach((err, i) => scan(`hook error ${i}: ${err.slice(0, 120)}`, err))
    scan('audit-channel messages', JSON.stringify(sim.state.messages))
    scan('SQLite file', w.rawDatabase())
    expect(found).toEqual({})
  }, 60_000)
})
