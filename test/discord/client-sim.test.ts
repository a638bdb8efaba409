import { performance } from 'node:perf_hooks'
import { afterEach, describe, expect, it } from 'vitest'
import {
  DiscordAuthenticationError,
  DiscordInvalidRequestLimitError,
  DiscordMalformedResponseError,
  DiscordNotFoundError,
  DiscordOAuthError,
  DiscordPermissionError,
  DiscordRateLimitError,
  DiscordRestClient,
  DiscordTimeoutError,
  DiscordTokenInvalidError,
  type DiscordRestClientOptions,
  type RateLimitedEvent,
  type RequestEvent,
  type WaitEvent
} from '../../src/discord/index.js'
import { maxInSimulatorWindows, type DiscordSimulator } from '../../src/testing/index.js'
import { APP_SECRET, IDS, REDIRECT_URI, seededWorld, type World } from './helpers/sim.js'

/*
 * The client against the project's Discord simulator over real HTTP on 127.0.0.1.
 * Limits are shrunk per test (a few requests per few hundred ms) so every test is fast
 * while the ratios stay those of Discord.
 */

const closing: Array<{ close: () => Promise<void> }> = []
afterEach(async () => {
  while (closing.length > 0) await closing.pop()?.close()
})

async function world (options: Parameters<typeof seededWorld>[0] = {}): Promise<World> {
  const w = await seededWorld(options)
  closing.push(w.sim)
  return w
}

function client (sim: DiscordSimulator, options: DiscordRestClientOptions = {}): DiscordRestClient {
  const c = new DiscordRestClient({ baseUrl: sim.apiBaseUrl, retryBaseDelayMs: 10, retryMaxDelayMs: 50, ...options })
  closing.push(c)
  return c
}

function routeRequests (sim: DiscordSimulator, route: string): DiscordSimulator['requests'] {
  return sim.requests.filter((r) => r.route === route)
}

