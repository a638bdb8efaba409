import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fastifyJwt from '@fastify/jwt'
import { fastifyCookie } from '@fastify/cookie'
import {
  AuthNotConfiguredError,
  AuthRequiredError,
  AuthTokenExpiredError,
  AuthTokenInvalidError,
  CsrfHeaderRequiredError,
  ForbiddenError,
  InvalidOptionsError
} from '../errors.js'
import type { ResolvedAuthOptions } from '../options/index.js'
import type { AuthUser } from './types.js'
import { VerifiedSessions } from './verified-sessions.js'

/** The part of @fastify/jwt's `fastify.jwt` the plugin uses, whoever registered it. */
export interface SessionJwt {
  sign (payload: Record<string, unknown>, options?: { expiresIn?: number | string }): string
  verify (token: string): unknown
}

export type JwtSource = 'own' | 'host' | 'none'

/**
 * Where session JWTs are signed and verified.
 * - `auth.jwtSecret` given: our own @fastify/jwt, registered in an encapsulated child so the
 *   host's instance gets no `jwt` decorator it did not ask for (and can still register its own).
 * - no secret, host registered @fastify/jwt first: reuse `fastify.jwt`, so host-issued tokens work.
 * - neither: no sessions; routes needing one answer 503 FST_DISCORD_AUTH_NOT_CONFIGURED.
 */
export async function resolveSessionJwt (fastify: FastifyInstance, opts: ResolvedAuthOptions): Promise<{ jwt: SessionJwt | null, source: JwtSource }> {
  if (opts.jwtSecret !== null) {
    let own: SessionJwt | null = null
    const secret = opts.jwtSecret
    await fastify.register(async (child) => {
      // Verified sessions are cached (LRU, keyed by a hash of the token, never past its exp):
      // every API request presents one, and re-checking its signature was a large share of a read's cost.
      await child.register(fastifyJwt, { secret, verify: { cache: true } })
      own = (child as unknown as { jwt: SessionJwt }).jwt
    })
    return { jwt: own, source: 'own' }
  }
  const host = (fastify as unknown as { jwt?: Partial<SessionJwt> }).jwt
  if (fastify.hasDecorator('jwt') && host !== undefined) {
    // @fastify/jwt with `namespace` decorates an object of instances: we cannot guess which one is meant.
    if (typeof host.sign !== 'function' || typeof host.verify !== 'function') {
      throw new InvalidOptionsError('"auth.jwtSecret": the host registered @fastify/jwt with namespaces; pass auth.jwtSecret explicitly')
    }
    return { jwt: host as SessionJwt, source: 'host' }
  }
  return { jwt: null, source: 'none' }
}

interface FastJwtError { code?: unknown }

/**
 * A cookie the request carries (non-empty), or null. Our routes have @fastify/cookie; a host route
 * using the plugin's preHandlers may not, so the header is parsed then.
 */
export function requestCookie (request: FastifyRequest, name: string): string | null {
  const cookies = (request as FastifyRequest & { cookies?: Record<string, string | undefined> }).cookies ??
    (typeof request.headers.cookie === 'string' ? fastifyCookie.parse(request.headers.cookie) : {})
  const value = cookies[name]
  return typeof value === 'string' && value !== '' ? value : null
}

/** Header a same-origin script sends with cookie-authenticated writes (see CsrfHeaderRequiredError). */
export const CSRF_HEADER = 'x-requested-with'

/*
 * Proof that a cookie-authenticated write did not come from a cross-site HTML form: either the
 * custom header, or a JSON body. A form can only send urlencoded, multipart or text/plain bodies,
 * and a cross-origin script can send neither a custom header nor application/json without a
 * CORS preflight that this plugin never grants. The JSON rule keeps the seed's cookie curl
 * examples (Content-Type + Cookie only) working as written.
 */
function hasCrossSiteProof (request: FastifyRequest): boolean {
  const proof = request.headers[CSRF_HEADER]
  if (typeof proof === 'string' && proof.trim() !== '') return true
  const type = request.headers['content-type']
  return typeof type === 'string' && /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i.test(type.trim())
}
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS'])

/**
 * Session handling: reading the caller from `Authorization: Bearer` or the session cookie,
 * issuing sessions, and the authorisation checks every route shares.
 */
export class SessionAuth {
  readonly #jwt: SessionJwt | null
  readonly #opts: ResolvedAuthOptions
  readonly source: JwtSource

  /** Only for our own verifier, whose checks are all known (see VerifiedSessions). */
  readonly #verified: VerifiedSessions | null

  constructor (jwt: SessionJwt | null, source: JwtSource, opts: ResolvedAuthOptions) {
    this.#jwt = jwt
    this.source = source
    this.#opts = opts
    this.#verified = source === 'own' ? new VerifiedSessions() : null
  }

