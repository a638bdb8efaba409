import { describe, expect, it } from 'vitest'
import { buildAuthorizeUrl, checkRedirectUrl, generateState, resolveRequestedScopes, STATE_PATTERN } from '../../src/auth/flow.js'
import { resolveOptions } from '../../src/options/index.js'
import { TEST_KEY } from '../helpers/world.js'

describe('generateState', () => {
  it('is 32 random bytes as 43 base64url characters, and never repeats', () => {
    const states = new Set(Array.from({ length: 1000 }, generateState))
    expect(states.size).toBe(1000)
    for (const s of states) {
      expect(s).toMatch(new RegExp(STATE_PATTERN))
      expect(Buffer.from(s, 'base64url')).toHaveLength(32)
    }
  })
})

describe('resolveRequestedScopes', () => {
  const defaults = ['identify', 'guilds']

  it('uses the configured defaults when nothing (or only blanks) is asked for', () => {
    expect(resolveRequestedScopes(undefined, defaults)).toEqual(['identify', 'guilds'])
    expect(resolveRequestedScopes('   ', defaults)).toEqual(['identify', 'guilds'])
  })

  it('accepts space, comma and plus separators and drops duplicates', () => {
    expect(resolveRequestedScopes('identify guilds,email+identify', [...defaults, 'email'])).toEqual(['identify', 'guilds', 'email'])
    expect(resolveRequestedScopes('identify', defaults)).toEqual(['identify'])
  })

  it('refuses an allow-listed scope that discord.scopes does not configure, naming it', () => {
    const err = (() => { try { resolveRequestedScopes('identify guilds email', defaults) } catch (e) { return e as { code: string, statusCode: number, message: string } } })()
    expect(err?.code).toBe('FST_DISCORD_SCOPE_NOT_ALLOWED')
    expect(err?.statusCode).toBe(400)
    expect(err?.message).toContain('"email"')
    expect(err?.message).not.toContain('"guilds"')
  })

  it('refuses scopes outside the allow-list with FST_DISCORD_SCOPE_NOT_ALLOWED, naming them', () => {
    const err = (() => { try { resolveRequestedScopes('identify bot messages.read', defaults) } catch (e) { return e as { code: string, statusCode: number, message: string } } })()
    expect(err?.code).toBe('FST_DISCORD_SCOPE_NOT_ALLOWED')
    expect(err?.statusCode).toBe(400)
    expect(err?.message).toContain('"bot"')
    expect(err?.message).toContain('"messages.read"')
  })

  it('requires identify, without which the callback cannot know the account', () => {
    expect(() => resolveRequestedScopes('guilds', defaults)).toThrow(/must include "identify"/)
  })
})

describe('checkRedirectUrl', () => {
  const allowed = ['https://app.example.test/auth/done', 'http://localhost:5173/']

  it('returns null when no redirect is asked for', () => {
    expect(checkRedirectUrl(undefined, allowed)).toBeNull()
  })

  it('accepts an exact origin and path, keeping the query string', () => {
    expect(checkRedirectUrl('https://app.example.test/auth/done', allowed)).toBe('https://app.example.test/auth/done')
    expect(checkRedirectUrl('https://app.example.test/auth/done?next=%2Fsettings', allowed)).toBe('https://app.example.test/auth/done?next=%2Fsettings')
    expect(checkRedirectUrl('http://localhost:5173', allowed)).toBe('http://localhost:5173/')
  })

  it.each([
    ['another origin', 'https://evil.test/auth/done'],
    ['a look-alike host', 'https://app.example.test.evil.test/auth/done'],
    ['another port', 'https://app.example.test:8443/auth/done'],
    ['another scheme', 'http://app.example.test/auth/done'],
    ['a longer path', 'https://app.example.test/auth/done/extra'],
    ['a path prefix', 'https://app.example.test/auth'],
    ['a dot-segment escape', 'https://app.example.test/auth/done/../../admin'],
    ['credentials', 'https://user:pw@app.example.test/auth/done'],
    ['a fragment', 'https://app.example.test/auth/done#x'],
    ['a javascript: URL', 'javascript:alert(1)'],
    ['a relative URL', '/auth/done'],
    ['a protocol-relative URL', '//evil.test/auth/done']
  ])('refuses %s with FST_DISCORD_REDIRECT_NOT_ALLOWED', (_what, url) => {
    expect(() => checkRedirectUrl(url, allowed)).toThrow(expect.objectContaining({ code: 'FST_DISCORD_REDIRECT_NOT_ALLOWED', statusCode: 400 }))
  })

  it('refuses every redirect when none is configured, and says so', () => {
    expect(() => checkRedirectUrl('https://app.example.test/auth/done', [])).toThrow(/no redirect URLs are configured/)
  })
})

