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
 * The admin UI in a real browser: headless Debian Chromium (playwright-core) against the
 * standalone server in demo mode, exactly what `npm start` runs. The steps follow one admin
 * session (sign in through the simulator's consent page, add a mapping, dry run, apply, audit,
 * trip the brake), a non-admin member (sync, unlink), a member re-linking an account Discord
 * stopped accepting, and an import in replace mode. Each step checks the simulator's state, not
 * only the page. On failure the page is saved to test-results/; with UPDATE_SCREENSHOTS=1 the
 * main pages are also written to docs/ (the README shows them).
 */

const CHROMIUM = '/usr/bin/chromium'
const RESULTS = resolve('test-results')
const DOCS = resolve('docs')
const UPDATE_DOCS = process.env.UPDATE_SCREENSHOTS === '1'
const G = DEMO.guildId
const R = DEMO_ROLES
/** expect.poll waits 1 s by default: too short for a page on a loaded two-core CI machine. */
const SLOW = { timeout: 10_000 }
const who = (name: string): string => (DEMO_PEOPLE.find((p) => p.username === name) as { discordId: string }).discordId

let server: FastifyInstance
let demo: DemoInfo
let sim: DiscordSimulator
let browser: Browser
let dataDir: string
let context: BrowserContext
let page: Page
/** Uncaught errors of the UI's modules in any watched browser context, checked after every step. */
const scriptErrors: string[] = []

/** A browser context whose pages' uncaught script errors fail the step they happen in. */
async function watchedContext (): Promise<BrowserContext> {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } })
  ctx.on('weberror', (e) => { scriptErrors.push(`${e.page()?.url() ?? '?'}: ${e.error().stack ?? e.error().message}`) })
  return ctx
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install Debian's chromium (apt-get update -qq && apt-get install -y -qq chromium), as .ci/run does`)
  dataDir = mkdtempSync(join(tmpdir(), 'discord-admin-ui-'))
  // No Discord variables at all: demo mode, as after `git clone && npm install && npm start`.
  const config = loadConfig({ HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'silent', DISCORD_DEMO: '1', DISCORD_DB_PATH: join(dataDir, 'demo.sqlite') })
  expect(config.demo).toBe(true)
  server = await buildStandalone(config)
  demo = demoOf(server) as DemoInfo
  sim = demo.sim
  await server.listen({ host: config.host, port: demo.port })
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run']
  })
  context = await watchedContext()
  // A step that cannot happen fails in 20 s with its locator named, instead of hanging to the test's timeout.
  context.setDefaultTimeout(20_000)
  page = await context.newPage()
}, 60_000)

afterAll(async () => {
  await browser?.close()
  await server?.close()
  if (dataDir) rmSync(dataDir, { recursive: true, force: true })
})

// The page may look right while a module threw (a handler, a poll): that fails the step too.
afterEach(() => {
  expect(scriptErrors.splice(0)).toEqual([])
})

// A failed step leaves its page in test-results/ (the CI keeps it as an artifact).
afterEach(async (ctx) => {
  if (ctx.task.result?.state !== 'fail' || page === undefined) return
  mkdirSync(RESULTS, { recursive: true })
  const name = ctx.task.name.replace(/[^a-z0-9]+/gi, '-').slice(0, 60)
  await page.screenshot({ path: join(RESULTS, `admin-ui-${name}.png`), fullPage: true }).catch(() => {})
})

async function shoot (p: Page, name: string, fullPage = false): Promise<void> {
  mkdirSync(RESULTS, { recursive: true })
  await p.screenshot({ path: join(RESULTS, `${name}.png`), fullPage })
  if (UPDATE_DOCS) await p.screenshot({ path: join(DOCS, `${name}.png`), fullPage })
}

const roles = (discordId: string): string[] => sim.state.memberRoles(G, discordId) ?? []

