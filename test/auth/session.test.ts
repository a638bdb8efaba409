import { createHmac } from 'node:crypto'
import { afterEach, describe, expect, it, vi } from 'vitest'
import Fastify, { type FastifyInstance } from 'fastify'
import fastifyJwt from '@fastify/jwt'
import discordSync from '../../src/index.js'
import { bearer, buildWorld, JWT_SECRET, sessionFor, TEST_KEY, type World } from '../helpers/world.js'
import { authWorld } from './helpers.js'

/*
 * Who the caller is: Bearer or cookie, which wins, what is refused and with which code,
 * reuse of a host @fastify/jwt, claim names and the admin predicate.
 */

function b64url (v: unknown): string {
  return Buffer.from(JSON.stringify(v)).toString('base64url')
}

/** An HS256 JWT signed by hand, so tests can make tokens the plugin would never issue (an hour's `exp` unless the payload sets one; `exp: undefined` for none). */
function signHs256 (payload: Record<string, unknown>, secret = JWT_SECRET): string {
  const head = `${b64url({ alg: 'HS256', typ: 'JWT' })}.${b64url({ exp: now() + 3600, ...payload })}`
  return `${head}.${createHmac('sha256', secret).update(head).digest('base64url')}`
}

const now = (): number => Math.floor(Date.now() / 1000)

let t: World | null = null
let host: FastifyInstance | null = null
afterEach(async () => {
  await t?.close()
  await host?.close()
  t = null
  host = null
})

async function status (headers: Record<string, string> = {}): Promise<{ statusCode: number, json: Record<string, unknown> }> {
  const res = await (t as World).inject({ method: 'GET', url: '/discord/auth/status', headers })
  return { statusCode: res.statusCode, json: res.json() }
}

describe('reading the session', () => {
  it('accepts Authorization: Bearer', async () => {
    t = await buildWorld(authWorld(null))
    const r = await status(bearer(sessionFor(t.app, 'u-alice')))
    expect(r).toMatchObject({ statusCode: 200, json: { authenticated: true, user_id: 'u-alice', linked: false, accounts: [] } })
  })

  it('accepts the falcon_auth_token cookie', async () => {
    t = await buildWorld(authWorld(null))
    const r = await status({ cookie: `other=1; falcon_auth_token=${sessionFor(t.app, 'u-alice')}` })
    expect(r).toMatchObject({ statusCode: 200, json: { authenticated: true, user_id: 'u-alice' } })
  })

  it('uses the configured cookie name', async () => {
    t = await buildWorld(authWorld(null, { auth: { cookieName: 'sid' } }))
    expect((await status({ cookie: `sid=${sessionFor(t.app, 'u-1')}` })).json).toMatchObject({ user_id: 'u-1' })
    expect((await status({ cookie: `falcon_auth_token=${sessionFor(t.app, 'u-1')}` })).json).toEqual({ authenticated: false })
  })

  it('lets the bearer token win when cookie and bearer are both present and differ', async () => {
    t = await buildWorld(authWorld(null))
    const r = await status({ ...bearer(sessionFor(t.app, 'u-api')), cookie: `falcon_auth_token=${sessionFor(t.app, 'u-browser')}` })
    expect(r.json).toMatchObject({ authenticated: true, user_id: 'u-api' })
  })

  it('does not fall back to a valid cookie when the bearer token is bad', async () => {
    t = await buildWorld(authWorld(null))
    const r = await status({ authorization: 'Bearer not.a.jwt', cookie: `falcon_auth_token=${sessionFor(t.app, 'u-browser')}` })
    expect(r).toMatchObject({ statusCode: 401, json: { code: 'FST_DISCORD_AUTH_TOKEN_INVALID' } })
  })

  it('is anonymous without any credential', async () => {
    t = await buildWorld(authWorld(null))
    expect(await status()).toEqual({ statusCode: 200, json: { authenticated: false } })
  })

  it.each([
    ['a tampered payload', (tok: string) => { const [h, , s] = tok.split('.'); return `${h}.${b64url({ sub: 'admin', permissions: ['discord:admin'] })}.${s}` }],
    ['a tampered signature', (tok: string) => tok.slice(0, -2) + (tok.endsWith('AA') ? 'BB' : 'AA')],
    ['another secret', () => signHs256({ sub: 'u-1' }, 'another-secret-that-is-also-long-enough-xx')],
    ['alg none', () => `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url({ sub: 'u-1' })}.`],
    ['garbage', () => 'garbage']
  ])('refuses %s with 401 FST_DISCORD_AUTH_TOKEN_INVALID, by bearer and by cookie', async (_what, make) => {
    t = await buildWorld(authWorld(null))
    const token = make(sessionFor(t.app, 'u-1'))
    expect(await status(bearer(token))).toMatchObject({ statusCode: 401, json: { code: 'FST_DISCORD_AUTH_TOKEN_INVALID' } })
    expect(await status({ cookie: `falcon_auth_token=${token}` })).toMatchObject({ statusCode: 401, json: { code: 'FST_DISCORD_AUTH_TOKEN_INVALID' } })
  })

  it('refuses an expired token with 401 FST_DISCORD_AUTH_TOKEN_EXPIRED', async () => {
    t = await buildWorld(authWorld(null))
    const r = await status(bearer(signHs256({ sub: 'u-1', iat: now() - 100, exp: now() - 10 })))
    expect(r).toMatchObject({ statusCode: 401, json: { code: 'FST_DISCORD_AUTH_TOKEN_EXPIRED' } })
  })

  it('a session verified before still expires on time (the verified-session cache honours exp)', async () => {
    t = await buildWorld(authWorld(null))
    const exp = now() + 2
    const token = signHs256({ sub: 'u-1', exp })
    expect((await status(bearer(token))).json).toMatchObject({ authenticated: true })
    expect((await status(bearer(token))).json).toMatchObject({ authenticated: true })
    vi.useFakeTimers({ toFake: ['Date'], now: exp * 1000 + 1 })
    try {
      expect(await status(bearer(token))).toMatchObject({ statusCode: 401, json: { code: 'FST_DISCORD_AUTH_TOKEN_EXPIRED' } })
    } finally {
      vi.useRealTimers()
    }
  })

  it('refuses an Authorization header that is not Bearer', async () => {
    t = await buildWorld(authWorld(null))
    const r = await status({ authorization: 'Basic dXNlcjpwdw==' })
    expect(r).toMatchObject({ statusCode: 401, json: { code: 'FST_DISCORD_AUTH_TOKEN_INVALID', message: expect.stringContaining('Bearer') } })
  })

  it.each([
    ['no user id claim', { permissions: [] }],
    ['an empty user id', { sub: '' }],
    ['an object user id', { sub: { id: 1 } }],
    ['permissions that are not a list of strings', { sub: 'u-1', permissions: [1, 2] }],
    ['no exp (a session that would never end)', { sub: 'u-1', exp: undefined }],
    ['an exp that is not a number', { sub: 'u-1', exp: '2999-01-01' }],
    ['a payload that is not an object', 'just-a-string']
  ])('refuses a verified token with %s', async (_what, payload) => {
    t = await buildWorld(authWorld(null))
    const token = typeof payload === 'string'
      ? (() => { const head = `${b64url({ alg: 'HS256', typ: 'JWT' })}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}`; return `${head}.${createHmac('sha256', JWT_SECRET).update(head).digest('base64url')}` })()
      : signHs256(payload as Record<string, unknown>)
    expect(await status(bearer(token))).toMatchObject({ statusCode: 401, json: { code: 'FST_DISCORD_AUTH_TOKEN_INVALID' } })
  })

  it('accepts a numeric user id and OAuth-style space-separated permissions', async () => {
    t = await buildWorld(authWorld(null))
    const user = t.app.discord.auth.verify(signHs256({ sub: 42, permissions: 'discord:admin other' }))
    expect(user).toMatchObject({ id: '42', permissions: ['discord:admin', 'other'] })
  })
})

