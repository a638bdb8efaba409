import { Type, type Static } from '@sinclair/typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { ErrorResponse, Snowflake } from '../../schemas/common.js'
import { COMMON_ERROR_STATUSES, errorResponses, SESSION_SECURITY } from '../../schemas/http.js'
import { STATE_PATTERN } from '../../auth/flow.js'
import { tokenRefreshHistory } from '../../tasks/token-refresh.js'
import type { CallbackOutcome, CompletedFlow } from '../../auth/oauth-service.js'
import type { AuthUser } from '../../auth/types.js'

/*
 * Discord OAuth2 login and linking, unlinking and the auth status. Handlers validate (schemas),
 * call the OAuth service and shape the reply; the logic lives in src/auth/.
 */

const Scopes = Type.String({ minLength: 1, maxLength: 512, description: 'Scopes separated by spaces, commas or +; each must be allowed; must include identify. Default: discord.scopes' })
const RedirectUrl = Type.String({ minLength: 1, maxLength: 2048, description: 'Where the browser goes after the callback; must match auth.redirectUrls on origin and path' })
const State = Type.String({ pattern: STATE_PATTERN, description: 'The state returned by /auth/login or /auth/link (43 base64url characters)' })
const Code = Type.String({ minLength: 1, maxLength: 512, description: 'Authorisation code from Discord' })

const StartedFlow = Type.Object({
  auth_url: Type.String({ description: 'Discord authorize URL to send the browser to' }),
  state: Type.String(),
  expires_at: Type.String({ format: 'date-time' })
})

const LinkedAccount = Type.Object({
  discord_user_id: Type.String(),
  username: Type.String(),
  global_name: Type.Union([Type.String(), Type.Null()]),
  avatar: Type.Union([Type.String(), Type.Null()]),
  scopes: Type.Array(Type.String()),
  guild_count: Type.Integer(),
  token_expires_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  has_tokens: Type.Boolean(),
  needs_reauth: Type.Boolean({ description: 'Discord refused the refresh token: the user must authorise again' }),
  linked_at: Type.String({ format: 'date-time' }),
  last_sync: Type.Union([Type.String({ format: 'date-time' }), Type.Null()])
})

const CompletedFlowBody = Type.Object({
  success: Type.Literal(true),
  flow: Type.Union([Type.Literal('login'), Type.Literal('link')]),
  user_id: Type.String(),
  account: LinkedAccount,
  session_expires_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], { description: 'Login flow: expiry of the session cookie that was set' })
})

const AuthStatusBody = Type.Union([
  Type.Object({ authenticated: Type.Literal(false) }),
  Type.Object({
    authenticated: Type.Literal(true),
    user_id: Type.String(),
    linked: Type.Boolean(),
    needs_reauth: Type.Boolean(),
    accounts: Type.Array(LinkedAccount)
  })
])

const UnlinkBody = Type.Object({
  discord_user_id: Type.String(),
  user_id: Type.String(),
  unlinked: Type.Literal(true),
  token_revocation: Type.Union([Type.Literal('revoked'), Type.Literal('failed'), Type.Literal('no_tokens')]),
  tokens_deleted: Type.Boolean(),
  role_removal: Type.Object({
    queued: Type.Boolean(),
    sync_run_id: Type.Union([Type.String(), Type.Null()]),
    guild_ids: Type.Array(Type.String())
  })
})

const TokenRefreshRun = Type.Object({
  status: Type.Union([Type.Literal('completed'), Type.Literal('skipped'), Type.Literal('failed')]),
  reason: Type.Union([Type.String(), Type.Null()], { description: 'Why the run was skipped or failed (another instance holds the lock, lock unavailable, lock lost...)' }),
  started_at: Type.String({ format: 'date-time' }),
  finished_at: Type.String({ format: 'date-time' }),
  duration_ms: Type.Integer(),
  candidates: Type.Integer({ description: 'Links whose access token expired within the threshold' }),
  refreshed: Type.Integer(),
  reauth_required: Type.Integer({ description: 'Discord answered invalid_grant: the link is now needs_reauth' }),
  failed: Type.Integer({ description: 'Other failures (Discord 5xx, timeouts...): retried next run' }),
  skipped: Type.Integer({ description: 'No refresh token, or relinked while the run refreshed it' }),
  errors: Type.Array(Type.Object({ discord_user_id: Type.String(), code: Type.String(), message: Type.String() }), { description: 'Per-link failures (at most 50 per run), never a token' })
})

const TokenRefreshRuns = Type.Object({
  enabled: Type.Boolean({ description: 'The scheduled refresh runs on this instance (tokenRefresh.enabled and a Discord application)' }),
  running: Type.Boolean({ description: 'A run is in progress on this instance' }),
  runs: Type.Array(TokenRefreshRun, { description: 'Recorded runs of every instance, newest first' })
})

const Redirect = Type.Null({ description: 'Redirect (Location header) to the redirect_url stored with the state; on failure with ?error=<FST_DISCORD_ code>' })

/** The callback URL carries the authorisation code and state: log the path and parameter names only. */
function redactedRequest (req: FastifyRequest): Record<string, unknown> {
  const [path, query] = req.url.split('?', 2)
  const names = query === undefined ? '' : '?' + [...new URLSearchParams(query).keys()].map((k) => `${k}=[redacted]`).join('&')
  return { method: req.method, url: `${path as string}${names}`, hostname: req.hostname, remoteAddress: req.ip }
}