/** Signs in through the real flow: the UI's button, Discord's consent page, Authorize, back to the UI. */
async function signIn (p: Page, personId: string): Promise<void> {
  await p.goto(demo.adminUiUrl)
  // By keyboard: a real button, reachable and operable without a mouse.
  await p.getByRole('button', { name: 'Sign in with Discord' }).focus()
  await p.keyboard.press('Enter')
  await p.waitForURL((u) => u.origin === sim.url && u.pathname === '/oauth2/authorize')
  await expect.poll(() => p.locator('h1').textContent(), SLOW).toContain('Falcon Sync Demo wants to access your account')
  await p.selectOption('select#user_id', personId)
  await Promise.all([
    p.waitForURL(`${demo.adminUiUrl}**`, { timeout: 20_000 }),
    p.getByRole('button', { name: 'Authorize' }).click()
  ])
}

describe('admin UI in a real browser (demo server)', () => {
  it('signs the demo admin in through the simulator\'s consent page and shows the overview', async () => {
    await page.goto(demo.adminUiUrl)
    await expect.poll(() => page.getByRole('heading', { level: 1 }).textContent(), SLOW).toBe('Sign in')
    await signIn(page, DEMO.adminDiscordId)
    await expect.poll(() => page.getByRole('heading', { level: 1 }).textContent(), SLOW).toBe('Overview')
    await expect.poll(() => page.locator('#who').textContent(), SLOW).toContain(`Signed in as ${DEMO.adminUserId}`)
    await expect.poll(() => page.locator('#who').textContent(), SLOW).toContain('admin')
    const nav = await page.getByRole('navigation', { name: 'Main' }).textContent()
    expect(nav).toContain('Guilds')
    expect(nav).toContain('Audit')
    // The sync status summary and the guild's health come from the API.
    await expect.poll(() => page.locator('.stats').textContent(), SLOW).toContain('Active role mappings2')
    await expect.poll(() => page.getByRole('region', { name: 'Guild health' }).textContent(), SLOW).toContain(DEMO.guildName)
    expect(await page.getByRole('region', { name: 'Guild health' }).textContent()).toContain('healthy')
    // The session is the HttpOnly cookie: page scripts never see it.
    expect(await page.evaluate('document.cookie')).not.toContain('falcon_auth_token')
    // Sign-in linked the admin's Discord account, and the link synced their roles (Officer added).
    await expect.poll(() => roles(DEMO.adminDiscordId).sort(), SLOW).toEqual([R.member.id, R.officer.id].sort())
    await shoot(page, 'admin-ui-overview')
  }, 60_000)

  it('shows an API error as its message when a guild cannot be added', async () => {
    await page.goto(`${demo.adminUiUrl}#/guilds`)
    await expect.poll(() => page.getByRole('heading', { level: 1 }).textContent(), SLOW).toBe('Guilds')
    await page.getByLabel('Guild id').fill('1300000000000009999')
    await page.getByLabel('Bot token').fill('MTMwMDAwMDAwMDAwMDAwOTk5OQ.bad.not-a-token-the-simulator-issued')
    await page.getByRole('button', { name: 'Add guild' }).click()
    const alert = page.getByRole('alert')
    await expect.poll(() => alert.textContent(), SLOW).toContain('bot token')
    expect(await alert.textContent()).toContain('FST_DISCORD_BOT_TOKEN_INVALID')
    expect(await alert.textContent()).not.toMatch(/at .*\.(ts|js):\d+/)
    expect(await server.discord.store.getGuild('1300000000000009999')).toBeNull()
  }, 30_000)

  it('adds a mapping with the role picker, which marks the roles the bot cannot assign and why', async () => {
    await page.getByRole('link', { name: DEMO.guildName }).click()
    await expect.poll(() => page.getByRole('heading', { level: 1 }).textContent(), SLOW).toBe(DEMO.guildName)
    const rolesTable = page.getByRole('region', { name: 'Discord roles' })
    await expect.poll(() => rolesTable.textContent(), SLOW).toContain('Moderator')
    const rowOf = (name: string) => rolesTable.locator('tr', { has: page.locator('td', { hasText: new RegExp(`^${name}$`) }) })
    expect(await rowOf('Moderator').textContent()).toContain('is not below the bot\'s highest role')
    expect(await rowOf('Server Booster').textContent()).toContain('managed by an integration')
    expect(await rowOf('Pilot').textContent()).toContain('yes')
    await shoot(page, 'admin-ui-guild', true)

    await page.getByRole('button', { name: 'Add a mapping' }).click()
    const form = page.getByRole('form', { name: 'New mapping' })
    await form.getByLabel('Group id').fill('pilots')
    await form.getByLabel('Group name').fill('Pilots')
    const picker = form.getByLabel('Discord role')
    expect(await picker.locator('option', { hasText: 'Moderator' }).isDisabled()).toBe(true)
    expect(await picker.locator('option', { hasText: 'Moderator' }).textContent()).toContain('cannot assign: not below the bot\'s role')
    expect(await picker.locator('option', { hasText: 'Server Booster' }).textContent()).toContain('cannot assign: managed by an integration')
    expect(await picker.locator('option', { hasText: 'Pilot' }).isDisabled()).toBe(false)
    await picker.selectOption(R.pilot.id)
    // Keyboard: Enter in a field submits the form.
    await form.getByLabel('Group id').press('Enter')
    await expect.poll(() => page.locator('#notice').textContent(), SLOW).toContain('Mapping created: pilots')
    const mappings = page.getByRole('region', { name: 'Role mappings' })
    await expect.poll(() => mappings.textContent(), SLOW).toContain('Pilots')
    const stored = await server.discord.store.listMappings({ guild_id: G })
    expect(stored.map((m) => m.group_id).sort()).toEqual(['members', 'officers', 'pilots'])

    // Edit it: priority and an exclusive set, saved through PUT and shown in the table.
    await mappings.getByRole('button', { name: 'Edit mapping pilots → Pilot' }).click()
    const edit = page.getByRole('form', { name: 'Edit mapping pilots → Pilot' })
    await edit.getByLabel('Priority').fill('2')
    await edit.getByLabel('Exclusive set').fill('flight')
    await edit.getByRole('button', { name: 'Save mapping' }).click()
    await expect.poll(() => page.locator('#notice').textContent(), SLOW).toContain('Mapping saved.')
    await expect.poll(() => mappings.locator('tr', { hasText: 'Pilots' }).textContent(), SLOW).toContain('flight')
    expect((await server.discord.store.listMappings({ guild_id: G })).find((m) => m.group_id === 'pilots')).toMatchObject({ priority: 2, exclusive_set: 'flight', discord_role_id: R.pilot.id })

    // Export, then validate the same document as an import: nothing to change.
    const transfer = page.getByRole('region', { name: 'Import / export' })
    await transfer.getByRole('button', { name: 'Export mappings' }).click()
    await expect.poll(() => transfer.textContent(), SLOW).toContain('3 mapping(s) exported.')
    expect(await transfer.getByRole('link', { name: `Download role-mappings-${G}.json` }).count()).toBe(1)
    expect(JSON.parse(await transfer.getByLabel('Mapping document (JSON)').inputValue())).toMatchObject({ version: 1, guild_id: G })
    await transfer.getByRole('button', { name: 'Validate (dry run)' }).click()
    await expect.poll(() => transfer.textContent(), SLOW).toContain('Dry run (merge): 0 to create, 0 to update, 0 to delete, 3 unchanged, 0 invalid.')
    // Nothing changed in Discord yet: a mapping only takes effect at the next sync.
    expect(roles(who('alice'))).not.toContain(R.pilot.id)
  }, 30_000)

  it('runs a dry run that lists the planned changes, then applies them: Discord and the audit trail change', async () => {
    await page.getByRole('link', { name: 'Sync this guild…' }).click()
    await expect.poll(() => page.getByRole('heading', { level: 1 }).textContent(), SLOW).toBe('Sync')
    expect(await page.getByLabel('One guild').isChecked()).toBe(true)
    const before = { alice: roles(who('alice')), frank: roles(who('frank')), stray: roles(demo.memberIds[DEMO.recruits] as string) }
    await page.getByRole('button', { name: 'Dry run' }).click()
    const result = page.getByRole('region', { name: 'Dry run: planned changes' })
    await expect.poll(() => result.textContent(), { timeout: 20_000 }).toContain('Planned changes (')
    const planned = await result.locator('.changes tbody tr').allTextContents()
    expect(planned.some((r) => r.includes(who('alice')) && r.includes('Pilot') && r.includes('add') && r.includes('planned'))).toBe(true)
    expect(planned.some((r) => r.includes(who('frank')) && r.includes('Officer') && r.includes('remove'))).toBe(true)
    // Unlinked members lose managed roles (remove_roles_on_leave): one of the stray "Member" holders.
    expect(planned.some((r) => r.includes(demo.memberIds[DEMO.recruits] as string) && r.includes('not linked') && r.includes('Member'))).toBe(true)
    // A dry run writes nothing.
    expect({ alice: roles(who('alice')), frank: roles(who('frank')), stray: roles(demo.memberIds[DEMO.recruits] as string) }).toEqual(before)
    await shoot(page, 'admin-ui-dry-run')

    // Watch the page for the live progress view while the run applies.
    await page.evaluate(`(() => {
      window.__progress = []
      new MutationObserver(() => {
        const text = document.querySelector('.progress-text')?.textContent
        if (text && !window.__progress.includes(text)) window.__progress.push(text)
      }).observe(document.body, { subtree: true, childList: true, characterData: true })
    })()`)
    await page.getByRole('button', { name: 'Apply these changes' }).click()
    const done = page.getByRole('region', { name: 'Sync completed' })
    await expect.poll(() => done.count(), { timeout: 30_000 }).toBe(1)
    const progress = await page.evaluate('window.__progress') as string[]
    expect(progress.length).toBeGreaterThan(0)
    expect(progress.join('\n')).toMatch(/Phase: (planning|applying)\. Guilds 0\/1\. Members scanned: \d+; to change: \d+; applied: \d+\./)
    // Discord (the simulator) now matches the groups.
    expect(roles(who('alice')).sort()).toEqual([R.recruit.id, R.member.id, R.pilot.id].sort())
    expect(roles(who('frank'))).toEqual([R.veteran.id])
    expect(roles(who('grace')).sort()).toEqual([R.member.id, R.officer.id, R.booster.id, R.pilot.id].sort())
    expect(roles(demo.memberIds[DEMO.recruits] as string)).toEqual([])
    // Hand-assigned and integration roles were never touched.
    expect(roles(who('bob'))).toContain(R.veteran.id)
    expect(roles(demo.recruitIds[0] as string)).toEqual([R.recruit.id])
    const applied = await done.locator('.changes tbody tr').allTextContents()
    expect(applied.some((r) => r.includes(who('alice')) && r.includes('Pilot') && r.includes('applied'))).toBe(true)

    // A user-scoped dry run for one of them now finds nothing to do.
    await page.getByLabel('Some users (every enabled guild, or the chosen guild)').check()
    await page.getByLabel('Host user ids').fill('alice, frank')
    await page.getByRole('button', { name: 'Dry run' }).click()
    const userDry = page.getByRole('region', { name: 'Dry run: planned changes' })
    await expect.poll(() => userDry.textContent(), { timeout: 20_000 }).toContain('No change is needed')
    expect(await userDry.textContent()).toContain('user sync of alice,frank')

    // The audit page, filtered by this run, lists the same changes.
    const runId = (await server.discord.sync.engine.listRuns({ sync_type: 'guild', limit: 1 }))[0]?.id as string
    await page.goto(`${demo.adminUiUrl}#/audit?run_id=${runId}`)
    await expect.poll(() => page.getByRole('heading', { level: 1 }).textContent(), SLOW).toBe('Audit trail')
    const audit = page.getByRole('region', { name: /Role changes/ })
    await expect.poll(() => audit.textContent(), SLOW).toContain(who('frank'))
    const rows = await audit.locator('tbody tr').allTextContents()
    expect(rows.length).toBeGreaterThan(0)
    expect(rows.every((r) => r.includes('applied'))).toBe(true)
    expect(rows.some((r) => r.includes('Frank') || r.includes('frank'))).toBe(true)
    await shoot(page, 'admin-ui-audit')
    // The filter form drives the same query: by guild and Discord user.
    await page.getByLabel('Run id').fill('')
    await page.getByLabel('Discord user id').fill(who('alice'))
    await page.getByRole('button', { name: 'Filter' }).click()
    await expect.poll(() => page.url(), SLOW).toContain(`discord_user_id=${who('alice')}`)
    await expect.poll(async () => (await audit.locator('tbody tr').allTextContents()).every((r) => r.includes(who('alice'))), SLOW).toBe(true)
  }, 90_000)

  it('trips the safety brake with a mapping that would remove too much, shows the blocked state and asks before forcing', async () => {
    // Mapping "recruits" → Recruit: 200 unlinked members hold Recruit and would lose it.
    await page.goto(`${demo.adminUiUrl}#/guilds/${G}`)
    // First the guild's own limit, through the settings form, and a health check on demand.
    const settings = page.getByRole('region', { name: 'Settings' })
    await settings.getByLabel('Max role changes per sync').fill('150')
    await settings.getByRole('button', { name: 'Save settings' }).click()
    await expect.poll(() => page.locator('#notice').textContent(), SLOW).toContain('Settings saved.')
    expect((await server.discord.store.getGuild(G))?.settings.max_role_changes_per_sync).toBe(150)
    await page.getByRole('button', { name: 'Check the bot now' }).click()
    await expect.poll(() => page.locator('#notice').textContent(), SLOW).toContain('Health: healthy')
    await page.getByRole('button', { name: 'Add a mapping' }).click()
    const form = page.getByRole('form', { name: 'New mapping' })
    await form.getByLabel('Group id').fill('recruits')
    await form.getByLabel('Discord role').selectOption(R.recruit.id)
    await form.getByRole('button', { name: 'Create mapping' }).click()
    await expect.poll(() => page.locator('#notice').textContent(), SLOW).toContain('Mapping created: recruits')

    await page.goto(`${demo.adminUiUrl}#/sync?guild_id=${G}`)
    await page.getByRole('button', { name: 'Sync now' }).click()
    const blocked = page.getByRole('region', { name: 'Sync blocked' })
    await expect.poll(() => blocked.count(), { timeout: 30_000 }).toBe(1)
    const alert = blocked.getByRole('alert')
    expect(await alert.textContent()).toContain('Held back by the safety brake')
    expect(await alert.textContent()).toMatch(/\d+ planned role changes for \d+ members exceed max_role_changes_per_sync \(150\)/)
    // Nothing was written: the recruits keep their role.
    expect(demo.recruitIds.every((id) => roles(id).includes(R.recruit.id))).toBe(true)
    await shoot(page, 'admin-ui-brake')

    // Forcing asks first, and the confirm button stays disabled until the admin acknowledges.
    await alert.getByRole('button', { name: 'Force sync…' }).click()
    const dialog = page.getByRole('dialog', { name: 'Apply the changes anyway?' })
    await expect.poll(() => dialog.isVisible(), SLOW).toBe(true)
    const confirm = dialog.getByRole('button', { name: /^Force: apply \d+ change\(s\)$/ })
    expect(await confirm.isDisabled()).toBe(true)
    await dialog.getByLabel('I reviewed the planned changes and want them applied').check()
    expect(await confirm.isDisabled()).toBe(false)
    await page.keyboard.press('Escape')
    await expect.poll(() => dialog.count(), SLOW).toBe(0)
    expect(demo.recruitIds.every((id) => roles(id).includes(R.recruit.id))).toBe(true)
    const runs = await server.discord.sync.engine.listRuns({ limit: 5 })
    expect(runs.filter((r) => r.force)).toEqual([])
    expect(runs[0]?.status).toBe('blocked')

    // The overview's status summary reports the blocked run among the recent errors.
    await page.goto(`${demo.adminUiUrl}#/`)
    await expect.poll(() => page.getByRole('region', { name: 'Sync status' }).textContent(), SLOW).toContain('max_role_changes_per_sync')
  }, 90_000)

  it('gives a member without the admin permission their own page: link status, sync, unlink', async () => {
    const member = await watchedContext()
    member.setDefaultTimeout(20_000)
    const p = await member.newPage()
    try {
      await signIn(p, who('oscar'))
      await expect.poll(() => p.getByRole('heading', { level: 1 }).textContent(), SLOW).toBe('My account')
      const nav = await p.getByRole('navigation', { name: 'Main' }).textContent()
      expect(nav).toBe('My account')
      const link = p.getByRole('region', { name: 'Discord link' })
      await expect.poll(() => link.textContent(), SLOW).toContain(who('oscar'))
      // The link synced Oscar at once: members → Member, pilots → Pilot, and Recruit went (not in "recruits").
      await expect.poll(() => roles(who('oscar')).sort(), { timeout: 20_000 }).toEqual([R.member.id, R.pilot.id].sort())
      await p.getByRole('button', { name: 'Sync my roles now' }).click()
      const mine = p.getByRole('region', { name: 'My roles' })
      await expect.poll(() => mine.textContent(), SLOW).toContain('Synced in 1 of 1 guild(s)')
      expect(await mine.textContent()).toContain(DEMO.guildName)
      await expect.poll(() => p.getByRole('region', { name: 'My recent role changes' }).textContent(), SLOW).toContain('Pilot')
      await shoot(p, 'admin-ui-account')

      // Admin pages stay closed, in the page and in the API.
      await p.goto(`${demo.adminUiUrl}#/guilds`)
      await expect.poll(() => p.getByRole('heading', { level: 1 }).textContent(), SLOW).toBe('Admins only')

      // Unlink: confirmed in a dialog, then the link and the managed roles are gone.
      await p.goto(`${demo.adminUiUrl}#/account`)
      await p.getByRole('button', { name: 'Unlink…' }).click()
      await p.getByRole('dialog').getByRole('button', { name: 'Unlink' }).click()
      await expect.poll(() => p.locator('#notice').textContent(), SLOW).toContain('Unlinked oscar')
      await expect.poll(() => link.textContent(), SLOW).toContain('No Discord account is linked to you.')
      expect(await server.discord.store.getUserByDiscordId(who('oscar'))).toBeNull()
      // Every role a mapping manages goes (Recruit too: "recruits" is mapped now and Oscar is not in it).
      await expect.poll(() => roles(who('oscar')), { timeout: 20_000 }).toEqual([])

      // Sign out clears the HttpOnly cookie: the next load is the sign-in page.
      await p.getByRole('button', { name: 'Sign out' }).click()
      await expect.poll(() => p.getByRole('heading', { level: 1 }).textContent(), SLOW).toBe('Sign in')
      expect((await member.cookies(demo.baseUrl)).find((c) => c.name === 'falcon_auth_token')).toBeUndefined()
    } finally {
      await member.close()
    }
  }, 90_000)

  it('lets a member re-link an account Discord stopped accepting: a cancel at Discord is reported, then through the consent page, back on their page, new tokens', async () => {
    const member = await watchedContext()
    member.setDefaultTimeout(20_000)
    const p = await member.newPage()
    const peggy = who('peggy')
    try {
      await signIn(p, peggy)
      await expect.poll(() => p.getByRole('heading', { level: 1 }).textContent(), SLOW).toBe('My account')
      const link = p.getByRole('region', { name: 'Discord link' })
      await expect.poll(() => link.textContent(), SLOW).toContain(peggy)
      // Discord refused the refresh token (what the refresh task records): the page says so.
      const before = await server.discord.store.getUserTokens(peggy)
      await server.discord.store.updateUser(peggy, { needs_reauth: true })
      await p.reload()
      await expect.poll(() => link.textContent(), SLOW).toContain('Discord no longer accepts this link: re-link to keep your roles in sync.')

      // Cancel at Discord first: back on the page, told so, nothing changed.
      await link.getByRole('button', { name: 'Re-link' }).click()
      await p.waitForURL((u) => u.origin === sim.url && u.pathname === '/oauth2/authorize')
      await Promise.all([
        p.waitForURL(`${demo.adminUiUrl}**`, { timeout: 20_000 }),
        p.click('button[value="cancel"]')
      ])
      await expect.poll(() => p.getByRole('heading', { level: 1 }).textContent(), SLOW).toBe('My account')
      const alert = p.getByRole('alert').first()
      await expect.poll(() => alert.textContent(), SLOW).toContain('Discord authorisation was cancelled or refused: nothing changed.')
      expect(await alert.textContent()).toContain('FST_DISCORD_OAUTH_DENIED')
      // The code is taken off the address: a reload does not show it again.
      expect(p.url()).toBe(`${demo.adminUiUrl}#/account`)
      expect((await server.discord.store.getUserByDiscordId(peggy))?.needs_reauth).toBe(true)
      await p.reload()
      await expect.poll(() => link.textContent(), SLOW).toContain('Discord no longer accepts this link')
      expect(await p.getByRole('alert').count()).toBe(0)

      await link.getByRole('button', { name: 'Re-link' }).click()
      await p.waitForURL((u) => u.origin === sim.url && u.pathname === '/oauth2/authorize')
      await expect.poll(() => p.locator('h1').textContent(), SLOW).toContain('Falcon Sync Demo wants to access your account')
      await p.selectOption('select#user_id', peggy)
      await Promise.all([
        p.waitForURL(`${demo.adminUiUrl}**`, { timeout: 20_000 }),
        p.getByRole('button', { name: 'Authorize' }).click()
      ])
      // Back where the re-link started, with the warning gone: the link has fresh tokens.
      await expect.poll(() => p.getByRole('heading', { level: 1 }).textContent(), SLOW).toBe('My account')
      expect(p.url()).toBe(`${demo.adminUiUrl}#/account`)
      await expect.poll(() => link.textContent(), SLOW).toContain(peggy)
      expect(await link.textContent()).not.toContain('Discord no longer accepts this link')
      const record = await server.discord.store.getUserByDiscordId(peggy)
      expect(record).toMatchObject({ user_id: 'peggy', needs_reauth: false })
      const after = await server.discord.store.getUserTokens(peggy)
      expect(after?.access_token).toBeDefined()
      expect(after?.access_token).not.toBe(before?.access_token)
      // Still one account, still this host user: a re-link replaces the authorisation, not the link.
      expect((await server.discord.store.listUsersByUserId('peggy')).map((u) => u.discord_user_id)).toEqual([peggy])

      // Only a code is read from the address: a crafted link cannot put its own words on the page.
      await p.goto(`${demo.adminUiUrl}?error=${encodeURIComponent('Your account is suspended: call +1 555 0100')}#/account`)
      await expect.poll(() => link.textContent(), SLOW).toContain(peggy)
      expect(await p.getByRole('alert').count()).toBe(0)
      await p.goto(`${demo.adminUiUrl}?error=FST_DISCORD_SOMETHING_NEW#/account`)
      await expect.poll(() => p.getByRole('alert').first().textContent(), SLOW).toContain('Signing in with Discord did not complete.')
    } finally {
      await member.close()
    }
  }, 90_000)

  it('imports in replace mode: refuses a document with an invalid entry whole, previews, asks before deleting, then replaces', async () => {
    await page.goto(`${demo.adminUiUrl}#/guilds/${G}`)
    await expect.poll(() => page.getByRole('heading', { level: 1 }).textContent(), SLOW).toBe(DEMO.guildName)
    const stored = async (): Promise<string[]> => (await server.discord.store.listMappings({ guild_id: G })).map((m) => m.group_id).sort()
    expect(await stored()).toEqual(['members', 'officers', 'pilots', 'recruits'])
    const transfer = page.getByRole('region', { name: 'Import / export' })
    const mappings = page.getByRole('region', { name: 'Role mappings' })
    await transfer.getByRole('button', { name: 'Export mappings' }).click()
    await expect.poll(() => transfer.textContent(), SLOW).toContain('4 mapping(s) exported.')
    const exported = JSON.parse(await transfer.getByLabel('Mapping document (JSON)').inputValue()) as { mappings: Array<{ group_id: string, discord_role_id: string }> }
    const kept = { ...exported, mappings: exported.mappings.filter((m) => m.group_id !== 'recruits') }
    await transfer.getByLabel('Mode').selectOption('replace')

    // A document with a role above the bot, loaded from a file: refused whole, every problem listed, nothing written.
    const invalid = { ...kept, mappings: [...kept.mappings, { group_id: 'mods', discord_role_id: R.moderator.id }] }
    await transfer.getByLabel('Or load a file').setInputFiles({ name: 'mappings.json', mimeType: 'application/json', buffer: Buffer.from(JSON.stringify(invalid)) })
    await expect.poll(() => transfer.getByLabel('Mapping document (JSON)').inputValue(), SLOW).toContain('"mods"')
    await transfer.getByRole('button', { name: 'Import', exact: true }).click()
    await expect.poll(() => transfer.getByRole('alert').textContent(), SLOW).toContain('FST_DISCORD_IMPORT_INVALID')
    const invalidRow = transfer.locator('tr', { hasText: 'mods' })
    expect(await invalidRow.textContent()).toContain('invalid')
    expect(await invalidRow.textContent()).toContain(R.moderator.id)
    expect(await page.getByRole('dialog').count()).toBe(0)
    expect(await stored()).toEqual(['members', 'officers', 'pilots', 'recruits'])

    // The document without "recruits": the dry run says what replace would delete.
    await transfer.getByLabel('Mapping document (JSON)').fill(JSON.stringify(kept))
    await transfer.getByRole('button', { name: 'Validate (dry run)' }).click()
    await expect.poll(() => transfer.textContent(), SLOW).toContain('Dry run (replace): 0 to create, 0 to update, 1 to delete, 3 unchanged, 0 invalid.')
    expect(await transfer.locator('tr', { hasText: 'recruits' }).textContent()).toContain('delete')

    // Import asks before deleting; Cancel writes nothing.
    await transfer.getByRole('button', { name: 'Import', exact: true }).click()
    const dialog = page.getByRole('dialog', { name: 'Delete 1 mapping(s)?' })
    await expect.poll(() => dialog.isVisible(), SLOW).toBe(true)
    expect(await dialog.textContent()).toContain('recruits')
    await dialog.getByRole('button', { name: 'Cancel' }).click()
    await expect.poll(() => dialog.count(), SLOW).toBe(0)
    expect(await stored()).toEqual(['members', 'officers', 'pilots', 'recruits'])

    // Confirmed: applied, and the mappings table follows without a reload.
    await transfer.getByRole('button', { name: 'Import', exact: true }).click()
    await dialog.getByRole('button', { name: 'Import and delete 1' }).click()
    await expect.poll(() => transfer.textContent(), SLOW).toContain('Applied (replace): 0 to create, 0 to update, 1 to delete, 3 unchanged, 0 invalid.')
    await expect.poll(() => page.locator('#notice').textContent(), SLOW).toContain('Mappings imported.')
    expect(await stored()).toEqual(['members', 'officers', 'pilots'])
    await expect.poll(() => mappings.locator('tbody tr').count(), SLOW).toBe(3)
    expect(await mappings.textContent()).not.toContain('recruits')
  }, 60_000)
})
