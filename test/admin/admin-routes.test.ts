import { readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { adminUiRoot } from '../../src/admin-ui/index.js'
import { resolveOptions } from '../../src/options/index.js'
import type { DiscordSimulator } from '../../src/testing/index.js'
import { buildWorld, TEST_KEY, JWT_SECRET, type World } from '../helpers/world.js'
import { configureGuild, IDS, routeWorld, SECRET_VALUES, startSimulator } from '../routes/helpers.js'

/*
 * The routes the admin UI adds (session, sign-out, the role picker's Discord roles, a health
 * check on demand), the static UI itself, and the CSRF rule every cookie-authenticated write
 * now follows.
 */

let sim: DiscordSimulator
beforeAll(async () => { sim = await startSimulator() })
afterAll(async () => { await sim.close() })

let t: World
afterEach(async () => {
  // No response of any test here may carry a bot token.
  for (const r of t.responses) for (const secret of SECRET_VALUES) expect(r.body + r.headers).not.toContain(secret)
  await t.close()
})

const cookieOf = (token: string): Record<string, string> => ({ cookie: `falcon_auth_token=${token}` })

describe('CSRF: cookie-authenticated writes need X-Requested-With or a JSON body', () => {
  it('refuses a cookie write a cross-site form could send (text/plain) with 403 FST_DISCORD_CSRF_HEADER_REQUIRED and writes nothing', async () => {
    t = await buildWorld(routeWorld(sim))
    const res = await t.inject({ method: 'POST', url: '/discord/guilds', headers: { ...cookieOf(t.tokenFor('admin')), 'content-type': 'text/plain' }, payload: JSON.stringify({ guild_id: IDS.guild, guild_name: 'X' }) })
    expect(res.statusCode).toBe(403)
    expect(res.json()).toMatchObject({ code: 'FST_DISCORD_CSRF_HEADER_REQUIRED', message: expect.stringContaining('X-Requested-With') })
    expect(await t.app.discord.store.getGuild(IDS.guild)).toBeNull()
  })

  it.each(['PUT', 'DELETE'] as const)('applies to %s too (an empty header value is no proof)', async (method) => {
    t = await buildWorld(routeWorld(sim))
    const res = await t.inject({ method, url: `/discord/guilds/${IDS.guild}`, headers: { ...cookieOf(t.tokenFor('admin')), 'x-requested-with': ' ' } })
    expect(res.statusCode).toBe(403)
    expect(res.json().code).toBe('FST_DISCORD_CSRF_HEADER_REQUIRED')
  })

  it('accepts a JSON body as proof: a form cannot send application/json (the seed\'s cookie curl works)', async () => {
    t = await buildWorld(routeWorld(sim))
    const res = await t.inject({ method: 'POST', url: '/discord/guilds', headers: { ...cookieOf(t.tokenFor('admin')), 'content-type': 'application/json; charset=utf-8' }, payload: JSON.stringify({ guild_id: IDS.guild, guild_name: 'Via JSON' }) })
    expect(res.statusCode).toBe(201)
    // A look-alike type is no proof.
    const fake = await t.inject({ method: 'PUT', url: `/discord/guilds/${IDS.guild}`, headers: { ...cookieOf(t.tokenFor('admin')), 'content-type': 'text/plain; a=application/json' }, payload: '{}' })
    expect(fake.statusCode).toBe(403)
  })

  it('lets the same cookie write through with the header, and bearer writes need none', async () => {
    t = await buildWorld(routeWorld(sim))
    const withHeader = await t.inject({ method: 'POST', url: '/discord/guilds', as: 'admin', cookie: true, payload: { guild_id: IDS.guild, guild_name: 'Via cookie' } })
    expect(withHeader.statusCode).toBe(201)
    const bearer = await t.inject({ method: 'PUT', url: `/discord/guilds/${IDS.guild}`, as: 'admin', payload: { guild_name: 'Via bearer' } })
    expect(bearer.statusCode).toBe(200)
  })

  it('does not apply to reads: a cookie GET needs no header', async () => {
    t = await buildWorld(routeWorld(sim))
    const res = await t.inject({ url: '/discord/guilds', headers: cookieOf(t.tokenFor('admin')) })
    expect(res.statusCode).toBe(200)
  })

  it('checks before the token is verified: a forged write learns nothing about the session', async () => {
    t = await buildWorld(routeWorld(sim))
    const res = await t.inject({ method: 'POST', url: '/discord/guilds', headers: { ...cookieOf('not.a.jwt'), 'content-type': 'text/plain' }, payload: '{}' })
    expect(res.statusCode).toBe(403)
    expect(res.json().code).toBe('FST_DISCORD_CSRF_HEADER_REQUIRED')
  })
})

describe('GET /session and DELETE /session', () => {
  it('anonymous: not authenticated, with what the deployment offers', async () => {
    t = await buildWorld(routeWorld(sim))
    const res = await t.inject({ url: '/discord/session' })
    expect(res.statusCode).toBe(200)
    expect(res.json()).toEqual({ authenticated: false, user_id: null, is_admin: false, session_expired: false, auth_configured: true, discord_configured: false, sync_configured: false, csrf_header: 'x-requested-with' })
  })

  it('says who the caller is and whether they are an admin (cookie or bearer)', async () => {
    t = await buildWorld(routeWorld(sim))
    expect((await t.inject({ url: '/discord/session', as: 'admin', cookie: true })).json()).toMatchObject({ authenticated: true, user_id: 'admin-1', is_admin: true })
    expect((await t.inject({ url: '/discord/session', as: 'alice' })).json()).toMatchObject({ authenticated: true, user_id: 'user-alice', is_admin: false })
  })

  it('reports a stale or forged session as signed out with session_expired, not as an error', async () => {
    t = await buildWorld(routeWorld(sim))
    const res = await t.inject({ url: '/discord/session', headers: cookieOf('expired.or.forged') })
    expect(res.statusCode).toBe(200)
    expect(res.json()).toMatchObject({ authenticated: false, session_expired: true })
  })

  it('without JWT configuration nobody is signed in and the UI is told so', async () => {
    t = await buildWorld(routeWorld(sim, { auth: { jwtSecret: undefined } }))
    expect((await t.inject({ url: '/discord/session', headers: cookieOf('a.b.c') })).json()).toMatchObject({ authenticated: false, auth_configured: false })
  })

  it('signs out by expiring the cookie with its own attributes; needs the CSRF header', async () => {
    t = await buildWorld(routeWorld(sim, { auth: { jwtSecret: JWT_SECRET, cookiePath: '/api' } }))
    const forged = await t.inject({ method: 'DELETE', url: '/discord/session', headers: cookieOf(t.tokenFor('alice')) })
    expect(forged.statusCode).toBe(403)
    expect(forged.headers['set-cookie']).toBeUndefined()
    const res = await t.inject({ method: 'DELETE', url: '/discord/session', as: 'alice', cookie: true })
    expect(res.statusCode).toBe(200)
    expect(res.json()).toEqual({ signed_out: true })
    const setCookie = String(res.headers['set-cookie'])
    expect(setCookie).toMatch(/^falcon_auth_token=;/)
    expect(setCookie).toMatch(/Expires=Thu, 01 Jan 1970/)
    expect(setCookie).toMatch(/Path=\/api/)
    expect(setCookie).toMatch(/HttpOnly/)
  })
})

describe('GET /guilds/{guild_id}/discord-roles (the role picker)', () => {
  it('lists the guild\'s roles highest first, each with whether the bot may assign it and why not', async () => {
    t = await buildWorld(routeWorld(sim))
    await configureGuild(t)
    const res = await t.inject({ url: `/discord/guilds/${IDS.guild}/discord-roles`, as: 'admin' })
    expect(res.statusCode).toBe(200)
    const body = res.json()
    expect(body).toMatchObject({ guild_id: IDS.guild, guild_name: 'My Discord Server', bot_user_id: IDS.bot, bot_username: 'syncbot', bot_highest_position: 10, can_manage_roles: true })
    const byId = new Map(body.roles.map((r: { id: string }) => [r.id, r]))
    expect(body.roles.map((r: { position: number }) => r.position)).toEqual([...body.roles.map((r: { position: number }) => r.position)].sort((a, b) => b - a))
    expect(byId.get(IDS.pilotRole)).toEqual({ id: IDS.pilotRole, name: 'EVE Pilot', position: 5, color: 0, managed: false, held_by_bot: false, assignable: true, reason: null, message: 'The bot can assign this role' })
    expect(byId.get(IDS.adminsRole)).toMatchObject({ assignable: false, reason: 'role_not_below_bot', message: expect.stringContaining('move the bot\'s role above it') })
    expect(byId.get(IDS.peerRole)).toMatchObject({ assignable: false, reason: 'role_not_below_bot' })
    expect(byId.get(IDS.boosterRole)).toMatchObject({ managed: true, assignable: false, reason: 'managed_role' })
    expect(byId.get(IDS.botRole)).toMatchObject({ held_by_bot: true, assignable: false, reason: 'role_not_below_bot' })
    expect(byId.get(IDS.guild)).toMatchObject({ name: '@everyone', assignable: false, reason: 'everyone_role' })
  })

  it('follows Discord: a role moved above the bot turns unassignable on the next read', async () => {
    t = await buildWorld(routeWorld(sim))
    await configureGuild(t)
    sim.state.setRolePosition(IDS.guild, IDS.staffRole, 11)
    try {
      const role = (await t.inject({ url: `/discord/guilds/${IDS.guild}/discord-roles`, as: 'admin' })).json().roles.find((r: { id: string }) => r.id === IDS.staffRole)
      expect(role).toMatchObject({ position: 11, assignable: false, reason: 'role_not_below_bot' })
    } finally {
      sim.state.setRolePosition(IDS.guild, IDS.staffRole, 4)
    }
  })

  it('is admin only, 404 for an unconfigured guild, 422 without a bot token, 400 for a bad id', async () => {
    t = await buildWorld(routeWorld(sim))
    expect((await t.inject({ url: `/discord/guilds/${IDS.guild}/discord-roles` })).statusCode).toBe(401)
    expect((await t.inject({ url: `/discord/guilds/${IDS.guild}/discord-roles`, as: 'alice' })).statusCode).toBe(403)
    expect((await t.inject({ url: `/discord/guilds/${IDS.guild}/discord-roles`, as: 'admin' })).json()).toMatchObject({ statusCode: 404, code: 'FST_DISCORD_NOT_FOUND' })
    await t.inject({ method: 'POST', url: '/discord/guilds', as: 'admin', payload: { guild_id: IDS.noBotGuild, guild_name: 'No token' } })
    expect((await t.inject({ url: `/discord/guilds/${IDS.noBotGuild}/discord-roles`, as: 'admin' })).json()).toMatchObject({ statusCode: 422, code: 'FST_DISCORD_GUILD_NO_BOT_TOKEN' })
    expect((await t.inject({ url: '/discord/guilds/abc/discord-roles', as: 'admin' })).json()).toMatchObject({ statusCode: 400, code: 'FST_DISCORD_VALIDATION' })
  })
})

describe('POST /guilds/{guild_id}/health-check', () => {
  it('checks the bot now and answers the stored verdict (also with the scheduled task disabled)', async () => {
    t = await buildWorld(routeWorld(sim, { healthCheck: { enabled: false } }))
    await configureGuild(t)
    sim.state.setRolePermissions(IDS.guild, IDS.botRole, '0')
    try {
      const res = await t.inject({ method: 'POST', url: `/discord/guilds/${IDS.guild}/health-check`, as: 'admin' })
      expect(res.statusCode).toBe(200)
      expect(res.json()).toMatchObject({ guild_id: IDS.guild, health_status: 'unhealthy', last_error: expect.stringContaining('Manage Roles') })
    } finally {
      sim.state.setRolePermissions(IDS.guild, IDS.botRole, (1n << 28n) | (1n << 10n) | (1n << 11n))
    }
    expect((await t.inject({ method: 'POST', url: `/discord/guilds/${IDS.guild}/health-check`, as: 'admin' })).json()).toMatchObject({ health_status: 'healthy', last_error: null })
    expect((await t.inject({ method: 'POST', url: `/discord/guilds/${IDS.guild}/health-check`, as: 'alice' })).statusCode).toBe(403)
    expect((await t.inject({ method: 'POST', url: `/discord/guilds/${IDS.noBotGuild}/health-check`, as: 'admin' })).statusCode).toBe(404)
  })
})

describe('the admin UI (adminUi option)', () => {
  it('is not served by default', async () => {
    t = await buildWorld(routeWorld(sim))
    expect((await t.inject({ url: '/discord/admin/' })).statusCode).toBe(404)
    expect((await t.inject({ url: '/discord/admin/js/main.js' })).statusCode).toBe(404)
  })

  it('serves the page, its script and stylesheet with a strict CSP; /admin redirects to /admin/', async () => {
    t = await buildWorld(routeWorld(sim, { adminUi: true }))
    const redirect = await t.inject({ url: '/discord/admin' })
    expect(redirect.statusCode).toBe(301)
    expect(redirect.headers.location).toBe('/discord/admin/')
    const page = await t.inject({ url: '/discord/admin/' })
    expect(page.statusCode).toBe(200)
    expect(page.headers['content-type']).toMatch(/^text\/html/)
    expect(page.headers['cache-control']).toBe('no-cache')
    expect(page.body).toContain('<script type="module" src="js/main.js"></script>')
    // No CDN: every asset the page loads is relative to it.
    expect(page.body).not.toMatch(/(src|href)="(https?:)?\/\//)
    const csp = String(page.headers['content-security-policy'])
    expect(csp).toContain("script-src 'self'")
    expect(csp).toContain("frame-ancestors 'none'")
    expect(csp).not.toContain('unsafe-inline')
    expect(page.headers['x-content-type-options']).toBe('nosniff')
    // Every module under js/, subfolders included, is served as JavaScript (a browser runs
    // a module script only with a JavaScript content type) under the same headers.
    const root = join(adminUiRoot(), 'js')
    const modules = readdirSync(root, { recursive: true, encoding: 'utf8' }).filter((f) => statSync(join(root, f)).isFile()).map((f) => f.split('\\').join('/'))
    expect(modules).toEqual(expect.arrayContaining(['main.js', 'api.js', 'router.js', 'pages/overview.js', 'components/dialog.js']))
    for (const file of modules) {
      const script = await t.inject({ url: `/discord/admin/js/${file}` })
      expect(script.statusCode, file).toBe(200)
      expect(script.headers['content-type'], file).toMatch(/^(text|application)\/javascript/)
      expect(script.headers['content-security-policy'], file).toBe(csp)
      expect(script.headers['x-content-type-options'], file).toBe('nosniff')
    }
    // The HTTP client proves same-origin on every call, which the API requires for cookie writes.
    expect((await t.inject({ url: '/discord/admin/js/api.js' })).body).toContain("'x-requested-with'")
    expect((await t.inject({ url: '/discord/admin/app.css' })).headers['content-type']).toMatch(/^text\/css/)
    expect((await t.inject({ url: '/discord/admin/../index.ts' })).statusCode).toBe(404)
    // The favicon, and the chart library served from its npm package under the same headers.
    expect(page.body).toContain('<link rel="icon" href="favicon.svg" type="image/svg+xml">')
    const icon = await t.inject({ url: '/discord/admin/favicon.svg' })
    expect(icon.statusCode).toBe(200)
    expect(icon.headers['content-type']).toMatch(/^image\/svg\+xml/)
    const uplot = await t.inject({ url: '/discord/admin/vendor/uPlot.esm.js' })
    expect(uplot.statusCode).toBe(200)
    expect(uplot.headers['content-type']).toMatch(/^text\/javascript/)
    expect(uplot.headers['content-security-policy']).toBe(csp)
    expect(uplot.body).toContain('export { uPlot as default }')
    const uplotCss = await t.inject({ url: '/discord/admin/vendor/uPlot.min.css' })
    expect(uplotCss.headers['content-type']).toMatch(/^text\/css/)
    expect(uplotCss.body).toContain('.uplot')
    expect((await t.inject({ url: '/discord/admin/vendor/other.js' })).statusCode).toBe(404)
  })

  it('loads without spending the API\'s rate limit: the page and its modules are not counted, the API still is', async () => {
    t = await buildWorld(routeWorld(sim, { adminUi: true, rateLimit: { max: 3, timeWindow: '1m' } }))
    const root = join(adminUiRoot(), 'js')
    const modules = readdirSync(root, { recursive: true, encoding: 'utf8' }).filter((f) => statSync(join(root, f)).isFile())
    expect(modules.length).toBeGreaterThan(3)
    // Anonymous, so every request counts against one IP's quota of 3, as a visitor's first load does.
    for (const url of ['/discord/admin/', '/discord/admin/app.css', ...modules.map((f) => `/discord/admin/js/${f.split('\\').join('/')}`)]) {
      expect((await t.inject({ url })).statusCode, url).toBe(200)
    }
    const session = []
    for (let i = 0; i < 4; i++) session.push((await t.inject({ url: '/discord/session' })).statusCode)
    expect(session).toEqual([200, 200, 200, 429])
  })

  it('is not part of the OpenAPI document; its JSON helpers are', async () => {
    t = await buildWorld(routeWorld(sim, { adminUi: true }))
    const doc = (await t.inject({ url: '/discord/openapi.json' })).json()
    expect(Object.keys(doc.paths).filter((p) => p.startsWith('/discord/admin'))).toEqual([])
    expect(doc.paths['/discord/session'].get).toBeDefined()
    expect(doc.paths['/discord/session'].delete).toBeDefined()
    expect(doc.paths['/discord/guilds/{guild_id}/discord-roles'].get.responses['422']).toBeDefined()
    expect(doc.paths['/discord/guilds/{guild_id}/health-check'].post).toBeDefined()
  })

  it('allows the UI as a sign-in redirect when it sits beside the callback, and only then', () => {
    const base = { encryptionKey: TEST_KEY, discord: { clientId: '123456789012345678', clientSecret: 's', redirectUri: 'https://app.example.test/api/discord/auth/callback' } }
    expect(resolveOptions({ ...base, adminUi: true }).auth.redirectUrls).toEqual(['https://app.example.test/api/discord/admin/'])
    expect(resolveOptions({ ...base, adminUi: true, auth: { redirectUrls: ['https://app.example.test/done'] } }).auth.redirectUrls)
      .toEqual(['https://app.example.test/done', 'https://app.example.test/api/discord/admin/'])
    expect(resolveOptions(base).auth.redirectUrls).toEqual([])
    expect(resolveOptions({ ...base, adminUi: true, discord: { ...base.discord, redirectUri: 'https://app.example.test/oauth/discord' } }).auth.redirectUrls).toEqual([])
    expect(() => resolveOptions({ ...base, adminUi: 'yes' })).toThrow(/adminUi/)
  })
})
