import { afterEach, describe, expect, it } from 'vitest'
import { PushQueue } from '../../src/linked-roles/push-queue.js'
import { BOT2_TOKEN, buildSyncWorld, HOST, IDS, OAUTH_APP, until, type SyncWorld } from './helpers.js'

/*
 * Linked Roles beyond the user's own syncs: a guild sync pushes the values of the linked members
 * it resolved, only those that changed; an unlink deletes the user's role connection with their
 * token before the token is revoked; pushes and deletions are counted in the metrics; without
 * `linkedRoles.botToken` the metadata is registered with the stored token of a configured guild
 * whose bot belongs to the application. Checked against the simulator's state and request log.
 */

const worlds: SyncWorld[] = []
afterEach(async () => {
  for (const w of worlds.splice(0)) {
    expect(w.sim.internalErrors).toEqual([])
    await w.close()
  }
})

const FIELDS = [
  { key: 'member', name: 'Member', description: 'In at least one group', type: 'boolean_equal' as const, source: 'member' as const },
  { key: 'groups', name: 'Groups', description: 'How many groups', type: 'integer_greater_than_or_equal' as const, source: 'groups' as const }
]
const CONNECTION_ROUTE = /^(GET|PUT|DELETE) \/users\/@me\/applications\/:application_id\/role-connection$/
const METADATA_ROUTE = /^(GET|PUT) \/applications\/:application_id\/role-connections\/metadata$/
const SCOPES = ['identify', 'role_connections.write']

async function world (linkedRoles: Record<string, unknown> = {}): Promise<SyncWorld> {
  const w = await buildSyncWorld({ oauth: true, plugin: { linkedRoles: { platformName: 'Alliance', fields: FIELDS, ...linkedRoles } as never } })
  worlds.push(w)
  return w
}

/** Links a member of guild 1 with a token that may write its role connection. */
async function linkMember (w: SyncWorld, hostId: string, discordId: string, groups: string[]): Promise<void> {
  const t = w.sim.state.issueUserToken({ clientId: OAUTH_APP.clientId, userId: discordId, scopes: SCOPES })
  w.sim.state.addMember(IDS.g1, discordId)
  await w.store.createUser({
    user_id: hostId,
    discord_user_id: discordId,
    username: `u${discordId.slice(-4)}`,
    guilds: [{ id: IDS.g1, name: 'Alpha Guild', permissions: '0' }],
    tokens: { access_token: t.access_token, refresh_token: t.refresh_token ?? null, expires_at: new Date(Date.now() + 3_600_000), scopes: SCOPES }
  })
  w.membership.set(hostId, groups)
}

const key = (discordId: string): string => `${OAUTH_APP.clientId}:${discordId}`
/** Role-connection calls (any user's token), as "METHOD status". */
function connectionCalls (w: SyncWorld): string[] {
  return w.sim.requests.filter((r) => r.route !== null && CONNECTION_ROUTE.test(r.route)).map((r) => `${r.method} ${r.status}`)
}

async function guildSync (w: SyncWorld, extra: Record<string, unknown> = {}): Promise<any> {
  const res = await w.call('POST', '/sync/manual', { body: { guild_id: IDS.g1, wait: true, ...extra } })
  expect(res.status).toBe(200)
  return res.body
}

