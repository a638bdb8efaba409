import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { buildSyncWorld, HOST, IDS, type SyncWorld } from './helpers.js'

/*
 * The sync routes' contract: validation (400 with FST_DISCORD_VALIDATION, never a 500),
 * authorisation, status codes, the status and run views, the audit query, metrics, the
 * audit channel summary and the role cache. Always over real HTTP against the simulator.
 */

let w: SyncWorld

beforeEach(async () => {
  w = await buildSyncWorld()
  await w.guild(IDS.g1, 'Alpha Guild', { audit_channel_id: IDS.channel })
  await w.mapping({ group_id: 'pilots', discord_role_id: IDS.pilot })
  w.sim.state.addMember(IDS.g1, IDS.alice, [IDS.inactive])
  await w.link(HOST.alice, IDS.alice)
  w.membership.set(HOST.alice, ['pilots'])
})

afterEach(async () => {
  expect(w.sim.internalErrors).toEqual([])
  await w.close()
})

const USER = { id: HOST.bob, permissions: [] as string[] }

describe('POST /sync/manual validation and errors', () => {
  it.each([
    ['an unknown field', { guild_id: IDS.g1, guld_id: IDS.g1 }],
    ['a guild id that is not a snowflake', { guild_id: 'abc' }],
    ['a non-boolean dry_run', { dry_run: 'yes' }],
    ['an empty user_ids', { user_ids: [] }],
    ['too many user_ids', { user_ids: Array.from({ length: 101 }, (_, i) => `u${i}`) }],
    ['duplicate user_ids', { user_ids: ['a', 'a'] }],
    ['a mapping id with odd characters', { mapping_id: '../../etc' }]
  ])('400 FST_DISCORD_VALIDATION for %s', async (_what, body) => {
    const res = await w.call('POST', '/sync/manual', { body })
    expect(res.status).toBe(400)
    expect(res.body.code).toBe('FST_DISCORD_VALIDATION')
    expect(await w.store.listSyncRuns()).toEqual([])
  })

  it('400 for contradicting scopes, 404 for unknown targets, 422 for disabled ones', async () => {
    const both = await w.call('POST', '/sync/manual', { body: { guild_id: IDS.g1, mapping_id: 'x1' } })
    expect(both).toMatchObject({ status: 400, body: { code: 'FST_DISCORD_VALIDATION', message: 'send guild_id or mapping_id, not both' } })
    expect((await w.call('POST', '/sync/manual', { body: { mapping_id: 'x1', user_ids: [HOST.alice] } })).status).toBe(400)
    const unknownGuild = await w.call('POST', '/sync/manual', { body: { guild_id: IDS.g2 } })
    expect(unknownGuild).toMatchObject({ status: 404, body: { code: 'FST_DISCORD_NOT_FOUND' } })
    expect((await w.call('POST', '/sync/manual', { body: { mapping_id: 'no-such-mapping' } })).body.code).toBe('FST_DISCORD_NOT_FOUND')
    const unlinked = await w.call('POST', '/sync/manual', { body: { user_ids: [HOST.alice, 'ghost'] } })
    expect(unlinked).toMatchObject({ status: 404, body: { code: 'FST_DISCORD_USER_NOT_LINKED' } })
    await w.guild(IDS.g2, 'Beta Guild')
    await w.store.updateGuild(IDS.g2, { enabled: false })
    expect((await w.call('POST', '/sync/manual', { body: { guild_id: IDS.g2 } })).body).toMatchObject({ statusCode: 422, code: 'FST_DISCORD_GUILD_DISABLED' })
    const off = await w.mapping({ group_id: 'corp', discord_role_id: IDS.corp, enabled: false })
    expect((await w.call('POST', '/sync/manual', { body: { mapping_id: off.id } })).body).toMatchObject({ statusCode: 422, code: 'FST_DISCORD_MAPPING_DISABLED' })
    expect(await w.store.listSyncRuns()).toEqual([])
  })

  it('admin only: 401 anonymous, 403 for a user; non-JSON bodies get FST_DISCORD_ codes', async () => {
    expect((await w.call('POST', '/sync/manual', { as: null, body: {} })).body.code).toBe('FST_DISCORD_AUTH_REQUIRED')
    const forbidden = await w.call('POST', '/sync/manual', { as: USER, body: {} })
    expect(forbidden).toMatchObject({ status: 403, body: { code: 'FST_DISCORD_FORBIDDEN' } })
    const send = async (contentType: string, body: string): Promise<{ status: number, code: string }> => {
      const res = await fetch(`${w.baseUrl}/discord/sync/manual`, {
        method: 'POST',
        headers: { authorization: `Bearer ${w.app.discord.auth.issue({ id: 'admin-1', permissions: ['discord:admin'] }).token}`, 'content-type': contentType },
        body
      })
      return { status: res.status, code: ((await res.json()) as { code: string }).code }
    }
    expect(await send('application/xml', '<sync/>')).toEqual({ status: 415, code: 'FST_DISCORD_UNSUPPORTED_MEDIA_TYPE' })
    // Fastify parses text/plain itself; the schema then refuses a string where an object is due.
    expect(await send('text/plain', 'guild_id=1')).toEqual({ status: 400, code: 'FST_DISCORD_VALIDATION' })
    expect(await send('application/json', '{"guild_id":')).toEqual({ status: 400, code: 'FST_DISCORD_VALIDATION' })
    expect(await w.store.listSyncRuns()).toEqual([])
  })

  it('user_ids scope: only those users, in every enabled guild', async () => {
    w.sim.state.addMember(IDS.g1, IDS.dave, [IDS.pilot])
    const res = await w.call('POST', '/sync/manual', { body: { user_ids: [HOST.alice], wait: true } })
    expect(res.status).toBe(200)
    expect(res.body.run).toMatchObject({ sync_type: 'user', target_id: HOST.alice, status: 'completed' })
    expect(w.roles(IDS.g1, IDS.alice)).toEqual([IDS.pilot, IDS.inactive].sort())
    // Dave (unlinked, holding a managed role) was not in scope.
    expect(w.roles(IDS.g1, IDS.dave)).toEqual([IDS.pilot])
    expect(w.discordCalls((r) => r.route === 'GET /guilds/:guild_id/members')).toEqual([])
  })
})