describe('JWT configuration', () => {
  it('without a secret and without a host @fastify/jwt: anonymous status works, a presented token is 503 FST_DISCORD_AUTH_NOT_CONFIGURED', async () => {
    t = await buildWorld(authWorld(null, { auth: { jwtSecret: undefined } }))
    expect(t.app.discord.auth.source).toBe('none')
    expect(await status()).toEqual({ statusCode: 200, json: { authenticated: false } })
    const r = await status(bearer(signHs256({ sub: 'u-1' })))
    expect(r).toMatchObject({ statusCode: 503, json: { code: 'FST_DISCORD_AUTH_NOT_CONFIGURED' } })
    const link = await t.inject({ method: 'POST', url: '/discord/auth/link', payload: {} })
    expect(link.statusCode).toBe(503)
    expect(link.json().code).toBe('FST_DISCORD_AUTH_NOT_CONFIGURED')
  })

  it('reuses a @fastify/jwt the host registered first, and leaves the host without a decorator otherwise', async () => {
    t = await buildWorld(authWorld(null, { auth: { jwtSecret: undefined } }, {
      before: async (app) => { await app.register(fastifyJwt, { secret: 'host-secret-that-is-long-enough-0123456789' }) }
    }))
    expect(t.app.discord.auth.source).toBe('host')
    const hostJwt = (t.app as unknown as { jwt: { sign: (p: object, o?: object) => string } }).jwt
    const hostToken = hostJwt.sign({ sub: 'host-user', permissions: ['discord:admin'] }, { expiresIn: 3600 })
    expect((await status(bearer(hostToken))).json).toMatchObject({ authenticated: true, user_id: 'host-user' })
    // The host's signer adds no exp unless asked: such a token would never expire, so it is refused.
    const forever = hostJwt.sign({ sub: 'host-user', permissions: ['discord:admin'] })
    expect(await status(bearer(forever))).toMatchObject({ statusCode: 401, json: { code: 'FST_DISCORD_AUTH_TOKEN_INVALID' } })

    // With its own secret the plugin adds no `jwt` decorator, so the host can still register @fastify/jwt after it.
    host = Fastify({ logger: false })
    await host.register(discordSync, { store: { type: 'sqlite', path: ':memory:' }, encryptionKey: TEST_KEY, auth: { jwtSecret: JWT_SECRET } })
    await host.after()
    expect(host.hasDecorator('jwt')).toBe(false)
    await host.register(fastifyJwt, { secret: 'host-secret-that-is-long-enough-0123456789' })
    await host.ready()
    expect(host.discord.auth.source).toBe('own')
    const hostSigned = (host as unknown as { jwt: { sign: (p: object) => string } }).jwt.sign({ sub: 'x' })
    // The plugin keeps its own key: a token signed with the host's secret does not verify.
    expect(() => host?.discord.auth.verify(hostSigned)).toThrow(expect.objectContaining({ code: 'FST_DISCORD_AUTH_TOKEN_INVALID' }))
  })

  it('refuses at register a host @fastify/jwt registered with namespaces (ambiguous)', async () => {
    host = Fastify({ logger: false })
    await host.register(fastifyJwt, { secret: 'host-secret-that-is-long-enough-0123456789', namespace: 'a' })
    await expect(host.register(discordSync, { store: { type: 'sqlite', path: ':memory:' }, encryptionKey: TEST_KEY })).rejects.toThrow(/namespaces/)
  })

  it('issues sessions with the configured claim names and lifetime', async () => {
    t = await buildWorld(authWorld(null, { auth: { userIdClaim: 'uid', permissionsClaim: 'perms', sessionExpiry: '2h' } }))
    const { token, expiresAt } = t.app.discord.auth.issue({ id: 'u-9', permissions: ['p'] })
    const payload = JSON.parse(Buffer.from(token.split('.')[1] as string, 'base64url').toString()) as Record<string, number | string | string[]>
    expect(payload).toMatchObject({ uid: 'u-9', perms: ['p'] })
    expect(payload.sub).toBeUndefined()
    expect((payload.exp as number) - (payload.iat as number)).toBe(7200)
    expect(Math.abs(expiresAt.getTime() - Date.now() - 7_200_000)).toBeLessThan(2000)
    expect((await status(bearer(token))).json).toMatchObject({ user_id: 'u-9' })
  })
})

