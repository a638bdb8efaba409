import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core'
import type { FastifyInstance } from 'fastify'
import { buildStandalone } from '../../examples/standalone/app.js'
import { loadConfig } from '../../examples/standalone/config.js'
import { DEMO, DEMO_PEOPLE, demoOf, type DemoInfo } from '../../examples/standalone/demo.js'
import { axeScan, bareSnowflakes, VIEWPORTS } from './helpers/a11y.js'

/*
 * Every admin UI page at a desktop (1280 px) and a phone (390 px) width, in headless Chromium
 * against the demo server after a dry run and a real sync (so the tables have rows): axe-core
 * finds no serious or critical violation, no user, guild or role is labelled by a bare id, the
 * header stays within two rows, and nothing is wider than the screen. With UPDATE_SCREENSHOTS=1
 * each page is written to docs/images/ (the README and docs/admin-ui.md show them).
 */

const CHROMIUM = '/usr/bin/chromium'
const IMAGES = resolve('docs/images')
const UPDATE = process.env.UPDATE_SCREENSHOTS === '1'
const SLOW = { timeout: 15_000 }

const PAGES = [
  { name: 'overview', hash: '#/', heading: 'Overview' },
  { name: 'guilds', hash: '#/guilds', heading: 'Guilds' },
  { name: 'guild', hash: `#/guilds/${DEMO.guildId}`, heading: DEMO.guildName },
  { name: 'members', hash: '#/members', heading: 'Members' },
  { name: 'sync', hash: '#/sync', heading: 'Sync' },
  { name: 'audit', hash: '#/audit?intent=1', heading: 'Audit trail' },
  { name: 'account', hash: '#/account', heading: 'My account' }
] as const

let server: FastifyInstance
let demo: DemoInfo
let browser: Browser
let context: BrowserContext
let page: Page
let dataDir: string
const scriptErrors: string[] = []

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'discord-ui-pages-'))
  const config = loadConfig({ HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'silent', DISCORD_DEMO: '1', DISCORD_DB_PATH: join(dataDir, 'demo.sqlite') })
  server = await buildStandalone(config)
  demo = demoOf(server) as DemoInfo
  await server.listen({ host: config.host, port: demo.port })
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run']
  })
  context = await browser.newContext({ viewport: { width: 1280, height: 800 } })
  context.setDefaultTimeout(20_000)
  context.on('weberror', (e) => { scriptErrors.push(e.error().message) })
  page = await context.newPage()
  // Sign in through the real flow (the simulator's consent page), as the demo admin.
  await page.goto(demo.adminUiUrl)
  await page.getByRole('button', { name: 'Sign in with Discord' }).click()
  await page.waitForURL((u) => u.origin === demo.sim.url)
  await page.selectOption('select#user_id', DEMO.adminDiscordId)
  await Promise.all([page.waitForURL(`${demo.adminUiUrl}**`), page.getByRole('button', { name: 'Authorize' }).click()])
  await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor()
  // Something in every table: a dry run (intent) and a real run (effects).
  const headers = { 'x-requested-with': 'fastify-discord-sync-admin' }
  const sync = new URL('../sync/manual', demo.adminUiUrl).href
  expect((await context.request.post(sync, { headers, data: { guild_id: DEMO.guildId, dry_run: true, wait: true } })).status()).toBe(200)
  expect((await context.request.post(sync, { headers, data: { guild_id: DEMO.guildId, wait: true } })).status()).toBe(200)
}, 90_000)

afterAll(async () => {
  await browser?.close()
  await server?.close()
  if (dataDir) rmSync(dataDir, { recursive: true, force: true })
})

