import { afterEach, describe, expect, it, vi } from 'vitest'
import { SimClock } from '../../src/testing/clock.js'
import { createDiscordSimulator, SimulatorState, type AuthorizationSummary } from '../../src/testing/index.js'
import { defaultRateLimitConfig } from '../../src/testing/ratelimit/config.js'
import { InvalidRequests } from '../../src/testing/ratelimit/invalid-requests.js'
import { RateLimiter } from '../../src/testing/ratelimit/limiter.js'
import { DEFAULT_ENDED_AUTHORIZATIONS, INTERNAL_ERRORS_KEPT } from '../../src/testing/retention.js'
import { botFetch, IDS, OAUTH, seededSimulators, seedWorld } from './seed.js'

/*
 * Everything else the simulator accumulates per request or per operation stays bounded
 * (src/testing/retention.ts): the audit log and the messages keep their newest entries, internal
 * errors their first ones, and expired OAuth records, rate-limit windows and per-IP invalid-request
 * records are forgotten once the store has grown, while everything still usable is kept.
 */

const start = seededSimulators()
afterEach(() => {
  vi.useRealTimers()
})
const memberRole = (userId: string, roleId: string): string => `/guilds/${IDS.guild}/members/${userId}/roles/${roleId}`

describe('state history', () => {
  it('the audit log keeps the newest auditLogLimit entries', async () => {
    const sim = await start({ rateLimits: { enabled: false }, auditLogLimit: 3 })
    for (let i = 0; i < 5; i++) {
      expect((await botFetch(sim, i % 2 === 0 ? 'PUT' : 'DELETE', memberRole(IDS.bob, IDS.roleB), undefined, { 'x-audit-log-reason': `step ${i}` })).status).toBe(204)
    }
    expect(sim.state.auditLog.map((e) => e.reason)).toEqual(['step 2', 'step 3', 'step 4'])
  })

  it('channel messages keep the newest messageLimit over all channels', async () => {
    const sim = await start({ rateLimits: { enabled: false }, messageLimit: 2 })
    for (let i = 0; i < 4; i++) expect((await botFetch(sim, 'POST', `/channels/${IDS.channel}/messages`, { content: `m${i}` })).status).toBe(200)
    expect(sim.state.messages.map((m) => m.content)).toEqual(['m2', 'm3'])
    expect(sim.state.channelMessages(IDS.channel).map((m) => m.content)).toEqual(['m2', 'm3'])
  })

  it('internal errors keep the first INTERNAL_ERRORS_KEPT', async () => {
    // Not through seededSimulators: its afterEach insists on no internal errors, which is the point here.
    const sim = await createDiscordSimulator({ rateLimits: { enabled: false } })
    try {
      seedWorld(sim)
      sim.state.users.delete(IDS.bob) // a member without a user, which the routes never expect: reading it throws, answered 500
      for (let i = 0; i < INTERNAL_ERRORS_KEPT + 5; i++) expect((await botFetch(sim, 'GET', `/guilds/${IDS.guild}/members/${IDS.bob}`)).status).toBe(500)
      expect(sim.internalErrors).toHaveLength(INTERNAL_ERRORS_KEPT)
    } finally {
      await sim.close()
    }
  })
})

describe('OAuth records', () => {
  function oauthState (authorizationsPerUser = Number.POSITIVE_INFINITY, endedAuthorizations?: number): SimulatorState {
    // Unbounded per user unless a test is about that bound: these tests log one user in thousands of times.
    const s = new SimulatorState({ accessTokenTtlMs: 1000, accessTokenTtlSeconds: 1, codeTtlMs: 1000, authorizationsPerUser, ...(endedAuthorizations === undefined ? {} : { endedAuthorizations }) })
    s.addUser({ id: IDS.alice, username: 'alice' })
    s.addOAuthApp({ client_id: OAUTH.clientId, client_secret: OAUTH.clientSecret, redirect_uris: [OAUTH.redirectUri] })
    return s
  }
  const grant = { clientId: OAUTH.clientId, userId: IDS.alice, scopes: ['identify'] }

  it('expired codes, long-expired access tokens and old ended authorizations are forgotten as logins go on', () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    const s = oauthState()
    for (let i = 0; i < 5000; i++) {
      s.createAuthorizationCode({ ...grant, redirectUri: OAUTH.redirectUri, redirectUriGiven: true })
      s.issueUserToken({ ...grant, withRefreshToken: false })
      vi.advanceTimersByTime(100)
    }
    expect(s.codes.size).toBeLessThan(600)
    expect(s.accessTokens.size).toBeLessThan(600)
    expect(s.authorizations.length).toBeLessThanOrEqual(DEFAULT_ENDED_AUTHORIZATIONS + 600)
  })

  it('endedAuthorizationsLimit sets how many ended authorizations are kept, the newest', async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    const s = oauthState(Number.POSITIVE_INFINITY, 25)
    for (let i = 0; i < 3000; i++) {
      s.issueUserToken({ ...grant, withRefreshToken: false })
      vi.advanceTimersByTime(100)
    }
    const ended = (): AuthorizationSummary[] => s.listAuthorizations().filter((a) => a.revoked || (a.accessTokenIds.length === 0 && !a.hasRefreshToken))
    // The sweep runs once the store doubled, so the ended ones are at most the limit plus what came since.
    const size = s.codes.size + s.accessTokens.size + s.authorizations.length
    expect(ended().length).toBeLessThanOrEqual(25 + size / 2)
    expect(ended().length).toBeLessThan(DEFAULT_ENDED_AUTHORIZATIONS)
    await expect(createDiscordSimulator({ endedAuthorizationsLimit: 1.5 })).rejects.toThrow('endedAuthorizationsLimit must be a whole number')
  })

  it('everything still usable is kept, and an expired access token still revokes for one lifetime', () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    const s = oauthState()
    const codes = Array.from({ length: 600 }, () => s.createAuthorizationCode({ ...grant, redirectUri: OAUTH.redirectUri, redirectUriGiven: true }))
    const tokens = Array.from({ length: 600 }, () => s.issueUserToken(grant))
    expect(codes.every((c) => s.findCode(c) !== undefined)).toBe(true)
    expect(tokens.every((t) => s.findAccessToken(t.access_token) !== undefined)).toBe(true)
    const first = tokens[0]!
    expect(s.expireAccessToken(first.access_token)).toBe(true)
    vi.advanceTimersByTime(999)
    for (let i = 0; i < 1500; i++) s.issueUserToken(grant)
    const authorization = s.findAuthorizationByToken(first.access_token)
    expect(authorization).toBeDefined()
    s.revokeAuthorization(authorization!)
    expect(s.findRefreshToken(first.refresh_token!)).toBeUndefined()
  })
})

