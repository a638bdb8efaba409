import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { chromium, type Browser, type Page } from 'playwright-core'
import type { FastifyInstance } from 'fastify'
import { createDiscordSimulator, type DiscordSimulator } from '../../src/testing/index.js'
import { buildStandalone } from '../../examples/standalone/app.js'
import { loadConfig } from '../../examples/standalone/config.js'
import { authorizeAs } from '../helpers/world.js'

/*
 * The login flow in a real browser: headless Debian Chromium (driven by playwright-core) against
 * the standalone server and the Discord simulator, both on loopback. No skip: a missing browser is
 * a failure with the install command (.ci/run installs it).
 */

const CHROMIUM = '/usr/bin/chromium'
const CLIENT_ID = '900000000000000077'
const CLIENT_SECRET = 'e2e-client-secret-0123456789abcdef'
const ALICE = '100000000000000077'
/** A Discord user whose browser an attacker tries to make complete the attacker's flow. */
const VICTIM = '100000000000000078'
/** The attacker's own Discord account. */
const MALLORY = '100000000000000079'
const BINDING_COOKIE = 'falcon_oauth_binding'
const GUILD = '200000000000000077'
const RESULTS = resolve('test-results')

async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const srv = createServer()
    srv.once('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address()
      const port = typeof address === 'object' && address !== null ? address.port : 0
      srv.close(() => resolve(port))
    })
  })
}

let sim: DiscordSimulator
let server: FastifyInstance
let browser: Browser
let base: string
let dataDir: string

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install Debian's chromium (apt-get update -qq && apt-get install -y -qq chromium), as .ci/run does`)
  sim = await createDiscordSimulator()
  const port = await freePort()
  base = `http://127.0.0.1:${port}`
  const redirectUri = `${base}/api/discord/auth/callback`
  sim.state.addOAuthApp({ client_id: CLIENT_ID, client_secret: CLIENT_SECRET, redirect_uris: [redirectUri], name: 'Falcon E2E' })
  sim.state.addUser({ id: ALICE, username: 'alice', global_name: 'Alice' })
  sim.state.addUser({ id: VICTIM, username: 'victim', global_name: 'Victim' })
  sim.state.addUser({ id: MALLORY, username: 'mallory', global_name: 'Mallory' })
  sim.state.addGuild({ id: GUILD, name: 'E2E Guild', owner_id: ALICE })
  sim.state.addMember(GUILD, ALICE)

  dataDir = mkdtempSync(join(tmpdir(), 'discord-e2e-'))
  const config = loadConfig({
    HOST: '127.0.0.1',
    PORT: String(port),
    LOG_LEVEL: 'silent',
    DISCORD_CLIENT_ID: CLIENT_ID,
    DISCORD_CLIENT_SECRET: CLIENT_SECRET,
    DISCORD_REDIRECT_URI: redirectUri,
    DISCORD_API_BASE_URL: sim.apiBaseUrl,
    DISCORD_AUTHORIZE_URL: `${sim.url}/oauth2/authorize`,
    DISCORD_ENCRYPTION_KEY: Buffer.alloc(32, 9).toString('base64'),
    JWT_SECRET: 'e2e-jwt-secret-that-is-long-enough-0123456789',
    DISCORD_REDIRECT_URLS: `${base}/api/discord/status`,
    DISCORD_DB_PATH: join(dataDir, 'discord.sqlite')
  })
  server = await buildStandalone(config)
  await server.listen({ host: config.host, port: config.port })
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run']
  })
}, 60_000)

afterAll(async () => {
  await browser?.close()
  await server?.close()
  await sim?.close()
  if (dataDir) rmSync(dataDir, { recursive: true, force: true })
})

