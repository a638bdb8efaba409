import { inspect } from 'node:util'
import { Agent } from 'undici'
import { afterEach, describe, expect, it } from 'vitest'
import {
  DiscordAPIError,
  DiscordAuthenticationError,
  DiscordMalformedResponseError,
  DiscordNetworkError,
  DiscordNotFoundError,
  DiscordOAuthError,
  DiscordPermissionError,
  DiscordRateLimitError,
  DiscordRestClient,
  DiscordServerError,
  DiscordTimeoutError,
  DiscordTokenInvalidError,
  type DiscordRestClientOptions
} from '../../src/discord/index.js'
import { localServer, type LocalServer } from './helpers/local-server.js'

const TOKEN = 'MTk4NjIyNDgzNDcxOTI1MjQ4.Cl2FMQ.ZnCjm1XVW7vRze4b7Cq4se7kKWs'
const GUILD = '81384788765712384'
const USER = '80351110224678912'
const ROLE = '290926798626357250'

const open: Array<{ close: () => Promise<void> }> = []
afterEach(async () => {
  while (open.length > 0) await open.pop()?.close()
})

async function setup (handler: Parameters<typeof localServer>[0], options: DiscordRestClientOptions = {}): Promise<{ server: LocalServer, client: DiscordRestClient, logs: unknown[] }> {
  const server = await localServer(handler)
  const logs: unknown[] = []
  const log = (obj: unknown, msg?: string): void => { logs.push({ obj, msg }) }
  const client = new DiscordRestClient({ baseUrl: server.url, retryBaseDelayMs: 5, retryMaxDelayMs: 20, logger: { warn: log, info: log, debug: log, error: log }, ...options })
  open.push(server, client)
  return { server, client, logs }
}

function guild (): Record<string, unknown> {
  return { id: GUILD, name: 'Test', approximate_member_count: 2 }
}