describe('operations against the simulator', () => {
  it('reads the bot user, a guild with counts, roles and one member', async () => {
    const { sim, token, members } = await world()
    const bot = client(sim).bot(token)
    expect(await bot.getCurrentUser()).toMatchObject({ id: IDS.bot, bot: true })
    const guild = await bot.getGuild(IDS.guild)
    expect(guild).toMatchObject({ id: IDS.guild, approximate_member_count: members.length + 2 })
    const roles = await bot.getGuildRoles(IDS.guild)
    expect(roles.map((r) => r.id).sort()).toEqual([IDS.guild, IDS.botRole, IDS.low, IDS.high, IDS.managed].sort())
    expect(roles.find((r) => r.id === IDS.managed)?.managed).toBe(true)
    const member = await bot.getGuildMember(IDS.guild, IDS.bot)
    expect(member.roles).toEqual([IDS.botRole])
    expect(sim.internalErrors).toEqual([])
  })

  it('lists the guild\'s channels; a guild without the bot is a DiscordPermissionError', async () => {
    const { sim, token } = await world()
    const bot = client(sim).bot(token)
    const channels = await bot.getGuildChannels(IDS.guild)
    expect(channels).toEqual([expect.objectContaining({ id: IDS.channel, guild_id: IDS.guild, name: 'audit', type: 0, permission_overwrites: [] })])
    sim.state.addGuild({ id: '450000000000000001', name: 'Elsewhere', owner_id: IDS.owner })
    await expect(bot.getGuildChannels('450000000000000001')).rejects.toBeInstanceOf(DiscordPermissionError)
    await expect(bot.getGuildChannels('not-a-snowflake')).rejects.toThrow(/guildId/)
  })

  it('streams the member list page by page with after = highest id of the previous page', async () => {
    const { sim, token, members } = await world({ members: 23 })
    const bot = client(sim).bot(token)
    const pages: string[][] = []
    for await (const page of bot.listGuildMembers(IDS.guild, { limit: 10 })) pages.push(page.map((m) => m.user.id))
    expect(pages.map((p) => p.length)).toEqual([10, 10, 5])
    const all = pages.flat()
    expect(new Set(all)).toEqual(new Set([...members, IDS.bot, IDS.user]))
    const queries = routeRequests(sim, 'GET /guilds/:guild_id/members').map((r) => Object.fromEntries(new URLSearchParams(r.query)))
    expect(queries[0]).toEqual({ limit: '10', after: '0' })
    const maxOf = (ids: string[]): string => ids.reduce((a, b) => (BigInt(a) > BigInt(b) ? a : b))
    expect(queries[1]?.after).toBe(maxOf(pages[0] as string[]))
    expect(queries[2]?.after).toBe(maxOf(pages[1] as string[]))
  })

  it('replaces the role list with PATCH and adds/removes single roles with 204s, reasons recorded', async () => {
    const { sim, token, members } = await world()
    const bot = client(sim).bot(token)
    const [a, b] = members as [string, string]
    const patched = await bot.setMemberRoles(IDS.guild, a, [IDS.low], { reason: 'Sync: group "Members"' })
    expect(patched.roles).toEqual([IDS.low])
    expect(sim.state.memberRoles(IDS.guild, a)).toEqual([IDS.low])
    await bot.addMemberRole(IDS.guild, b, IDS.low, { reason: 'Sync ✓' })
    expect(sim.state.memberRoles(IDS.guild, b)).toEqual([IDS.low])
    await bot.removeMemberRole(IDS.guild, b, IDS.low)
    expect(sim.state.memberRoles(IDS.guild, b)).toEqual([])
    const writes = sim.requests.filter((r) => r.method !== 'GET')
    expect(writes.map((r) => [r.status, r.reason])).toEqual([[200, 'Sync: group "Members"'], [204, 'Sync ✓'], [204, undefined]])
  })

  it('posts a message in the audit channel', async () => {
    const { sim, token } = await world()
    const message = await client(sim).bot(token).createMessage(IDS.channel, { content: 'Synced 3 members' })
    expect(message.id).toMatch(/^\d+$/)
    expect(sim.state.channelMessages(IDS.channel).map((m) => m.content)).toEqual(['Synced 3 members'])
  })

  it('surfaces Discord errors as typed errors: 10004, 10007, 10011, 50013', async () => {
    const { sim, token, members } = await world()
    const bot = client(sim).bot(token)
    await expect(bot.getGuild('220000000000000099')).rejects.toMatchObject({ constructor: DiscordNotFoundError, discordCode: 10004 })
    await expect(bot.getGuildMember(IDS.guild, '110000000000000099')).rejects.toMatchObject({ constructor: DiscordNotFoundError, discordCode: 10007 })
    await expect(bot.addMemberRole(IDS.guild, members[0] as string, '330000000000000099')).rejects.toMatchObject({ constructor: DiscordNotFoundError, discordCode: 10011 })
    // A role above the bot's highest role, and a managed role.
    await expect(bot.addMemberRole(IDS.guild, members[0] as string, IDS.high)).rejects.toMatchObject({ constructor: DiscordPermissionError, discordCode: 50013, status: 403 })
    await expect(bot.setMemberRoles(IDS.guild, members[0] as string, [IDS.managed])).rejects.toMatchObject({ constructor: DiscordPermissionError, discordCode: 50013 })
  })

  it('runs the OAuth2 code flow: exchange, user calls, refresh rotation, invalid_grant, revoke', async () => {
    const { sim } = await world()
    const c = client(sim)
    const oauth = c.oauth2({ clientId: IDS.app, clientSecret: APP_SECRET })
    const code = sim.state.createAuthorizationCode({ clientId: IDS.app, userId: IDS.user, scopes: ['identify', 'guilds'], redirectUri: REDIRECT_URI, redirectUriGiven: true })
    const tokens = await oauth.exchangeCode(code, REDIRECT_URI)
    expect(tokens).toMatchObject({ token_type: 'Bearer', scope: 'identify guilds' })
    const user = c.user(tokens.access_token)
    expect(await user.getCurrentUser()).toMatchObject({ id: IDS.user })
    expect((await user.getCurrentUserGuilds()).map((g) => g.id).sort()).toEqual([IDS.guild, IDS.guild2])
    // Codes are single-use.
    await expect(oauth.exchangeCode(code, REDIRECT_URI)).rejects.toMatchObject({ constructor: DiscordOAuthError, oauthError: 'invalid_grant' })
    const rotated = await oauth.refreshToken(tokens.refresh_token)
    expect(rotated.refresh_token).not.toBe(tokens.refresh_token)
    await expect(oauth.refreshToken(tokens.refresh_token)).rejects.toMatchObject({ constructor: DiscordOAuthError, oauthError: 'invalid_grant' })
    await oauth.revokeToken(rotated.access_token, 'access_token')
    await expect(c.user(rotated.access_token).getCurrentUser()).rejects.toBeInstanceOf(DiscordAuthenticationError)
    // Client authentication in the form body works too; a wrong secret is invalid_client.
    const code2 = sim.state.createAuthorizationCode({ clientId: IDS.app, userId: IDS.user, scopes: ['identify'], redirectUri: REDIRECT_URI, redirectUriGiven: true })
    await expect(c.oauth2({ clientId: IDS.app, clientSecret: APP_SECRET, authMethod: 'body' }).exchangeCode(code2, REDIRECT_URI)).resolves.toMatchObject({ scope: 'identify' })
    await expect(c.oauth2({ clientId: IDS.app, clientSecret: 'wrong' }).refreshToken('x')).rejects.toMatchObject({ constructor: DiscordOAuthError, oauthError: 'invalid_client' })
  })
})