describe('buildAuthorizeUrl', () => {
  it('builds the documented authorization URL with scopes separated by %20 and no PKCE parameters', () => {
    const url = buildAuthorizeUrl({ authorizeUrl: 'https://discord.com/oauth2/authorize', clientId: '157730590492196864', redirectUri: 'https://nicememe.website/cb' }, 'st4te', ['identify', 'guilds.join'])
    expect(url).toBe('https://discord.com/oauth2/authorize?response_type=code&client_id=157730590492196864&scope=identify%20guilds.join&state=st4te&redirect_uri=https%3A%2F%2Fnicememe.website%2Fcb')
    expect(url).not.toContain('code_challenge')
  })
})

describe('auth and tokenRefresh options', () => {
  const base = { store: { type: 'sqlite' as const, path: ':memory:' }, encryptionKey: TEST_KEY }

  it('defaults: falcon_auth_token cookie, Secure, sub/permissions claims, discord:admin, 24 h sessions, no redirects, states bound to the browser, refresh every 30 min by 50 with 5 in flight, runs kept 90 days', () => {
    const o = resolveOptions(base)
    expect(o.auth).toMatchObject({
      jwtSecret: null,
      cookieName: 'falcon_auth_token',
      cookieSecure: true,
      cookiePath: '/',
      cookieDomain: null,
      sessionExpiryMs: 86_400_000,
      userIdClaim: 'sub',
      permissionsClaim: 'permissions',
      adminPermission: 'discord:admin',
      isAdmin: null,
      resolveUser: null,
      redirectUrls: [],
      bindStateToBrowser: true
    })
    expect(o.tokenRefresh).toEqual({ enabled: true, intervalMs: 1_800_000, batchSize: 50, concurrency: 5, lockTtlMs: 600_000, runTimeoutMs: 1_200_000, retentionMs: 90 * 86_400_000 })
    expect(resolveOptions({ ...base, tokenRefresh: { retention: '7d' } }).tokenRefresh.retentionMs).toBe(7 * 86_400_000)
    expect(() => resolveOptions({ ...base, tokenRefresh: { retention: '1m' } })).toThrow(/tokenRefresh\.retention/)
  })

  it('normalises allowed redirects to origin + path', () => {
    expect(resolveOptions({ ...base, auth: { redirectUrls: ['HTTPS://App.Example.test/a/b', 'http://localhost:3000'] } }).auth.redirectUrls)
      .toEqual(['https://app.example.test/a/b', 'http://localhost:3000/'])
  })

  it.each([
    [{ auth: { jwtSecret: 'short' } }, 'auth.jwtSecret'],
    [{ auth: { jwtSecret: { private: 'x' } } }, 'auth.jwtSecret'],
    [{ auth: { jwtSecret: 42 } }, 'auth.jwtSecret'],
    [{ auth: { isAdmin: 'yes' } }, 'auth.isAdmin'],
    [{ auth: { resolveUser: {} } }, 'auth.resolveUser'],
    [{ auth: { redirectUrls: ['ftp://x.test/'] } }, 'auth.redirectUrls[0]'],
    [{ auth: { redirectUrls: ['https://x.test/cb?next=1'] } }, 'auth.redirectUrls[0]'],
    [{ auth: { cookieName: 'bad name;' } }, 'auth.cookieName'],
    [{ auth: { sessionExpiry: '10s' } }, 'auth.sessionExpiry'],
    [{ auth: { unknown: true } }, 'auth'],
    [{ auth: { bindStateToBrowser: 'yes' } }, 'auth.bindStateToBrowser'],
    [{ tokenRefresh: { batchSize: 0 } }, 'tokenRefresh.batchSize'],
    [{ tokenRefresh: { concurrency: 51 } }, 'tokenRefresh.concurrency'],
    [{ tokenRefresh: { interval: 'soon' } }, 'tokenRefresh.interval']
  ])('refuses %j naming %s', (extra, option) => {
    expect(() => resolveOptions({ ...base, ...extra })).toThrow(expect.objectContaining({ code: 'FST_DISCORD_INVALID_OPTIONS', message: expect.stringContaining(option) }))
  })

  it('accepts a 32-byte Buffer secret and an asymmetric key pair', () => {
    expect(resolveOptions({ ...base, auth: { jwtSecret: Buffer.alloc(32, 1) } }).auth.jwtSecret).toEqual(Buffer.alloc(32, 1))
    expect(resolveOptions({ ...base, auth: { jwtSecret: { private: 'PRIV', public: 'PUB' } } }).auth.jwtSecret).toEqual({ private: 'PRIV', public: 'PUB' })
  })
})