describe.each(VIEWPORTS)('admin UI pages at $width px ($name)', (viewport) => {
  it.each(PAGES)('$name: no serious accessibility violation, no bare id as a label, fits the screen', async (p) => {
    await page.setViewportSize({ width: viewport.width, height: viewport.height })
    await page.goto(`${demo.adminUiUrl}${p.hash}`)
    await expect.poll(() => page.getByRole('heading', { level: 1 }).textContent(), SLOW).toBe(p.heading)
    // Loaded: no "Loading…" left and every table drawn.
    await expect.poll(() => page.locator('main').getByText(/^Loading/).count(), SLOW).toBe(0)
    if (p.name === 'guild') {
      // The charts: uPlot loaded from admin/vendor/ drew both, each with its figures in words.
      await expect.poll(() => page.locator('.charts canvas').count(), SLOW).toBe(2)
      expect(await page.locator('.charts figcaption').first().textContent()).toMatch(/^Last 30 days: \d+ runs; \d+ role changes? applied, 0 held by the safety brake/)
    }

    // Both reported at once: a failing page shows everything wrong with it.
    expect({ axe: await axeScan(page), bareIds: await bareSnowflakes(page) }).toEqual({ axe: [], bareIds: [] })

    // The header: brand, navigation and who is signed in in at most two rows (boxes that overlap vertically share a row).
    const rows = await page.evaluate(`(() => {
      const boxes = [...document.querySelectorAll('header.top > *')].filter((el) => el.getClientRects().length > 0)
        .map((el) => el.getBoundingClientRect()).sort((a, b) => a.top - b.top)
      let rows = 0
      let bottom = -Infinity
      for (const b of boxes) { if (b.top >= bottom - 1) { rows++; bottom = b.bottom } else bottom = Math.max(bottom, b.bottom) }
      return rows
    })()`)
    expect(rows).toBeLessThanOrEqual(viewport.width < 600 ? 2 : 1)
    // Every link of the navigation is whole on screen: none hides behind the edge.
    const navCut = await page.evaluate('[...document.querySelectorAll(\'header nav a\')].filter((a) => a.getBoundingClientRect().right > window.innerWidth).map((a) => a.textContent)')
    expect(navCut).toEqual([])
    // Nothing pushes the page sideways on a phone (tables scroll inside their own box).
    expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(viewport.width)
    // Every form control is whole on screen (a long role name once pushed a select past the edge).
    const cut = await page.evaluate(`[...document.querySelectorAll('select, input, button, textarea')]
      .filter((el) => el.getClientRects().length > 0 && el.closest('.table-wrap, nav') === null)
      .filter((el) => { const r = el.getBoundingClientRect(); return r.left < 0 || r.right > window.innerWidth })
      .map((el) => el.outerHTML.slice(0, 80))`)
    expect(cut).toEqual([])
    expect(scriptErrors.splice(0)).toEqual([])

    if (UPDATE) {
      mkdirSync(IMAGES, { recursive: true })
      await page.screenshot({ path: join(IMAGES, `${p.name}-${viewport.width}.png`), fullPage: viewport.width < 600 })
    }
  }, 60_000)
})

describe('errors in words', () => {
  it('an invalid filter shows what to do first, the API\'s message and code only as the detail; dismissing removes it', async () => {
    await page.setViewportSize({ width: 1280, height: 800 })
    await page.goto(`${demo.adminUiUrl}#/audit?from=yesterday`)
    const alert = page.getByRole('alert')
    await expect.poll(() => alert.count(), SLOW).toBe(1)
    expect(await alert.locator('.error-text').textContent()).toBe('Some of what was entered is not valid. Check the fields and try again.')
    expect(await alert.locator('.error-detail').textContent()).toContain('(FST_DISCORD_VALIDATION)')
    expect(await axeScan(page)).toEqual([])
    await alert.getByRole('button', { name: 'Dismiss this error' }).click()
    expect(await page.getByRole('alert').count()).toBe(0)
  })
})

