import { createHash } from 'node:crypto'
import type { FastifyReply } from 'fastify'
import type { SimContext } from '../context.js'
import type { ApiRouter } from '../rest/request.js'
import { authenticateClient, formOf } from './client-auth.js'
import { OAuthHttpError } from './errors.js'
import { KNOWN_SCOPES, parseScopes } from './scopes.js'

/*
 * OAuth2 token endpoints (docs/oauth2.mdx):
 * - POST /oauth2/token and /oauth2/token/revoke accept ONLY application/x-www-form-urlencoded
 *   ("JSON content is not permitted and will return an error"), with client authentication
 *   (both in client-auth.ts);
 * - authorization_code: single use, bound to the app and to the redirect_uri of the authorization;
 * - refresh_token: rotation, the old refresh token stops working;
 * - client_credentials: a token for the app owner, without refresh token;
 * - revoking any token revokes every token of that authorization.
 * PKCE is not described by the docs; the simulator follows RFC 7636 4.6 when the authorize
 * request carried a code_challenge (S256): the exchange must send the matching code_verifier, and a
 * missing or wrong one answers invalid_grant (the code is spent, so a stolen code gets one guess).
 * Without a challenge, a code_verifier is ignored, as before.
 */

/** RFC 7636 4.1: 43 to 128 unreserved characters. */
const VERIFIER = /^[A-Za-z0-9._~-]{43,128}$/

function verifierMatches (verifier: string | undefined, challenge: string): boolean {
  return verifier !== undefined && VERIFIER.test(verifier) && createHash('sha256').update(verifier).digest('base64url') === challenge
}

function noStore (reply: FastifyReply): FastifyReply {
  // RFC 6749 5.1: token responses must not be cached.
  return reply.header('cache-control', 'no-store').header('pragma', 'no-cache')
}

export function registerTokenRoutes (sim: SimContext, router: ApiRouter): void {
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
      if (record.codeChallenge !== null && !verifierMatches(form.code_verifier, record.codeChallenge)) {
        throw new OAuthHttpError('invalid_grant', form.code_verifier === undefined ? 'Missing "code_verifier" in request.' : 'Invalid "code_verifier" in request.')
      }
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