describe('per-route buckets', () => {
  it('discovers the bucket from X-RateLimit-Bucket and learns that routes share it', async () => {
    const { sim, token, members } = await world()
    const c = client(sim)
    const seen: Array<{ route: string, bucket: string | undefined }> = []
    c.on('response', (e) => seen.push({ route: e.route, bucket: e.bucket }))
    const bot = c.bot(token)
    await bot.setMemberRoles(IDS.guild, members[0] as string, [IDS.low])
    await bot.addMemberRole(IDS.guild, members[1] as string, IDS.low)
    await bot.getGuild(IDS.guild)
    const write = sim.bucketHashOf('PATCH /guilds/:guild_id/members/:user_id')
    expect(seen).toEqual([
      { route: '/guilds/:guild_id/members/:user_id', bucket: write },
      { route: '/guilds/:guild_id/members/:user_id/roles/:role_id', bucket: write },
      { route: '/guilds/:guild_id', bucket: sim.bucketHashOf('GET /guilds/:guild_id') }
    ])
    expect(write).not.toBe(sim.bucketHashOf('GET /guilds/:guild_id'))
  })

  it('never sends into an exhausted bucket: concurrent role writes are spread over windows with zero 429s', async () => {
    const { sim, token, members } = await world({ rateLimits: { buckets: { 'guild-member-write': { limit: 3, windowMs: 300 } } } })
    const c = client(sim)
    const waits: WaitEvent[] = []
    c.on('wait', (e) => waits.push(e))
    const bot = c.bot(token)
    const started = performance.now()
    // PATCH and PUT share one bucket at the simulator: the client has to learn that.
    await Promise.all(members.slice(0, 10).map((id, i) => i % 2 === 0
      ? bot.addMemberRole(IDS.guild, id, IDS.low)
      : bot.setMemberRoles(IDS.guild, id, [IDS.low])))
    const elapsed = performance.now() - started
    const writes = sim.requests.filter((r) => r.bucket === sim.bucketHashOf('guild-member-write'))
    expect(writes).toHaveLength(10)
    expect(writes.filter((r) => r.status === 429)).toEqual([])
    expect(maxInSimulatorWindows(writes.map((r) => r.at), 300)).toBeLessThanOrEqual(3)
    // 10 requests at 3 per 300 ms need at least three full windows.
    expect(elapsed).toBeGreaterThanOrEqual(900)
    expect(waits.some((w) => w.reason === 'bucket' && w.bucket === sim.bucketHashOf('guild-member-write'))).toBe(true)
    for (const id of members.slice(0, 10)) expect(sim.state.memberRoles(IDS.guild, id)).toEqual([IDS.low])
  })

  it('keys buckets by top-level resource: an exhausted guild does not hold up another guild', async () => {
    const { sim, token, members } = await world({ rateLimits: { buckets: { 'guild-member-get': { limit: 1, windowMs: 1000 } } } })
    const bot = client(sim).bot(token)
    await bot.getGuildMember(IDS.guild, IDS.bot)
    const t0 = performance.now()
    const slow = bot.getGuildMember(IDS.guild, members[0] as string).then(() => performance.now() - t0)
    const fast = bot.getGuildMember(IDS.guild2, IDS.bot).then(() => performance.now() - t0)
    const [slowMs, fastMs] = await Promise.all([slow, fast])
    expect(fastMs).toBeLessThan(300)
    expect(slowMs).toBeGreaterThan(800)
    expect(sim.requests.filter((r) => r.status === 429)).toEqual([])
  })
})