describe('authorisation helpers on host routes', () => {
  async function withAdminRoute (overrides: Parameters<typeof authWorld>[1] = {}): Promise<World> {
    return await buildWorld(authWorld(null, overrides, {
      after: async (h) => {
        h.get('/host/admin', { preHandler: h.discord.auth.requireAdmin }, async (req) => ({ admin: req.discordAuth?.id }))
        h.get('/host/me', { preHandler: h.discord.auth.authenticate }, async (req) => ({ me: req.discordAuth?.id }))
      }
    }))
  }

  it('requireAdmin: 401 anonymous, 403 without the admin permission, 200 with it', async () => {
    t = await withAdminRoute()
    expect((await t.inject({ method: 'GET', url: '/host/admin' })).statusCode).toBe(401)
    const user = await t.inject({ method: 'GET', url: '/host/admin', headers: bearer(sessionFor(t.app, 'u-1', ['other'])) })
    expect(user.statusCode).toBe(403)
    expect(user.json().code).toBe('FST_DISCORD_FORBIDDEN')
    const admin = await t.inject({ method: 'GET', url: '/host/admin', headers: bearer(sessionFor(t.app, 'u-2', ['discord:admin'])) })
    expect(admin.json()).toEqual({ admin: 'u-2' })
    const me = await t.inject({ method: 'GET', url: '/host/me', headers: { cookie: `falcon_auth_token=${sessionFor(t.app, 'u-3')}` } })
    expect(me.json()).toEqual({ me: 'u-3' })
  })

  it('honours a custom admin permission and a host isAdmin predicate (which replaces the permission check)', async () => {
    t = await withAdminRoute({ auth: { adminPermission: 'root' } })
    expect((await t.inject({ method: 'GET', url: '/host/admin', headers: bearer(sessionFor(t.app, 'u', ['discord:admin'])) })).statusCode).toBe(403)
    expect((await t.inject({ method: 'GET', url: '/host/admin', headers: bearer(sessionFor(t.app, 'u', ['root'])) })).statusCode).toBe(200)
    await t.close()

    t = await withAdminRoute({ auth: { isAdmin: async (user) => user.claims.role === 'owner' } })
    expect((await t.inject({ method: 'GET', url: '/host/admin', headers: bearer(sessionFor(t.app, 'u', ['discord:admin'])) })).statusCode).toBe(403)
    expect((await t.inject({ method: 'GET', url: '/host/admin', headers: bearer(signHs256({ sub: 'u', role: 'owner' })) })).statusCode).toBe(200)
  })
})
