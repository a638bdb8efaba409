import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createDiscordSimulator, PermissionFlags, type DiscordSimulator } from '../../src/testing/index.js'
import { existsSync, readFileSync } from 'node:fs'
import { compileLocal, expectMatchesSpec, expectValid, responseSpec, SHARED_SPEC, spec, specText, validateDocsErrorTree, validatorAt } from './openapi.js'
import { BOT_TOKEN, botFetch, IDS, OAUTH, seedWorld } from './seed.js'

/*
 * Fidelity check (a): every simulator response for the operations the product uses, success
 * and error alike, validates against Discord's OpenAPI description. The OAuth2 token endpoints
 * are not in openapi.json; their responses are checked against schemas transcribed from
 * docs/oauth2.mdx ("Access Token Response") and RFC 6749 5.2 (error shape), which the docs cite.
 */

let sim: DiscordSimulator

beforeAll(async () => {
  sim = await createDiscordSimulator({ rateLimits: { enabled: false } })
  seedWorld(sim)
  sim.state.seedMembers(IDS.guild, 1200, [IDS.roleA])
  sim.state.getGuild(IDS.guild)!.presenceCount = 10
})

afterAll(async () => {
  expect(sim.internalErrors).toEqual([])
  await sim.close()
})

// The suite validates against the repository's copy; where ../shared is present (CI, this machine)
// the copy must be byte-identical to it, so a refreshed reference cannot be silently ignored.
describe('the vendored OpenAPI description', () => {
  it.runIf(existsSync(SHARED_SPEC))('is the same document as ../shared/discord/openapi.json', () => {
    expect(specText === readFileSync(SHARED_SPEC, 'utf8')).toBe(true)
  })
})

const G = '/guilds/{guild_id}'
const MEMBERS = '/guilds/{guild_id}/members'
const MEMBER = '/guilds/{guild_id}/members/{user_id}'
const MEMBER_ROLE = '/guilds/{guild_id}/members/{user_id}/roles/{role_id}'
const MESSAGES = '/channels/{channel_id}/messages'

async function bot (method: string, path: string, body?: unknown): Promise<Response> {
  return botFetch(sim, method, path, body)
}

async function bearer (path: string, scopes: string[]): Promise<Response> {
  const { access_token: t } = sim.state.issueUserToken({ clientId: OAUTH.clientId, userId: IDS.alice, scopes })
  return fetch(`${sim.apiBaseUrl}${path}`, { headers: { authorization: `Bearer ${t}` } })
}

describe('the spec is loaded whole, with its own $refs', () => {
  it('has the operations the product uses', () => {
    const paths = spec.paths as Record<string, Record<string, unknown>>
    for (const [p, m] of [[G, 'get'], ['/guilds/{guild_id}/roles', 'get'], ['/guilds/{guild_id}/channels', 'get'], [MEMBERS, 'get'], [MEMBER, 'get'], [MEMBER, 'patch'], [MEMBER_ROLE, 'put'], [MEMBER_ROLE, 'delete'], [MESSAGES, 'post'], ['/users/@me', 'get'], ['/users/@me/guilds', 'get'], ['/users/@me/guilds/{guild_id}/member', 'get'], ['/oauth2/@me', 'get']] as const) {
      expect(paths[p]?.[m], `${m} ${p}`).toBeDefined()
    }
    expect(responseSpec(MEMBER_ROLE, 'put', 204).hasJsonBody).toBe(false)
    expect(responseSpec(G, 'get', 404).pointer).toBe('#/components/responses/ClientErrorResponse/content/application~1json/schema')
  })

  it('rejects what it should (the checks are not vacuous)', () => {
    const member = sim.state.getMember(IDS.guild, IDS.alice)!
    const validate = validatorAt('#/components/schemas/GuildMemberResponse')
    expect(validate(member)).toBe(true)
    const { joined_at: _dropped, ...withoutJoinedAt } = member
    expect(validate(withoutJoinedAt)).toBe(false)
    expect(validate({ ...member, roles: [123] })).toBe(false)
    expect(validatorAt('#/components/schemas/RatelimitedResponse')({ message: 'You are being rate limited.', retry_after: '1', global: false, code: 0 })).toBe(false)
  })

  it('documents the one spec/docs disagreement the checks work around: string codes inside `_errors`', () => {
    // docs/reference.mdx "Object Error" example, verbatim in structure.
    const docsExample = { code: 50035, errors: { access_token: { _errors: [{ code: 'BASE_TYPE_REQUIRED', message: 'This field is required' }] } }, message: 'Invalid Form Body' }
    expect(validatorAt('#/components/schemas/ErrorResponse')(docsExample)).toBe(false)
    expect(validateDocsErrorTree(docsExample.errors)).toBe(true)
    const { errors: _ignored, ...rest } = docsExample
    expect(validatorAt('#/components/schemas/ErrorResponse')(rest)).toBe(true)
  })
})

