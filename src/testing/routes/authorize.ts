import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { SimContext } from '../context.js'
import { FormBody } from '../pipeline.js'
import { randomToken } from '../tokens.js'
import { KNOWN_SCOPES, parseScopes } from './oauth.js'

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
 */

interface PendingConsent {
  clientId: string
  scopes: string[]
  redirectUri: string
  redirectUriGiven: boolean
  state: string | undefined
  expiresAt: number
}

const SCOPE_TEXT: Record<string, string> = {
  identify: 'Access your username, avatar, and banner',
  email: 'Access your email address',
  guilds: 'Know what servers you are in',
  'guilds.members.read': 'Read your member info (nickname, avatar, roles) in servers you belong to',
  'guilds.join': 'Join servers for you',
  connections: 'Access your third-party connections',
  'role_connections.write': 'Update your connection and metadata for this app'
}

function escapeHtml (s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;')
}

function page (title: string, body: string): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>
  body { font-family: system-ui, sans-serif; background: #313338; color: #f2f3f5; margin: 0; display: flex; justify-content: center; }
  main { background: #2b2d31; margin: 2rem 1rem; padding: 1.5rem 2rem; border-radius: 8px; max-width: 32rem; width: 100%; }
  h1 { font-size: 1.3rem; }
  ul { padding-left: 1.2rem; }
  label { display: block; margin: 1rem 0 0.3rem; font-weight: 600; }
  select, input { width: 100%; padding: 0.5rem; font-size: 1rem; box-sizing: border-box; }
  .actions { display: flex; gap: 1rem; margin-top: 1.5rem; }
  button { flex: 1; padding: 0.7rem; font-size: 1rem; border: 0; border-radius: 4px; cursor: pointer; }
  button[value="authorize"] { background: #5865f2; color: #fff; }
  button[value="cancel"] { background: #4e5058; color: #fff; }
  button:focus-visible, select:focus-visible, input:focus-visible { outline: 3px solid #00a8fc; outline-offset: 2px; }
  .error { color: #fa777c; }
</style>
</head>
<body>
<main>
${body}
</main>
</body>
</html>`
}

function errorPage (reply: FastifyReply, status: number, message: string): FastifyReply {
  return reply.code(status).type('text/html; charset=utf-8').send(page('Authorization error', `<h1>Authorization error</h1>\n<p class="error" role="alert">${escapeHtml(message)}</p>`))
}

function redirectWith (reply: FastifyReply, redirectUri: string, params: Record<string, string | undefined>): FastifyReply {
  const target = new URL(redirectUri)
  for (const [k, v] of Object.entries(params)) if (v !== undefined) target.searchParams.set(k, v)
  return reply.code(302).header('location', target.toString()).header('cache-control', 'no-store').send()
}

const MAX_PICKER_USERS = 200

export function authorizePlugin (sim: SimContext) {
  const pending = new Map<string, PendingConsent>()

  function approve (reply: FastifyReply, consent: PendingConsent, userId: string): FastifyReply {
    const code = sim.state.createAuthorizationCode({
      clientId: consent.clientId,
      userId,
      scopes: consent.scopes,
      redirectUri: consent.redirectUri,
      redirectUriGiven: consent.redirectUriGiven
    })
    return redirectWith(reply, consent.redirectUri, { code, state: consent.state })
  }

  function consentPage (request: FastifyRequest, reply: FastifyReply, id: string, consent: PendingConsent): FastifyReply {
    const app = sim.state.getOAuthApp(consent.clientId)
    const appName = escapeHtml(app?.name ?? consent.clientId)
    const users = [...sim.state.users.values()].filter((u) => !u.bot)
    const options = users.slice(0, MAX_PICKER_USERS)
      .map((u) => `<option value="${escapeHtml(u.id)}">${escapeHtml(u.global_name ?? u.username)} (${escapeHtml(u.id)})</option>`)
      .join('\n')
    const scopes = consent.scopes.map((s) => `<li><code>${escapeHtml(s)}</code>${SCOPE_TEXT[s] !== undefined ? ` — ${escapeHtml(SCOPE_TEXT[s])}` : ''}</li>`).join('\n')
    const action = escapeHtml(request.url.split('?')[0] ?? '/oauth2/authorize')
    const picker = users.length === 0
      ? '<p class="error" role="alert">No users are seeded in the simulator: add one with state.addUser().</p>'
      : `<label for="user_id">Sign in as</label>
<select id="user_id" name="user_id" required>
${options}
</select>${users.length > MAX_PICKER_USERS
  ? `\n<label for="user_id_manual">Or enter a user id (${users.length} users are seeded)</label>\n<input id="user_id_manual" name="user_id_manual" inputmode="numeric" pattern="[0-9]{17,20}" autocomplete="off">`
  : ''}`
    const html = `<h1 id="title">${appName} wants to access your account</h1>
<form method="post" action="${action}" aria-labelledby="title">
<input type="hidden" name="request_id" value="${escapeHtml(id)}">
<fieldset>
<legend>This will allow the app to:</legend>
<ul>
${scopes}
</ul>
</fieldset>
${picker}
<p>You will be redirected to <code>${escapeHtml(new URL(consent.redirectUri).origin)}</code>.</p>
<div class="actions">
<button type="submit" name="decision" value="cancel" formnovalidate>Cancel</button>
<button type="submit" name="decision" value="authorize"${users.length === 0 ? ' disabled' : ''}>Authorize</button>
</div>
</form>`
    return reply.code(200).type('text/html; charset=utf-8').header('cache-control', 'no-store').send(page(`Authorize ${app?.name ?? 'application'}`, html))
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

      const consent: PendingConsent = { clientId: client.client_id, scopes, redirectUri, redirectUriGiven, state, expiresAt: Date.now() + sim.consentTtlMs }
      const autoUser = client.autoApproveUserId ?? sim.autoApproveUserId
      if (autoUser !== null && autoUser !== undefined) {
        if (sim.state.getUser(autoUser) === undefined) return errorPage(reply, 500, `autoApproveUserId ${autoUser} is not a seeded user.`)
        return approve(reply, consent, autoUser)
      }
      for (const [id, p] of pending) if (Date.now() >= p.expiresAt) pending.delete(id)
      const id = randomToken(24)
      pending.set(id, consent)
      return consentPage(request, reply, id, consent)
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
