import { describe, expect, it } from 'vitest'
import { loadConfig } from '../../examples/standalone/config.js'

/* The standalone server passes the auth settings through to the plugin, and names a bad one. */

const REAL = {
  DISCORD_CLIENT_ID: '157730590492196864',
  DISCORD_CLIENT_SECRET: 'secret',
  DISCORD_REDIRECT_URI: 'http://localhost:3000/api/discord/auth/callback',
  DISCORD_ENCRYPTION_KEY: Buffer.alloc(32, 1).toString('base64'),
  JWT_SECRET: 'j'.repeat(40),
  DISCORD_DB_PATH: ':memory:'
}

describe('standalone auth configuration', () => {
  it('passes JWT_SECRET, the redirect allow-list, cookie security, session expiry, refresh interval and authorize URL', () => {
    const c = loadConfig({
      ...REAL,
      DISCORD_REDIRECT_URLS: 'https://app.example.test/auth/done, http://localhost:5173/',
      AUTH_COOKIE_SECURE: '0',
      AUTH_SESSION_EXPIRY: '8h',
      DISCORD_TOKEN_REFRESH_INTERVAL: '10m',
      DISCORD_AUTHORIZE_URL: 'http://127.0.0.1:4000/oauth2/authorize'
    })
    expect(c.plugin.auth).toEqual({ jwtSecret: REAL.JWT_SECRET, redirectUrls: ['https://app.example.test/auth/done', 'http://localhost:5173/'], cookieSecure: false, sessionExpiry: '8h' })
    expect(c.plugin.tokenRefresh).toEqual({ interval: '10m' })
    expect(c.plugin.discord?.authorizeUrl).toBe('http://127.0.0.1:4000/oauth2/authorize')
  })

  it('defaults: no redirects, Secure cookie, 24 h sessions, refresh every 30 min, Discord authorize page', () => {
    const c = loadConfig(REAL)
    expect(c.plugin.auth).toEqual({ jwtSecret: REAL.JWT_SECRET, redirectUrls: [], cookieSecure: true, sessionExpiry: '24h' })
    expect(c.plugin.tokenRefresh).toEqual({ interval: '30m' })
    expect(c.plugin.discord?.authorizeUrl).toBe('https://discord.com/oauth2/authorize')
  })

  it.each([
    ['DISCORD_REDIRECT_URLS', { DISCORD_REDIRECT_URLS: 'not a url' }],
    ['DISCORD_REDIRECT_URLS', { DISCORD_REDIRECT_URLS: 'https://app.example.test/cb?x=1' }],
    ['DISCORD_REDIRECT_URLS', { DISCORD_REDIRECT_URLS: 'ftp://app.example.test/' }],
    ['AUTH_COOKIE_SECURE', { AUTH_COOKIE_SECURE: 'maybe' }],
    ['AUTH_SESSION_EXPIRY', { AUTH_SESSION_EXPIRY: 'forever' }],
    ['DISCORD_TOKEN_REFRESH_INTERVAL', { DISCORD_TOKEN_REFRESH_INTERVAL: 'often' }],
    ['DISCORD_AUTHORIZE_URL', { DISCORD_AUTHORIZE_URL: 'discord.com/oauth2/authorize' }]
  ])('names %s when it is bad', (variable, extra) => {
    expect(() => loadConfig({ ...REAL, ...extra })).toThrow(expect.objectContaining({ variable }))
  })
})

describe('the demo and production secrets', () => {
  it('a server with JWT_SECRET but no DISCORD_CLIENT_ID is not a demo: start-up stops, naming DISCORD_CLIENT_ID', () => {
    const { DISCORD_CLIENT_ID: _id, ...noClient } = REAL
    expect(() => loadConfig(noClient)).toThrow(expect.objectContaining({ variable: 'DISCORD_CLIENT_ID' }))
  })

  it('DISCORD_DEMO=1 refuses JWT_SECRET: Demo Admin sessions are never signed with a real secret', () => {
    expect(() => loadConfig({ DISCORD_DEMO: '1', JWT_SECRET: REAL.JWT_SECRET })).toThrow(expect.objectContaining({ variable: 'JWT_SECRET' }))
  })
})
