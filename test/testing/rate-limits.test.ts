import { afterEach, describe, expect, it, vi } from 'vitest'
import { BOT_TOKEN, botFetch, IDS, json, OAUTH, OTHER_BOT_TOKEN, seededSimulators, useSimulatorTime } from './seed.js'

const start = seededSimulators()
afterEach(() => {
  vi.useRealTimers()
})
const roleWrite = (guildId: string, userId: string, roleId: string): string => `/guilds/${guildId}/members/${userId}/roles/${roleId}`

describe('rate-limit headers', () => {
  it('every API response carries Limit, Remaining, Reset (epoch, decimals), Reset-After and an opaque Bucket', async () => {
    const s = await start()
    const responses = [
      await botFetch(s, 'GET', `/guilds/${IDS.guild}`),
      await botFetch(s, 'GET', '/guilds/1299999999999999999'), // 404
      await fetch(`${s.apiBaseUrl}/guilds/${IDS.guild}`), // 401
      await botFetch(s, 'PUT', roleWrite(IDS.guild, IDS.bob, IDS.roleHigh)) // 403
    ]
    for (const res of responses) {
      expect(res.headers.get('x-ratelimit-limit')).toMatch(/^\d+$/)
      expect(res.headers.get('x-ratelimit-remaining')).toMatch(/^\d+$/)
      const reset = Number(res.headers.get('x-ratelimit-reset'))
      expect(reset).toBeGreaterThan(Date.now() / 1000 - 1)
      expect(res.headers.get('x-ratelimit-reset')).toMatch(/^\d+\.\d{3}$/)
      expect(Number(res.headers.get('x-ratelimit-reset-after'))).toBeGreaterThan(0)
      expect(res.headers.get('x-ratelimit-bucket')).toMatch(/^[0-9a-f]{32}$/)
      expect(res.headers.get('x-ratelimit-scope')).toBeNull()
      expect(res.headers.get('retry-after')).toBeNull()
    }
  })

  it('Remaining counts down within a window and Reset-After shrinks', async () => {
    useSimulatorTime()
    const s = await start()
    const a = await botFetch(s, 'GET', `/guilds/${IDS.guild}/members/${IDS.alice}`)
    vi.advanceTimersByTime(20)
    const b = await botFetch(s, 'GET', `/guilds/${IDS.guild}/members/${IDS.alice}`)
    expect(a.headers.get('x-ratelimit-limit')).toBe('5')
    expect(a.headers.get('x-ratelimit-remaining')).toBe('4')
    expect(b.headers.get('x-ratelimit-remaining')).toBe('3')
    expect(Number(a.headers.get('x-ratelimit-reset-after'))).toBe(1)
    expect(Number(b.headers.get('x-ratelimit-reset-after'))).toBe(0.98)
  })

  it('PATCH member, PUT role and DELETE role share one bucket hash; other routes have their own', async () => {
    const s = await start()
    const patch = await botFetch(s, 'PATCH', `/guilds/${IDS.guild}/members/${IDS.bob}`, { roles: [] })
    const put = await botFetch(s, 'PUT', roleWrite(IDS.guild, IDS.bob, IDS.roleA))
    const del = await botFetch(s, 'DELETE', roleWrite(IDS.guild, IDS.bob, IDS.roleA))
    const get = await botFetch(s, 'GET', `/guilds/${IDS.guild}/members/${IDS.bob}`)
    const hash = patch.headers.get('x-ratelimit-bucket')
    expect(put.headers.get('x-ratelimit-bucket')).toBe(hash)
    expect(del.headers.get('x-ratelimit-bucket')).toBe(hash)
    expect(del.headers.get('x-ratelimit-remaining')).toBe('7')
    expect(get.headers.get('x-ratelimit-bucket')).not.toBe(hash)
    expect(s.bucketHashOf('PATCH /guilds/:guild_id/members/:user_id')).toBe(hash)
  })

  it('routeGroups can split the member-write bucket', async () => {
    const s = await start({ rateLimits: { routeGroups: { 'PUT /guilds/:guild_id/members/:user_id/roles/:role_id': 'role-add' }, buckets: { 'role-add': { limit: 3, windowMs: 1000 } } } })
    const patch = await botFetch(s, 'PATCH', `/guilds/${IDS.guild}/members/${IDS.bob}`, { roles: [] })
    const put = await botFetch(s, 'PUT', roleWrite(IDS.guild, IDS.bob, IDS.roleA))
    expect(put.headers.get('x-ratelimit-bucket')).not.toBe(patch.headers.get('x-ratelimit-bucket'))
    expect(put.headers.get('x-ratelimit-limit')).toBe('3')
  })
})

