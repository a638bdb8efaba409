import type { FastifyInstance, FastifyReply } from 'fastify'
import type { SimContext } from '../context.js'
import { FormBody } from '../rest/body.js'
import { randomToken } from '../tokens.js'
import { consentPage, errorPage, type ConsentRequest } from './consent-page.js'
import { KNOWN_SCOPES, parseScopes } from './scopes.js'

/*
 * The authorization page (docs/oauth2.mdx "Authorization Code Grant"): discord.com/oauth2/authorize,
 * served at the site root and, for clients configured with an API-based URL, under /api and /api/v10.
 *
 * Errors follow RFC 6749 4.1.2.1, which the docs point to: an unknown client_id or an unregistered
 * redirect_uri is shown to the user (never redirected, to avoid open redirects); anything else is
 * reported to the redirect_uri with `error` (and `state` when given). Without redirect_uri the first
 * registered URI is used (the docs say so for the advanced bot flow; the simulator applies it generally).
 *
 * Only `response_type=code` is simulated. The `bot` and `webhook.incoming` scopes need a guild or
 * channel picker and side effects the simulator does not model; they are refused visibly.
 *
 * PKCE (RFC 7636) is not in Discord's OAuth2 topic; the simulator follows the RFC when a
 * `code_challenge` is sent, with `S256` only (a missing or other method is refused, redirected as
 * invalid_request), and binds the challenge to the code for the token endpoint to check.
 */

/** A base64url SHA-256 digest: 43 characters (RFC 7636 4.2). */
const S256_CHALLENGE = /^[A-Za-z0-9_-]{43}$/

interface PendingConsent extends ConsentRequest {
  redirectUriGiven: boolean
  codeChallenge: string | null
  state: string | undefined
  expiresAt: number
}

function redirectWith (reply: FastifyReply, redirectUri: string, params: Record<string, string | undefined>): FastifyReply {
  const target = new URL(redirectUri)
  for (const [k, v] of Object.entries(params)) if (v !== undefined) target.searchParams.set(k, v)
  return reply.code(302).header('location', target.toString()).header('cache-control', 'no-store').send()
}

export function authorizePlugin (sim: SimContext) {
  const pending = new Map<string, PendingConsent>()

  function approve (reply: FastifyReply, consent: PendingConsent, userId: string): FastifyReply {
    const code = sim.state.createAuthorizationCode({
      clientId: consent.clientId,
      userId,
      scopes: consent.scopes,
      redirectUri: consent.redirectUri,
      redirectUriGiven: consent.redirectUriGiven,
      codeChallenge: consent.codeChallenge
    })
    return redirectWith(reply, consent.redirectUri, { code, state: consent.state })
  }

  return async function authorize (app: FastifyInstance): Promise<void> {
    app.get('/oauth2/authorize', async (request, reply) => {
      const q = request.query as Record<string, string | undefined>
      const client = q.client_id === undefined ? undefined : sim.state.getOAuthApp(q.client_id)
      if (client === undefined) return errorPage(reply, 400, 'Unknown application: invalid client_id.')
      const redirectUriGiven = q.redirect_uri !== undefined
      const redirectUri = q.redirect_uri ?? client.redirect_uris[0] as string
      if (!client.redirect_uris.includes(redirectUri)) return errorPage(reply, 400, 'Invalid OAuth2 redirect_uri: it is not registered for this application.')
      const state = q.state
      if (q.response_type !== 'code') {
        return redirectWith(reply, redirectUri, { error: 'unsupported_response_type', error_description: 'Only response_type=code is supported', state })
      }
      const scopes = parseScopes(q.scope)
      const unknown = scopes.find((s) => !KNOWN_SCOPES.has(s))
      if (scopes.length === 0 || unknown !== undefined) {
        return redirectWith(reply, redirectUri, { error: 'invalid_scope', error_description: unknown === undefined ? 'Missing scope' : `Invalid scope: ${unknown}`, state })
      }
      const unsupported = scopes.find((s) => s === 'bot' || s === 'webhook.incoming' || s === 'applications.commands.update')
      if (unsupported !== undefined) return errorPage(reply, 400, `The simulator does not support the "${unsupported}" scope in the authorization page.`)

      const challenge = q.code_challenge
      if (challenge !== undefined || q.code_challenge_method !== undefined) {
        const problem = challenge === undefined
          ? 'code_challenge_method without code_challenge'
          : q.code_challenge_method !== 'S256'
            ? 'code_challenge_method must be S256'
            : S256_CHALLENGE.test(challenge) ? null : 'code_challenge must be a base64url SHA-256 digest (43 characters)'
        if (problem !== null) return redirectWith(reply, redirectUri, { error: 'invalid_request', error_description: problem, state })
      }
      const consent: PendingConsent = { clientId: client.client_id, scopes, redirectUri, redirectUriGiven, codeChallenge: challenge ?? null, state, expiresAt: Date.now() + sim.consentTtlMs }
      const autoUser = client.autoApproveUserId ?? sim.autoApproveUserId
      if (autoUser !== null && autoUser !== undefined) {
        if (sim.state.getUser(autoUser) === undefined) return errorPage(reply, 500, `autoApproveUserId ${autoUser} is not a seeded user.`)
        return approve(reply, consent, autoUser)
      }
      for (const [id, p] of pending) if (Date.now() >= p.expiresAt) pending.delete(id)
      const id = randomToken(24)
      pending.set(id, consent)
      return consentPage(sim.state, request, reply, id, consent)
    })

    app.post('/oauth2/authorize', async (request, reply) => {
      if (!(request.body instanceof FormBody)) return errorPage(reply, 400, 'The consent form must be posted as application/x-www-form-urlencoded.')
      const form = request.body.fields
      const id = form.request_id ?? ''
      const consent = pending.get(id)
      if (consent === undefined || Date.now() >= consent.expiresAt) {
        pending.delete(id)
        return errorPage(reply, 400, 'This authorization request has expired or was already answered. Start again from the application.')
      }
      if (form.decision === 'cancel') {
        pending.delete(id)
        return redirectWith(reply, consent.redirectUri, { error: 'access_denied', error_description: 'The resource owner or authorization server denied the request', state: consent.state })
      }
      const userId = (form.user_id_manual ?? '').trim() !== '' ? (form.user_id_manual as string).trim() : form.user_id ?? ''
      const user = sim.state.getUser(userId)
      if (user === undefined || user.bot) return errorPage(reply, 400, `Unknown user ${userId}.`)
      pending.delete(id)
      return approve(reply, consent, user.id)
    })
  }
}