describe('request format', () => {
  it('sends Authorization, the User-Agent Discord requires and with_counts on GET guild', async () => {
    const { server, client } = await setup(async () => guild())
    const g = await client.bot(TOKEN).getGuild(GUILD)
    expect(g.id).toBe(GUILD)
    const [req] = server.seen
    expect(req?.method).toBe('GET')
    expect(req?.url).toBe(`/api/v10/guilds/${GUILD}?with_counts=true`)
    expect(req?.headers.authorization).toBe(`Bot ${TOKEN}`)
    expect(req?.headers['user-agent']).toMatch(/^DiscordBot \(https:\/\/github\.com\/fastify-discord-sync\/fastify-discord-sync, \d+\.\d+\.\d+\)$/)
  })

  it('PATCHes the whole role list as JSON with an URL-encoded X-Audit-Log-Reason of at most 512 characters', async () => {
    const { server, client } = await setup(async () => ({ user: { id: USER }, roles: [ROLE] }))
    const reason = 'Group "Staff" → role ✓ ' + 'x'.repeat(600)
    const member = await client.bot(TOKEN).setMemberRoles(GUILD, USER, [ROLE, ROLE], { reason })
    expect(member.roles).toEqual([ROLE])
    const [req] = server.seen
    expect(req?.method).toBe('PATCH')
    expect(req?.headers['content-type']).toBe('application/json')
    expect(JSON.parse(req?.body ?? '')).toEqual({ roles: [ROLE] })
    const header = req?.headers['x-audit-log-reason'] as string
    expect(header.length).toBeLessThanOrEqual(512)
    expect(header.startsWith('Group%20%22Staff%22%20%E2%86%92%20role%20%E2%9C%93%20xxx')).toBe(true)
  })

  it('PUT and DELETE a member role resolve on 204 with no body', async () => {
    const { server, client } = await setup(async (_req, reply) => reply.code(204).send())
    const bot = client.bot(TOKEN)
    await expect(bot.addMemberRole(GUILD, USER, ROLE, { reason: 'sync' })).resolves.toBeUndefined()
    await expect(bot.removeMemberRole(GUILD, USER, ROLE)).resolves.toBeUndefined()
    expect(server.seen.map((s) => `${s.method} ${s.url}`)).toEqual([
      `PUT /api/v10/guilds/${GUILD}/members/${USER}/roles/${ROLE}`,
      `DELETE /api/v10/guilds/${GUILD}/members/${USER}/roles/${ROLE}`
    ])
    expect(server.seen[0]?.headers['x-audit-log-reason']).toBe('sync')
    expect(server.seen[1]?.headers['x-audit-log-reason']).toBeUndefined()
  })

  it('OAuth2 calls are form-encoded with HTTP Basic client authentication', async () => {
    const { server, client } = await setup(async () => ({ access_token: 'acc', token_type: 'Bearer', expires_in: 604800, refresh_token: 'ref', scope: 'identify guilds' }))
    const oauth = client.oauth2({ clientId: '157730590492196864', clientSecret: 'shh-secret' })
    const tokens = await oauth.exchangeCode('the-code', 'https://app.example/cb')
    expect(tokens.access_token).toBe('acc')
    await oauth.refreshToken('ref')
    await oauth.revokeToken('acc', 'access_token')
    const [exchange, refresh, revoke] = server.seen
    expect(exchange?.url).toBe('/api/v10/oauth2/token')
    expect(exchange?.headers['content-type']).toBe('application/x-www-form-urlencoded')
    expect(exchange?.headers.authorization).toBe(`Basic ${Buffer.from('157730590492196864:shh-secret').toString('base64')}`)
    expect(Object.fromEntries(new URLSearchParams(exchange?.body))).toEqual({ grant_type: 'authorization_code', code: 'the-code', redirect_uri: 'https://app.example/cb' })
    expect(Object.fromEntries(new URLSearchParams(refresh?.body))).toEqual({ grant_type: 'refresh_token', refresh_token: 'ref' })
    expect(revoke?.url).toBe('/api/v10/oauth2/token/revoke')
    expect(Object.fromEntries(new URLSearchParams(revoke?.body))).toEqual({ token: 'acc', token_type_hint: 'access_token' })
  })

  it('can put the client credentials in the form body instead', async () => {
    const { server, client } = await setup(async () => ({ access_token: 'acc', token_type: 'Bearer', expires_in: 1, refresh_token: 'r', scope: 'identify' }))
    await client.oauth2({ clientId: '157730590492196864', clientSecret: 'shh', authMethod: 'body' }).exchangeCode('c', 'https://a/cb')
    expect(server.seen[0]?.headers.authorization).toBeUndefined()
    expect(new URLSearchParams(server.seen[0]?.body).get('client_secret')).toBe('shh')
  })

  it('user calls use the Bearer token', async () => {
    const { server, client } = await setup(async (req) => req.url.includes('/guilds') ? [{ id: GUILD, name: 'g' }] : { id: USER, username: 'u' })
    const user = client.user('user-access-token')
    expect((await user.getCurrentUser()).id).toBe(USER)
    expect(await user.getCurrentUserGuilds({ withCounts: true })).toHaveLength(1)
    expect(server.seen[0]?.headers.authorization).toBe('Bearer user-access-token')
    expect(server.seen[1]?.url).toBe('/api/v10/users/@me/guilds?with_counts=true')
  })
})