describe('per-route 429 (scope user)', () => {
  it('the 11th member write in 10 s gets the documented 429 body and headers', async () => {
    const s = await start()
    for (let i = 0; i < 10; i++) {
      expect((await botFetch(s, 'PUT', roleWrite(IDS.guild, IDS.bob, IDS.roleA))).status).toBe(204)
    }
    const res = await botFetch(s, 'PUT', roleWrite(IDS.guild, IDS.bob, IDS.roleA))
    expect(res.status).toBe(429)
    expect(res.headers.get('content-type')).toMatch(/^application\/json/)
    const body = await json(res)
    expect(Object.keys(body).sort()).toEqual(['code', 'global', 'message', 'retry_after'])
    expect(body.message).toBe('You are being rate limited.')
    expect(body.global).toBe(false)
    expect(body.retry_after).toBeGreaterThan(9)
    expect(body.retry_after).toBeLessThanOrEqual(10)
    expect(res.headers.get('retry-after')).toBe(String(Math.ceil(body.retry_after)))
    expect(res.headers.get('x-ratelimit-scope')).toBe('user')
    expect(res.headers.get('x-ratelimit-global')).toBeNull()
    expect(res.headers.get('x-ratelimit-remaining')).toBe('0')
    expect(Number(res.headers.get('x-ratelimit-reset-after'))).toBeCloseTo(body.retry_after, 2)
    const rec = s.requests.at(-1)!
    expect(rec).toMatchObject({ status: 429, scope: 'user', route: 'PUT /guilds/:guild_id/members/:user_id/roles/:role_id', majorId: IDS.guild })
    // The record carries the retry_after that was sent, in ms, so tests can judge a client's wait by the simulator's word.
    expect(rec.retryAfterMs).toBe(Math.round(body.retry_after * 1000))
    expect(s.requests.filter((r) => r.status !== 429).every((r) => r.retryAfterMs === undefined)).toBe(true)
  })

  it('buckets are per top-level resource: another guild is unaffected and reports the same hash', async () => {
    const s = await start({ rateLimits: { buckets: { 'guild-member-write': { limit: 2, windowMs: 10_000 } } } })
    for (let i = 0; i < 2; i++) await botFetch(s, 'PUT', roleWrite(IDS.guild, IDS.bob, IDS.roleA))
    expect((await botFetch(s, 'PUT', roleWrite(IDS.guild, IDS.bob, IDS.roleA))).status).toBe(429)
    const other = await botFetch(s, 'PATCH', `/guilds/${IDS.guild2}/members/${IDS.alice}`, { roles: [] })
    expect(other.status).toBe(200)
    expect(other.headers.get('x-ratelimit-remaining')).toBe('1')
    expect(other.headers.get('x-ratelimit-bucket')).toBe(s.bucketHashOf('guild-member-write'))
  })

  it('buckets are per token: another bot in the same guild is unaffected', async () => {
    const s = await start({ rateLimits: { buckets: { 'guild-member-get': { limit: 1, windowMs: 10_000 } } } })
    s.state.addMember(IDS.guild, IDS.otherBot)
    expect((await botFetch(s, 'GET', `/guilds/${IDS.guild}/members/${IDS.bob}`)).status).toBe(200)
    expect((await botFetch(s, 'GET', `/guilds/${IDS.guild}/members/${IDS.bob}`)).status).toBe(429)
    expect((await botFetch(s, 'GET', `/guilds/${IDS.guild}/members/${IDS.bob}`, undefined, {}, OTHER_BOT_TOKEN)).status).toBe(200)
  })

  it('a 429 does not consume the bucket and the window reopens after Reset-After', async () => {
    useSimulatorTime()
    const s = await start({ rateLimits: { buckets: { 'guild-member-get': { limit: 2, windowMs: 1000 } } } })
    await botFetch(s, 'GET', `/guilds/${IDS.guild}/members/${IDS.bob}`)
    await botFetch(s, 'GET', `/guilds/${IDS.guild}/members/${IDS.bob}`)
    const limited = await botFetch(s, 'GET', `/guilds/${IDS.guild}/members/${IDS.bob}`)
    expect(limited.status).toBe(429)
    const resetAfterMs = Number(limited.headers.get('x-ratelimit-reset-after')) * 1000
    vi.advanceTimersByTime(resetAfterMs - 1)
    expect((await botFetch(s, 'GET', `/guilds/${IDS.guild}/members/${IDS.bob}`)).status).toBe(429)
    vi.advanceTimersByTime(1)
    const again = await botFetch(s, 'GET', `/guilds/${IDS.guild}/members/${IDS.bob}`)
    expect(again.status).toBe(200)
    expect(again.headers.get('x-ratelimit-remaining')).toBe('1')
  })
})

