// @ts-check
/*
 * When a sign-in or re-link fails at Discord (cancelled, code refused, Discord down), the callback
 * sends the browser back here with ?error=<FST_DISCORD_ code>. Only a code is accepted from the
 * URL (a crafted link cannot put its own words on the page); the text shown is ours.
 */
import { ApiError } from './api.js'
import { state } from './state.js'

/** @type {Record<string, string>} */
const CALLBACK_ERRORS = {
  FST_DISCORD_OAUTH_DENIED: 'Discord authorisation was cancelled or refused: nothing changed.',
  FST_DISCORD_OAUTH_INVALID_GRANT: 'Discord did not accept the authorisation (it may have been used already): try again.',
  FST_DISCORD_OAUTH_STATE_EXPIRED: 'The authorisation took too long and expired: try again.',
  FST_DISCORD_OAUTH_STATE_USED: 'This authorisation was already used: start again.',
  FST_DISCORD_OAUTH_BROWSER_MISMATCH: 'This authorisation was started in another browser or tab, or this browser did not keep its cookie: start again here.',
  FST_DISCORD_ACCOUNT_LINKED_ELSEWHERE: 'This Discord account is already linked to another user.',
  FST_DISCORD_UPSTREAM: 'Discord could not be reached: try again in a moment.'
}

/** Takes ?error= off the address (so a reload does not show it again) and keeps it for the next page. */
export function takeCallbackError () {
  const params = new URLSearchParams(location.search)
  const code = params.get('error')
  if (code === null) return
  params.delete('error')
  const rest = params.toString()
  history.replaceState(null, '', `${location.pathname}${rest === '' ? '' : `?${rest}`}${location.hash}`)
  if (!/^FST_DISCORD_[A-Z0-9_]{1,64}$/.test(code)) return
  state.flash = new ApiError(0, code, CALLBACK_ERRORS[code] ?? 'Signing in with Discord did not complete.')
}