describe('client lifecycle and low-level requests', () => {
  it('request() takes the token per call and shares the limits of the scoped views', async () => {
    const { server, client } = await setup(async () => [{ id: '41771983423143937', name: 'general', type: 0 }])
    const channels = await client.request<Array<{ id: string }>>({ method: 'GET', path: `/guilds/${GUILD}/channels`, auth: { type: 'Bot', token: TOKEN } })
    expect(channels[0]?.id).toBe('41771983423143937')
    expect(server.seen[0]?.headers.authorization).toBe(`Bot ${TOKEN}`)
    await client.request({ method: 'GET', path: '/gateway', auth: { type: 'None' } })
    expect(server.seen[1]?.headers.authorization).toBeUndefined()
  })

  it('keeps connections alive: ten sequential calls reuse the pool\'s connections', async () => {
    const { server, client } = await setup(async () => guild())
    let connections = 0
    server.app.server.on('connection', () => { connections++ })
    for (let i = 0; i < 10; i++) await client.bot(TOKEN).getGuild(GUILD)
    expect(server.seen).toHaveLength(10)
    // undici frees a socket a moment after the body ends, so the next call may open a second one; never more.
    expect(connections).toBeGreaterThanOrEqual(1)
    expect(connections).toBeLessThanOrEqual(2)
    expect(server.seen.every((s) => s.headers.connection !== 'close')).toBe(true)
  })

  it('uses a caller-supplied dispatcher and leaves it open on close()', async () => {
    const agent = new Agent({ connections: 2 })
    open.push(agent)
    const { client } = await setup(async () => guild(), { dispatcher: agent })
    await client.bot(TOKEN).getGuild(GUILD)
    await client.close()
    expect(agent.closed).toBe(false)
    await expect(client.bot(TOKEN).getGuild(GUILD)).rejects.toThrow(/closed/)
  })

  it('a throwing event listener is logged and does not fail the call', async () => {
    const { client, logs } = await setup(async () => guild())
    client.on('response', () => { throw new Error('metrics bug') })
    await expect(client.bot(TOKEN).getGuild(GUILD)).resolves.toMatchObject({ id: GUILD })
    expect(logs).toContainEqual({ obj: { event: 'response', error: 'metrics bug' }, msg: 'A DiscordRestClient event listener threw' })
  })

  it('exposes the effective options without the Redis client or logger', async () => {
    const { client } = await setup(async () => guild(), { globalRequestsPerSecond: 20 })
    expect(client.options).toMatchObject({ globalRequestsPerSecond: 20, invalidRequestThreshold: 1_000, retries: 3 })
    expect(client.options).not.toHaveProperty('logger')
    expect(client.limiterBackend).toBe('memory')
  })
})

