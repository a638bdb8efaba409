import { beforeEach, describe, expect, it } from 'vitest'
import type { DiscordSimulator } from '../../src/testing/index.js'
import { botFetch, IDS, json, OAUTH, OTHER_BOT_TOKEN, seededSimulators } from './seed.js'

/*
 * The simulator's Linked Roles routes: the application's metadata records (its own bot only, at
 * most 5, Discord's field limits) and a user's role connection (their token for that application
 * with role_connections.write; only registered keys, values 1-100 characters).
 */

const start = seededSimulators()
let sim: DiscordSimulator
const METADATA = `/applications/${IDS.app}/role-connections/metadata`
const CONNECTION = `/users/@me/applications/${IDS.app}/role-connection`
const record = { type: 7, key: 'member', name: 'Member', description: 'In a group' }

beforeEach(async () => {
  sim = await start({ rateLimits: { enabled: false } })
})

async function asUser (method: string, scopes: string[], body?: unknown): Promise<Response> {
  const { access_token: t } = sim.state.issueUserToken({ clientId: OAUTH.clientId, userId: IDS.alice, scopes })
  return fetch(`${sim.apiBaseUrl}${CONNECTION}`, {
    method,
    headers: { authorization: `Bearer ${t}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) })
  })
}

describe('role connection metadata', () => {
  it('is replaced and read back by the application\'s bot; another bot gets 50001; limits answer 50035', async () => {
    expect(await json(botFetch(sim, 'GET', METADATA))).toEqual([])
    const put = await botFetch(sim, 'PUT', METADATA, [record])
    expect(put.status).toBe(200)
    expect(await json(put)).toEqual([record])
    expect(await json(botFetch(sim, 'GET', METADATA))).toEqual([record])
    const other = await botFetch(sim, 'GET', METADATA, undefined, {}, OTHER_BOT_TOKEN)
    expect([other.status, (await json(other)).code]).toEqual([403, 50001])
    for (const bad of [[{ ...record, key: 'Bad Key' }], [{ ...record, type: 9 }], [{ ...record, name: '' }], Array(6).fill(record)]) {
      const res = await botFetch(sim, 'PUT', METADATA, bad)
      expect([res.status, (await json(res)).code]).toEqual([400, 50035])
    }
  })
})

describe('a user\'s role connection', () => {
  it('needs role_connections.write, takes only registered keys, and reads back what was put', async () => {
    sim.state.roleConnectionMetadata.set(IDS.app, [record])
    const noScope = await asUser('PUT', ['identify'], { metadata: { member: '1' } })
    expect([noScope.status, (await json(noScope)).code]).toEqual([403, 50001])
    const unknownKey = await asUser('PUT', ['role_connections.write'], { metadata: { other: '1' } })
    expect([unknownKey.status, (await json(unknownKey)).code]).toEqual([400, 50035])
    const tooLong = await asUser('PUT', ['role_connections.write'], { metadata: { member: 'x'.repeat(101) } })
    expect(tooLong.status).toBe(400)
    expect(await json(asUser('GET', ['role_connections.write']))).toEqual({ platform_name: null, platform_username: null, metadata: {} })
    const put = await asUser('PUT', ['role_connections.write'], { platform_name: 'Alliance', metadata: { member: '1' } })
    expect(await json(put)).toEqual({ platform_name: 'Alliance', platform_username: null, metadata: { member: '1' } })
    expect(await json(asUser('GET', ['role_connections.write']))).toEqual({ platform_name: 'Alliance', platform_username: null, metadata: { member: '1' } })
  })
})
