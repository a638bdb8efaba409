// @ts-check
/*
 * What the UI remembers between pages: the session, the guild list (for names), a message for
 * the next page, and which page is on screen. Pages that poll or load in steps compare their
 * view number with the current one so a page the admin already left never writes to the screen.
 */

/**
 * @typedef {import('./types.js').Session} Session
 * @typedef {import('./types.js').GuildConfig} GuildConfig
 * @typedef {import('./api.js').ApiError} ApiError
 */

/** Where sign-in sends the browser back to: the UI itself, without hash or query. */
export const UI_URL = location.origin + location.pathname
/** sessionStorage key of the page a sign-in or re-link should return to. */
export const RETURN_KEY = 'discord-sync-admin:return'
/** How often a running sync is polled: live enough to watch, far below the API's default 120 requests a minute. */
export const POLL_MS = 1500

/** @type {{ session: Session | null, guilds: GuildConfig[] | null, flash: ApiError | null }} */
export const state = { session: null, guilds: null, flash: null }

let view = 0

/** Starts a new page on screen; returns its view number. */
export function nextView () {
  return ++view
}

/** The number of the page on screen. */
export function currentView () {
  return view
}

/**
 * True while the page that started a poll is still on screen.
 * @param {number} myView
 */
export function alive (myView) {
  return myView === view
}

/**
 * The session of a signed-in user. The router shows pages only then, so anything else is a bug.
 * @returns {import('./types.js').SignedInSession}
 */
export function signedIn () {
  const s = state.session
  if (s === null || !s.authenticated || s.user_id === null) throw new Error('No signed-in session')
  return /** @type {import('./types.js').SignedInSession} */ (s)
}