describe('429 handling', () => {
  it('a global 429 pauses every request of the token for retry_after', async () => {
    const { sim, token, members } = await world({
      rateLimits: {
        global: { limit: 4, windowMs: 400 },
        buckets: { 'guild-get': { limit: 100 }, 'guild-roles-list': { limit: 100 }, 'guild-member-get': { limit: 100 } }
      }
    })
    // The client believes in 100/s, so only the simulator's global 429 can stop it.
    const c = client(sim, { globalRequestsPerSecond: 100 })
    const sent: Array<{ at: number, e: RequestEvent }> = []
    const limited: Array<{ at: number, e: RateLimitedEvent }> = []
    // On the simulator's clock, the one its records use.
    c.on('request', (e) => sent.push({ at: sim.now(), e }))
    c.on('rateLimited', (e) => limited.push({ at: sim.now(), e }))
    const bot = c.bot(token)
    const calls: Array<Promise<unknown>> = []
    for (const guildId of [IDS.guild, IDS.guild2]) {
      calls.push(bot.getGuild(guildId), bot.getGuildRoles(guildId))
      for (const userId of [IDS.bot, IDS.user]) calls.push(bot.getGuildMember(guildId, userId))
    }
    calls.push(bot.getGuildMember(IDS.guild, members[0] as string), bot.getGuildMember(IDS.guild, members[1] as string))
    await Promise.all(calls)
    const globals = limited.filter((l) => l.e.scope === 'global')
    expect(globals.length).toBeGreaterThan(0)
    expect(globals.every((g) => g.e.global && g.e.countsAsInvalid)).toBe(true)
    const first = globals[0] as { at: number, e: RateLimitedEvent }
    // The wait the client honours is the one the simulator sent (not a misread of retry_after, which
    // would make the checks below vacuous): every global 429 the client saw is one the simulator recorded.
    const answered = sim.requests.filter((r) => r.status === 429 && r.scope === 'global')
    expect(answered).toHaveLength(globals.length)
    for (const g of globals) {
      expect(answered.some((r) => Math.abs((r.retryAfterMs as number) - g.e.retryAfterMs) <= 1 && r.at <= g.at), `client wait ${g.e.retryAfterMs} ms`).toBe(true)
    }
    // Nothing of this token was sent between the first global 429 and the end of its retry_after.
    const during = sent.filter((s) => s.at > first.at + 1 && s.at < first.at + first.e.retryAfterMs - 5)
    expect(during).toEqual([])
    expect(sent.some((s) => s.at >= first.at + first.e.retryAfterMs)).toBe(true)
    expect(sim.requests.filter((r) => r.status === 200)).toHaveLength(calls.length)
  })

  it('a shared-scope 429 is waited out but not counted as invalid, unlike a user-scope 429', async () => {
    const { sim, token } = await world({ rateLimits: { buckets: { 'guild-get': { limit: 1, windowMs: 400 } } } })
    // Threshold 1: a single counted invalid response would refuse the next request.
    const c = client(sim, { invalidRequestThreshold: 1 })
    const events: RateLimitedEvent[] = []
    c.on('rateLimited', (e) => events.push(e))
    sim.forceSharedRateLimit({ route: 'GET /guilds/:guild_id/roles', retryAfterSeconds: 0.15 })
    const started = performance.now()
    await expect(c.bot(token).getGuildRoles(IDS.guild)).resolves.toHaveLength(5)
    expect(performance.now() - started).toBeGreaterThanOrEqual(150)
    expect(events).toMatchObject([{ scope: 'shared', countsAsInvalid: false, retryAfterMs: 150 }])
    expect(sim.invalidRequestCount()).toBe(0)
    await expect(c.bot(token).getGuild(IDS.guild)).resolves.toMatchObject({ id: IDS.guild })

    // Contrast: a second client with the same token but its own in-process limits provokes a
    // user-scope 429 on the exhausted bucket; that one counts, and its guard then refuses to send.
    const other = client(sim, { invalidRequestThreshold: 1 })
    const err = await other.bot(token).getGuild(IDS.guild).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(DiscordInvalidRequestLimitError)
    expect(err).toMatchObject({ code: 'FST_DISCORD_API_INVALID_REQUEST_LIMIT', count: 1, threshold: 1, scope: 'token' })
    expect(sim.requests.filter((r) => r.scope === 'user')).toHaveLength(1)
  })

  it('429s do not consume the retry budget, but are bounded', async () => {
    const { sim, token } = await world()
    const c = client(sim, { retries: 0, rateLimitRetries: 3 })
    sim.forceSharedRateLimit({ route: 'GET /guilds/:guild_id', retryAfterSeconds: 0.02, times: 2 })
    await expect(c.bot(token).getGuild(IDS.guild)).resolves.toMatchObject({ id: IDS.guild })
    expect(routeRequests(sim, 'GET /guilds/:guild_id').map((r) => r.status)).toEqual([429, 429, 200])

    sim.clearRequests()
    sim.forceSharedRateLimit({ route: 'GET /guilds/:guild_id/roles', retryAfterSeconds: 0.02, times: 50 })
    const err = await c.bot(token).getGuildRoles(IDS.guild).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(DiscordRateLimitError)
    expect(err).toMatchObject({ scope: 'shared', status: 429, route: '/guilds/:guild_id/roles' })
    expect(routeRequests(sim, 'GET /guilds/:guild_id/roles')).toHaveLength(4)
  })

  it('does not wait longer than maxRateLimitWaitMs', async () => {
    const { sim, token } = await world()
    const c = client(sim, { maxRateLimitWaitMs: 1_000 })
    sim.forceSharedRateLimit({ route: 'GET /guilds/:guild_id', retryAfterSeconds: 30 })
    const started = performance.now()
    const err = await c.bot(token).getGuild(IDS.guild).catch((e: unknown) => e)
    expect(err).toMatchObject({ constructor: DiscordRateLimitError, retryAfterMs: 30_000, scope: 'shared' })
    expect(performance.now() - started).toBeLessThan(500)
  })
})

