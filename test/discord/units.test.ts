import { inspect } from 'node:util'
import { readFileSync } from 'node:fs'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { parseRoute } from '../../src/discord/route.js'
import { encodeAuditLogReason, fullJitterDelay, compareSnowflakes, assertSnowflake } from '../../src/discord/util.js'
import { parseRateLimitHeaders } from '../../src/discord/ratelimit/headers.js'
import { Credential } from '../../src/discord/credential.js'
import { DEFAULT_REST_OPTIONS, PACKAGE_URL, PACKAGE_VERSION } from '../../src/discord/defaults.js'
import {
  DiscordAPIError,
  DiscordInvalidRequestLimitError,
  DiscordNetworkError,
  DiscordOAuthError,
  DiscordRateLimitError,
  DiscordRestClient,
  DiscordTimeoutError
} from '../../src/discord/index.js'

describe('parseRoute', () => {
  it('keys buckets by the top-level resource and replaces other ids by placeholders', () => {
    expect(parseRoute('/guilds/81384788765712384/members/80351110224678912/roles/290926798626357250')).toEqual({
      template: '/guilds/:guild_id/members/:user_id/roles/:role_id',
      major: '81384788765712384'
    })
    expect(parseRoute('/channels/41771983423143937/messages')).toEqual({ template: '/channels/:channel_id/messages', major: '41771983423143937' })
    expect(parseRoute('/users/@me/guilds')).toEqual({ template: '/users/@me/guilds', major: 'global' })
    expect(parseRoute('/guilds/81384788765712384/members?limit=1000&after=0')).toEqual({ template: '/guilds/:guild_id/members', major: '81384788765712384' })
    // Below the top level a guild id is just a placeholder.
    expect(parseRoute('/users/@me/guilds/81384788765712384/member')).toEqual({ template: '/users/@me/guilds/:guild_id/member', major: 'global' })
  })

  it('never puts a webhook or interaction token in the template', () => {
    const secret = 'aBcD-efGH_ijklMNOP1234567890qrstuVWxyz'
    const webhook = parseRoute(`/webhooks/223704706495545344/${secret}`)
    expect(webhook.template).toBe('/webhooks/:webhook_id/:webhook_token')
    expect(webhook.major).toMatch(/^223704706495545344:[0-9a-f]{16}$/)
    expect(JSON.stringify(webhook)).not.toContain(secret)
    expect(parseRoute(`/interactions/223704706495545344/${secret}/callback`).template).toBe('/interactions/:interaction_id/:param/callback')
  })

  it('property: a template only holds lower-case path words and placeholders', () => {
    fc.assert(fc.property(fc.array(fc.oneof(fc.stringMatching(/^[A-Za-z0-9_-]{1,40}$/), fc.constantFrom('guilds', 'members', '@me')), { maxLength: 6 }), (segments) => {
      const { template } = parseRoute(`/${segments.join('/')}`)
      for (const part of template.split('/').filter((p) => p !== '')) expect(part).toMatch(/^(:[a-z_]+|[a-z@][a-z0-9@._-]*)$/)
    }))
  })
})

describe('parseRateLimitHeaders', () => {
  it('reads the documented headers, Reset-After with decimals, in milliseconds', () => {
    const h = parseRateLimitHeaders({
      'x-ratelimit-limit': '10',
      'x-ratelimit-remaining': '0',
      'x-ratelimit-reset': '1470173023.123',
      'x-ratelimit-reset-after': '64.57',
      'x-ratelimit-bucket': 'abcd1234',
      'x-ratelimit-scope': 'user',
      'retry-after': '65'
    })
    expect(h).toEqual({ bucket: 'abcd1234', limit: 10, remaining: 0, resetAfterMs: 64_570, scope: 'user', global: false, retryAfterMs: 65_000 })
  })

  it('recognises the global and shared scopes', () => {
    expect(parseRateLimitHeaders({ 'x-ratelimit-global': 'true', 'x-ratelimit-scope': 'global' })).toMatchObject({ global: true, scope: 'global' })
    expect(parseRateLimitHeaders({ 'x-ratelimit-scope': 'shared' })).toMatchObject({ global: false, scope: 'shared' })
  })

  it('ignores absent or malformed values instead of inventing numbers', () => {
    expect(parseRateLimitHeaders({ 'x-ratelimit-limit': 'ten', 'x-ratelimit-remaining': '-1', 'x-ratelimit-reset-after': 'NaN', 'x-ratelimit-scope': 'weird', 'x-ratelimit-bucket': 'a{b}c' }))
      .toEqual({ bucket: undefined, limit: undefined, remaining: undefined, resetAfterMs: undefined, scope: undefined, global: false, retryAfterMs: undefined })
  })
})

