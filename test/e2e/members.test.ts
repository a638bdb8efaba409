import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core'
import type { FastifyInstance } from 'fastify'
import type { DiscordSimulator } from '../../src/testing/index.js'
import { buildStandalone } from '../../examples/standalone/app.js'
import { loadConfig } from '../../examples/standalone/config.js'
import { DEMO, DEMO_PEOPLE, DEMO_ROLES, demoOf, type DemoInfo } from '../../examples/standalone/demo.js'

/*
 * The members page, the member page, the group picker and the guild settings of issue 17 in a
 * real browser (headless Debian Chromium, playwright-core) against the demo server, at desktop
 * (1280 px) and phone (390 px) width. Besides what each step does to the simulator's state, every
 * page is checked for a bare snowflake shown as the primary label of a user, guild or role: ids
 * are allowed only as the secondary, copyable text.
 */

const CHROMIUM = '/usr/bin/chromium'
const RESULTS = resolve('test-results')
const G = DEMO.guildId
const R = DEMO_ROLES
const SLOW = { timeout: 10_000 }
const SNOWFLAKE = /^\s*@?\d{17,20}\s*$/
const personOf = (name: string): (typeof DEMO_PEOPLE)[number] => DEMO_PEOPLE.find((p) => p.username === name) as (typeof DEMO_PEOPLE)[number]

