import { afterEach, describe, expect, it } from 'vitest'
import { authorizeAs } from '../helpers/world.js'
import { BOT_TOKEN, buildSyncWorld, HOST, IDS, isWrite, OAUTH_APP, until, type SyncWorld } from './helpers.js'

/*
 * POST /sync/user/{user_id}: the seed's "Sync User Roles" response, compared field by field
 * with the seed's example; who may call it; sync on link; unlink removes managed roles in
 * every configured guild.
 */

/** The seed's example response (docs: "Sync User Roles"), verbatim. */
const SEED_EXAMPLE = {
  user_id: 'user-id-123',
  discord_user_id: '123456789012345678',
  sync_results: [
    {
      guild_id: '123456789012345678',
      guild_name: 'My Discord Server',
      roles_added: ['EVE Pilot', 'Corporation Member'],
      roles_removed: ['Inactive'],
      total_roles: 5,
      errors: []
    }
  ],
  total_guilds: 1,
  successful_guilds: 1,
  failed_guilds: 0,
  synced_at: '2024-01-15T10:30:00Z'
}

/** Same keys at every level, same JSON types; arrays compared element-wise against the first seed element. */
function expectSameShape (actual: unknown, seed: unknown, path = '$'): void {
  if (Array.isArray(seed)) {
    expect(Array.isArray(actual), `${path} is an array`).toBe(true)
    for (const [i, item] of (actual as unknown[]).entries()) if (seed.length > 0) expectSameShape(item, seed[0], `${path}[${i}]`)
    return
  }
  if (seed !== null && typeof seed === 'object') {
    expect(actual !== null && typeof actual === 'object' && !Array.isArray(actual), `${path} is an object`).toBe(true)
    expect(Object.keys(actual as object).sort(), `${path} keys`).toEqual(Object.keys(seed).sort())
    for (const [k, v] of Object.entries(seed)) expectSameShape((actual as Record<string, unknown>)[k], v, `${path}.${k}`)
    return
  }
  expect(typeof actual, `${path} type`).toBe(typeof seed)
}

const worlds: SyncWorld[] = []
afterEach(async () => {
  for (const w of worlds.splice(0)) {
    expect(w.sim.internalErrors).toEqual([])
    await w.close()
  }
})

async function world (opts: Parameters<typeof buildSyncWorld>[0] = {}): Promise<SyncWorld> {
  const w = await buildSyncWorld(opts)
  worlds.push(w)
  await w.store.createGuild({ guild_id: IDS.g1, guild_name: 'My Discord Server', bot_token: BOT_TOKEN, bot_user_id: IDS.bot })
  await w.mapping({ group_id: 'pilots', discord_role_id: IDS.pilot, priority: 1 })
  await w.mapping({ group_id: 'corp', discord_role_id: IDS.corp, priority: 2 })
  await w.mapping({ group_id: 'inactive', discord_role_id: IDS.inactive, priority: 3, conditions: { excluded_groups: ['corp'] } })
  // Alice: Inactive (to lose), plus three roles the sync does not manage.
  w.sim.state.addMember(IDS.g1, IDS.alice, [IDS.inactive, IDS.hand, IDS.booster, IDS.officer])
  await w.link(HOST.alice, IDS.alice)
  w.membership.set(HOST.alice, ['pilots', 'corp', 'inactive'])
  return w
}