describe('guild routes', () => {
  it('GET guild, with and without counts', async () => {
    const plain = await expectMatchesSpec(await bot('GET', `/guilds/${IDS.guild}`), G, 'GET') as Record<string, unknown>
    expect(plain).not.toHaveProperty('approximate_member_count')
    const counted = await expectMatchesSpec(await bot('GET', `/guilds/${IDS.guild}?with_counts=true`), G, 'GET') as Record<string, unknown>
    expect(counted.approximate_member_count).toBe(1204)
  })

  it('GET guild errors: 401, 403 50001, 404 10004, 400 50035', async () => {
    const unauth = await fetch(`${sim.apiBaseUrl}/guilds/${IDS.guild}`)
    expect(unauth.status).toBe(401)
    await expectMatchesSpec(unauth, G, 'GET')
    for (const [path, status] of [[`/guilds/${IDS.foreignGuild}`, 403], ['/guilds/1299999999999999999', 404], ['/guilds/abc', 400]] as const) {
      const res = await bot('GET', path)
      expect(res.status).toBe(status)
      await expectMatchesSpec(res, G, 'GET')
    }
  })

  it('GET roles', async () => {
    const roles = await expectMatchesSpec(await bot('GET', `/guilds/${IDS.guild}/roles`), '/guilds/{guild_id}/roles', 'GET') as unknown[]
    expect(roles.length).toBe(7)
  })

  it('GET channels, with their permission overwrites; 404 10004 for an unknown guild, 403 50001 for a guild without the bot', async () => {
    const CHANNELS = '/guilds/{guild_id}/channels'
    const channels = await expectMatchesSpec(await bot('GET', `/guilds/${IDS.guild}/channels`), CHANNELS, 'GET') as Array<Record<string, unknown>>
    expect(channels.map((c) => c.id)).toEqual([IDS.channel, IDS.hiddenChannel, IDS.readOnlyChannel])
    expect(channels[1]).toMatchObject({ type: 0, guild_id: IDS.guild, permission_overwrites: [{ id: IDS.guild, type: 0, allow: '0', deny: PermissionFlags.VIEW_CHANNEL.toString() }] })
    const unknown = await bot('GET', '/guilds/1999999999999999999/channels')
    expect(unknown.status).toBe(404)
    expect(await expectMatchesSpec(unknown, CHANNELS, 'GET')).toMatchObject({ code: 10004 })
    const foreign = await bot('GET', `/guilds/${IDS.foreignGuild}/channels`)
    expect(foreign.status).toBe(403)
    expect(await expectMatchesSpec(foreign, CHANNELS, 'GET')).toMatchObject({ code: 50001 })
  })

  it('GET members: a full page of 1000, and the 50035 for a bad limit', async () => {
    const page = await expectMatchesSpec(await bot('GET', `/guilds/${IDS.guild}/members?limit=1000`), MEMBERS, 'GET') as unknown[]
    expect(page).toHaveLength(1000)
    const bad = await bot('GET', `/guilds/${IDS.guild}/members?limit=1001`)
    expect(bad.status).toBe(400)
    await expectMatchesSpec(bad, MEMBERS, 'GET')
  })

  it('GET member and its 404 10007', async () => {
    await expectMatchesSpec(await bot('GET', `/guilds/${IDS.guild}/members/${IDS.alice}`), MEMBER, 'GET')
    const missing = await bot('GET', `/guilds/${IDS.guild}/members/1100000000000000099`)
    expect(missing.status).toBe(404)
    await expectMatchesSpec(missing, MEMBER, 'GET')
  })

  it('PATCH member: 200 member, 400 50035 (nested errors), 403 50013, 404 10011', async () => {
    const ok = await bot('PATCH', `/guilds/${IDS.guild}/members/${IDS.bob}`, { roles: [IDS.roleA, IDS.roleB], nick: 'Bobby' })
    expect(ok.status).toBe(200)
    await expectMatchesSpec(ok, MEMBER, 'PATCH')
    for (const [body, status] of [[{ roles: ['x', 5] }, 400], [{ roles: [IDS.roleHigh] }, 403], [{ roles: ['1219999999999999999'] }, 404]] as const) {
      const res = await bot('PATCH', `/guilds/${IDS.guild}/members/${IDS.bob}`, body)
      expect(res.status).toBe(status)
      await expectMatchesSpec(res, MEMBER, 'PATCH')
    }
  })

  it('PUT / DELETE member role: 204 without body, 403 50013 and 404 10011 with error bodies', async () => {
    for (const method of ['PUT', 'DELETE']) {
      const ok = await bot(method, `/guilds/${IDS.guild}/members/${IDS.bob}/roles/${IDS.roleB}`)
      expect(ok.status).toBe(204)
      await expectMatchesSpec(ok, MEMBER_ROLE, method)
      const denied = await bot(method, `/guilds/${IDS.guild}/members/${IDS.bob}/roles/${IDS.roleManaged}`)
      expect(denied.status).toBe(403)
      await expectMatchesSpec(denied, MEMBER_ROLE, method)
      const unknown = await bot(method, `/guilds/${IDS.guild}/members/${IDS.bob}/roles/1219999999999999999`)
      expect(unknown.status).toBe(404)
      await expectMatchesSpec(unknown, MEMBER_ROLE, method)
    }
  })
})