describe('typed errors', () => {
  it('maps 403 50013, 404 10007 and 400 50035 with the raw errors object', async () => {
    const { client } = await setup(async (req, reply) => {
      if (req.method === 'PUT') return reply.code(403).send({ code: 50013, message: 'Missing Permissions' })
      if (req.method === 'GET') return reply.code(404).send({ code: 10007, message: 'Unknown Member' })
      return reply.code(400).send({ code: 50035, message: 'Invalid Form Body', errors: { roles: { _errors: [{ code: 'X', message: 'bad' }] } } })
    })
    const bot = client.bot(TOKEN)
    const forbidden = await bot.addMemberRole(GUILD, USER, ROLE).catch((e: unknown) => e)
    expect(forbidden).toBeInstanceOf(DiscordPermissionError)
    expect(forbidden).toMatchObject({ code: 'FST_DISCORD_API_FORBIDDEN', status: 403, discordCode: 50013, method: 'PUT', route: '/guilds/:guild_id/members/:user_id/roles/:role_id' })
    const missing = await bot.getGuildMember(GUILD, USER).catch((e: unknown) => e)
    expect(missing).toBeInstanceOf(DiscordNotFoundError)
    expect(missing).toMatchObject({ code: 'FST_DISCORD_API_NOT_FOUND', status: 404, discordCode: 10007 })
    expect((missing as Error).message).toBe('Unknown Member [10007] (GET /guilds/:guild_id/members/:user_id -> 404)')
    const invalid = await bot.setMemberRoles(GUILD, USER, [ROLE]).catch((e: unknown) => e)
    expect(invalid).toBeInstanceOf(DiscordAPIError)
    expect(invalid).toMatchObject({ code: 'FST_DISCORD_API_ERROR', status: 400, discordCode: 50035, errors: { roles: { _errors: [{ code: 'X', message: 'bad' }] } } })
  })

  it('a body that is not JSON is a typed malformed-response error, not a crash, and is not retried', async () => {
    const { server, client } = await setup(async (_req, reply) => reply.code(200).header('content-type', 'application/json').send('{"id": "81384788765712384", '))
    const err = await client.bot(TOKEN).getGuild(GUILD).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(DiscordMalformedResponseError)
    expect(err).toMatchObject({ code: 'FST_DISCORD_API_MALFORMED_RESPONSE', status: 200, route: '/guilds/:guild_id' })
    expect(server.seen).toHaveLength(1)
  })

  it('a JSON body of the wrong shape is a malformed-response error too', async () => {
    const { client } = await setup(async (req) => req.url.includes('/members') ? [{ roles: [] }] : { name: 'no id' })
    await expect(client.bot(TOKEN).getGuild(GUILD)).rejects.toBeInstanceOf(DiscordMalformedResponseError)
    await expect(client.bot(TOKEN).listGuildMembers(GUILD).next()).rejects.toBeInstanceOf(DiscordMalformedResponseError)
  })

  it('OAuth2 error bodies surface as DiscordOAuthError with the error field', async () => {
    const { client } = await setup(async (_req, reply) => reply.code(400).send({ error: 'invalid_grant', error_description: 'Invalid "code" in request.' }))
    const err = await client.oauth2({ clientId: '1', clientSecret: 's' }).exchangeCode('used', 'https://a/cb').catch((e: unknown) => e)
    expect(err).toBeInstanceOf(DiscordOAuthError)
    expect(err).toMatchObject({ code: 'FST_DISCORD_API_OAUTH', oauthError: 'invalid_grant', description: 'Invalid "code" in request.', status: 400 })
  })

  it('a token response without access_token is malformed', async () => {
    const { client } = await setup(async () => ({ token_type: 'Bearer' }))
    await expect(client.oauth2({ clientId: '1', clientSecret: 's' }).refreshToken('r')).rejects.toBeInstanceOf(DiscordMalformedResponseError)
  })

  it('a 429 without JSON or retry time (a ban page) fails at once with a rate-limit error', async () => {
    const { server, client } = await setup(async (_req, reply) => reply.code(429).header('content-type', 'text/html').send('<html>error code: 40333</html>'))
    const err = await client.bot(TOKEN).getGuild(GUILD).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(DiscordRateLimitError)
    expect(err).toMatchObject({ code: 'FST_DISCORD_API_RATE_LIMITED', status: 429 })
    expect(server.seen).toHaveLength(1)
  })
})

