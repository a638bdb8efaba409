import { randomBytes } from 'node:crypto'
import { RedirectNotAllowedError, ScopeNotAllowedError } from '../errors.js'
import { ALLOWED_SCOPES, normaliseRedirectUrl, type ResolvedDiscordApp } from '../options/index.js'

/*
 * Pure pieces of the authorisation-code flow: state values, scope and redirect checks, and
 * the authorize URL. No I/O, so every branch is unit-tested directly.
 */

/** Bytes of entropy in a state (≥ 32, so guessing one is infeasible within its lifetime). */
export const STATE_BYTES = 32

/** base64url of 32 bytes is exactly 43 characters; anything else is not a state we issued. */
export const STATE_PATTERN = '^[A-Za-z0-9_-]{43}$'

export function generateState (): string {
  return randomBytes(STATE_BYTES).toString('base64url')
}

/**
 * Scopes for one flow: the configured ones (`discord.scopes`) when none are asked for, otherwise
 * the requested list (space, comma or plus separated), each on the allow-list AND configured: an
 * anonymous caller must not widen what the operator chose to ask users for (e.g. `email`).
 * `identify` is required because the callback must read `/users/@me` to know which account to link.
 */
export function resolveRequestedScopes (requested: string | undefined, configured: readonly string[]): string[] {
  if (requested === undefined || requested.trim() === '') return [...configured]
  const list = [...new Set(requested.split(/[\s,+]+/).filter(Boolean))]
  const refused = list.filter((s) => !ALLOWED_SCOPES.includes(s))
  if (refused.length > 0) {
    throw new ScopeNotAllowedError(`scope${refused.length > 1 ? 's' : ''} not allowed: ${refused.map((s) => JSON.stringify(s.slice(0, 64))).join(', ')} (allowed: ${ALLOWED_SCOPES.join(', ')})`)
  }
  const unconfigured = list.filter((s) => !configured.includes(s))
  if (unconfigured.length > 0) {
    throw new ScopeNotAllowedError(`scope${unconfigured.length > 1 ? 's' : ''} not configured: ${unconfigured.map((s) => JSON.stringify(s)).join(', ')} (discord.scopes: ${configured.join(', ')})`)
  }
  if (!list.includes('identify')) throw new ScopeNotAllowedError('scopes must include "identify" (needed to know which Discord account signed in)')
  return list
}

/**
 * Checks `redirect_url` against the allow-list, on origin and path exactly: no prefix or
 * sub-domain matching, so `https://app.example.com.evil.test` or `/callback/../admin` never pass.
 * Returns the URL to redirect to (the request's own query string is kept), or null when none was asked for.
 */
export function checkRedirectUrl (requested: string | undefined, allowed: readonly string[]): string | null {
  if (requested === undefined) return null
  const normalised = normaliseRedirectUrl(requested)
  if (normalised === null) throw new RedirectNotAllowedError('it must be an absolute http(s) URL without credentials or fragment')
  if (!allowed.includes(normalised)) {
    throw new RedirectNotAllowedError(allowed.length === 0 ? 'no redirect URLs are configured (auth.redirectUrls)' : 'it is not in auth.redirectUrls')
  }
  const u = new URL(requested)
  return normalised + u.search
}

/**
 * Discord's authorization URL (docs/oauth2.mdx, "Authorization URL Example"): response_type=code,
 * client_id, scope separated by url-encoded spaces (%20, not +), state, redirect_uri.
 * The flow's URLs come from @fastify/oauth2 (discord-oauth2.ts, with a PKCE challenge under
 * `auth.pkce`); this is the documented shape they are held to, pinned by its unit test.
 */
export function buildAuthorizeUrl (app: Pick<ResolvedDiscordApp, 'authorizeUrl' | 'clientId' | 'redirectUri'>, state: string, scopes: readonly string[]): string {
  const params = [
    ['response_type', 'code'],
    ['client_id', app.clientId],
    ['scope', scopes.join(' ')],
    ['state', state],
    ['redirect_uri', app.redirectUri]
  ].map(([k, v]) => `${k as string}=${encodeURIComponent(v as string)}`).join('&')
  return `${app.authorizeUrl}${app.authorizeUrl.includes('?') ? '&' : '?'}${params}`
}
