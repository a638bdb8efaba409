import { afterAll, describe, expect, it, vi } from 'vitest'
import { spawn, execFileSync } from 'node:child_process'
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { buildStandalone } from '../examples/standalone/app.js'
import { DEMO_HISTORY, loadConfig } from '../examples/standalone/config.js'
import { DEMO, DEMO_PEOPLE, DEMO_ROLES, demoBanner, demoOf, resetDemoFiles, type DemoInfo } from '../examples/standalone/demo.js'

/*
 * Demo mode of the standalone server: what it seeds (in the simulator and in the store), that it
 * survives a restart on the same database, that real credentials start nothing of it, and that
 * `npm start` on a fresh checkout with no environment at all answers within 30 s.
 */

const dirs: string[] = []
function tempDir (): string {
  const d = mkdtempSync(join(tmpdir(), 'dsync-demo-'))
  dirs.push(d)
  return d
}
afterAll(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }) })

async function startDemoServer (dbPath: string): Promise<{ app: FastifyInstance, demo: DemoInfo }> {
  const app = await buildStandalone(loadConfig({ PORT: '0', LOG_LEVEL: 'silent', DISCORD_DEMO: '1', DISCORD_DB_PATH: dbPath }))
  await app.ready()
  return { app, demo: demoOf(app) as DemoInfo }
}

describe('demo mode history', () => {
  it('keeps a day of sync runs, audit and task runs, pruned hourly; DISCORD_SYNC_RETENTION overrides the sync part', () => {
    const path = join(tempDir(), 'demo.sqlite')
    const demo = loadConfig({ DISCORD_DEMO: '1', DISCORD_DB_PATH: path })
    expect(DEMO_HISTORY).toEqual({ retention: '1d', cleanupInterval: '1h' })
    expect(demo.plugin.sync).toMatchObject({ retention: '1d', cleanupInterval: '1h' })
    expect(demo.plugin.tokenRefresh).toMatchObject({ retention: '1d' })
    expect(loadConfig({ DISCORD_DEMO: '1', DISCORD_DB_PATH: path, DISCORD_SYNC_RETENTION: '2h' }).plugin.sync).toMatchObject({ retention: '2h' })
  })

  it("the running demo's cleanup prunes what is older than a day and keeps the rest", async () => {
    const { app } = await startDemoServer(join(tempDir(), 'demo.sqlite'))
    try {
      const store = app.discord.store
      const hour = 3_600_000
      const entry = { run_id: null, guild_id: DEMO.guildId, discord_user_id: DEMO.adminDiscordId, user_id: null, role_id: DEMO_ROLES.member.id, role_name: null, action: 'add' as const, mapping_id: null, outcome: 'applied' as const, error_code: null }
      const before = (await store.listAudit({ page_size: 1 })).total
      await store.appendAudit([{ ...entry, created_at: new Date(Date.now() - 25 * hour) }, { ...entry, created_at: new Date(Date.now() - 23 * hour) }])
      const cleanup = app.discord.sync.cleanup
      expect(cleanup).not.toBeNull()
      const pruned = await cleanup?.run()
      expect(pruned?.audit).toBe(1)
      expect(Date.now() - (pruned?.before.getTime() ?? 0)).toBeGreaterThanOrEqual(24 * hour)
      expect(Date.now() - (pruned?.before.getTime() ?? 0)).toBeLessThan(24 * hour + 60_000)
      expect((await store.listAudit({ page_size: 1 })).total).toBe(before + 1)
    } finally {
      await app.close()
    }
  })
})