describe('faults', () => {
  it('retries 5xx with exponential backoff and full jitter', async () => {
    const { sim, token } = await world()
    const c = client(sim, { retryBaseDelayMs: 60, retryMaxDelayMs: 1_000 })
    const delays: number[] = []
    c.on('retry', (e) => delays.push(e.delayMs))
    sim.scriptFault({ kind: 'error', status: 503, route: 'GET /guilds/:guild_id/roles', times: 2 })
    const original = Math.random
    Math.random = () => 0.99
    try {
      await expect(c.bot(token).getGuildRoles(IDS.guild)).resolves.toHaveLength(5)
    } finally {
      Math.random = original
    }
    const seen = routeRequests(sim, 'GET /guilds/:guild_id/roles')
    expect(seen.map((r) => r.status)).toEqual([503, 503, 200])
    expect(delays).toEqual([59, 118])
    expect((seen[1]?.at ?? 0) - (seen[0]?.at ?? 0)).toBeGreaterThanOrEqual(55)
    expect((seen[2]?.at ?? 0) - (seen[1]?.at ?? 0)).toBeGreaterThanOrEqual(110)
  })

  it('retries a connection reset', async () => {
    const { sim, token } = await world()
    sim.scriptFault({ kind: 'reset', route: 'GET /guilds/:guild_id' })
    await expect(client(sim).bot(token).getGuild(IDS.guild)).resolves.toMatchObject({ id: IDS.guild })
    expect(routeRequests(sim, 'GET /guilds/:guild_id').map((r) => r.status)).toEqual([0, 200])
  })

  it('times out slow answers per attempt', async () => {
    const { sim, token } = await world({ faults: { latencyMs: 800, routes: ['GET /guilds/:guild_id'] } })
    const c = client(sim, { timeoutMs: 100, retries: 1 })
    const started = performance.now()
    const err = await c.bot(token).getGuild(IDS.guild).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(DiscordTimeoutError)
    expect(performance.now() - started).toBeLessThan(700)
    sim.clearFaults()
    await expect(c.bot(token).getGuild(IDS.guild)).resolves.toMatchObject({ id: IDS.guild })
  })

  it('a malformed 200 is a typed error and is never retried, even after a write Discord applied', async () => {
    const { sim, token, members } = await world()
    const c = client(sim)
    const bot = c.bot(token)
    const [a] = members as [string]
    // Truncated JSON in answer to a PATCH that did change the member: retrying could only repeat the write.
    sim.scriptFault({ kind: 'malformed', route: 'PATCH /guilds/:guild_id/members/:user_id' })
    const err = await bot.setMemberRoles(IDS.guild, a, [IDS.low], { reason: 'sync' }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(DiscordMalformedResponseError)
    expect(err).toMatchObject({ code: 'FST_DISCORD_API_MALFORMED_RESPONSE', status: 200, method: 'PATCH', route: '/guilds/:guild_id/members/:user_id' })
    expect(routeRequests(sim, 'PATCH /guilds/:guild_id/members/:user_id')).toMatchObject([{ status: 200, fault: 'malformed' }])
    expect(sim.state.memberRoles(IDS.guild, a)).toEqual([IDS.low])
    expect(String(err)).not.toContain(token)

    // Valid JSON of the wrong shape where the client relies on it: a member page without user ids.
    sim.scriptFault({ kind: 'malformed', route: 'GET /guilds/:guild_id/members', body: '[{"roles":[]}]' })
    await expect(bot.listGuildMembers(IDS.guild).next()).rejects.toBeInstanceOf(DiscordMalformedResponseError)
    expect(routeRequests(sim, 'GET /guilds/:guild_id/members')).toHaveLength(1)

    // The headers of the malformed answers were still taken in: the bucket state is intact and calls go on.
    await expect(bot.getGuildMember(IDS.guild, a)).resolves.toMatchObject({ roles: [IDS.low] })
    expect(sim.requests.filter((r) => r.status === 429)).toEqual([])
  })
})

describe('invalid requests', () => {
  it('a 401 locks the bot token: nothing more is sent until resetToken', async () => {
    const { sim, token } = await world()
    const c = client(sim)
    const bot = c.bot(token)
    await bot.getGuild(IDS.guild)
    sim.state.revokeBotToken(token)
    await expect(bot.getGuildRoles(IDS.guild)).rejects.toBeInstanceOf(DiscordAuthenticationError)
    const before = sim.requests.length
    for (let i = 0; i < 5; i++) await expect(bot.getGuild(IDS.guild)).rejects.toBeInstanceOf(DiscordTokenInvalidError)
    expect(sim.requests.length).toBe(before)
    expect(sim.invalidRequestCount()).toBe(1)
    // Reconfigured (the simulator knows the token again) and unlocked.
    sim.state.addBot({ token, user: { id: IDS.bot, username: 'sync-bot' } })
    c.resetToken(token)
    await expect(bot.getGuild(IDS.guild)).resolves.toMatchObject({ id: IDS.guild })
  })

  it('the invalid-request guard trips before the simulator bans the IP', async () => {
    const { sim, token, members } = await world({
      rateLimits: { invalidRequests: { threshold: 20, windowMs: 600_000, banMs: 600_000 }, buckets: { 'guild-member-write': { limit: 100 } } }
    })
    const c = client(sim, { invalidRequestThreshold: 10 })
    const bot = c.bot(token)
    const outcomes: string[] = []
    for (let i = 0; i < 30; i++) {
      // The bot may not assign a role above its own: 403 50013 every time.
      const err = await bot.addMemberRole(IDS.guild, members[i % members.length] as string, IDS.high).catch((e: unknown) => e)
      outcomes.push((err as { code: string }).code)
    }
    expect(outcomes.slice(0, 10)).toEqual(Array(10).fill('FST_DISCORD_API_FORBIDDEN'))
    expect(outcomes.slice(10)).toEqual(Array(20).fill('FST_DISCORD_API_INVALID_REQUEST_LIMIT'))
    expect(sim.requests).toHaveLength(10)
    expect(sim.invalidRequestCount()).toBe(10)
    expect(sim.banRemainingMs()).toBe(0)
    // Other tokens are not affected by this token's guard.
    sim.state.addBot({ token: `${token}2`, user: { id: '110000000000000077', username: 'other-bot' } })
    await expect(c.bot(`${token}2`).getCurrentUser()).resolves.toMatchObject({ id: '110000000000000077' })
  })
})