describe('authorizations per user', () => {
  it('one user logging in again and again keeps only the newest authorizationsPerUserLimit; others keep theirs', async () => {
    const sim = await start({ rateLimits: { enabled: false }, authorizationsPerUserLimit: 3 })
    const s = sim.state
    const grant = (userId: string): { clientId: string, userId: string, scopes: string[] } => ({ clientId: OAUTH.clientId, userId, scopes: ['identify'] })
    const bobs = s.issueUserToken(grant(IDS.bob))
    const alices = Array.from({ length: 5 }, () => s.issueUserToken(grant(IDS.alice)))
    // The two oldest of alice's five are revoked (access and refresh token), the newest three and bob's stay.
    expect(alices.map((t) => s.findAccessToken(t.access_token) !== undefined)).toEqual([false, false, true, true, true])
    expect(alices.map((t) => s.findRefreshToken(t.refresh_token!) !== undefined)).toEqual([false, false, true, true, true])
    expect(s.findAccessToken(bobs.access_token)).toBeDefined()
    expect(s.listAuthorizations().filter((a) => a.userId === IDS.alice && !a.revoked)).toHaveLength(3)
    // Over HTTP too: the revoked token is refused as Discord refuses a revoked one.
    const res = await fetch(`${sim.apiBaseUrl}/users/@me`, { headers: { authorization: `Bearer ${alices[0]!.access_token}` } })
    expect(res.status).toBe(401)
  })

  it('the limit must be a whole number or Infinity', async () => {
    await expect(createDiscordSimulator({ authorizationsPerUserLimit: -1 })).rejects.toThrow('authorizationsPerUserLimit must be a whole number')
  })
})

describe('rate-limit bookkeeping', () => {
  it('route and global windows of many identities are swept as they pile up, open ones kept', () => {
    vi.useFakeTimers({ toFake: ['performance'] })
    const limiter = new RateLimiter(defaultRateLimitConfig(), new SimClock())
    for (let i = 0; i < 3000; i++) expect(limiter.take(`bot:${i}`, 'GET /guilds/:guild_id/roles', IDS.guild).ok).toBe(true)
    // All open: nothing may be forgotten (two windows per identity: its route bucket and its global one).
    expect(limiter.openWindows).toBe(6000)
    for (let i = 0; i < 20_000; i++) {
      limiter.take(`user:${i}`, 'GET /guilds/:guild_id/roles', IDS.guild)
      if (i % 100 === 99) vi.advanceTimersByTime(1000)
    }
    expect(limiter.openWindows).toBeLessThan(4000)
  })

  it('invalid-request records of many IPs are swept as they pile up', () => {
    vi.useFakeTimers({ toFake: ['performance'] })
    const invalid = new InvalidRequests(new SimClock(), () => ({ threshold: 10_000, windowMs: 1000, banMs: 1000 }))
    for (let i = 0; i < 20_000; i++) {
      invalid.record(`10.0.${i >> 8}.${i & 255}`)
      if (i % 100 === 99) vi.advanceTimersByTime(1000)
    }
    expect(invalid.trackedIps).toBeLessThan(2100)
    invalid.record('10.1.0.1')
    expect(invalid.count('10.1.0.1')).toBe(1) // still in its window: kept
  })
})