describe('demo mode seeds', () => {
  it('a simulated guild: roles at sensible positions, the bot above what it manages, one integration role, a few hundred members', async () => {
    const { app, demo } = await startDemoServer(join(tempDir(), 'demo.sqlite'))
    try {
      const s = demo.sim.state
      const roles = s.listRoles(DEMO.guildId)
      expect(roles.map((r) => r.name)).toEqual(['@everyone', 'Recruit', 'Member', 'Pilot', 'Officer', 'Veteran', 'Server Booster', 'Falcon Sync', 'Moderator', 'Admin'])
      const bot = s.getRole(DEMO.guildId, DEMO_ROLES.bot.id)
      expect(s.memberRoles(DEMO.guildId, DEMO.botUserId)).toEqual([DEMO_ROLES.bot.id])
      expect(BigInt(bot?.permissions ?? '0') & (1n << 28n)).toBe(1n << 28n)
      // Everything a mapping may name sits below the bot; two roles sit above it (the picker shows why they are refused).
      for (const k of ['recruit', 'member', 'pilot', 'officer', 'veteran'] as const) expect(DEMO_ROLES[k].position).toBeLessThan(DEMO_ROLES.bot.position)
      expect(s.getRole(DEMO.guildId, DEMO_ROLES.booster.id)).toMatchObject({ managed: true, tags: { integration_id: expect.any(String) } })
      expect(s.getGuild(DEMO.guildId)?.members.size).toBe(DEMO.extraMembers + DEMO_PEOPLE.length + 2)
      expect(demo.recruitIds).toHaveLength(DEMO.recruits)
      expect(demo.recruitIds.every((id) => s.memberRoles(DEMO.guildId, id)?.[0] === DEMO_ROLES.recruit.id)).toBe(true)
      // Hand-assigned: nobody maps Veteran, yet some people hold it.
      expect(DEMO_PEOPLE.filter((p) => p.roles.includes('veteran')).length).toBeGreaterThan(0)
      // The consent page lists the demo admin first.
      expect([...s.users.values()][0]).toMatchObject({ id: DEMO.adminDiscordId, global_name: 'Demo Admin' })
      expect(s.getOAuthApp(DEMO.clientId)?.redirect_uris).toEqual([`${demo.baseUrl}/api/discord/auth/callback`])
    } finally {
      await app.close()
    }
  })

  it('the store: the guild with its bot token (proven against the simulator), two mappings, the crew linked; the plugin points at the simulator', async () => {
    const { app, demo } = await startDemoServer(join(tempDir(), 'demo.sqlite'))
    try {
      const guild = await app.discord.store.getGuild(DEMO.guildId)
      expect(guild).toMatchObject({ guild_name: DEMO.guildName, enabled: true, has_bot_token: true, health_status: 'healthy', bot_user_id: DEMO.botUserId, settings: { auto_sync: false } })
      const mappings = await app.discord.store.listMappings({ guild_id: DEMO.guildId })
      expect(mappings.map((m) => [m.group_id, m.discord_role_name]).sort()).toEqual([['members', 'Member'], ['officers', 'Officer']])
      const linked = DEMO_PEOPLE.filter((p) => p.preLinked)
      expect(await app.discord.store.countUsers({ is_active: true })).toBe(linked.length)
      expect(app.discord.options).toMatchObject({ apiBaseUrl: demo.sim.apiBaseUrl, discord: { clientId: DEMO.clientId, authorizeUrl: `${demo.sim.url}/oauth2/authorize` } })
      expect(app.discord.sync.engine.configured).toBe(true)
      // The UI is served and its sign-in may return to it.
      expect((await app.inject({ url: '/api/discord/admin/' })).statusCode).toBe(200)
      const login = await app.inject({ url: `/api/discord/auth/login?redirect_url=${encodeURIComponent(demo.adminUiUrl)}` })
      expect(login.statusCode).toBe(200)
      expect(login.json().auth_url).toContain(`${demo.sim.url}/oauth2/authorize?`)
      // A guild sync would visibly change roles: the crew's Discord roles differ from their groups.
      const dry = await app.discord.sync.engine.manual({ guild_id: DEMO.guildId, dry_run: true }, 'test', 0)
      const run = await app.discord.sync.engine.waitFor(dry.view.run.id, 20_000)
      expect(run?.status).toBe('completed')
      const planned = run?.results.guilds?.[0]
      expect(planned?.planned_changes).toBeGreaterThan(0)
      expect(planned?.planned_changes).toBeLessThanOrEqual(guild?.settings.max_role_changes_per_sync ?? 0)
    } finally {
      await app.close()
    }
    // Closing the server closes the simulator.
    await expect(fetch(`${demo.sim.apiBaseUrl}/users/@me`)).rejects.toThrow()
  }, 40_000)

  it('keeps what an admin changed across a restart on the same database, and stores the new per-start bot token', async () => {
    const db = join(tempDir(), 'demo.sqlite')
    const first = await startDemoServer(db)
    const mappings = await first.app.discord.store.listMappings({ guild_id: DEMO.guildId })
    await first.app.discord.store.deleteMapping(mappings.find((m) => m.group_id === 'officers')?.id as string)
    await first.app.close()

    const second = await startDemoServer(db)
    try {
      expect((await second.app.discord.store.listMappings({ guild_id: DEMO.guildId })).map((m) => m.group_id)).toEqual(['members'])
      expect(await second.app.discord.store.countUsers({})).toBe(DEMO_PEOPLE.filter((p) => p.preLinked).length)
      // The simulator of this start knows only its own token: the stored one must be it.
      const token = await second.app.discord.store.getBotToken(DEMO.guildId)
      expect(second.demo.sim.state.findBot(token as string)?.userId).toBe(DEMO.botUserId)
      expect((await second.app.discord.store.getGuild(DEMO.guildId))?.health_status).toBe('healthy')
    } finally {
      await second.app.close()
    }
  }, 40_000)

  it('--reset-demo (resetDemoFiles) deletes the database and membership file so the next start seeds anew; refused outside demo mode', async () => {
    const dir = tempDir()
    const db = join(dir, 'demo.sqlite')
    const first = await startDemoServer(db)
    const mappings = await first.app.discord.store.listMappings({ guild_id: DEMO.guildId })
    await first.app.discord.store.deleteMapping(mappings.find((m) => m.group_id === 'officers')?.id as string)
    writeFileSync(first.demo.membershipFile, JSON.stringify({ users: {} }))
    await first.app.close()

    const config = loadConfig({ PORT: '0', LOG_LEVEL: 'silent', DISCORD_DEMO: '1', DISCORD_DB_PATH: db })
    const deleted = resetDemoFiles(config)
    expect(deleted).toEqual(expect.arrayContaining([db, join(dir, 'demo-membership.json')]))
    expect(existsSync(db)).toBe(false)
    const second = await startDemoServer(db)
    try {
      expect((await second.app.discord.store.listMappings({ guild_id: DEMO.guildId })).map((m) => m.group_id).sort()).toEqual(['members', 'officers'])
      expect(JSON.parse(readFileSync(second.demo.membershipFile, 'utf8')).users.alice.groups.length).toBeGreaterThan(0)
      expect((await second.app.discord.store.listAudit()).total).toBe(0)
      // GET / of the server opens the admin UI instead of answering a JSON 404.
      const home = await second.app.inject({ url: '/' })
      expect(home.statusCode).toBe(302)
      expect(home.headers.location).toBe('/api/discord/admin/')
    } finally {
      await second.app.close()
    }
    const real = loadConfig({ PORT: '0', LOG_LEVEL: 'silent', DISCORD_DB_PATH: db, DISCORD_CLIENT_ID: '1300000000000000200', DISCORD_CLIENT_SECRET: 'x'.repeat(32), DISCORD_REDIRECT_URI: 'http://127.0.0.1:3000/api/discord/auth/callback', DISCORD_ENCRYPTION_KEY: Buffer.alloc(32, 7).toString('base64'), JWT_SECRET: 'j'.repeat(64) })
    expect(real.demo).toBe(false)
    expect(() => resetDemoFiles(real)).toThrow(/demo mode only/)
    expect(existsSync(db)).toBe(true)
  }, 60_000)

  it('POST /api/discord/demo/reset (admin, X-Requested-With) puts the running demo back to its seed: Discord roles, mappings, links, runs, audit', async () => {
    const { app, demo } = await startDemoServer(join(tempDir(), 'demo.sqlite'))
    try {
      const store = app.discord.store
      const alice = DEMO_PEOPLE.find((p) => p.username === 'alice') as { discordId: string }
      const started = await app.discord.sync.engine.startManual({ guild_id: DEMO.guildId, force: true }, DEMO.adminUserId)
      await started.done
      const changed = demo.sim.state.memberRoles(DEMO.guildId, alice.discordId)
      expect(changed).not.toEqual([DEMO_ROLES.recruit.id])
      await store.deleteMapping((await store.listMappings({ guild_id: DEMO.guildId }))[0]?.id as string)
      expect((await store.listAudit()).total).toBeGreaterThan(0)

      expect((await app.inject({ url: '/api/discord/demo' })).json()).toEqual({ demo: true })
      const url = '/api/discord/demo/reset'
      expect((await app.inject({ method: 'POST', url })).statusCode).toBe(401)
      const member = app.discord.auth.issue({ id: 'alice', permissions: [] }).token
      expect((await app.inject({ method: 'POST', url, headers: { authorization: `Bearer ${member}`, 'x-requested-with': 'x' } })).statusCode).toBe(403)
      const admin = `Bearer ${app.discord.auth.issue({ id: DEMO.adminUserId, permissions: [DEMO.adminPermission] }).token}`
      expect((await app.inject({ method: 'POST', url, headers: { authorization: admin } })).json().code).toBe('FST_DISCORD_CSRF_HEADER_REQUIRED')
      const res = await app.inject({ method: 'POST', url, headers: { authorization: admin, 'x-requested-with': 'x' } })
      expect(res.statusCode).toBe(200)

      expect(demo.sim.state.memberRoles(DEMO.guildId, alice.discordId)).toEqual([DEMO_ROLES.recruit.id])
      expect((await store.listMappings({ guild_id: DEMO.guildId })).map((m) => m.group_id).sort()).toEqual(['members', 'officers'])
      expect(await store.countUsers({})).toBe(DEMO_PEOPLE.filter((p) => p.preLinked).length)
      expect((await store.listAudit()).total).toBe(0)
      expect(await store.listSyncRuns({})).toEqual([])
      expect((await store.getGuild(DEMO.guildId))?.health_status).toBe('healthy')
    } finally {
      await app.close()
    }
  }, 60_000)

  it('reads the groups through the standalone membership file it writes once: editing it changes the next sync', async () => {
    const dir = tempDir()
    const { app, demo } = await startDemoServer(join(dir, 'demo.sqlite'))
    try {
      expect(demo.membershipFile).toBe(join(dir, 'demo-membership.json'))
      const doc = JSON.parse(readFileSync(demo.membershipFile, 'utf8'))
      expect(doc.users.bob).toEqual({ groups: [{ id: 'members', name: 'Members' }], character_count: 1, permissions: [] })
      const bob = DEMO_PEOPLE.find((p) => p.username === 'bob')?.discordId as string
      const plan = async (): Promise<string[]> => {
        const started = await app.discord.sync.engine.manual({ user_ids: ['bob'], guild_id: DEMO.guildId, dry_run: true }, 'test', 0)
        await app.discord.sync.engine.waitFor(started.view.run.id, 20_000)
        const audit = await app.discord.sync.engine.listAudit({ run_id: started.view.run.id })
        return audit.items.filter((e) => e.discord_user_id === bob).map((e) => `${e.action} ${e.role_name ?? e.role_id}`)
      }
      // Bob is in "members" and holds Member: nothing to do.
      expect(await plan()).toEqual([])
      // Take Bob out of every group; the file is re-read when it changes (checked at most once a
      // second): the clock jumps past that second instead of the test waiting it out.
      doc.users.bob.groups = []
      writeFileSync(demo.membershipFile, JSON.stringify(doc))
      utimesSync(demo.membershipFile, new Date(), new Date(Date.now() + 5000))
      vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + 1100, shouldAdvanceTime: true })
      expect(await plan()).toEqual(['remove Member'])
    } finally {
      vi.useRealTimers()
      await app.close()
    }
    // A restart keeps the edited file.
    const again = await startDemoServer(join(dir, 'demo.sqlite'))
    try {
      expect(JSON.parse(readFileSync(again.demo.membershipFile, 'utf8')).users.bob.groups).toEqual([])
    } finally {
      await again.app.close()
    }
  }, 40_000)

  it('runs nothing of the demo with real credentials', async () => {
    const config = loadConfig({
      PORT: '0',
      LOG_LEVEL: 'silent',
      DISCORD_CLIENT_ID: '123456789012345678',
      DISCORD_CLIENT_SECRET: 'client-secret-value',
      DISCORD_REDIRECT_URI: 'https://app.example.test/api/discord/auth/callback',
      DISCORD_ENCRYPTION_KEY: Buffer.alloc(32, 9).toString('base64'),
      JWT_SECRET: 'x'.repeat(40),
      DISCORD_DB_PATH: join(tempDir(), 'real.sqlite')
    })
    expect(config.demo).toBe(false)
    const app = await buildStandalone(config)
    try {
      await app.ready()
      expect(demoOf(app)).toBeUndefined()
      expect(app.discord.options.apiBaseUrl).toBe('https://discord.com/api/v10')
      expect(app.discord.options.discord?.authorizeUrl).toBe('https://discord.com/oauth2/authorize')
      expect(await app.discord.store.listGuilds()).toEqual([])
      expect(app.discord.sync.engine.configured).toBe(false)
      // The admin UI is on (DISCORD_ADMIN_UI=0 turns it off) and may be returned to after sign-in.
      expect((await app.inject({ url: '/api/discord/admin/' })).statusCode).toBe(200)
    } finally {
      await app.close()
    }
  })

  it('prints one short block: the UI URL, who to sign in as, the variables for a real application; no secret', async () => {
    const { app, demo } = await startDemoServer(join(tempDir(), 'demo.sqlite'))
    try {
      const banner = demoBanner(demo)
      expect(banner).toContain(`Admin UI   ${demo.adminUiUrl}`)
      expect(banner).toContain('"Demo Admin"')
      for (const v of ['DISCORD_CLIENT_ID', 'DISCORD_CLIENT_SECRET', 'DISCORD_REDIRECT_URI', 'DISCORD_ENCRYPTION_KEY', 'JWT_SECRET']) expect(banner).toContain(v)
      expect(banner.split('\n').length).toBeLessThanOrEqual(10)
      expect(banner).not.toContain(await app.discord.store.getBotToken(DEMO.guildId) as string)
    } finally {
      await app.close()
    }
  })
})