describe('status, runs and audit', () => {
  it('GET /sync/status: the seed\'s fields, plus runs in progress with live progress', async () => {
    const empty = await w.call('GET', '/sync/status')
    expect(empty.status).toBe(200)
    expect(empty.body).toEqual({
      last_full_sync: null,
      sync_in_progress: false,
      total_users: 1,
      synced_users: 0,
      failed_users: 0,
      total_guilds: 1,
      active_role_mappings: 1,
      recent_errors: [],
      last_dry_run: null,
      held_guilds: [],
      current_runs: []
    })

    const release = w.membership.hold()
    const started = await w.call('POST', '/sync/manual', { body: {} })
    // Wait until the run is inside the (held) membership provider, i.e. planning.
    await vi.waitUntil(() => w.membership.calls > 0, { timeout: 5_000, interval: 20 })
    const during = await w.call('GET', '/sync/status')
    expect(during.body.sync_in_progress).toBe(true)
    expect(during.body.current_runs).toHaveLength(1)
    expect(during.body.current_runs[0]).toMatchObject({ id: started.body.run_id, status: 'running', progress: { phase: 'planning', guilds_total: 1, current_guild_id: IDS.g1 } })
    const live = await w.call('GET', `/sync/runs/${started.body.run_id as string}`)
    expect(live.body.progress).toMatchObject({ phase: 'planning' })
    // Live progress is not the store's: marked so, it is never kept by the read cache.
    expect(live.headers.get('cache-control')).toBe('no-store')
    release()
    await w.app.discord.sync.engine.waitFor(started.body.run_id, 10_000)

    // A member whose membership is unavailable shows up as a failed user and a recent error.
    w.sim.state.addMember(IDS.g1, IDS.bob)
    await w.link(HOST.bob, IDS.bob)
    w.membership.failing.add(HOST.bob)
    await w.call('POST', '/sync/manual', { body: { wait: true } })
    const after = await w.call('GET', '/sync/status')
    expect(after.body).toMatchObject({ sync_in_progress: false, total_users: 2, synced_users: 2, failed_users: 1, total_guilds: 1, active_role_mappings: 1, current_runs: [] })
    expect(Date.parse(after.body.last_full_sync)).toBeGreaterThan(0)
    expect(after.body.recent_errors[0]).toMatchObject({ user_id: HOST.bob, guild_id: IDS.g1, discord_user_id: IDS.bob, code: 'membership_unavailable' })
    expect(Object.keys(after.body.recent_errors[0])).toEqual(expect.arrayContaining(['user_id', 'guild_id', 'error', 'occurred_at']))
    expect((await w.call('GET', '/sync/status', { as: USER })).status).toBe(403)
  })

  it('GET /sync/runs and /sync/runs/{id}; 404 for an unknown run, 400 for a malformed id', async () => {
    const run = await w.call('POST', '/sync/manual', { body: { guild_id: IDS.g1, wait: true } })
    const list = await w.call('GET', '/sync/runs?sync_type=guild&limit=5')
    expect(list.body.runs.map((r: any) => r.id)).toEqual([run.body.run_id])
    // A list carries counts only; the run itself has the error list and per-guild results.
    expect(list.body.runs[0].results).toEqual({ users_processed: expect.any(Number), users_synced: expect.any(Number), users_failed: expect.any(Number), roles_added: 1, roles_removed: expect.any(Number), guilds_processed: 1, errors_count: 0, guilds_count: 1 })
    const one = await w.call('GET', `/sync/runs/${run.body.run_id as string}`)
    expect(one.body).toMatchObject({ id: run.body.run_id, status: 'completed', sync_type: 'guild', target_id: IDS.g1, initiated_by: 'admin-1', progress: null })
    expect(one.body.duration).toEqual(expect.any(Number))
    expect(one.headers.get('cache-control')).toBeNull()
    expect(one.body.results.guilds[0]).toMatchObject({ guild_id: IDS.g1, roles_added: 1 })
    expect((await w.call('GET', '/sync/runs/00000000-0000-4000-8000-000000000000')).body.code).toBe('FST_DISCORD_NOT_FOUND')
    expect((await w.call('GET', '/sync/runs/not%20an%20id')).status).toBe(400)
    expect((await w.call('GET', '/sync/runs?limit=1000')).status).toBe(400)
  })

  it('GET /sync/audit: admins read any entry; a user reads only their own user_id', async () => {
    await w.call('POST', '/sync/manual', { body: { guild_id: IDS.g1, wait: true } })
    const all = await w.call('GET', `/sync/audit?guild_id=${IDS.g1}`)
    expect(all.body).toMatchObject({ total: 1, page: 1, page_size: 20 })
    expect(all.body.entries[0]).toMatchObject({ guild_id: IDS.g1, discord_user_id: IDS.alice, user_id: HOST.alice, role_id: IDS.pilot, role_name: 'EVE Pilot', action: 'add', outcome: 'applied', error_code: null })
    const alice = { id: HOST.alice, permissions: [] }
    expect((await w.call('GET', `/sync/audit?user_id=${HOST.alice}`, { as: alice })).body.total).toBe(1)
    const other = await w.call('GET', `/sync/audit?user_id=${HOST.bob}`, { as: alice })
    expect(other).toMatchObject({ status: 403, body: { code: 'FST_DISCORD_FORBIDDEN' } })
    expect((await w.call('GET', '/sync/audit', { as: alice })).status).toBe(403)
    expect((await w.call('GET', '/sync/audit?page_size=500')).status).toBe(400)
  })
})

