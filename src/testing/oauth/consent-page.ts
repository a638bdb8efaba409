import type { FastifyReply, FastifyRequest } from 'fastify'
import type { SimulatorState } from '../state/simulator-state.js'

/*
 * The HTML of the authorization page: the consent form (app, scopes, a picker of seeded users to
 * sign in as) and the error page shown instead of redirecting.
 */

/** What the consent form shows and posts back. */
export interface ConsentRequest {
  clientId: string
  scopes: string[]
  redirectUri: string
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

export function errorPage (reply: FastifyReply, status: number, message: string): FastifyReply {
  return reply.code(status).type('text/html; charset=utf-8').send(page('Authorization error', `<h1>Authorization error</h1>\n<p class="error" role="alert">${escapeHtml(message)}</p>`))
}

const MAX_PICKER_USERS = 200

export function consentPage (state: SimulatorState, request: FastifyRequest, reply: FastifyReply, id: string, consent: ConsentRequest): FastifyReply {
  const app = state.getOAuthApp(consent.clientId)
  const appName = escapeHtml(app?.name ?? consent.clientId)
  const users = [...state.users.values()].filter((u) => !u.bot)
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