describe('fullJitterDelay', () => {
  it('property: stays within [0, min(max, base * 2^attempt)]', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 30 }), fc.integer({ min: 1, max: 5000 }), fc.integer({ min: 1, max: 60_000 }), fc.double({ min: 0, max: 0.999999, noNaN: true }),
      (attempt, base, max, r) => {
        const d = fullJitterDelay(attempt, base, max, () => r)
        expect(d).toBeGreaterThanOrEqual(0)
        expect(d).toBeLessThanOrEqual(Math.min(max, base * 2 ** attempt))
      }))
  })

  it('grows exponentially until the cap', () => {
    expect(fullJitterDelay(0, 100, 1000, () => 0.999)).toBe(99)
    expect(fullJitterDelay(3, 100, 1000, () => 0.999)).toBe(799)
    expect(fullJitterDelay(10, 100, 1000, () => 0.999)).toBe(999)
    expect(fullJitterDelay(10, 100, 1000, () => 0)).toBe(0)
  })
})

describe('encodeAuditLogReason', () => {
  it('URL-encodes UTF-8 and omits empty reasons', () => {
    expect(encodeAuditLogReason('Synced from group "Staff" ✓')).toBe('Synced%20from%20group%20%22Staff%22%20%E2%9C%93')
    expect(encodeAuditLogReason('   ')).toBeUndefined()
    expect(encodeAuditLogReason(undefined)).toBeUndefined()
  })

  it('property: never longer than 512 encoded characters and always decodable to a prefix of the reason', () => {
    fc.assert(fc.property(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 700 }), (reason) => {
      const encoded = encodeAuditLogReason(reason)
      if (encoded === undefined) return
      expect(encoded.length).toBeLessThanOrEqual(512)
      expect(reason.trim().startsWith(decodeURIComponent(encoded))).toBe(true)
    }))
  })
})

describe('snowflakes', () => {
  it('compares numerically, not lexically', () => {
    expect(compareSnowflakes('9', '10')).toBe(-1)
    expect(compareSnowflakes('81384788765712384', '81384788765712384')).toBe(0)
    expect(compareSnowflakes('1000000000000000000', '999999999999999999')).toBe(1)
  })

  it('rejects anything that could change the URL path', () => {
    expect(() => assertSnowflake('guildId', '../../users/@me')).toThrow(TypeError)
    expect(() => assertSnowflake('guildId', '1/2')).toThrow(TypeError)
    expect(() => assertSnowflake('guildId', '81384788765712384')).not.toThrow()
  })
})

describe('credentials', () => {
  const token = 'MTk4NjIyNDgzNDcxOTI1MjQ4.Cl2FMQ.ZnCjm1XVW7vRze4b7Cq4se7kKWs'

  it('keeps the token out of inspect, JSON and the id', () => {
    const c = Credential.bot(token)
    expect(c.authorization()).toBe(`Bot ${token}`)
    expect(inspect(c, { showHidden: true, depth: 5 })).not.toContain(token)
    expect(JSON.stringify(c)).not.toContain(token)
    expect(c.id).toMatch(/^[0-9a-f]{32}$/)
    expect(Credential.bearer(token).id).not.toBe(c.id)
  })

  it('encodes OAuth2 client authentication as HTTP Basic over form-encoded id and secret', () => {
    const c = Credential.oauthClient('157730590492196864', 'se cr:et', 'basic')
    expect(c.authorization()).toBe(`Basic ${Buffer.from('157730590492196864:se+cr%3Aet').toString('base64')}`)
    expect(Credential.oauthClient('157730590492196864', 'secret', 'body').authorization()).toBeUndefined()
  })

  it('refuses empty tokens and header injection', () => {
    expect(() => Credential.bot('')).toThrow(TypeError)
    expect(() => Credential.bot('abc\r\nX-Evil: 1')).toThrow(TypeError)
  })

  it('scoped views do not expose the token', async () => {
    const client = new DiscordRestClient()
    const view = client.bot(token)
    expect(inspect(view, { showHidden: true, depth: 5 })).not.toContain(token)
    expect(JSON.stringify(view)).not.toContain(token)
    await client.close()
  })
})