describe('linked roles after guild syncs', () => {
  it('a guild sync pushes the linked members\' values; a later one pushes only those that changed; a dry run pushes nothing', async () => {
    const w = await world()
    await w.guild(IDS.g1, 'Alpha Guild')
    await w.mapping({ group_id: 'pilots', discord_role_id: IDS.pilot })
    await linkMember(w, HOST.alice, IDS.alice, ['pilots'])
    await linkMember(w, HOST.bob, IDS.bob, ['pilots', 'corp'])

    await guildSync(w)
    await until(async () => w.sim.state.roleConnections.get(key(IDS.alice)) !== undefined && w.sim.state.roleConnections.get(key(IDS.bob)) !== undefined ? true : null)
    expect(w.sim.state.roleConnections.get(key(IDS.alice))?.metadata).toEqual({ member: '1', groups: '1' })
    expect(w.sim.state.roleConnections.get(key(IDS.bob))).toEqual({ platform_name: 'Alliance', platform_username: null, metadata: { member: '1', groups: '2' } })
    // Not seen since start: each compared with what Discord holds, then written.
    expect(connectionCalls(w).sort()).toEqual(['GET 200', 'GET 200', 'PUT 200', 'PUT 200'])

    // A dry run plans Bob's change but pushes nothing.
    w.membership.set(HOST.bob, ['pilots'])
    await guildSync(w, { dry_run: true })
    // Back to what Discord holds for Bob; Alice's groups change: the real run pushes hers only.
    w.membership.set(HOST.bob, ['pilots', 'corp'])
    w.membership.set(HOST.alice, ['pilots', 'corp', 'admins'])
    await guildSync(w)
    await until(async () => w.sim.state.roleConnections.get(key(IDS.alice))?.metadata.groups === '3' ? true : null)
    expect(connectionCalls(w)).toEqual([...connectionCalls(w).slice(0, 4), 'PUT 200'])
    expect(w.sim.state.roleConnections.get(key(IDS.bob))?.metadata).toEqual({ member: '1', groups: '2' })

    const metrics = await w.call('GET', '/metrics')
    expect(metrics.text).toContain('discord_sync_role_connection_pushes_total{operation="update",outcome="updated"} 3')
    expect(metrics.text).toMatch(/discord_sync_role_connection_pushes_total\{operation="update",outcome="unchanged"\} [1-9]/)
  })

  it('a link without the scope is left out of a guild sync\'s pushes', async () => {
    const w = await world()
    await w.guild(IDS.g1, 'Alpha Guild')
    await w.mapping({ group_id: 'pilots', discord_role_id: IDS.pilot })
    await linkMember(w, HOST.alice, IDS.alice, ['pilots'])
    w.sim.state.addMember(IDS.g1, IDS.carol)
    await w.link(HOST.carol, IDS.carol)
    w.membership.set(HOST.carol, ['pilots'])
    await guildSync(w)
    await until(async () => w.sim.state.roleConnections.get(key(IDS.alice)))
    // Alice's two calls only: Carol's link holds no grant with role_connections.write.
    expect(connectionCalls(w)).toEqual(['GET 200', 'PUT 200'])
    expect(w.sim.state.roleConnections.has(key(IDS.carol))).toBe(false)
  })
})

describe('linked roles on unlink', () => {
  it('the user\'s role connection is deleted with their token before the token is revoked', async () => {
    const w = await world()
    await w.guild(IDS.g1, 'Alpha Guild')
    await w.mapping({ group_id: 'pilots', discord_role_id: IDS.pilot })
    await linkMember(w, HOST.alice, IDS.alice, ['pilots'])
    await guildSync(w)
    await until(async () => w.sim.state.roleConnections.get(key(IDS.alice)))

    const res = await w.call('DELETE', `/auth/unlink/${IDS.alice}`)
    expect(res.status).toBe(200)
    expect(res.body.token_revocation).toBe('revoked')
    expect(w.sim.state.roleConnections.has(key(IDS.alice))).toBe(false)
    const order = w.sim.requests.map((r) => r.route).filter((r) => r === 'DELETE /users/@me/applications/:application_id/role-connection' || r === 'POST /oauth2/token/revoke')
    expect(order).toEqual(['DELETE /users/@me/applications/:application_id/role-connection', 'POST /oauth2/token/revoke'])
    const metrics = await w.call('GET', '/metrics')
    expect(metrics.text).toContain('discord_sync_role_connection_pushes_total{operation="delete",outcome="deleted"} 1')
  })
})