describe('retries', () => {
  it('retries 5xx with backoff and succeeds', async () => {
    const { server, client } = await setup(async (_req, reply, n) => n <= 2 ? reply.code(502).send({ message: 'Bad Gateway', code: 0 }) : guild(), { retryBaseDelayMs: 40, retryMaxDelayMs: 200 })
    const retries: unknown[] = []
    client.on('retry', (e) => retries.push(e))
    const original = Math.random
    Math.random = () => 0.5
    try {
      await expect(client.bot(TOKEN).getGuild(GUILD)).resolves.toMatchObject({ id: GUILD })
    } finally {
      Math.random = original
    }
    expect(server.seen).toHaveLength(3)
    // Full jitter with random 0.5: 20 ms, then 40 ms.
    expect(retries).toMatchObject([{ attempt: 1, delayMs: 20, reason: 'server_error', status: 502 }, { attempt: 2, delayMs: 40, reason: 'server_error', status: 502 }])
    expect((server.seen[1]?.at ?? 0) - (server.seen[0]?.at ?? 0)).toBeGreaterThanOrEqual(18)
    expect((server.seen[2]?.at ?? 0) - (server.seen[1]?.at ?? 0)).toBeGreaterThanOrEqual(38)
  })

  it('gives up after `retries` with a DiscordServerError', async () => {
    const { server, client } = await setup(async (_req, reply) => reply.code(500).send({ message: '500: Internal Server Error', code: 0 }), { retries: 2 })
    const err = await client.bot(TOKEN).getGuildRoles(GUILD).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(DiscordServerError)
    expect(err).toMatchObject({ code: 'FST_DISCORD_API_SERVER_ERROR', status: 500 })
    expect(server.seen).toHaveLength(3)
  })

  it('never retries other 4xx', async () => {
    const { server, client } = await setup(async (_req, reply) => reply.code(404).send({ code: 10004, message: 'Unknown Guild' }))
    await expect(client.bot(TOKEN).getGuild(GUILD)).rejects.toMatchObject({ discordCode: 10004 })
    expect(server.seen).toHaveLength(1)
  })

  it('times out each attempt, retries, then throws DiscordTimeoutError', async () => {
    // The server holds every answer until the test is over: only the client's timeout can end the call.
    let release = (): void => {}
    const held = new Promise<void>((resolve) => { release = resolve })
    const { server, client } = await setup(async () => {
      await held
      return guild()
    }, { timeoutMs: 60, retries: 1 })
    try {
      const err = await client.bot(TOKEN).getGuild(GUILD).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(DiscordTimeoutError)
      expect(err).toMatchObject({ code: 'FST_DISCORD_API_TIMEOUT', timeoutMs: 60, status: undefined })
      expect(server.seen).toHaveLength(2)
    } finally {
      release()
    }
  })

  it('never resends a write whose outcome is unknown when the caller says so (resendUnknownOutcome: false); a 5xx still retries', async () => {
    let release = (): void => {}
    const held = new Promise<void>((resolve) => { release = resolve })
    const { server, client } = await setup(async (req, reply) => {
      if (req.url.includes('/roles/')) {
        await held
        return reply.code(204).send()
      }
      return reply.code(500).send({ message: 'boom' })
    }, { timeoutMs: 60, retries: 2 })
    try {
      const bot = client.bot(TOKEN)
      const err = await bot.addMemberRole(GUILD, '80351110224678912', '80351110224678913', { resendUnknownOutcome: false }).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(DiscordTimeoutError)
      expect(server.seen.filter((r) => r.method === 'PUT')).toHaveLength(1)
      // By default the same write is retried (Discord's role PUT is idempotent).
      await bot.addMemberRole(GUILD, '80351110224678912', '80351110224678913').catch(() => {})
      expect(server.seen.filter((r) => r.method === 'PUT')).toHaveLength(4)
      // A 5xx is an answer: nothing was applied, so it is retried even when unknown outcomes are not.
      await bot.setMemberRoles(GUILD, '80351110224678912', [], { resendUnknownOutcome: false }).catch(() => {})
      expect(server.seen.filter((r) => r.method === 'PATCH')).toHaveLength(3)
    } finally {
      release()
    }
  })

  it('retries a connection reset and reports a network error when resets persist', async () => {
    const { server, client } = await setup(async (req, reply, n) => {
      if (n === 1 || req.url.includes('roles')) {
        reply.hijack()
        req.raw.socket.destroy()
        return reply
      }
      return guild()
    }, { retries: 2 })
    await expect(client.bot(TOKEN).getGuild(GUILD)).resolves.toMatchObject({ id: GUILD })
    expect(server.seen).toHaveLength(2)
    const err = await client.bot(TOKEN).getGuildRoles(GUILD).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(DiscordNetworkError)
    expect(err).toMatchObject({ code: 'FST_DISCORD_API_NETWORK' })
    expect(server.seen).toHaveLength(5)
  })

  it('aborting the caller signal stops a rate-limit wait', async () => {
    const { client } = await setup(async (_req, reply) => reply.code(429).header('x-ratelimit-scope', 'user').send({ message: 'slow', retry_after: 5, global: false }))
    const controller = new AbortController()
    // Abort once the client is waiting out the 429's 5 s pause on the bucket.
    let abortedAt = 0
    client.once('wait', (e) => {
      expect(e.reason).toBe('bucket')
      setImmediate(() => {
        abortedAt = performance.now()
        controller.abort(new Error('caller gave up'))
      })
    })
    const pending = client.bot(TOKEN).getGuild(GUILD, { signal: controller.signal }).catch((e: unknown) => e)
    expect(await pending).toMatchObject({ message: 'caller gave up' })
    // At once, not when the pause would have ended.
    expect(performance.now() - abortedAt).toBeLessThan(1_000)
  })
})