describe('POST /sync/user/{user_id}', () => {
  it('answers the seed\'s example shape, field by field, with role names, plus the nickname and kick counts', async () => {
    const w = await world()
    // Configured and enabled, but Alice is not in it: not part of the answer.
    await w.guild(IDS.g2, 'Beta Guild')
    await w.mapping({ guild_id: IDS.g2, group_id: 'pilots', discord_role_id: IDS.pilot2 })
    const before = Date.now()
    const res = await w.call('POST', `/sync/user/${HOST.alice}`)
    expect(res.status).toBe(200)
    // The seed's fields, plus the counts of nicknames and kicks (per guild and in total) the audit records.
    const counts = { nickname_changes: 0, kicks: 0 }
    const seed = { ...SEED_EXAMPLE, ...counts, sync_results: [{ ...SEED_EXAMPLE.sync_results[0], ...counts }] }
    expectSameShape(res.body, seed)
    expect(res.body).toEqual({
      ...seed,
      user_id: HOST.alice,
      discord_user_id: IDS.alice,
      sync_results: [{ ...seed.sync_results[0], guild_id: IDS.g1 }],
      synced_at: res.body.synced_at
    })
    expect(Date.parse(res.body.synced_at)).toBeGreaterThanOrEqual(before - 1000)
    expect(w.roles(IDS.g1, IDS.alice)).toEqual([IDS.pilot, IDS.corp, IDS.hand, IDS.booster, IDS.officer].sort())
    // One PATCH for the three changes; guild 2 cost a single member read (404 10007).
    expect(w.discordCalls(isWrite)).toHaveLength(1)
    expect(w.discordCalls((r) => r.route === 'GET /guilds/:guild_id/members/:user_id' && r.status === 404)).toHaveLength(1)
    // Recorded as a user run, and the link's last_sync is set.
    const [run] = await w.store.listSyncRuns({ sync_type: 'user' })
    expect(run).toMatchObject({ target_id: HOST.alice, status: 'completed', initiated_by: 'admin-1' })
    expect((await w.store.getUserByDiscordId(IDS.alice))?.last_sync).toBeInstanceOf(Date)
  })

  it('a second call is idempotent: nothing added or removed, no write', async () => {
    const w = await world()
    await w.call('POST', `/sync/user/${HOST.alice}`)
    w.sim.clearRequests()
    const res = await w.call('POST', `/sync/user/${HOST.alice}`)
    expect(res.body.sync_results[0]).toMatchObject({ roles_added: [], roles_removed: [], total_roles: 5, errors: [] })
    expect(w.discordCalls(isWrite)).toEqual([])
  })

  it('reports roles the bot cannot grant as errors and counts the guild as failed', async () => {
    const w = await world()
    await w.mapping({ group_id: 'pilots', discord_role_id: IDS.admins, priority: 9 })
    const res = await w.call('POST', `/sync/user/${HOST.alice}`)
    expect(res.status).toBe(200)
    expect(res.body.sync_results[0].errors).toEqual(['cannot add role "Admins": it is not below the bot\'s highest role'])
    expect(res.body).toMatchObject({ total_guilds: 1, successful_guilds: 0, failed_guilds: 1 })
    expect(res.body.sync_results[0].roles_added).toEqual(['EVE Pilot', 'Corporation Member'])
  })

  it('the user themself may sync; another user gets 403, an anonymous caller 401, an unlinked user 404', async () => {
    const w = await world()
    expect((await w.call('POST', `/sync/user/${HOST.alice}`, { as: { id: HOST.alice, permissions: [] } })).status).toBe(200)
    const other = await w.call('POST', `/sync/user/${HOST.alice}`, { as: { id: HOST.bob, permissions: [] } })
    expect(other.status).toBe(403)
    expect(other.body.code).toBe('FST_DISCORD_FORBIDDEN')
    const anonymous = await w.call('POST', `/sync/user/${HOST.alice}`, { as: null })
    expect(anonymous.status).toBe(401)
    expect(anonymous.body.code).toBe('FST_DISCORD_AUTH_REQUIRED')
    const unlinked = await w.call('POST', '/sync/user/nobody-here')
    expect(unlinked.status).toBe(404)
    expect(unlinked.body).toMatchObject({ code: 'FST_DISCORD_USER_NOT_LINKED', message: 'User nobody-here has no linked Discord account' })
    // A non-admin asking about an unknown user learns nothing (403 before the lookup).
    expect((await w.call('POST', '/sync/user/nobody-here', { as: { id: HOST.bob, permissions: [] } })).status).toBe(403)
  })

  it('503 FST_DISCORD_SYNC_NOT_CONFIGURED without a membership provider', async () => {
    const w = await world({ noMembership: true })
    const res = await w.call('POST', `/sync/user/${HOST.alice}`)
    expect(res.status).toBe(503)
    expect(res.body.code).toBe('FST_DISCORD_SYNC_NOT_CONFIGURED')
    expect(res.body.message).toBe('Role sync is not configured: no membership provider. Set the plugin option `membership` to an object whose ' +
      "`getMembership(userId)` returns the host user's groups ({ groups, character_count, permissions }, or null); until then no role is written")
    expect(w.discordCalls()).toEqual([])
  })
})

