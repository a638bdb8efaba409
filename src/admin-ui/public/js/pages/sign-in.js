// @ts-check
/* The page a visitor sees: sign in with Discord, or why nobody can on this server. */
import { api, query } from '../api.js'
import { action } from '../components/action.js'
import { h } from '../dom.js'
import { state, UI_URL } from '../state.js'

/**
 * @param {HTMLElement} main
 */
export function signInPage (main) {
  const s = state.session
  const out = h('div')
  const button = h('button', { type: 'button' }, 'Sign in with Discord')
  action(button, out, async () => {
    const { auth_url: authUrl } = /** @type {import('../types.js').StartedFlow} */ (await api('GET', `auth/login${query({ redirect_url: UI_URL })}`))
    location.assign(authUrl)
  })
  if (s !== null && (!s.discord_configured || !s.auth_configured)) button.disabled = true
  main.append(h('div', { class: 'signin panel' },
    h('h1', { tabindex: '-1' }, 'Sign in'),
    h('p', {}, 'Sign in with your Discord account. Admins manage guilds, role mappings and syncs; everyone can see their own Discord link, re-link, unlink and sync their roles.'),
    s?.session_expired ? h('p', { class: 'warning' }, 'Your session has expired. Sign in again.') : null,
    s !== null && !s.auth_configured ? h('p', { class: 'error', role: 'alert' }, 'Sessions are not configured on this server (no JWT secret): nobody can sign in.') : null,
    s !== null && !s.discord_configured ? h('p', { class: 'error', role: 'alert' }, 'No Discord application is configured on this server: set the Discord client id, secret and redirect URI.') : null,
    button, out))
}