describe('names, not ids, on the audit trail and a run\'s detail', () => {
  const NAMES = new Set(DEMO_PEOPLE.map((p) => p.globalName))

  it('the audit trail names each member (avatar, global name, @username) and shows roles as chips', async () => {
    await page.setViewportSize({ width: 1280, height: 800 })
    await page.goto(`${demo.adminUiUrl}#/audit`)
    const table = page.locator('main table')
    await expect.poll(() => table.locator('.person-name').count(), SLOW).toBeGreaterThan(0)
    const names = await table.locator('.person-name').allTextContents()
    expect(names.every((n) => NAMES.has(n))).toBe(true)
    expect(await table.locator('.role-chip').count()).toBeGreaterThan(0)
    expect(await table.locator('tbody tr').first().textContent()).toContain(DEMO.guildName)
    expect({ axe: await axeScan(page), bareIds: await bareSnowflakes(page) }).toEqual({ axe: [], bareIds: [] })
    expect(scriptErrors.splice(0)).toEqual([])
  })

  it('a dry run\'s detail lists its planned changes by member name and role chip', async () => {
    const carol = DEMO_PEOPLE.find((p) => p.username === 'carol')
    if (carol === undefined) throw new Error('the demo has no carol')
    // Carol leaves the officers in the host's membership file: the dry run plans to take her Officer role.
    const doc = JSON.parse(readFileSync(demo.membershipFile, 'utf8')) as { users: Record<string, { groups: Array<{ id: string }> }> }
    const entry = doc.users[carol.userId]
    if (entry === undefined) throw new Error('carol is not in the membership file')
    entry.groups = entry.groups.filter((g) => g.id !== 'officers')
    writeFileSync(demo.membershipFile, JSON.stringify(doc))
    await page.setViewportSize({ width: 1280, height: 800 })
    await page.goto(`${demo.adminUiUrl}#/sync?guild_id=${DEMO.guildId}`)
    await page.getByRole('button', { name: 'Dry run' }).click()
    await page.getByRole('heading', { level: 2, name: 'Dry run: planned changes' }).waitFor()
    const changes = page.locator('#sync-result .changes')
    await expect.poll(() => changes.locator('.person-name').count(), SLOW).toBeGreaterThan(0)
    const row = changes.locator('tbody tr', { hasText: 'Carol' }).first()
    expect(await row.locator('.person-name').textContent()).toBe('Carol')
    expect(await row.textContent()).toContain('@carol')
    expect(await row.locator('.role-chip').count()).toBe(1)
    expect(await page.locator('#sync-result table').first().textContent()).toContain(DEMO.guildName)
    expect({ axe: await axeScan(page), bareIds: await bareSnowflakes(page) }).toEqual({ axe: [], bareIds: [] })
    expect(scriptErrors.splice(0)).toEqual([])
  })
})

describe('forms keep their input on error', () => {
  it('a guild settings save refused by the API (a grace past 90 days) leaves every field as typed and says what to do', async () => {
    await page.setViewportSize({ width: 1280, height: 800 })
    await page.goto(`${demo.adminUiUrl}#/guilds/${DEMO.guildId}`)
    const form = page.locator('form', { has: page.getByRole('button', { name: 'Save settings' }) })
    await form.waitFor()
    const before = await server.discord.store.getGuild(DEMO.guildId)
    await form.getByLabel('Display name').fill('Renamed by the officer')
    await form.getByLabel('Sync interval').fill('2h')
    await form.getByLabel('Grace before acting').fill('91d')
    const enabled = form.getByLabel('Sync members when they join')
    const wasChecked = await enabled.isChecked()
    await enabled.setChecked(!wasChecked)
    await form.getByRole('button', { name: 'Save settings' }).click()

    const alert = page.getByRole('alert')
    await expect.poll(() => alert.count(), SLOW).toBe(1)
    expect(await alert.locator('.error-text').textContent()).toBe('Some of what was entered is not valid. Check the fields and try again.')
    expect(await alert.locator('.error-detail').textContent()).toContain('(FST_DISCORD_VALIDATION)')
    expect(await form.getByLabel('Display name').inputValue()).toBe('Renamed by the officer')
    expect(await form.getByLabel('Sync interval').inputValue()).toBe('2h')
    expect(await form.getByLabel('Grace before acting').inputValue()).toBe('91d')
    expect(await enabled.isChecked()).toBe(!wasChecked)
    // Nothing was saved.
    expect((await server.discord.store.getGuild(DEMO.guildId))?.guild_name).toBe(before?.guild_name)
    expect(scriptErrors.splice(0)).toEqual([])
  })
})

describe('demo reset', () => {
  it('the overview\'s button (demo only) asks first, then puts the demo back to its seed', async () => {
    await page.setViewportSize({ width: 1280, height: 800 })
    expect((await server.discord.store.listAudit()).total).toBeGreaterThan(0)
    await page.goto(`${demo.adminUiUrl}#/`)
    const button = page.getByRole('button', { name: 'Reset the demo…' })
    await button.click()
    const dialog = page.getByRole('dialog', { name: 'Reset the demo?' })
    await dialog.getByRole('button', { name: 'Reset the demo' }).click()
    await expect.poll(() => page.locator('#notice').textContent(), SLOW).toContain('The demo was reset to its first state.')
    expect((await server.discord.store.listAudit()).total).toBe(0)
    expect((await server.discord.store.listMappings({ guild_id: DEMO.guildId })).map((m) => m.group_id).sort()).toEqual(['members', 'officers'])
    expect(scriptErrors.splice(0)).toEqual([])
  })
})
