import { timingSafeEqual } from 'node:crypto'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { SimContext } from '../context.js'
import { OAuthHttpError } from '../oauth-errors.js'
import type { ApiRouter } from '../pipeline.js'
import { FormBody } from '../pipeline.js'
import type { OAuthApp } from '../types.js'

/*
 * OAuth2 token endpoints (docs/oauth2.mdx):
 * - POST /oauth2/token and /oauth2/token/revoke accept ONLY application/x-www-form-urlencoded
 *   ("JSON content is not permitted and will return an error");
 * - client authentication by HTTP Basic or client_id/client_secret form fields ("All calls to
 *   the OAuth2 endpoints require either HTTP Basic authentication or client_id and client_secret");
 * - authorization_code: single use, bound to the app and to the redirect_uri of the authorization;
 * - refresh_token: rotation, the old refresh token stops working;
 * - client_credentials: a token for the app owner, without refresh token;
 * - revoking any token revokes every token of that authorization.
 * PKCE (code_challenge / code_verifier) is not described by the docs, so it is not simulated:
 * those parameters are ignored.
 */

/** Every scope docs/oauth2.mdx lists, plus `openid` from openapi.json's OAuth2 security scheme. */
export const KNOWN_SCOPES = new Set([
  'activities.read', 'activities.write', 'applications.builds.read', 'applications.builds.upload', 'applications.commands',
  'applications.commands.update', 'applications.commands.permissions.update', 'applications.entitlements', 'applications.store.update',
  'bot', 'connections', 'dm_channels.read', 'email', 'gdm.join', 'guilds', 'guilds.join', 'guilds.members.read', 'identify',
  'identify.premium', 'messages.read', 'openid', 'relationships.read', 'role_connections.write', 'rpc', 'rpc.activities.write',
  'rpc.notifications.read', 'rpc.voice.read', 'rpc.voice.write', 'voice', 'webhook.incoming'
])

/** Scopes split on spaces (docs: "a list of OAuth2 scopes separated by url encoded spaces"), order kept, duplicates dropped. */
export function parseScopes (raw: string | undefined): string[] {
  return [...new Set((raw ?? '').split(' ').filter((s) => s.length > 0))]
}

function isForm (request: FastifyRequest): boolean {
  const type = (request.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase()
  return type === 'application/x-www-form-urlencoded' && request.body instanceof FormBody
}

function formOf (request: FastifyRequest): Record<string, string> {
  if (!isForm(request)) throw new OAuthHttpError('invalid_request', 'Content-Type must be application/x-www-form-urlencoded')
  const form = request.body as FormBody
  if (form.duplicates.length > 0) throw new OAuthHttpError('invalid_request', `Parameter "${form.duplicates[0]}" was sent more than once`)
  return form.fields
}

function sameSecret (a: string, b: string): boolean {
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}

/** RFC 6749 2.3.1: Basic credentials are form-urlencoded before base64. */
function formDecode (s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '))
  } catch {
    return s
  }
}

function authenticateClient (sim: SimContext, request: FastifyRequest, form: Record<string, string>): OAuthApp {
  let id: string | undefined
  let secret: string | undefined
  const header = request.headers.authorization
  if (header !== undefined && /^basic /i.test(header)) {
    const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8')
    const colon = decoded.indexOf(':')
    if (colon === -1) throw new OAuthHttpError('invalid_client', 'Malformed Basic credentials')
    id = formDecode(decoded.slice(0, colon))
    secret = formDecode(decoded.slice(colon + 1))
    // Both methods at once are accepted only when they agree (RFC 6749 forbids two methods; be strict on conflicts).
    if ((form.client_id !== undefined && form.client_id !== id) || (form.client_secret !== undefined && form.client_secret !== secret)) {
      throw new OAuthHttpError('invalid_request', 'Conflicting client credentials')
    }
  } else {
    id = form.client_id
    secret = form.client_secret
  }
  if (id === undefined || secret === undefined) throw new OAuthHttpError('invalid_client', 'Client authentication is required')
  const app = sim.state.getOAuthApp(id)
  if (app === undefined || !sameSecret(app.client_secret, secret)) throw new OAuthHttpError('invalid_client', 'Invalid client')
  return app
}