function completedBody (result: CompletedFlow): Static<typeof CompletedFlowBody> {
  return { success: true as const, flow: result.flow, user_id: result.user_id, account: result.account, session_expires_at: result.session?.expiresAt.toISOString() ?? null }
}

const authRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  const { auth, oauth } = fastify.discord
  const requireDiscord = fastify.discord.requireDiscord
  const binding = oauth.binding

  /** Sets the session cookie (login flow), then redirects or answers JSON. */
  const finish = (reply: FastifyReply, result: CompletedFlow): FastifyReply => {
    if (result.session !== null) auth.setSessionCookie(reply, result.session.token)
    if (result.redirect_url !== null) return reply.redirect(result.redirect_url, 302)
    return reply.send(completedBody(result))
  }

  /** A completed flow as above; a failed one with a known redirect URL goes there with `?error=<code>`. */
  const finishCallback = (reply: FastifyReply, outcome: CallbackOutcome): FastifyReply =>
    outcome.ok ? finish(reply, outcome.result) : reply.redirect(outcome.redirect_url, 302)

  fastify.get('/auth/login', {
    preHandler: [requireDiscord, auth.sessionIfValid],
    schema: {
      tags: ['discord'],
      summary: 'Start the Discord OAuth2 flow (login; link when a valid session is present)',
      querystring: Type.Object({ redirect_url: Type.Optional(RedirectUrl), scopes: Type.Optional(Scopes) }, { additionalProperties: false }),
      response: { 200: StartedFlow, 400: ErrorResponse, 503: ErrorResponse }
    }
  }, async (request, reply) => {
    const started = await oauth.start(request.query, request.discordAuth)
    binding.set(reply, started.state)
    return started
  })

  fastify.get('/auth/callback', {
    preHandler: [requireDiscord],
    // Every answer expires the binding cookie: a state is single use, whatever happened to it.
    onSend: async (_request, reply, payload) => {
      binding.clear(reply)
      return payload
    },
    logSerializers: { req: redactedRequest },
    schema: {
      tags: ['discord'],
      summary: 'Discord OAuth2 redirect target: consumes the state, exchanges the code, links the account',
      // Not additionalProperties: false, unlike every other route: Discord's redirect may carry
      // parameters this flow does not use (guild_id, permissions), and a browser must not land on a 400 for them.
      querystring: Type.Object({
        state: State,
        code: Type.Optional(Code),
        error: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
        error_description: Type.Optional(Type.String({ maxLength: 1024 }))
      }),
      response: { 200: CompletedFlowBody, 302: Redirect, 400: ErrorResponse, 409: ErrorResponse, 502: ErrorResponse, 503: ErrorResponse }
    }
  }, async (request, reply) => finishCallback(reply, await oauth.callback(request.query, { bindingCookie: binding.read(request) })))

  fastify.post('/auth/link', {
    preHandler: [auth.authenticate, requireDiscord],
    logSerializers: { req: redactedRequest },
    schema: {
      tags: ['discord'],
      summary: 'Link a Discord account to the current user: start a flow, or complete one with code and state',
      body: Type.Object({
        redirect_url: Type.Optional(RedirectUrl),
        scopes: Type.Optional(Scopes),
        code: Type.Optional(Code),
        state: Type.Optional(State)
      }, { additionalProperties: false }),
      response: { 200: Type.Union([StartedFlow, CompletedFlowBody]), 400: ErrorResponse, 401: ErrorResponse, 409: ErrorResponse, 502: ErrorResponse, 503: ErrorResponse }
    }
  }, async (request, reply) => {
    const outcome = await oauth.link(request.body ?? {}, request.discordAuth as AuthUser)
    if (outcome.kind === 'linked') return completedBody(outcome.result)
    binding.set(reply, outcome.state)
    return { auth_url: outcome.auth_url, state: outcome.state, expires_at: outcome.expires_at }
  })

  fastify.delete('/auth/unlink/:discord_id', {
    preHandler: [auth.authenticate],
    schema: {
      tags: ['discord'],
      summary: 'Unlink a Discord account (owner or admin): revoke, delete tokens and link, queue role removal',
      params: Type.Object({ discord_id: Snowflake }),
      response: { 200: UnlinkBody, 400: ErrorResponse, 401: ErrorResponse, 403: ErrorResponse, 404: ErrorResponse, 503: ErrorResponse }
    }
  }, async (request) => oauth.unlink(request, request.params.discord_id))

  fastify.get('/auth/token-refresh/runs', {
    preValidation: auth.requireAdmin,
    schema: {
      tags: ['discord'],
      summary: 'Recorded runs of the scheduled token refresh: counts and per-link errors (admin)',
      security: SESSION_SECURITY,
      querystring: Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, description: 'Default 20' })) }, { additionalProperties: false }),
      response: { 200: TokenRefreshRuns, ...errorResponses(...COMMON_ERROR_STATUSES) }
    }
  }, async (request) => {
    const task = fastify.discord.tokenRefresh
    return { enabled: task !== null, running: task?.running ?? false, runs: await tokenRefreshHistory(fastify.discord.store, request.query.limit) }
  })

  fastify.get('/auth/status', {
    preHandler: [auth.optionalAuth],
    schema: {
      tags: ['discord'],
      summary: 'Discord authentication status (public; details with a session)',
      response: { 200: AuthStatusBody, 401: ErrorResponse, 503: ErrorResponse }
    }
  }, async (request) => oauth.status(request.discordAuth))
}

export default authRoutes