describe('channel messages', () => {
  it('POST message with content and an embed; 400 50006; 403 50013; 404 10003', async () => {
    const ok = await bot('POST', `/channels/${IDS.channel}/messages`, {
      content: 'Role sync finished',
      embeds: [{ title: 'Sync report', description: '3 added, 1 removed', color: 5793266, timestamp: new Date().toISOString(), footer: { text: 'fastify-discord-sync' }, fields: [{ name: 'Added', value: '3', inline: true }] }]
    })
    expect(ok.status).toBe(200)
    await expectMatchesSpec(ok, MESSAGES, 'POST')
    for (const [channel, body, status] of [[IDS.channel, { content: '' }, 400], [IDS.readOnlyChannel, { content: 'x' }, 403], ['1399999999999999999', { content: 'x' }, 404]] as const) {
      const res = await bot('POST', `/channels/${channel}/messages`, body)
      expect(res.status).toBe(status)
      await expectMatchesSpec(res, MESSAGES, 'POST')
    }
  })
})

describe('current-user routes', () => {
  it('GET /users/@me as the bot and as a user (with and without email), and its 401/403', async () => {
    await expectMatchesSpec(await bot('GET', '/users/@me'), '/users/@me', 'GET')
    await expectMatchesSpec(await bearer('/users/@me', ['identify']), '/users/@me', 'GET')
    await expectMatchesSpec(await bearer('/users/@me', ['identify', 'email']), '/users/@me', 'GET')
    const denied = await bearer('/users/@me', ['guilds'])
    expect(denied.status).toBe(403)
    await expectMatchesSpec(denied, '/users/@me', 'GET')
    const bad = await fetch(`${sim.apiBaseUrl}/users/@me`, { headers: { authorization: 'Bearer nope' } })
    expect(bad.status).toBe(401)
    await expectMatchesSpec(bad, '/users/@me', 'GET')
  })

  it('GET /users/@me/guilds as the bot and as a user, with counts', async () => {
    const asBot = await expectMatchesSpec(await bot('GET', '/users/@me/guilds'), '/users/@me/guilds', 'GET') as unknown[]
    expect(asBot).toHaveLength(2)
    await expectMatchesSpec(await bearer('/users/@me/guilds?with_counts=true', ['guilds']), '/users/@me/guilds', 'GET')
  })

  it('GET /users/@me/guilds/{guild.id}/member and GET /oauth2/@me', async () => {
    await expectMatchesSpec(await bearer(`/users/@me/guilds/${IDS.guild}/member`, ['guilds.members.read']), '/users/@me/guilds/{guild_id}/member', 'GET')
    await expectMatchesSpec(await bearer('/oauth2/@me', ['identify', 'guilds']), '/oauth2/@me', 'GET')
  })
})