describe('401 token lock', () => {
  it('locks a bot token after a 401 until resetToken, without sending', async () => {
    let valid = false
    const { server, client, logs } = await setup(async (_req, reply) => valid ? guild() : reply.code(401).send({ message: '401: Unauthorized', code: 0 }))
    const locked: unknown[] = []
    client.on('tokenLocked', (e) => locked.push(e))
    const bot = client.bot(TOKEN)
    await expect(bot.getGuild(GUILD)).rejects.toBeInstanceOf(DiscordAuthenticationError)
    expect(client.isTokenLocked(TOKEN)).toBe(true)
    const err = await bot.getGuild(GUILD).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(DiscordTokenInvalidError)
    expect(err).toMatchObject({ code: 'FST_DISCORD_API_TOKEN_INVALID' })
    expect(server.seen).toHaveLength(1)
    expect(locked).toHaveLength(1)
    // Other tokens are unaffected.
    valid = true
    await expect(client.bot(`${TOKEN}-other`).getGuild(GUILD)).resolves.toMatchObject({ id: GUILD })
    expect(client.resetToken(TOKEN)).toBe(true)
    await expect(bot.getGuild(GUILD)).resolves.toMatchObject({ id: GUILD })
    // The token never shows up in what the client emitted or logged.
    expect(JSON.stringify({ logs, locked })).not.toContain(TOKEN)
  })

  it('queued requests behind the 401 are not sent', async () => {
    const { server, client } = await setup(async (_req, reply) => reply.code(401).send({ message: '401: Unauthorized', code: 0 }))
    const bot = client.bot(TOKEN)
    const results = await Promise.allSettled(Array.from({ length: 5 }, () => bot.getGuild(GUILD)))
    expect(server.seen).toHaveLength(1)
    expect(results.filter((r) => r.status === 'rejected' && r.reason instanceof DiscordTokenInvalidError)).toHaveLength(4)
  })

  it('a 401 on a Bearer token does not lock anything', async () => {
    const { server, client } = await setup(async (_req, reply) => reply.code(401).send({ message: '401: Unauthorized', code: 0 }))
    const user = client.user('expired-access-token')
    await expect(user.getCurrentUser()).rejects.toBeInstanceOf(DiscordAuthenticationError)
    await expect(user.getCurrentUser()).rejects.toBeInstanceOf(DiscordAuthenticationError)
    expect(server.seen).toHaveLength(2)
  })
})

describe('no token leaks', () => {
  it('errors, events and logs never contain the token', async () => {
    const { client, logs } = await setup(async (req, reply, n) => {
      if (n === 1) return reply.code(500).send({ message: 'boom', code: 0 })
      if (n === 2) return reply.code(429).header('x-ratelimit-scope', 'user').header('x-ratelimit-bucket', 'b1').send({ message: 'slow', retry_after: 0.01, global: false })
      return reply.code(403).send({ code: 50013, message: 'Missing Permissions' })
    })
    const events: unknown[] = []
    for (const name of ['request', 'response', 'rateLimited', 'retry', 'wait', 'tokenLocked', 'store'] as const) client.on(name, (e: unknown) => events.push({ name, e }))
    const err = await client.bot(TOKEN).getGuild(GUILD).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(DiscordPermissionError)
    expect(events.length).toBeGreaterThan(5)
    const everything = [JSON.stringify(events), JSON.stringify(logs), JSON.stringify(err), String(err), (err as Error).stack ?? '', inspect(err, { depth: 5 }), inspect(client, { depth: 3 })].join('\n')
    expect(everything).not.toContain(TOKEN)
    expect(everything).not.toContain(TOKEN.slice(0, 20))
  })
})