describe('sync on link and removal on unlink', () => {
  it('linking an account syncs its roles at once; unlinking removes managed roles in every configured guild', async () => {
    const v = await buildSyncWorld({ oauth: true })
    worlds.push(v)
    await v.guild(IDS.g1, 'Alpha Guild')
    await v.guild(IDS.g2, 'Beta Guild')
    await v.mapping({ group_id: 'pilots', discord_role_id: IDS.pilot })
    await v.mapping({ guild_id: IDS.g2, group_id: 'pilots', discord_role_id: IDS.pilot2 })
    v.sim.state.addMember(IDS.g1, IDS.alice, [IDS.hand])
    v.sim.state.addMember(IDS.g2, IDS.alice)
    v.membership.set(HOST.alice, ['pilots'])

    const started = await v.call('POST', '/auth/link', { as: { id: HOST.alice, permissions: [] }, body: {} })
    expect(started.status).toBe(200)
    const { code, state } = await authorizeAs(v.sim, started.body.auth_url, IDS.alice)
    const linked = await v.call('POST', '/auth/link', { as: { id: HOST.alice, permissions: [] }, body: { code, state } })
    expect(linked.status).toBe(200)
    const link = await until(async () => (await v.store.listSyncRuns({ sync_type: 'user', status: 'completed' }))[0])
    expect(link).toMatchObject({ target_id: HOST.alice, initiated_by: `link:${HOST.alice}` })
    expect(v.roles(IDS.g1, IDS.alice)).toEqual([IDS.pilot, IDS.hand].sort())
    expect(v.roles(IDS.g2, IDS.alice)).toEqual([IDS.pilot2])

    const metrics = await v.call('GET', '/metrics')
    expect(metrics.text).toContain('discord_sync_oauth_total{flow="link",outcome="success"} 1')

    const unlinked = await v.call('DELETE', `/auth/unlink/${IDS.alice}`, { as: { id: HOST.alice, permissions: [] } })
    expect(unlinked.status).toBe(200)
    await until(async () => {
      const runs = await v.store.listSyncRuns({ sync_type: 'user', target_id: IDS.alice })
      return runs.length > 0 && runs.every((r) => r.status === 'completed') ? runs : null
    })
    // Managed roles gone in both guilds; the hand-picked role stays.
    expect(v.roles(IDS.g1, IDS.alice)).toEqual([IDS.hand])
    expect(v.roles(IDS.g2, IDS.alice)).toEqual([])
  })

  it('without a membership provider an unlink writes no role: the removal stays queued until one is configured', async () => {
    const v = await buildSyncWorld({ oauth: true, noMembership: true })
    worlds.push(v)
    await v.guild(IDS.g1, 'Alpha Guild')
    await v.mapping({ group_id: 'pilots', discord_role_id: IDS.pilot })
    v.sim.state.addMember(IDS.g1, IDS.dave, [IDS.pilot])
    await v.link('user-dave', IDS.dave)
    const res = await v.call('DELETE', `/auth/unlink/${IDS.dave}`)
    expect(res.status).toBe(200)
    expect(res.body.role_removal.queued).toBe(true)
    // What the unlink (and every scheduler tick) would do with the queued removal, awaited here:
    // without a provider neither claims it.
    const engine = v.app.discord.sync.engine
    expect(await engine.runUnlinkRemoval(res.body.role_removal.sync_run_id)).toBeNull()
    expect(await engine.processPending()).toBe(0)
    expect((await v.store.getSyncRun(res.body.role_removal.sync_run_id))?.status).toBe('pending')
    expect(v.roles(IDS.g1, IDS.dave)).toEqual([IDS.pilot])
    expect(v.discordCalls((r) => r.majorId === IDS.g1)).toEqual([])
    await expect(v.app.discord.sync.removeManagedRoles(IDS.dave, 'host')).rejects.toMatchObject({ code: 'FST_DISCORD_SYNC_NOT_CONFIGURED' })
  })

  it('OAuth failures and token refreshes are counted in the metrics', async () => {
    const v = await buildSyncWorld({ oauth: true, plugin: { tokenRefresh: { enabled: true } } })
    worlds.push(v)
    // A forged state: the callback fails with a stable code, counted by outcome.
    const bad = await v.call('GET', `/auth/callback?code=abc&state=${'A'.repeat(43)}`, { as: null })
    expect(bad.body.code).toBe('FST_DISCORD_OAUTH_STATE_UNKNOWN')
    // A link whose access token expires soon: the refresh task renews it.
    const tokens = v.sim.state.issueUserToken({ clientId: OAUTH_APP.clientId, userId: IDS.carol, scopes: ['identify'] })
    await v.store.createUser({
      user_id: HOST.carol,
      discord_user_id: IDS.carol,
      username: 'carol',
      tokens: { access_token: tokens.access_token, refresh_token: tokens.refresh_token ?? null, expires_at: new Date(Date.now() + 60_000), scopes: ['identify'] }
    })
    const run = await v.app.discord.tokenRefresh?.run()
    expect(run?.refreshed).toBe(1)
    const metrics = await v.call('GET', '/metrics')
    expect(metrics.text).toContain('discord_sync_oauth_total{flow="callback",outcome="FST_DISCORD_OAUTH_STATE_UNKNOWN"} 1')
    expect(metrics.text).toContain('discord_sync_token_refresh_total{outcome="refreshed"} 1')
    for (const t of [tokens.access_token, tokens.refresh_token]) expect(metrics.text).not.toContain(t)
  })

  it('removeManagedRoles: every enabled guild with remove_roles_on_leave, and none where it is off', async () => {
    const w = await buildSyncWorld()
    worlds.push(w)
    await w.guild(IDS.g1, 'Alpha Guild')
    await w.guild(IDS.g2, 'Beta Guild', { remove_roles_on_leave: false })
    await w.mapping({ group_id: 'pilots', discord_role_id: IDS.pilot })
    await w.mapping({ guild_id: IDS.g2, group_id: 'pilots', discord_role_id: IDS.pilot2 })
    w.sim.state.addMember(IDS.g1, IDS.dave, [IDS.pilot, IDS.hand])
    w.sim.state.addMember(IDS.g2, IDS.dave, [IDS.pilot2])
    const started = await w.app.discord.sync.removeManagedRoles(IDS.dave, 'host:cleanup')
    const done = await started.done
    expect(done).toMatchObject({ sync_type: 'user', target_id: IDS.dave, status: 'completed', initiated_by: 'host:cleanup' })
    expect(w.roles(IDS.g1, IDS.dave)).toEqual([IDS.hand])
    expect(w.roles(IDS.g2, IDS.dave)).toEqual([IDS.pilot2])
    // Guild 2 was not even asked.
    expect(w.discordCalls((r) => r.majorId === IDS.g2)).toEqual([])
  })
})