describe('linkedRoles.botToken left out', () => {
  it('registers with the stored token of the guild whose bot belongs to the application, once such a guild is configured', async () => {
    const w = await world()
    // Nothing configured at start: nothing to register with.
    expect(w.sim.state.roleConnectionMetadata.get(OAUTH_APP.clientId)).toBeUndefined()
    // Another application's bot first (refused), then the application's own.
    await w.guild(IDS.g2, 'Beta Guild', {}, BOT2_TOKEN)
    await w.guild(IDS.g1, 'Alpha Guild')
    await w.mapping({ group_id: 'pilots', discord_role_id: IDS.pilot })
    await linkMember(w, HOST.alice, IDS.alice, ['pilots'])
    await guildSync(w)
    await until(async () => w.sim.state.roleConnections.get(key(IDS.alice)))
    expect(w.sim.state.roleConnectionMetadata.get(OAUTH_APP.clientId)?.map((r) => r.key)).toEqual(['member', 'groups'])
    const metadataCalls = w.sim.requests.filter((r) => r.route !== null && METADATA_ROUTE.test(r.route))
    // The other application's bot is asked at most once (it is remembered as not this application's).
    expect(metadataCalls.filter((r) => r.status === 403).length).toBeLessThanOrEqual(1)
    expect(metadataCalls.filter((r) => r.method === 'PUT').map((r) => r.status)).toEqual([200])
  })

  it('pushes nothing while no configured guild\'s bot belongs to the application', async () => {
    const w = await world()
    w.sim.state.addMember(IDS.g2, IDS.alice)
    await w.guild(IDS.g2, 'Beta Guild', {}, BOT2_TOKEN)
    await w.mapping({ guild_id: IDS.g2, group_id: 'pilots', discord_role_id: IDS.pilot2 })
    const t = w.sim.state.issueUserToken({ clientId: OAUTH_APP.clientId, userId: IDS.alice, scopes: SCOPES })
    await w.store.createUser({ user_id: HOST.alice, discord_user_id: IDS.alice, username: 'alice', tokens: { access_token: t.access_token, refresh_token: null, expires_at: null, scopes: SCOPES } })
    w.membership.set(HOST.alice, ['pilots'])
    await w.call('POST', `/sync/user/${HOST.alice}`)
    await until(async () => {
      const m = await w.call('GET', '/metrics')
      return /role_connection_pushes_total\{operation="update",outcome="not_registered"\} [1-9]/.test(m.text) ? true : null
    })
    expect(w.sim.requests.filter((r) => r.route !== null && CONNECTION_ROUTE.test(r.route))).toEqual([])
    // The other application's bot was asked once, refused, and not asked again.
    expect(w.sim.requests.filter((r) => r.route !== null && METADATA_ROUTE.test(r.route)).map((r) => `${r.method} ${r.status}`)).toEqual(['GET 403'])
    expect(w.sim.state.roleConnectionMetadata.get(OAUTH_APP.clientId)).toBeUndefined()
  })
})

describe('the push queue', () => {
  it('runs at most `concurrency` pushes at once, never two for one key, and keeps only the newest value of a waiting key', async () => {
    const started: Array<{ key: string, value: number, done: () => void }> = []
    let running = 0
    let most = 0
    const q = new PushQueue<number>(2, async (key, value) => {
      running++
      most = Math.max(most, running)
      await new Promise<void>((resolve) => started.push({ key, value, done: resolve }))
      running--
    })
    q.add('a', 1)
    q.add('b', 1)
    q.add('c', 1)
    q.add('a', 2)
    q.add('c', 2)
    expect(started.map((s) => `${s.key}${s.value}`)).toEqual(['a1', 'b1'])
    // Finish a1: a's newer value waits behind c (a came back while in flight), one job at a time per key.
    started[0]?.done()
    await until(async () => started.length === 3 ? true : null)
    expect(started[2]).toMatchObject({ key: 'c', value: 2 })
    started[1]?.done()
    await until(async () => started.length === 4 ? true : null)
    expect(started[3]).toMatchObject({ key: 'a', value: 2 })
    started[2]?.done()
    started[3]?.done()
    await q.drained()
    expect(most).toBe(2)
    expect(started.map((s) => `${s.key}${s.value}`)).toEqual(['a1', 'b1', 'c2', 'a2'])
  })
})
