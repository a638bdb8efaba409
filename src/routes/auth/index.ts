import { Type } from '@sinclair/typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { ErrorResponse, Snowflake } from '../../schemas/common.js'
import {
  AuthStatusBody, Code, CompletedFlowBody, completedBody, Redirect, RedirectUrl, Scopes, StartedFlow, State, TokenRefreshRuns, UnlinkBody
} from '../../schemas/auth.js'
import { COMMON_ERROR_STATUSES, errorResponses, SESSION_SECURITY } from '../../schemas/http.js'
import { tokenRefreshHistory } from '../../tasks/token-refresh.js'
import type { CallbackOutcome, CompletedFlow } from '../../auth/oauth-types.js'
import type { AuthUser } from '../../auth/types.js'

/*
 * Discord OAuth2 login and linking, unlinking and the auth status. Handlers validate (schemas),
 * call the OAuth service and shape the reply; the logic lives in src/auth/.
 */

/** The callback URL carries the authorisation code and state: log the path and parameter names only. */
function redactedRequest (req: FastifyRequest): Record<string, unknown> {
  const [path, query] = req.url.split('?', 2)
  const names = query === undefined ? '' : '?' + [...new URLSearchParams(query).keys()].map((k) => `${k}=[redacted]`).join('&')
  return { method: req.method, url: `${path as string}${names}`, hostname: req.hostname, remoteAddress: req.ip }
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
      response: { 200: StartedFlow, 400: ErrorResponse, 429: ErrorResponse, 503: ErrorResponse }
    }
  }, async (request, reply) => {
    // The caller's IP is charged one flow start (auth.stateRateLimit); the reply gets the PKCE verifier cookie (auth.pkce).
    const started = await oauth.start(request.query, request.discordAuth, request.ip, reply)
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
  }, async (request, reply) => finishCallback(reply, await oauth.callback(request.query, { bindingCookie: binding.read(request), verifierCookie: binding.readVerifier(request) })))

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
      response: { 200: Type.Union([StartedFlow, CompletedFlowBody]), 400: ErrorResponse, 401: ErrorResponse, 409: ErrorResponse, 429: ErrorResponse, 502: ErrorResponse, 503: ErrorResponse }
    }
  }, async (request, reply) => {
    const outcome = await oauth.link(request.body ?? {}, request.discordAuth as AuthUser, request.ip, reply)
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
    config: { discordReadCache: true },
    preValidation: auth.requireAdmin,
    schema: {
      tags: ['discord'],
      summary: 'Recorded runs of the scheduled token refresh: counts and per-link errors (admin)',
      security: SESSION_SECURITY,
      querystring: Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, description: 'Default 20' })) }, { additionalProperties: false }),
      response: { 200: TokenRefreshRuns, ...errorResponses(...COMMON_ERROR_STATUSES) }
    }
  }, async (request, reply) => {
    const task = fastify.discord.tokenRefresh
    // A refresh running here is this process's state, not the store's: that answer is not kept.
    if (task?.running === true) reply.header('cache-control', 'no-store')
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