describe('global limit', () => {
  it('past the global limit every route answers a global 429 (X-RateLimit-Global, scope global, global: true)', async () => {
    const s = await start({ rateLimits: { global: { limit: 5, windowMs: 1000 } } })
    const paths = [`/guilds/${IDS.guild}`, `/guilds/${IDS.guild}/roles`, `/guilds/${IDS.guild}/members/${IDS.bob}`, '/users/@me', `/guilds/${IDS.guild2}`]
    for (const p of paths) expect((await botFetch(s, 'GET', p)).status).toBe(200)
    const res = await botFetch(s, 'GET', `/guilds/${IDS.guild}/members?limit=5`)
    expect(res.status).toBe(429)
    const body = await json(res)
    expect(body).toMatchObject({ message: 'You are being rate limited.', global: true })
    expect(body.retry_after).toBeGreaterThan(0)
    expect(body.retry_after).toBeLessThanOrEqual(1)
    expect(res.headers.get('x-ratelimit-global')).toBe('true')
    expect(res.headers.get('x-ratelimit-scope')).toBe('global')
    expect(res.headers.get('retry-after')).toBe('1')
    expect(s.requests.at(-1)).toMatchObject({ status: 429, scope: 'global', retryAfterMs: Math.round(body.retry_after * 1000) })
    // The route bucket was not consumed by the globally limited request.
    expect(res.headers.get('x-ratelimit-remaining')).toBe(res.headers.get('x-ratelimit-limit'))
    // Another bot token has its own global budget.
    s.state.addMember(IDS.guild, IDS.otherBot)
    expect((await botFetch(s, 'GET', `/guilds/${IDS.guild}`, undefined, {}, OTHER_BOT_TOKEN)).status).toBe(200)
  })

  it('a concurrent burst past the global limit: exactly the limit passes, the rest get global 429s', async () => {
    // A long window keeps the whole burst inside one window even on a loaded machine.
    const s = await start({ rateLimits: { global: { limit: 50, windowMs: 10_000 }, buckets: { 'guild-member-get': { limit: 1000, windowMs: 1000 } } } })
    const results = await Promise.all(Array.from({ length: 60 }, () => botFetch(s, 'GET', `/guilds/${IDS.guild}/members/${IDS.bob}`)))
    expect(results.filter((r) => r.status === 200)).toHaveLength(50)
    const limited = results.filter((r) => r.status === 429)
    expect(limited).toHaveLength(10)
    for (const r of limited) expect(r.headers.get('x-ratelimit-scope')).toBe('global')
  })

  it('OAuth Bearer calls count per user token, not toward the bot\'s global limit', async () => {
    const s = await start({ rateLimits: { global: { limit: 3, windowMs: 5000 }, buckets: { 'users-me': { limit: 100, windowMs: 1000 } } } })
    const { access_token: accessToken } = s.state.issueUserToken({ clientId: OAUTH.clientId, userId: IDS.alice, scopes: ['identify'] })
    for (let i = 0; i < 3; i++) expect((await botFetch(s, 'GET', '/users/@me')).status).toBe(200)
    expect((await botFetch(s, 'GET', '/users/@me')).status).toBe(429)
    const bearer = await fetch(`${s.apiBaseUrl}/users/@me`, { headers: { authorization: `Bearer ${accessToken}` } })
    expect(bearer.status).toBe(200)
  })
})