async function saveScreenshots (shots: Array<[string, Buffer | null]>, page: Page, finalName = 'e2e-login-final.png'): Promise<void> {
  mkdirSync(RESULTS, { recursive: true })
  for (const [name, shot] of shots) if (shot !== null) writeFileSync(join(RESULTS, name), shot)
  await page.screenshot({ path: join(RESULTS, finalName), fullPage: true }).catch(() => {})
}

describe('login in a real browser', () => {
  it('login → Discord consent → Authorize → back on the redirect URL with a session cookie → auth/status shows the link', async () => {
    const context = await browser.newContext()
    const page = await context.newPage()
    let consentShot: Buffer | null = null
    const finalUrl = `${base}/api/discord/status`
    try {
      // 1. The frontend asks for the login URL.
      const login = await page.goto(`${base}/api/discord/auth/login?redirect_url=${encodeURIComponent(finalUrl)}`)
      expect(login?.status()).toBe(200)
      const { auth_url: authUrl } = await login?.json() as { auth_url: string }
      expect(authUrl.startsWith(`${sim.url}/oauth2/authorize?`)).toBe(true)
      // The flow is bound to this browser, by a cookie only the callback receives.
      const binding = (await context.cookies()).find((c) => c.name === BINDING_COOKIE)
      expect(binding).toMatchObject({ httpOnly: true, sameSite: 'Lax', path: '/api/discord/auth/callback' })

      // 2. Discord's consent page.
      await page.goto(authUrl)
      await expect.poll(() => page.locator('h1').textContent()).toContain('Falcon E2E wants to access your account')
      consentShot = await page.screenshot({ fullPage: true })
      await page.selectOption('select#user_id', ALICE)

      // 3. Authorize: Discord → our callback → the redirect URL.
      await Promise.all([
        page.waitForURL(finalUrl, { timeout: 20_000 }),
        page.click('button[value="authorize"]')
      ])
      expect(page.url()).toBe(finalUrl)

      const cookie = (await context.cookies(base)).find((c) => c.name === 'falcon_auth_token')
      expect(cookie).toBeDefined()
      expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Lax', path: '/' })
      expect(cookie?.value.split('.')).toHaveLength(3)
      // SameSite=Lax kept the binding on Discord's redirect back (the callback accepted it); it is spent now.
      expect((await context.cookies()).find((c) => c.name === BINDING_COOKIE)).toBeUndefined()
      // HttpOnly: page scripts cannot read the session.
      expect(await page.evaluate('document.cookie')).not.toContain('falcon_auth_token')

      // 4. The browser's own cookie authenticates the status call.
      const status = await page.goto(`${base}/api/discord/auth/status`)
      expect(status?.status()).toBe(200)
      const body = await status?.json() as { authenticated: boolean, linked: boolean, accounts: Array<{ discord_user_id: string, username: string, guild_count: number }> }
      expect(body).toMatchObject({ authenticated: true, linked: true, needs_reauth: false })
      expect(body.accounts).toEqual([expect.objectContaining({ discord_user_id: ALICE, username: 'alice', guild_count: 1 })])

      // And no Discord token ever reached the browser.
      const tokens = await server.discord.store.getUserTokens(ALICE)
      expect(tokens).not.toBeNull()
      expect(await page.content()).not.toContain(tokens?.access_token)
    } catch (err) {
      await saveScreenshots([['e2e-login-consent.png', consentShot]], page)
      throw err
    } finally {
      await context.close()
    }
  }, 60_000)

  it('Cancel at Discord → back on the redirect URL with ?error=FST_DISCORD_OAUTH_DENIED, no session cookie', async () => {
    const context = await browser.newContext()
    const page = await context.newPage()
    let consentShot: Buffer | null = null
    const finalUrl = `${base}/api/discord/status`
    try {
      const login = await page.goto(`${base}/api/discord/auth/login?redirect_url=${encodeURIComponent(finalUrl)}`)
      const { auth_url: authUrl } = await login?.json() as { auth_url: string }
      await page.goto(authUrl)
      await expect.poll(() => page.locator('h1').textContent()).toContain('Falcon E2E wants to access your account')
      consentShot = await page.screenshot({ fullPage: true })

      // A browser must not be left on a JSON error page: it goes back to the app, which reads the code.
      const back = `${finalUrl}?error=FST_DISCORD_OAUTH_DENIED`
      await Promise.all([
        page.waitForURL(back, { timeout: 20_000 }),
        page.click('button[value="cancel"]')
      ])
      expect(page.url()).toBe(back)
      expect((await context.cookies(base)).find((c) => c.name === 'falcon_auth_token')).toBeUndefined()
    } catch (err) {
      await saveScreenshots([['e2e-cancel-consent.png', consentShot]], page, 'e2e-cancel-final.png')
      throw err
    } finally {
      await context.close()
    }
  }, 60_000)

  it('login CSRF: the attacker\'s approved callback URL opened in the victim\'s browser → ?error=FST_DISCORD_OAUTH_BROWSER_MISMATCH, not signed in', async () => {
    const finalUrl = `${base}/api/discord/status`
    // The attacker starts a login outside the victim's browser and approves it at Discord as themselves...
    const started = await fetch(`${base}/api/discord/auth/login?redirect_url=${encodeURIComponent(finalUrl)}`)
    const { auth_url: authUrl } = await started.json() as { auth_url: string }
    const { location } = await authorizeAs(sim, authUrl, MALLORY)
    expect(location.pathname).toBe('/api/discord/auth/callback')
    // ...and gets the victim's browser to open the callback URL.
    const context = await browser.newContext()
    const page = await context.newPage()
    try {
      const back = `${finalUrl}?error=FST_DISCORD_OAUTH_BROWSER_MISMATCH`
      await page.goto(location.toString())
      expect(page.url()).toBe(back)
      expect((await context.cookies()).map((c) => c.name)).toEqual([])
      expect(await server.discord.store.getUserByDiscordId(MALLORY)).toBeNull()
    } catch (err) {
      await saveScreenshots([], page, 'e2e-login-csrf-final.png')
      throw err
    } finally {
      await context.close()
    }
  }, 60_000)

  it('link confusion: the victim approving the attacker\'s link flow in their own browser links nothing to the attacker', async () => {
    const finalUrl = `${base}/api/discord/status`
    // The attacker, signed in to the host, starts a link flow and sends its auth_url to the victim.
    const attackerSession = server.discord.auth.issue({ id: 'attacker-host-user', permissions: [] }).token
    const started = await fetch(`${base}/api/discord/auth/link`, {
      method: 'POST',
      headers: { authorization: `Bearer ${attackerSession}`, 'content-type': 'application/json' },
      body: JSON.stringify({ redirect_url: finalUrl })
    })
    expect(started.status).toBe(200)
    const { auth_url: authUrl } = await started.json() as { auth_url: string }
    const context = await browser.newContext()
    const page = await context.newPage()
    let consentShot: Buffer | null = null
    try {
      await page.goto(authUrl)
      await expect.poll(() => page.locator('h1').textContent()).toContain('Falcon E2E wants to access your account')
      consentShot = await page.screenshot({ fullPage: true })
      await page.selectOption('select#user_id', VICTIM)
      const back = `${finalUrl}?error=FST_DISCORD_OAUTH_BROWSER_MISMATCH`
      await Promise.all([
        page.waitForURL(back, { timeout: 20_000 }),
        page.click('button[value="authorize"]')
      ])
      expect(page.url()).toBe(back)
      expect(await server.discord.store.getUserByDiscordId(VICTIM)).toBeNull()
      expect(await server.discord.store.listUsersByUserId('attacker-host-user')).toEqual([])
    } catch (err) {
      await saveScreenshots([['e2e-link-confusion-consent.png', consentShot]], page, 'e2e-link-confusion-final.png')
      throw err
    } finally {
      await context.close()
    }
  }, 60_000)
})
