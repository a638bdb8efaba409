import { afterEach, describe, expect, it } from 'vitest'
import { resolveOptions } from '../../src/options/index.js'
import { LinkedRoles } from '../../src/linked-roles/service.js'
import { authorizeAs } from '../helpers/world.js'
import { BOT_TOKEN, buildSyncWorld, HOST, IDS, OAUTH_APP, until, type SyncWorld } from './helpers.js'

/*
 * Linked Roles: the metadata records are registered at start only when Discord holds others, and
 * each linked user's role connection carries their values, pushed on link and again only when the
 * values changed. Checked against the simulator's state and request log.
 */

const worlds: SyncWorld[] = []
afterEach(async () => {
  while (worlds.length > 0) await worlds.pop()?.close()
})

const FIELDS = [
  { key: 'member', name: 'Member', description: 'In at least one group', type: 'boolean_equal' as const, source: 'member' as const },
  { key: 'groups', name: 'Groups', description: 'How many groups', type: 'integer_greater_than_or_equal' as const, source: 'groups' as const },
  { key: 'characters', name: 'Characters', description: 'Characters registered', type: 'integer_greater_than_or_equal' as const, value: (u: { character_count: number }) => u.character_count }
]
const RECORDS = [
  { type: 7, key: 'member', name: 'Member', description: 'In at least one group' },
  { type: 2, key: 'groups', name: 'Groups', description: 'How many groups' },
  { type: 2, key: 'characters', name: 'Characters', description: 'Characters registered' }
]
const METADATA_ROUTE = /^(GET|PUT) \/applications\/:application_id\/role-connections\/metadata$/
const CONNECTION_ROUTE = /^(GET|PUT) \/users\/@me\/applications\/:application_id\/role-connection$/

async function world (): Promise<SyncWorld> {
  const w = await buildSyncWorld({ oauth: true, plugin: { linkedRoles: { botToken: BOT_TOKEN, platformName: 'Alliance', fields: FIELDS } } })
  worlds.push(w)
  return w
}

describe('linked roles', () => {
  it('registers the metadata records at start; a later start that finds them unchanged only reads them', async () => {
    const w = await world()
    expect(w.sim.state.roleConnectionMetadata.get(OAUTH_APP.clientId)).toEqual(RECORDS)
    expect(w.discordCalls((r) => r.route !== null && METADATA_ROUTE.test(r.route)).map((r) => r.method)).toEqual(['GET', 'PUT'])
    const again = new LinkedRoles({
      options: resolveOptions({ encryptionKey: Buffer.alloc(32, 1).toString('base64'), linkedRoles: { botToken: BOT_TOKEN, fields: FIELDS } }).linkedRoles!,
      applicationId: OAUTH_APP.clientId,
      client: w.app.discord.client,
      store: w.store,
      membership: w.membership,
      tokens: { access: async () => null, refresh: async () => null },
      log: w.app.log
    })
    const before = w.sim.requests.length
    expect(await again.register()).toBe('unchanged')
    expect(w.sim.requests.slice(before).map((r) => `${r.method} ${r.status}`)).toEqual(['GET 200'])
  })

  it('a link asks for role_connections.write and pushes the user\'s values; a sync pushes again only when they changed', async () => {
    const w = await world()
    await w.guild(IDS.g1, 'Alpha Guild')
    w.membership.set(HOST.alice, ['pilots'], 3)
    const as = { id: HOST.alice, permissions: [] }
    const started = await w.call('POST', '/auth/link', { as, body: {} })
    expect(new URL(started.body.auth_url).searchParams.get('scope')?.split(' ')).toContain('role_connections.write')
    const { code, state } = await authorizeAs(w.sim, started.body.auth_url, IDS.alice)
    expect((await w.call('POST', '/auth/link', { as, body: { code, state } })).status).toBe(200)
    const key = `${OAUTH_APP.clientId}:${IDS.alice}`
    const pushed = await until(async () => w.sim.state.roleConnections.get(key))
    expect(pushed).toEqual({ platform_name: 'Alliance', platform_username: null, metadata: { member: '1', groups: '1', characters: '3' } })
    const connectionCalls = (): string[] => w.sim.requests.filter((r) => r.route !== null && CONNECTION_ROUTE.test(r.route)).map((r) => r.method)
    // Wait for the sync on link (and the push after it) to settle.
    await until(async () => (await w.store.listSyncRuns({ sync_type: 'user', status: 'completed' }))[0])
    await w.call('POST', `/sync/user/${HOST.alice}`)
    await until(async () => connectionCalls().length >= 2 ? true : null)
    expect(connectionCalls()).toEqual(['GET', 'PUT'])

    w.membership.set(HOST.alice, ['pilots', 'corp'], 3)
    await w.call('POST', `/sync/user/${HOST.alice}`)
    await until(async () => w.sim.state.roleConnections.get(key)?.metadata.groups === '2' ? true : null)
    expect(connectionCalls()).toEqual(['GET', 'PUT', 'PUT'])
  })
})