describe('shared scope', () => {
  it('a forced shared-resource limit answers 429 scope shared without consuming the bucket or counting as invalid', async () => {
    const s = await start()
    s.forceSharedRateLimit({ route: 'PATCH /guilds/:guild_id/members/:user_id', majorId: IDS.guild, retryAfterSeconds: 1.5 })
    const res = await botFetch(s, 'PATCH', `/guilds/${IDS.guild}/members/${IDS.bob}`, { roles: [IDS.roleA] })
    expect(res.status).toBe(429)
    expect(res.headers.get('x-ratelimit-scope')).toBe('shared')
    expect(res.headers.get('retry-after')).toBe('2')
    expect(res.headers.get('x-ratelimit-remaining')).toBe('10')
    expect(await json(res)).toEqual({ message: 'The resource is being rate limited.', retry_after: 1.5, global: false, code: 0 })
    expect(s.requests.at(-1)).toMatchObject({ scope: 'shared', retryAfterMs: 1500 })
    expect(s.invalidRequestCount()).toBe(0)
    expect(s.state.memberRoles(IDS.guild, IDS.bob)).toEqual([])
    // Only once, and only for that guild.
    expect((await botFetch(s, 'PATCH', `/guilds/${IDS.guild}/members/${IDS.bob}`, { roles: [IDS.roleA] })).status).toBe(200)
    expect(s.requests.map((r) => r.scope)).toEqual(['shared', undefined])
  })

  it('can target a group and a number of requests', async () => {
    const s = await start()
    s.forceSharedRateLimit({ route: 'guild-member-write', retryAfterSeconds: 0.2, times: 2 })
    const statuses = []
    for (const method of ['PUT', 'DELETE', 'PUT']) statuses.push((await botFetch(s, method, roleWrite(IDS.guild2, IDS.alice, '1220000000000000001'))).status)
    expect(statuses.slice(0, 2)).toEqual([429, 429])
    expect(statuses[2]).not.toBe(429)
  })
})