  get configured (): boolean {
    return this.#jwt !== null
  }

  get cookieName (): string {
    return this.#opts.cookieName
  }

  #requireJwt (): SessionJwt {
    if (this.#jwt === null) throw new AuthNotConfiguredError('set auth.jwtSecret or register @fastify/jwt before this plugin')
    return this.#jwt
  }

  /** Throws 503 FST_DISCORD_AUTH_NOT_CONFIGURED when sessions can be neither issued nor verified. */
  assertConfigured (): void {
    this.#requireJwt()
  }

  /**
   * The session token a request carries, or null. When both a bearer token and the cookie are
   * present the bearer token wins, even if they differ: an API client states its identity
   * explicitly, while a cookie may be a stale browser session. A bad bearer never falls back to
   * the cookie, so a rejected credential is never silently replaced by another.
   */
  readToken (request: FastifyRequest): string | null {
    const header = request.headers.authorization
    if (header !== undefined && header !== '') {
      const match = /^Bearer[ ]+([^\s]+)\s*$/i.exec(header)
      if (match === null) throw new AuthTokenInvalidError('the Authorization header must be "Bearer <jwt>"')
      return match[1] as string
    }
    return requestCookie(request, this.#opts.cookieName)
  }

  /** Verifies a token and maps its claims; throws 401 with a stable code when it does not verify. */
  verify (token: string): AuthUser {
    const jwt = this.#requireJwt()
    const known = this.#verified?.get(token) ?? null
    if (known !== null) return known
    const user = this.#verify(jwt, token)
    this.#verified?.set(token, user)
    return user
  }

  #verify (jwt: SessionJwt, token: string): AuthUser {
    let claims: unknown
    try {
      claims = jwt.verify(token)
    } catch (err) {
      if ((err as FastJwtError).code === 'FAST_JWT_EXPIRED') throw new AuthTokenExpiredError()
      // fast-jwt messages name the failing check only ("signature", "malformed"), never the token.
      throw new AuthTokenInvalidError('it does not verify')
    }
    if (typeof claims !== 'object' || claims === null || Array.isArray(claims)) throw new AuthTokenInvalidError('the payload is not an object')
    const c = claims as Record<string, unknown>
    // A token without `exp` would be a session forever (fast-jwt only checks `exp` when present):
    // one leaked token, e.g. minted by a host's @fastify/jwt without expiresIn, could never be outlived.
    if (typeof c.exp !== 'number' || !Number.isFinite(c.exp)) throw new AuthTokenInvalidError('it carries no numeric "exp" (expiry) claim')
    const rawId = c[this.#opts.userIdClaim]
    const id = typeof rawId === 'number' && Number.isSafeInteger(rawId) ? String(rawId) : rawId
    if (typeof id !== 'string' || id === '' || id.length > 256) throw new AuthTokenInvalidError(`the "${this.#opts.userIdClaim}" claim must be a non-empty user id`)
    const rawPerms = c[this.#opts.permissionsClaim]
    let permissions: string[]
    if (rawPerms === undefined || rawPerms === null) permissions = []
    else if (Array.isArray(rawPerms) && rawPerms.every((p) => typeof p === 'string')) permissions = rawPerms as string[]
    else if (typeof rawPerms === 'string') permissions = rawPerms.split(/\s+/).filter(Boolean) // OAuth-style "a b c"
    else throw new AuthTokenInvalidError(`the "${this.#opts.permissionsClaim}" claim must be a list of strings`)
    return { id, permissions, claims: Object.freeze({ ...c }) }
  }

  /**
   * The caller, or null when the request carries no session. Throws 401 for a credential that
   * does not verify, and 403 FST_DISCORD_CSRF_HEADER_REQUIRED for a write authenticated by the
   * cookie without the X-Requested-With header.
   */
  identify (request: FastifyRequest): AuthUser | null {
    // The rate limiter's key and the route's preValidation both ask: verify the signature once.
    const known = this.#identified.get(request)
    if (known !== undefined) return known
    const user = this.#identify(request)
    this.#identified.set(request, user)
    return user
  }

  readonly #identified = new WeakMap<FastifyRequest, AuthUser | null>()

  #identify (request: FastifyRequest): AuthUser | null {
    const token = this.readToken(request)
    if (token === null) return null
    // Checked before verifying: a forged cross-site write learns nothing about the session.
    // SameSite=Lax already keeps the cookie off cross-site posts; this also covers sibling
    // sub-domains (same site) and browsers without SameSite. A bearer token is never sent
    // ambiently, so it needs no such proof.
    const viaCookie = (request.headers.authorization ?? '') === ''
    if (viaCookie && !SAFE_METHODS.has(request.method) && !hasCrossSiteProof(request)) throw new CsrfHeaderRequiredError()
    return this.verify(token)
  }

  async isAdmin (user: AuthUser, request: FastifyRequest): Promise<boolean> {
    if (this.#opts.isAdmin !== null) return (await this.#opts.isAdmin(user, request)) === true
    return user.permissions.includes(this.#opts.adminPermission)
  }

  /** Signs a session for a user, with the configured claim names and lifetime. */
  issue (user: { id: string, permissions: string[] }, now = Date.now()): { token: string, expiresAt: Date } {
    const jwt = this.#requireJwt()
    const expiresInSec = Math.floor(this.#opts.sessionExpiryMs / 1000)
    let token: string
    try {
      token = jwt.sign({ [this.#opts.userIdClaim]: user.id, [this.#opts.permissionsClaim]: user.permissions }, { expiresIn: expiresInSec })
    } catch {
      // e.g. a host @fastify/jwt configured with a public key only (verify mode).
      throw new AuthNotConfiguredError('the JWT configuration cannot sign sessions (verify-only key?)')
    }
    return { token, expiresAt: new Date(now + expiresInSec * 1000) }
  }

  /**
   * The session cookie's attributes, one set for setting and clearing it (a browser only drops a
   * cookie cleared with the same path and domain): HttpOnly (no script access), SameSite=Lax
   * (sent on the top-level redirect back from Discord).
   */
  #cookieAttributes (): { httpOnly: true, sameSite: 'lax', secure: boolean, path: string, domain?: string } {
    return {
      httpOnly: true,
      sameSite: 'lax',
      secure: this.#opts.cookieSecure,
      path: this.#opts.cookiePath,
      ...(this.#opts.cookieDomain === null ? {} : { domain: this.#opts.cookieDomain })
    }
  }

  setSessionCookie (reply: FastifyReply, token: string): void {
    reply.setCookie(this.#opts.cookieName, token, { ...this.#cookieAttributes(), maxAge: Math.floor(this.#opts.sessionExpiryMs / 1000) })
  }

  /** Ends a browser session: expires the session cookie with the attributes it was set with. */
  clearSessionCookie (reply: FastifyReply): void {
    reply.clearCookie(this.#opts.cookieName, this.#cookieAttributes())
  }

  // ------------------------------------------------------------ preHandlers

  /** preHandler: a valid session is required (401 otherwise); sets `request.discordAuth`. */
  readonly authenticate = async (request: FastifyRequest): Promise<void> => {
    this.#requireJwt()
    const user = this.identify(request)
    if (user === null) throw new AuthRequiredError(this.#opts.cookieName)
    request.discordAuth = user
  }

  /** preHandler for public routes enhanced by a session: anonymous passes, a bad credential is still a 401. */
  readonly optionalAuth = async (request: FastifyRequest): Promise<void> => {
    if (this.#jwt === null) {
      // Without JWT configuration nobody can be authenticated; a presented token is not silently accepted.
      if (this.readToken(request) !== null) this.#requireJwt()
      request.discordAuth = null
      return
    }
    request.discordAuth = this.identify(request)
  }

  /**
   * preHandler for GET /auth/login: a valid session makes it a link flow; an invalid or expired one
   * counts as none, because logging in is how a browser replaces an expired session cookie.
   */
  readonly sessionIfValid = async (request: FastifyRequest): Promise<void> => {
    request.discordAuth = null
    if (this.#jwt === null) return
    try {
      request.discordAuth = this.identify(request)
    } catch (err) {
      if (!(err instanceof AuthTokenInvalidError || err instanceof AuthTokenExpiredError)) throw err
    }
  }

  /** preHandler: an admin session is required (401 without a session, 403 without admin rights). */
  readonly requireAdmin = async (request: FastifyRequest): Promise<void> => {
    await this.authenticate(request)
    if (!(await this.isAdmin(request.discordAuth as AuthUser, request))) throw new ForbiddenError('admin permission required')
  }

  /** Throws 403 unless the caller owns `ownerUserId` or is an admin. */
  async assertSelfOrAdmin (request: FastifyRequest, ownerUserId: string): Promise<AuthUser> {
    const user = request.discordAuth
    if (user === null || user === undefined) throw new AuthRequiredError(this.#opts.cookieName)
    if (user.id === ownerUserId) return user
    if (await this.isAdmin(user, request)) return user
    throw new ForbiddenError('only the owner of this Discord link or an admin may do this')
  }
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The verified caller for fastify-discord-sync routes (null when anonymous). */
    discordAuth: AuthUser | null
  }
}