describe('typed errors', () => {
  it('toJSON carries every class\'s own details for the logs, never a token', () => {
    const base = { method: 'GET', route: '/guilds/:guild_id', message: 'm' }
    const cases: Array<[DiscordAPIError, Record<string, unknown>]> = [
      [new DiscordTimeoutError({ ...base, timeoutMs: 15_000 }), { code: 'FST_DISCORD_API_TIMEOUT', timeoutMs: 15_000 }],
      [new DiscordNetworkError({ ...base, networkCode: 'ECONNRESET' }), { code: 'FST_DISCORD_API_NETWORK', networkCode: 'ECONNRESET' }],
      [new DiscordInvalidRequestLimitError({ ...base, count: 1000, threshold: 1000, scope: 'token', retryAfterMs: 5 }), { count: 1000, threshold: 1000, scope: 'token', retryAfterMs: 5 }],
      [new DiscordRateLimitError({ ...base, status: 429, retryAfterMs: 1500, scope: 'user', bucket: 'abc', global: false }), { status: 429, retryAfterMs: 1500, scope: 'user', bucket: 'abc', global: false }],
      [new DiscordOAuthError({ ...base, status: 400, oauthError: 'invalid_grant', description: 'd' }), { oauthError: 'invalid_grant', description: 'd' }],
      [new DiscordAPIError({ ...base, status: 400, discordCode: 50035, errors: { roles: {} } }), { code: 'FST_DISCORD_API_ERROR', discordCode: 50035, errors: { roles: {} } }]
    ]
    for (const [err, details] of cases) {
      const json = JSON.parse(JSON.stringify(err)) as Record<string, unknown>
      expect(json).toMatchObject({ name: err.name, message: 'm', method: 'GET', route: '/guilds/:guild_id', ...details })
      expect(json).not.toHaveProperty('stack')
    }
  })
})

describe('defaults', () => {
  it('live in one constant and match package.json for the User-Agent', () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string, homepage: string }
    expect(PACKAGE_VERSION).toBe(pkg.version)
    expect(PACKAGE_URL).toBe(pkg.homepage)
    expect(DEFAULT_REST_OPTIONS.userAgent).toBe(`DiscordBot (${pkg.homepage}, ${pkg.version})`)
    expect(DEFAULT_REST_OPTIONS.baseUrl).toBe('https://discord.com/api/v10')
    expect(DEFAULT_REST_OPTIONS.globalRequestsPerSecond).toBe(50)
    expect(DEFAULT_REST_OPTIONS.invalidRequestThreshold).toBeLessThan(10_000)
    expect(Object.isFrozen(DEFAULT_REST_OPTIONS)).toBe(true)
  })

  it('every option\'s TSDoc states the default DEFAULT_REST_OPTIONS really has', () => {
    // The TSDoc is what a host reads; a default changed in one place only (offsetMs went from 50 to 150) must fail here.
    const source = readFileSync(new URL('../../src/discord/options.ts', import.meta.url), 'utf8')
    const documented = new Map<string, string>()
    for (const m of source.matchAll(/\/\*\*((?:(?!\*\/)[\s\S])*)\*\/\s*(\w+)\?:/g)) {
      const comment = (m[1] as string).replace(/\s*\n\s*\*\s*/g, ' ')
      const at = comment.lastIndexOf('Default ')
      if (at !== -1) documented.set(m[2] as string, comment.slice(at + 'Default '.length).trim())
    }
    const expected = (value: unknown): string => typeof value === 'number' ? `${value}` : `\`${String(value)}\``
    for (const [key, value] of Object.entries(DEFAULT_REST_OPTIONS)) {
      if (key === 'userAgent') continue // documented as a pattern, checked against package.json above
      const text = documented.get(key)
      expect(text, `options.ts documents no default for ${key}`).toBeDefined()
      // "15 000 ms", "50 ms", "`https://...`", "1 000 (Discord bans ...)": the leading value is what counts.
      const leading = typeof value === 'number'
        ? (/^[\d ]+/.exec(text as string)?.[0] ?? '').replace(/ /g, '')
        : /^`[^`]*`/.exec(text as string)?.[0]
      expect(leading, `options.ts: default of ${key}`).toBe(expected(value))
    }
  })

  it('rejects nonsensical options', () => {
    expect(() => new DiscordRestClient({ timeoutMs: 0 })).toThrow(/timeoutMs/)
    expect(() => new DiscordRestClient({ retries: -1 })).toThrow(/retries/)
    expect(() => new DiscordRestClient({ baseUrl: 'ftp://x' })).toThrow(/baseUrl/)
    expect(() => new DiscordRestClient({ userAgent: 'DiscordBot (x, 1)\r\nX-Injected: 1' })).toThrow(/userAgent/)
    expect(() => new DiscordRestClient({ userAgent: '' })).toThrow(/userAgent/)
    expect(() => new DiscordRestClient({ redisKeyPrefix: 42 as unknown as string })).toThrow(/redisKeyPrefix/)
  })
})