let server: FastifyInstance
let demo: DemoInfo
let sim: DiscordSimulator
let browser: Browser
let dataDir: string
let context: BrowserContext
let page: Page
const scriptErrors: string[] = []

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium)`)
  dataDir = mkdtempSync(join(tmpdir(), 'discord-members-ui-'))
  const config = loadConfig({ HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'silent', DISCORD_DEMO: '1', DISCORD_DB_PATH: join(dataDir, 'demo.sqlite') })
  server = await buildStandalone(config)
  demo = demoOf(server) as DemoInfo
  sim = demo.sim
  await server.listen({ host: config.host, port: demo.port })
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run']
  })
  context = await browser.newContext({ viewport: { width: 1280, height: 800 } })
  context.on('weberror', (e) => { scriptErrors.push(`${e.page()?.url() ?? '?'}: ${e.error().stack ?? e.error().message}`) })
  context.setDefaultTimeout(20_000)
  page = await context.newPage()
}, 60_000)

afterAll(async () => {
  await browser?.close()
  await server?.close()
  if (dataDir) rmSync(dataDir, { recursive: true, force: true })
})

afterEach(() => {
  expect(scriptErrors.splice(0)).toEqual([])
})

afterEach(async (ctx) => {
  if (ctx.task.result?.state !== 'fail' || page === undefined) return
  mkdirSync(RESULTS, { recursive: true })
  await page.screenshot({ path: join(RESULTS, `members-${ctx.task.name.replace(/[^a-z0-9]+/gi, '-').slice(0, 60)}.png`), fullPage: true }).catch(() => {})
})

const roles = (discordId: string): string[] => (sim.state.memberRoles(G, discordId) ?? []).sort()

async function signInAdmin (): Promise<void> {
  await page.goto(demo.adminUiUrl)
  await page.getByRole('button', { name: 'Sign in with Discord' }).click()
  await page.waitForURL((u) => u.origin === sim.url && u.pathname === '/oauth2/authorize')
  await page.selectOption('select#user_id', DEMO.adminDiscordId)
  await Promise.all([
    page.waitForURL(`${demo.adminUiUrl}**`, { timeout: 20_000 }),
    page.getByRole('button', { name: 'Authorize' }).click()
  ])
  await expect.poll(() => page.getByRole('heading', { level: 1 }).textContent(), SLOW).toBe('Overview')
}

/**
 * The primary labels of people, guilds and roles on the page: names in the members table and
 * headings, role chips, guild names. None may be a bare snowflake.
 */
async function expectNamedLabels (p: Page): Promise<void> {
  const labels = await p.locator('h1, h2, .person-name, .role-chip, .guild-states > div > span:first-child, td:first-child').allTextContents()
  expect(labels.length).toBeGreaterThan(0)
  expect(labels.filter((l) => SNOWFLAKE.test(l))).toEqual([])
}

/** The page fits its width: no horizontal scrolling of the whole page (wide tables scroll inside their frame). */
async function expectNoPageOverflow (p: Page): Promise<void> {
  expect(await p.evaluate('document.documentElement.scrollWidth - document.documentElement.clientWidth')).toBeLessThanOrEqual(0)
}

describe('members pages in a real browser (demo server)', () => {
  it('lists linked members by name with initials when the avatar cannot load, searches and filters', async () => {
    await signInAdmin()
    await page.goto(`${demo.adminUiUrl}#/members`)
    await expect.poll(() => page.getByRole('heading', { level: 1 }).textContent(), SLOW).toBe('Members')
    const list = page.getByRole('region', { name: 'Linked members' })
    await expect.poll(() => list.locator('.person-name').allTextContents(), SLOW).toContain('Alice')
    const names = await list.locator('.person-name').allTextContents()
    // Every pre-linked person of the demo and the admin, by global name.
    for (const p of DEMO_PEOPLE.filter((x) => x.preLinked)) expect(names).toContain(p.globalName)
    expect(names).toContain('Demo Admin')
    // The simulator serves no images: every avatar fell back to its initials.
    await expect.poll(() => list.locator('img.avatar').count(), SLOW).toBe(0)
    expect(await list.locator('.avatar-initials').count()).toBe(names.length)
    // Ids are secondary text with a copy button, never the name.
    const alice = personOf('alice')
    const aliceRow = list.getByRole('row').filter({ hasText: '@alice' })
    expect(await aliceRow.locator('.id-line').first().textContent()).toContain(alice.discordId)
    expect(await aliceRow.getByRole('button', { name: 'Copy Discord id of Alice' }).count()).toBe(1)
    expect(await aliceRow.locator('.guild-states').textContent()).toContain(DEMO.guildName)
    await expectNamedLabels(page)

    // Search by part of a name, then by a whole Discord id.
    await page.getByLabel('Search').fill('ALI')
    await page.getByRole('button', { name: 'Search' }).click()
    await expect.poll(() => list.locator('.person-name').allTextContents(), SLOW).toEqual(['Alice'])
    await page.getByLabel('Search').fill(personOf('bob').discordId)
    await page.getByRole('button', { name: 'Search' }).click()
    await expect.poll(() => page.getByRole('region', { name: 'Linked members' }).locator('.person-name').allTextContents(), SLOW).toEqual(['Bob'])

    // A link Discord stopped accepting is found by its filter.
    await server.discord.store.updateUser(personOf('judy').discordId, { needs_reauth: true })
    await page.getByLabel('Search').fill('')
    await page.getByLabel('Show').selectOption('needs_reauth')
    await page.getByRole('button', { name: 'Search' }).click()
    await expect.poll(() => page.getByRole('region', { name: 'Linked members' }).locator('.person-name').allTextContents(), SLOW).toEqual(['Judy'])
    expect(await page.getByRole('region', { name: 'Linked members' }).textContent()).toContain('needs re-link')
  }, 90_000)

  it('shows a member\'s roles by name and colour with the reason for each managed role, and syncs them now', async () => {
    const heidi = personOf('heidi')
    expect(roles(heidi.discordId)).toEqual([R.officer.id])
    await page.goto(`${demo.adminUiUrl}#/members?q=heidi`)
    await page.getByRole('link', { name: 'Heidi' }).click()
    await expect.poll(() => page.getByRole('heading', { level: 1 }).textContent(), SLOW).toBe('Heidi')
    const guild = page.getByRole('region', { name: DEMO.guildName })
    await expect.poll(() => guild.getByRole('row').count(), SLOW).toBe(3) // header + the two managed roles
    const member = guild.getByRole('row').filter({ hasText: 'Member' }).filter({ hasNotText: 'Officer' })
    expect(await member.textContent()).toContain('next sync adds it')
    expect(await member.textContent()).toContain('Member of group "Members"')
    const officer = guild.getByRole('row').filter({ hasText: 'Officer' })
    expect(await officer.textContent()).toContain('next sync removes it')
    expect(await officer.textContent()).toContain('Not in group "Officers"')
    // The role held now, by name, in its Discord colour.
    const chip = guild.locator('dd .role-chip').filter({ hasText: 'Officer' })
    // Officer's colour (0xe67e22), not the grey of a role without one.
    expect(await chip.locator('.role-dot').evaluate((el) => (globalThis as unknown as { getComputedStyle: (e: unknown) => { backgroundColor: string } }).getComputedStyle(el).backgroundColor)).toBe('rgb(230, 126, 34)')
    await expectNamedLabels(page)

    await page.getByRole('button', { name: 'Sync now: Heidi' }).click()
    await expect.poll(() => page.locator('#notice').textContent(), SLOW).toContain('Heidi synced in 1 of 1 guild(s)')
    await expect.poll(() => roles(heidi.discordId), SLOW).toEqual([R.member.id])
    await expect.poll(() => page.getByRole('region', { name: DEMO.guildName }).getByRole('row').filter({ hasText: 'in sync' }).count(), SLOW).toBe(2)
    // Her history: what the sync just did, by role name, in the guild named.
    const history = page.getByRole('region', { name: 'Recent role changes' })
    await expect.poll(() => history.locator('tbody tr').count(), SLOW).toBe(2)
    expect((await history.locator('.role-chip').allTextContents()).sort()).toEqual(['Member', 'Officer'])
    expect(await history.locator('tbody tr').first().textContent()).toContain(DEMO.guildName)
    await expectNamedLabels(page)
  }, 60_000)

  it('unlinks a member after confirmation: the link and the managed roles go', async () => {
    const bob = personOf('bob')
    await page.goto(`${demo.adminUiUrl}#/members/${bob.discordId}`)
    await expect.poll(() => page.getByRole('heading', { level: 1 }).textContent(), SLOW).toBe('Bob')
    await page.getByRole('button', { name: 'Unlink Bob…' }).click()
    await page.getByRole('dialog', { name: 'Unlink Bob?' }).getByRole('button', { name: 'Unlink' }).click()
    await expect.poll(() => page.locator('#notice').textContent(), SLOW).toContain('Unlinked Bob')
    await expect.poll(() => page.getByRole('heading', { level: 1 }).textContent(), SLOW).toBe('Members')
    expect(await server.discord.store.getUserByDiscordId(bob.discordId)).toBeNull()
    await expect.poll(() => roles(bob.discordId).includes(R.member.id), SLOW).toBe(false)
  }, 60_000)

  it('picks a mapping\'s group by name from the provider\'s list; free text still works', async () => {
    await page.goto(`${demo.adminUiUrl}#/guilds/${G}`)
    await page.getByRole('button', { name: 'Add a mapping' }).click()
    const find = page.getByLabel('Find a group')
    await find.fill('vet')
    await page.getByRole('button', { name: 'Use group Veterans (veterans)' }).click()
    expect(await page.getByLabel('Group id').inputValue()).toBe('veterans')
    expect(await page.getByLabel('Group name').inputValue()).toBe('Veterans')
    await find.fill('no such group')
    await expect.poll(() => page.getByRole('list', { name: 'Matching groups' }).getByRole('button').count(), SLOW).toBe(0)
    await page.getByLabel('Group id').fill('typed-by-hand')
    expect(await page.getByLabel('Group id').inputValue()).toBe('typed-by-hand')
  }, 60_000)

  it('previews the nickname template for a chosen member, as the engine would render it', async () => {
    await page.goto(`${demo.adminUiUrl}#/guilds/${G}`)
    const template = page.getByLabel('Nickname template')
    await template.fill('{global_name} ({username})')
    const who = page.getByLabel('Preview the nickname of')
    await expect.poll(() => who.locator('option').allTextContents(), SLOW).toContain('Alice (@alice)')
    await who.selectOption({ label: 'Alice (@alice)' })
    await expect.poll(() => page.getByText('Alice would be named: Alice (alice)').count(), SLOW).toBe(1)
    // The demo's provider gives no profile: a template reading one leaves Alice's nickname alone.
    await template.fill('[{ticker}] {name}')
    await expect.poll(() => page.getByText('Alice: nickname left alone (a variable has no value for them).').count(), SLOW).toBe(1)
    // The settings of issues 10 and 11 are on the same form.
    for (const name of ['Sync members when they join', 'When someone changes a managed role by hand in Discord', 'When a member loses access', 'Grace before acting']) {
      expect(await page.getByLabel(name).count()).toBe(1)
    }
    expect(await page.getByLabel(/^Add linked users to the server/).count()).toBe(1)
  }, 60_000)

  it('shows the live Gateway\'s state on the overview', async () => {
    await page.goto(`${demo.adminUiUrl}#/`)
    const live = page.getByRole('region', { name: 'Live events and queue' })
    await expect.poll(() => live.textContent(), SLOW).toContain('Gateway: connected')
    expect(await live.textContent()).toMatch(/1 of 1 bot connection\(s\) up/)
    // The demo runs one machine: jobs on the local scheduler, stated in words.
    expect(await live.textContent()).toContain('Jobs: run by this server on its own schedule')
  }, 60_000)

  it('fits a 390 px phone: the members and member pages keep names first and do not scroll sideways', async () => {
    await page.setViewportSize({ width: 390, height: 844 })
    try {
      await page.goto(`${demo.adminUiUrl}#/members`)
      await expect.poll(() => page.getByRole('region', { name: 'Linked members' }).locator('.person-name').count(), SLOW).toBeGreaterThan(3)
      await expectNoPageOverflow(page)
      await expectNamedLabels(page)
      await page.goto(`${demo.adminUiUrl}#/members/${personOf('alice').discordId}`)
      await expect.poll(() => page.getByRole('heading', { level: 1 }).textContent(), SLOW).toBe('Alice')
      await expect.poll(() => page.getByRole('region', { name: DEMO.guildName }).getByRole('row').count(), SLOW).toBeGreaterThan(1)
      await expectNoPageOverflow(page)
      await expectNamedLabels(page)
    } finally {
      await page.setViewportSize({ width: 1280, height: 800 })
    }
  }, 60_000)
})