describe('linked roles pushes', () => {
  it('a token Discord refuses is refreshed once and the push retried; a link without the scope is skipped', async () => {
    const w = await world()
    const scopes = ['identify', 'role_connections.write']
    const t = w.sim.state.issueUserToken({ clientId: OAUTH_APP.clientId, userId: IDS.alice, scopes })
    await w.store.createUser({ user_id: HOST.alice, discord_user_id: IDS.alice, username: 'alice', tokens: { access_token: t.access_token, refresh_token: t.refresh_token ?? null, expires_at: new Date(Date.now() + 3_600_000), scopes } })
    w.sim.state.expireAccessToken(t.access_token)
    w.membership.set(HOST.alice, ['pilots'], 2)
    await w.call('POST', `/sync/user/${HOST.alice}`)
    const key = `${OAUTH_APP.clientId}:${IDS.alice}`
    await until(async () => w.sim.state.roleConnections.get(key))
    expect(w.discordCalls((r) => r.route === 'POST /oauth2/token')).toHaveLength(1)
    expect(w.sim.state.roleConnections.get(key)?.metadata).toEqual({ member: '1', groups: '1', characters: '2' })

    const b = w.sim.state.issueUserToken({ clientId: OAUTH_APP.clientId, userId: IDS.bob, scopes: ['identify'] })
    await w.store.createUser({ user_id: HOST.bob, discord_user_id: IDS.bob, username: 'bob', tokens: { access_token: b.access_token, refresh_token: null, expires_at: null, scopes: ['identify'] } })
    w.membership.set(HOST.bob, ['pilots'])
    const before = w.sim.requests.length
    await w.call('POST', `/sync/user/${HOST.bob}`)
    expect(w.sim.requests.slice(before).filter((r) => r.route !== null && CONNECTION_ROUTE.test(r.route))).toEqual([])
    expect(w.sim.state.roleConnections.has(`${OAUTH_APP.clientId}:${IDS.bob}`)).toBe(false)
  })
})

describe('linked roles values', () => {
  it('are stringified by kind; a value of the wrong kind or over 100 characters is left out', async () => {
    const warnings: unknown[] = []
    const log = { warn: (o: unknown) => warnings.push(o) } as unknown as SyncWorld['app']['log']
    const options = resolveOptions({
      encryptionKey: Buffer.alloc(32, 1).toString('base64'),
      linkedRoles: {
        botToken: BOT_TOKEN,
        fields: [
          { key: 'member', name: 'M', description: 'd', type: 'boolean_not_equal', source: 'member' },
          { key: 'since', name: 'S', description: 'd', type: 'datetime_less_than_or_equal', value: () => new Date('2024-01-02T03:04:05Z') },
          { key: 'joined', name: 'J', description: 'd', type: 'datetime_greater_than_or_equal', value: () => 'not a date' },
          { key: 'score', name: 'C', description: 'd', type: 'integer_equal', value: () => 2.5 },
          { key: 'none', name: 'N', description: 'd', type: 'integer_equal', value: () => null }
        ]
      }
    }).linkedRoles!
    const lr = new LinkedRoles({ options, applicationId: OAUTH_APP.clientId, client: null as never, store: null as never, membership: null, tokens: { access: async () => null, refresh: async () => null }, log })
    const values = await lr.values({ user_id: 'u', groups: [], character_count: 0, permissions: [] })
    expect(values).toEqual({ member: '0', since: '2024-01-02T03:04:05.000Z' })
    expect(warnings).toHaveLength(2)
  })
})

describe('the linkedRoles option', () => {
  const base = { encryptionKey: Buffer.alloc(32, 1).toString('base64') }
  const field = { key: 'member', name: 'Member', description: 'd', type: 'boolean_equal', source: 'member' }
  it.each([
    [{ fields: [{ ...field, key: 'Bad-Key' }] }, /linkedRoles\.fields\.0\.key|linkedRoles\.fields/],
    [{ fields: [field, field] }, /used twice/],
    [{ fields: [{ ...field, type: 'integer_equal' }] }, /"member" is a boolean, but type "integer_equal" compares an integer/],
    [{ fields: [{ ...field, source: undefined }] }, /exactly one of `source` and `value`/],
    [{ fields: Array.from({ length: 6 }, (_, i) => ({ ...field, key: `k${i}` })) }, /linkedRoles\.fields/],
    [{ fields: [{ ...field, name: 'n'.repeat(101) }] }, /linkedRoles\.fields/]
  ])('refuses %j', (linkedRoles, message) => {
    expect(() => resolveOptions({ ...base, linkedRoles: { botToken: BOT_TOKEN, ...linkedRoles } })).toThrow(message)
  })
})