describe('429 bodies', () => {
  it('user, global and shared 429s validate as ClientRatelimitedResponse', async () => {
    const s = await createDiscordSimulator({ rateLimits: { global: { limit: 4, windowMs: 60_000 }, buckets: { 'guild-member-get': { limit: 1, windowMs: 60_000 } } } })
    try {
      seedWorld(s)
      s.forceSharedRateLimit({ route: 'GET /guilds/:guild_id/roles', retryAfterSeconds: 3 })
      const shared = await botFetch(s, 'GET', `/guilds/${IDS.guild}/roles`)
      expect(shared.headers.get('x-ratelimit-scope')).toBe('shared')
      await expectMatchesSpec(shared, '/guilds/{guild_id}/roles', 'GET')
      await botFetch(s, 'GET', `/guilds/${IDS.guild}/members/${IDS.bob}`)
      const user = await botFetch(s, 'GET', `/guilds/${IDS.guild}/members/${IDS.bob}`)
      expect(user.headers.get('x-ratelimit-scope')).toBe('user')
      await expectMatchesSpec(user, MEMBER, 'GET')
      await botFetch(s, 'GET', `/guilds/${IDS.guild}`)
      const global = await botFetch(s, 'GET', `/guilds/${IDS.guild}`)
      expect(global.headers.get('x-ratelimit-scope')).toBe('global')
      await expectMatchesSpec(global, G, 'GET')
    } finally {
      await s.close()
    }
  })
})

describe('OAuth2 token endpoints (schemas from docs/oauth2.mdx and RFC 6749)', () => {
  // docs/oauth2.mdx "Access Token Response" / "Client Credentials Access Token Response".
  const tokenResponse = compileLocal({
    type: 'object',
    properties: {
      access_token: { type: 'string', minLength: 1 },
      token_type: { const: 'Bearer' },
      expires_in: { type: 'integer', minimum: 1 },
      refresh_token: { type: 'string', minLength: 1 },
      scope: { type: 'string' }
    },
    required: ['access_token', 'token_type', 'expires_in', 'scope'],
    additionalProperties: false
  })
  // RFC 6749 5.2.
  const oauthError = compileLocal({
    type: 'object',
    properties: {
      error: { enum: ['invalid_request', 'invalid_client', 'invalid_grant', 'unauthorized_client', 'unsupported_grant_type', 'invalid_scope'] },
      error_description: { type: 'string' }
    },
    required: ['error'],
    additionalProperties: false
  })

  const form = async (fields: Record<string, string>, contentType = 'application/x-www-form-urlencoded'): Promise<Response> => fetch(`${sim.apiBaseUrl}/oauth2/token`, {
    method: 'POST',
    headers: { 'content-type': contentType, authorization: `Basic ${Buffer.from(`${OAUTH.clientId}:${OAUTH.clientSecret}`).toString('base64')}` },
    body: contentType === 'application/json' ? JSON.stringify(fields) : new URLSearchParams(fields).toString()
  })

  it('token responses and OAuth errors have the documented shapes', async () => {
    sim.setAutoApprove(IDS.alice)
    try {
      const redirect = await fetch(`${sim.url}/oauth2/authorize?response_type=code&client_id=${OAUTH.clientId}&scope=identify&redirect_uri=${encodeURIComponent(OAUTH.redirectUri)}`, { redirect: 'manual' })
      const code = new URL(redirect.headers.get('location') as string).searchParams.get('code') as string
      const ok = await form({ grant_type: 'authorization_code', code, redirect_uri: OAUTH.redirectUri })
      const tokens = await ok.json() as Record<string, string>
      expectValid(tokenResponse, tokens, 'authorization_code response')
      const refreshed = await (await form({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token as string })).json()
      expectValid(tokenResponse, refreshed, 'refresh_token response')
      expectValid(tokenResponse, await (await form({ grant_type: 'client_credentials', scope: 'identify' })).json(), 'client_credentials response')
      for (const res of [await form({ grant_type: 'authorization_code', code, redirect_uri: OAUTH.redirectUri }), await form({ grant_type: 'nope' }), await form({ grant_type: 'refresh_token' }, 'application/json')]) {
        expect(res.status).toBe(400)
        expectValid(oauthError, await res.json(), 'OAuth error')
      }
      const badClient = await fetch(`${sim.apiBaseUrl}/oauth2/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=refresh_token&refresh_token=x&client_id=1&client_secret=2' })
      expect(badClient.status).toBe(401)
      expectValid(oauthError, await badClient.json(), 'invalid_client')
    } finally {
      sim.setAutoApprove(null)
    }
  })

  it('the bot token never appears in recorded requests', () => {
    expect(JSON.stringify(sim.requests)).not.toContain(BOT_TOKEN)
  })
})