describe('names for the ids (issue 17)', () => {
  const GOLD = '1300000000000000099'

  it('GET /sync/audit names each entry\'s member, guild and role colour in one batched account read, without asking Discord', async () => {
    w.sim.state.addRole(IDS.g1, { id: GOLD, name: 'Gold', position: 8, color: 0xf1c40f })
    await w.mapping({ group_id: 'pilots', discord_role_id: GOLD })
    await w.store.updateUser(IDS.alice, { global_name: 'Alice Liddell', avatar: 'a'.repeat(32) })
    w.sim.state.addMember(IDS.g1, IDS.bob)
    w.membership.set(HOST.bob, ['pilots']) // bob is not linked: no names, ids only
    await w.call('POST', '/sync/manual', { body: { guild_id: IDS.g1, wait: true } })

    // The narrow read (names only), not the full links with their guild lists.
    const reads = vi.spyOn(w.store, 'listAccountNames')
    const full = vi.spyOn(w.store, 'listUsersByDiscordIds')
    const before = w.sim.requests.length
    const page = await w.call('GET', `/sync/audit?guild_id=${IDS.g1}&order=member`)
    expect(page.status).toBe(200)
    expect(w.sim.requests.length).toBe(before)
    expect(reads).toHaveBeenCalledTimes(1)
    expect(full).not.toHaveBeenCalled()
    expect(reads.mock.calls[0]?.[0]).toEqual([IDS.alice])
    const gold = page.body.entries.find((e: any) => e.role_id === GOLD)
    expect(gold).toMatchObject({
      discord_user_id: IDS.alice,
      discord_username: 'u0001',
      discord_global_name: 'Alice Liddell',
      avatar_url: expect.stringMatching(new RegExp(`/avatars/${IDS.alice}/a{32}\\.png`)),
      guild_name: 'Alpha Guild',
      role_name: 'Gold',
      role_color: 0xf1c40f
    })
    expect(page.body.entries.find((e: any) => e.role_id === IDS.pilot)).toMatchObject({ role_color: 0 })

    // The role cache emptied: the colour is unknown (null) rather than fetched from Discord.
    await w.app.discord.sync.engine.roleCache.invalidate(IDS.g1)
    const cold = await w.call('GET', `/sync/audit?guild_id=${IDS.g1}`)
    expect(w.sim.requests.length).toBe(before)
    expect(cold.body.entries.every((e: any) => e.role_color === null && e.guild_name === 'Alpha Guild')).toBe(true)
    reads.mockRestore()
    full.mockRestore()

    // A host store without the narrow reads (they are optional): the same names from the full records.
    const narrow = { listAccountNames: w.store.listAccountNames, listGuildNames: w.store.listGuildNames }
    Object.assign(w.store, { listAccountNames: undefined, listGuildNames: undefined })
    try {
      const again = await w.call('GET', `/sync/audit?guild_id=${IDS.g1}&order=member`)
      expect(again.body.entries.find((e: any) => e.role_id === GOLD)).toMatchObject({ discord_global_name: 'Alice Liddell', guild_name: 'Alpha Guild' })
    } finally {
      Object.assign(w.store, narrow)
    }
  })

  it('GET /sync/runs/{id} names the guilds of its results and the members of its errors', async () => {
    w.sim.state.addMember(IDS.g1, IDS.bob)
    await w.link(HOST.bob, IDS.bob)
    await w.store.updateUser(IDS.bob, { global_name: 'Bob Builder' })
    w.membership.failing.add(HOST.bob)
    const run = await w.call('POST', '/sync/manual', { body: { guild_id: IDS.g1, wait: true } })
    const one = await w.call('GET', `/sync/runs/${run.body.run_id as string}`)
    expect(one.body.results.guilds[0]).toMatchObject({ guild_id: IDS.g1, guild_name: 'Alpha Guild' })
    expect(one.body.results.errors[0]).toMatchObject({ discord_user_id: IDS.bob, discord_username: 'u0002', discord_global_name: 'Bob Builder', avatar_url: null })
  })
})