function noStore (reply: FastifyReply): FastifyReply {
  // RFC 6749 5.1: token responses must not be cached.
  return reply.header('cache-control', 'no-store').header('pragma', 'no-cache')
}

export function registerOAuthRoutes (sim: SimContext, router: ApiRouter): void {
  const { state } = sim

  router.route({ route: 'POST /oauth2/token', auth: 'none', oauth: true }, async (request, reply) => {
    const form = formOf(request)
    const app = authenticateClient(sim, request, form)
    const grant = form.grant_type
    if (grant === undefined || grant === '') throw new OAuthHttpError('invalid_request', 'Missing "grant_type"')

    if (grant === 'authorization_code') {
      const code = form.code
      if (code === undefined || code === '') throw new OAuthHttpError('invalid_request', 'Missing "code"')
      const record = state.findCode(code)
      if (record === undefined || record.used || record.clientId !== app.client_id || Date.now() >= record.expiresAt) {
        throw new OAuthHttpError('invalid_grant', 'Invalid "code" in request.')
      }
      const redirectUri = form.redirect_uri
      if ((record.redirectUriGiven && redirectUri === undefined) || (redirectUri !== undefined && redirectUri !== record.redirectUri)) {
        throw new OAuthHttpError('invalid_grant', 'Invalid "redirect_uri" in request.')
      }
      // Single use: marked before minting so a concurrent second exchange cannot also succeed.
      record.used = true
      const tokens = state.issueUserToken({ clientId: app.client_id, userId: record.userId, scopes: record.scopes })
      return noStore(reply).send(tokens)
    }

    if (grant === 'refresh_token') {
      const refresh = form.refresh_token
      if (refresh === undefined || refresh === '') throw new OAuthHttpError('invalid_request', 'Missing "refresh_token"')
      const authorization = state.findRefreshToken(refresh)
      if (authorization === undefined || authorization.clientId !== app.client_id) {
        throw new OAuthHttpError('invalid_grant', 'Invalid "refresh_token" in request.')
      }
      return noStore(reply).send(state.rotate(authorization))
    }

    if (grant === 'client_credentials') {
      if (app.owner_id === undefined || state.getUser(app.owner_id) === undefined) {
        throw new OAuthHttpError('unauthorized_client', 'This application has no owner to issue a token for')
      }
      const scopes = parseScopes(form.scope)
      const unknown = scopes.find((s) => !KNOWN_SCOPES.has(s))
      if (scopes.length === 0 || unknown !== undefined) throw new OAuthHttpError('invalid_scope', unknown === undefined ? 'Missing "scope"' : `Invalid scope: ${unknown}`)
      return noStore(reply).send(state.issueUserToken({ clientId: app.client_id, userId: app.owner_id, scopes, withRefreshToken: false }))
    }

    throw new OAuthHttpError('unsupported_grant_type', `Unsupported grant type: ${grant}`)
  })

  // RFC 7009: an unknown or already revoked token is not an error (200 either way).
  router.route({ route: 'POST /oauth2/token/revoke', auth: 'none', oauth: true }, async (request, reply) => {
    const form = formOf(request)
    const app = authenticateClient(sim, request, form)
    const token = form.token
    if (token === undefined || token === '') throw new OAuthHttpError('invalid_request', 'Missing "token"')
    const hint = form.token_type_hint
    if (hint !== undefined && hint !== 'access_token' && hint !== 'refresh_token') {
      throw new OAuthHttpError('invalid_request', 'token_type_hint must be access_token or refresh_token')
    }
    const authorization = state.findAuthorizationByToken(token)
    if (authorization !== undefined && authorization.clientId === app.client_id) state.revokeAuthorization(authorization)
    return noStore(reply).send({})
  })
}