describe('invalid requests and the Cloudflare-style ban', () => {
  it('401, 403 and non-shared 429 count per IP; past the threshold every request gets a 429 without JSON until the ban ends', async () => {
    useSimulatorTime()
    const s = await start({ rateLimits: { invalidRequests: { threshold: 5, windowMs: 60_000, banMs: 400 }, buckets: { 'guild-get': { limit: 1, windowMs: 60_000 } } } })
    await fetch(`${s.apiBaseUrl}/users/@me`, { headers: { authorization: 'Bot wrong' } }) // 401
    await botFetch(s, 'PUT', roleWrite(IDS.guild, IDS.bob, IDS.roleHigh)) // 403
    await botFetch(s, 'GET', `/guilds/${IDS.guild}`) // 200
    await botFetch(s, 'GET', `/guilds/${IDS.guild}`) // 429 user
    await botFetch(s, 'GET', '/guilds/1299999999999999999/roles') // 404: not counted
    s.forceSharedRateLimit({ route: 'GET /users/@me', retryAfterSeconds: 1 })
    await botFetch(s, 'GET', '/users/@me') // 429 shared: not counted
    expect(s.invalidRequestCount()).toBe(3)
    await fetch(`${s.apiBaseUrl}/users/@me`) // 401
    await fetch(`${s.apiBaseUrl}/users/@me`) // 401: the 5th, still answered normally
    expect(s.banRemainingMs()).toBe(0)
    const sixth = await fetch(`${s.apiBaseUrl}/users/@me`)
    expect(sixth.status).toBe(401) // the one that goes past the threshold is still answered by the API
    expect(s.banRemainingMs()).toBeGreaterThan(0)

    const banned = await botFetch(s, 'GET', '/users/@me')
    expect(banned.status).toBe(429)
    expect(banned.headers.get('content-type')).toMatch(/^text\/html/)
    expect(banned.headers.get('x-ratelimit-scope')).toBeNull()
    expect(banned.headers.get('x-ratelimit-bucket')).toBeNull()
    const text = await banned.text()
    expect(() => JSON.parse(text)).toThrow()
    expect(text).toContain('40333')
    expect(s.requests.at(-1)).toMatchObject({ status: 429, fault: 'ban' })

    expect(s.banRemainingMs()).toBe(400)
    vi.advanceTimersByTime(399)
    expect((await botFetch(s, 'GET', '/users/@me')).headers.get('content-type')).toMatch(/^text\/html/)
    vi.advanceTimersByTime(1)
    expect((await botFetch(s, 'GET', '/users/@me')).status).toBe(200)
  })

  it('counts per client IP when the simulator trusts X-Forwarded-For', async () => {
    const s = await start({ trustProxy: true, rateLimits: { invalidRequests: { threshold: 1, windowMs: 60_000, banMs: 60_000 } } })
    for (let i = 0; i < 2; i++) await fetch(`${s.apiBaseUrl}/users/@me`, { headers: { 'x-forwarded-for': '10.0.0.1' } })
    expect(s.banRemainingMs('10.0.0.1')).toBeGreaterThan(0)
    expect((await fetch(`${s.apiBaseUrl}/users/@me`, { headers: { 'x-forwarded-for': '10.0.0.1', authorization: `Bot ${BOT_TOKEN}` } })).status).toBe(429)
    expect((await fetch(`${s.apiBaseUrl}/users/@me`, { headers: { 'x-forwarded-for': '10.0.0.2', authorization: `Bot ${BOT_TOKEN}` } })).status).toBe(200)
    s.liftBans()
    expect((await fetch(`${s.apiBaseUrl}/users/@me`, { headers: { 'x-forwarded-for': '10.0.0.1', authorization: `Bot ${BOT_TOKEN}` } })).status).toBe(200)
  })

  it('the invalid-request window slides: old invalid responses stop counting', async () => {
    useSimulatorTime()
    const s = await start({ rateLimits: { invalidRequests: { threshold: 100, windowMs: 1000, banMs: 1000 } } })
    await fetch(`${s.apiBaseUrl}/users/@me`)
    vi.advanceTimersByTime(500)
    await fetch(`${s.apiBaseUrl}/users/@me`)
    expect(s.invalidRequestCount()).toBe(2)
    vi.advanceTimersByTime(500)
    expect(s.invalidRequestCount()).toBe(1)
    vi.advanceTimersByTime(500)
    expect(s.invalidRequestCount()).toBe(0)
  })
})

describe('configuration', () => {
  it('defaults: documented global and invalid-request limits, issue-observed member limits', async () => {
    const s = await start()
    expect(s.rateLimits.global).toEqual({ limit: 50, windowMs: 1000 })
    expect(s.rateLimits.invalidRequests.threshold).toBe(10_000)
    expect(s.rateLimits.invalidRequests.windowMs).toBe(600_000)
    expect(s.rateLimits.buckets['guild-member-write']).toEqual({ limit: 10, windowMs: 10_000 })
    expect(s.rateLimits.buckets['guild-member-get']).toEqual({ limit: 5, windowMs: 1000 })
  })

  it('setRateLimits applies new limits and forgets open windows', async () => {
    const s = await start()
    await botFetch(s, 'GET', `/guilds/${IDS.guild}`)
    s.setRateLimits({ buckets: { 'guild-get': { limit: 2, windowMs: 5000 } } })
    const res = await botFetch(s, 'GET', `/guilds/${IDS.guild}`)
    expect(res.headers.get('x-ratelimit-limit')).toBe('2')
    expect(res.headers.get('x-ratelimit-remaining')).toBe('1')
    expect(Number(res.headers.get('x-ratelimit-reset-after'))).toBe(5)
  })

  it('rejects nonsensical limits', async () => {
    const s = await start()
    expect(() => s.setRateLimits({ global: { limit: 0 } })).toThrow(RangeError)
  })
})