describe('audit channel, role cache and metrics', () => {
  it('posts a summary to the audit channel after a run with changes, with mentions disabled', async () => {
    await w.call('POST', '/sync/manual', { body: { guild_id: IDS.g1, wait: true } })
    const messages = w.sim.state.channelMessages(IDS.channel)
    expect(messages).toHaveLength(1)
    expect(messages[0]?.content).toMatch(/\*\*Role sync completed\*\* \(run `[0-9a-f-]+`, guild\): 1 role\(s\) added, 0 removed\./)
    // No change, no message.
    await w.call('POST', '/sync/manual', { body: { guild_id: IDS.g1, wait: true } })
    expect(w.sim.state.channelMessages(IDS.channel)).toHaveLength(1)
  })

  it('a refused audit post is logged, never fails the run', async () => {
    w.sim.state.addChannel({ id: '1300000000000000002', guild_id: IDS.g1, name: 'hidden', permission_overwrites: [{ id: IDS.g1, type: 0, allow: '0', deny: String(1n << 10n) }] })
    await w.store.updateGuild(IDS.g1, { settings: { audit_channel_id: '1300000000000000002' } })
    const res = await w.call('POST', '/sync/manual', { body: { guild_id: IDS.g1, wait: true } })
    expect(res.body.run.status).toBe('completed')
    expect(w.discordCalls((r) => r.route === 'POST /channels/:channel_id/messages').map((r) => r.status)).toEqual([403])
  })

  it('guild roles are cached between runs: one GET guild for several runs', async () => {
    for (let i = 0; i < 3; i++) await w.call('POST', '/sync/manual', { body: { guild_id: IDS.g1, wait: true } })
    expect(w.discordCalls((r) => r.route === 'GET /guilds/:guild_id')).toHaveLength(1)
  })

  it('GET /metrics (admin): runs, role changes, Discord requests by route and status, 429s, in Prometheus text', async () => {
    w.sim.setRateLimits({ enabled: true })
    w.sim.forceSharedRateLimit({ route: 'GET /guilds/:guild_id/members', retryAfterSeconds: 0.05 })
    await w.call('POST', '/sync/manual', { body: { guild_id: IDS.g1, wait: true } })
    const res = await w.call('GET', '/metrics')
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/)
    expect(res.text).toContain('discord_sync_runs_total{sync_type="guild",status="completed"} 1')
    expect(res.text).toContain('discord_sync_role_changes_total{action="add",outcome="applied"} 1')
    expect(res.text).toMatch(/discord_sync_discord_requests_total\{method="PUT",route="\/guilds\/:guild_id\/members\/:user_id\/roles\/:role_id",status="204"\} 1/)
    expect(res.text).toContain('discord_sync_discord_rate_limited_total{scope="shared"} 1')
    expect(res.text).toContain('discord_sync_run_duration_seconds_count{sync_type="guild"} 1')
    expect(res.text).toContain('discord_sync_runs_in_progress 0')
    expect(res.text).toContain('# TYPE discord_sync_oauth_total counter')
    expect(res.text).toContain('# TYPE discord_sync_token_refresh_total counter')
    // The read cache: one page built, then answered from it.
    await w.call('GET', '/users')
    await w.call('GET', '/users')
    const after = (await w.call('GET', '/metrics')).text
    expect(after).toContain('discord_sync_read_cache_reads_total{result="miss"} 1')
    expect(after).toContain('discord_sync_read_cache_reads_total{result="hit"} 1')
    expect(after).toContain('discord_sync_read_cache_pages 1')
    expect(after).toMatch(/discord_sync_read_cache_chars [1-9]\d*/)
    expect((await w.call('GET', '/metrics', { as: USER })).status).toBe(403)
    expect((await w.call('GET', '/metrics', { as: null })).status).toBe(401)
  })
})

describe('metrics options', () => {
  it('public access and a host registry; no route when disabled', async () => {
    const { Registry } = await import('prom-client')
    const registry = new Registry()
    const pub = await buildSyncWorld({ plugin: { metrics: { access: 'public', registry, prefix: 'myapp_discord_' } } })
    try {
      const res = await pub.call('GET', '/metrics', { as: null })
      expect(res.status).toBe(200)
      expect(res.text).toContain('myapp_discord_runs_in_progress 0')
      expect(await registry.metrics()).toContain('myapp_discord_runs_total')
    } finally {
      await pub.close()
    }
    const off = await buildSyncWorld({ plugin: { metrics: { enabled: false } } })
    try {
      expect((await off.call('GET', '/metrics')).status).toBe(404)
      expect(off.app.discord.sync.metrics).toBeNull()
    } finally {
      await off.close()
    }
  })
})
