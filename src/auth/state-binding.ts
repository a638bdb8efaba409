import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { ResolvedAuthOptions, ResolvedDiscordApp } from '../options/index.js'
import { requestCookie } from './session.js'

/** Cookie tying an OAuth state to the browser that started the flow (`auth.bindStateToBrowser`). */
export const STATE_BINDING_COOKIE = 'falcon_oauth_binding'

/** Cookie holding the PKCE verifier of the flow (`auth.pkce`), written and read by @fastify/oauth2. */
export const PKCE_VERIFIER_COOKIE = 'falcon_oauth_verifier'

/*
 * Why a cookie: the state alone proves that *someone* started the flow, not that the browser
 * arriving at the callback is theirs. Discord's guidance (docs/oauth2.mdx, "State and Security")
 * is a state "linked to the user's session"; a login flow has no session yet, so the link is a
 * cookie set when the flow starts and required when it ends.
 *
 * The value is HMAC-SHA256(key, state), not a random nonce, so nothing more is stored with the
 * state and any instance can check it. The key is derived (HKDF) from the Discord client secret:
 * every instance that can run a flow has it, and it exists whatever signs sessions (own secret,
 * key pair or the host's @fastify/jwt), unlike the JWT secret; a per-process key would refuse
 * every callback that lands on another instance or after a restart. It is never the session
 * token: a flow started without a session must be bindable too.
 */
const HKDF_INFO = 'fastify-discord-sync oauth2 state binding v1'

/**
 * A cookie path cannot hold ';' (it ends the attribute), which a URL path may: then the cookie
 * is scoped to the directory before it, which still path-matches the callback (RFC 6265 5.1.4).
 */
function cookiePath (pathname: string): string {
  const semi = pathname.indexOf(';')
  return semi === -1 ? pathname : pathname.slice(0, pathname.lastIndexOf('/', semi) + 1)
}

export class StateBinding {
  /** null without a Discord application: no flow can start, so nothing is bound or cleared. */
  readonly #key: Buffer | null
  readonly #attributes: { httpOnly: true, sameSite: 'lax', secure: boolean, path: string, domain?: string }
  readonly #enabled: boolean
  readonly #pkce: boolean
  readonly #maxAgeSec: number

  /**
   * One set of attributes for setting and clearing (a browser drops a cookie only when cleared
   * with the same path and domain). SameSite=Lax: Discord sends the browser back with a top-level
   * GET, which Lax cookies survive and Strict ones would not. The path is the callback's as the
   * browser sees it, from the redirect URI Discord sends it to, so no other request carries it.
   */
  constructor (app: ResolvedDiscordApp | null, auth: ResolvedAuthOptions, stateExpiryMs: number) {
    this.#enabled = auth.bindStateToBrowser
    this.#pkce = auth.pkce !== false
    this.#key = app === null ? null : Buffer.from(hkdfSync('sha256', app.clientSecret, app.clientId, HKDF_INFO, 32))
    this.#attributes = {
      httpOnly: true,
      sameSite: 'lax',
      secure: auth.cookieSecure,
      path: app === null ? '/' : cookiePath(new URL(app.redirectUri).pathname),
      ...(auth.cookieDomain === null ? {} : { domain: auth.cookieDomain })
    }
    this.#maxAgeSec = Math.ceil(stateExpiryMs / 1000)
  }

  /** Whether callbacks require the cookie (`auth.bindStateToBrowser`, default true). */
  get enabled (): boolean {
    return this.#enabled
  }

  #value (key: Buffer, state: string): string {
    return createHmac('sha256', key).update(state).digest('base64url')
  }

  /** True when `cookie` is the binding of `state`; compared in constant time. */
  matches (state: string, cookie: string | undefined): boolean {
    if (cookie === undefined || this.#key === null) return false
    const expected = Buffer.from(this.#value(this.#key, state))
    const given = Buffer.from(cookie)
    // The length is public (always 43); only equal-length buffers can be compared in constant time.
    return given.length === expected.length && timingSafeEqual(given, expected)
  }

  /** A flow started: binds its state to this browser for as long as the state lives. */
  set (reply: FastifyReply, state: string): void {
    if (!this.#enabled || this.#key === null) return
    reply.setCookie(STATE_BINDING_COOKIE, this.#value(this.#key, state), { ...this.#attributes, maxAge: this.#maxAgeSec })
  }

  /**
   * The attributes of the PKCE verifier cookie (@fastify/oauth2 sets it): the binding's, so it
   * reaches only the callback, lives as long as the state, and is cleared by `clear`.
   */
  get verifierCookieOptions (): { httpOnly: true, sameSite: 'lax', secure: boolean, path: string, domain?: string, maxAge: number } {
    return { ...this.#attributes, maxAge: this.#maxAgeSec }
  }

  /** Whatever the callback's outcome, the binding (and the PKCE verifier) has served: expire it. */
  clear (reply: FastifyReply): void {
    if (!this.#enabled || this.#key === null) return
    reply.clearCookie(STATE_BINDING_COOKIE, this.#attributes)
    if (this.#pkce) reply.clearCookie(PKCE_VERIFIER_COOKIE, this.#attributes)
  }

  /** The binding cookie the request carries, if any. */
  read (request: FastifyRequest): string | undefined {
    return requestCookie(request, STATE_BINDING_COOKIE) ?? undefined
  }

  /** The PKCE verifier cookie the request carries, if any (only looked for when `auth.pkce` is on). */
  readVerifier (request: FastifyRequest): string | undefined {
    return this.#pkce ? requestCookie(request, PKCE_VERIFIER_COOKIE) ?? undefined : undefined
  }
}