function waitForOutput (child: ReturnType<typeof spawn>, pattern: RegExp, timeoutMs: number, seen: { text: string }): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${pattern}; output:\n${seen.text}`)), timeoutMs)
    const onData = (chunk: Buffer): void => {
      seen.text += chunk.toString()
      const m = seen.text.match(pattern)
      if (m) { clearTimeout(timer); resolve(m) }
    }
    child.stdout?.on('data', onData)
    child.stderr?.on('data', onData)
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`exited with ${code}; output:\n${seen.text}`)) })
  })
}

async function portFree (port: number): Promise<boolean> {
  return await new Promise((resolve) => {
    const srv = createServer()
    srv.once('error', () => resolve(false))
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)))
  })
}

describe('npm start on a fresh checkout', () => {
  it('comes up in demo mode with no environment but PATH and HOME, and answers GET /api/discord/status 200 within 30 s', async () => {
    // A checkout: the repository's files (no data/, no generated secrets), with the installed dependencies.
    const root = resolve('.')
    const checkout = tempDir()
    const files = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: root }).toString().split('\0').filter(Boolean)
    for (const f of files) {
      if (!existsSync(join(root, f))) continue // deleted in the working tree
      mkdirSync(dirname(join(checkout, f)), { recursive: true })
      copyFileSync(join(root, f), join(checkout, f))
    }
    symlinkSync(join(root, 'node_modules'), join(checkout, 'node_modules'), 'dir')
    expect(existsSync(join(checkout, 'data'))).toBe(false)
    // With no PORT the server listens on 3000, as a newcomer's would.
    if (!await portFree(3000)) throw new Error('port 3000 on 127.0.0.1 is taken by another process: this test runs `npm start` with no environment, which listens there')

    const started = Date.now()
    // Its own process group: npm does not pass SIGTERM on to the server, so the group is signalled.
    const child = spawn('npm', ['start', '--silent'], { cwd: checkout, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root' }, stdio: ['ignore', 'pipe', 'pipe'], detached: true })
    const seen = { text: '' }
    try {
      await waitForOutput(child, /Admin UI {3}http:\/\/127\.0\.0\.1:3000\/api\/discord\/admin\//, 30_000, seen)
      const res = await fetch('http://127.0.0.1:3000/api/discord/status')
      expect(res.status).toBe(200)
      expect(await res.json()).toMatchObject({ module: 'discord', status: 'healthy', checks: { store: 'ok', discord: 'configured' } })
      expect(Date.now() - started).toBeLessThan(30_000)
      expect((await fetch('http://127.0.0.1:3000/api/discord/admin/')).status).toBe(200)

      // Its own database and generated secrets (mode 0600), under the checkout's data/.
      expect(existsSync(join(checkout, 'data', 'demo.sqlite'))).toBe(true)
      for (const f of ['.demo-encryption-key', '.demo-jwt-secret']) {
        expect((statSync(join(checkout, 'data', f)).mode & 0o777).toString(8)).toBe('600')
        // Generated secrets are never printed.
        expect(seen.text).not.toContain(readFileSync(join(checkout, 'data', f), 'utf8').trim())
      }
      expect(seen.text).toContain('DISCORD_CLIENT_ID, DISCORD_CLIENT_SECRET, DISCORD_REDIRECT_URI')
    } finally {
      const exited = new Promise((resolve) => child.once('exit', resolve))
      process.kill(-(child.pid as number), 'SIGTERM')
      await exited
    }
    // Every process of the group is gone once the port is free again.
    await expect.poll(() => portFree(3000), { timeout: 15_000, interval: 250 }).toBe(true)
  }, 60_000)
})
