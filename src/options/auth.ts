import { Type, type Static } from '@sinclair/typebox'
import type { IsAdminHook, ResolveUserHook } from '../auth/types.js'
import { defaultsOf, DURATION, duration, instance, opt } from './define.js'
import { durationMs, fail } from './fail.js'

/** A symmetric secret (at least 32 characters) or an asymmetric key pair, as @fastify/jwt takes them. */
export type JwtSecretOption = string | Buffer | { private: string | Buffer, public: string | Buffer }

export const AuthSchema = Type.Object({
  jwtSecret: opt(instance<JwtSecretOption>({ title: 'string | Buffer | { private, public }' }), {
    defaultText: "the host's @fastify/jwt, if registered before the plugin",
    description: 'Signs and verifies session JWTs: at least 32 characters, a Buffer of at least 32 bytes, or { private, public } PEM keys. ' +
      "When omitted and the host registered @fastify/jwt before this plugin, the host's `fastify.jwt` is reused; when neither exists, " +
      'routes that need a session answer 503 FST_DISCORD_AUTH_NOT_CONFIGURED. Never logged or returned.'
  }),
  cookieName: opt(Type.String({ pattern: '^[!#$%&\'*+.^_`|~0-9A-Za-z-]{1,64}$' }), {
    default: 'falcon_auth_token',
    description: 'Cookie carrying the session JWT (the alternative to `Authorization: Bearer`).'
  }),
  cookieSecure: opt(Type.Boolean(), { default: true, description: '`Secure` attribute of the session cookie. Set false only for plain-http development.' }),
  cookiePath: opt(Type.String({ pattern: '^/[^\\s;]*$' }), { default: '/', description: '`Path` of the session cookie.' }),
  cookieDomain: opt(Type.String({ pattern: '^[A-Za-z0-9.-]{1,253}$' }), { defaultText: 'unset (a host-only cookie)', description: '`Domain` of the session cookie.' }),
  sessionExpiry: duration({ default: '24h', minimumMs: 60_000, description: 'Lifetime of a session issued by the login flow (JWT `exp` and cookie Max-Age).' }),
  userIdClaim: opt(Type.String({ minLength: 1, maxLength: 64 }), { default: 'sub', description: 'Claim holding the host user id.' }),
  permissionsClaim: opt(Type.String({ minLength: 1, maxLength: 64 }), { default: 'permissions', description: 'Claim holding the list of permissions.' }),
  adminPermission: opt(Type.String({ minLength: 1, maxLength: 128 }), {
    default: 'discord:admin',
    description: 'Permission that makes a caller an admin (ignored when `isAdmin` is given).'
  }),
  isAdmin: opt(instance<IsAdminHook>({ title: '(user, request) => boolean' }), {
    defaultText: '`(user) => user.permissions.includes(adminPermission)`',
    description: 'Host predicate deciding admin rights.'
  }),
  resolveUser: opt(instance<ResolveUserHook>({ title: '(profile, context) => user id' }), {
    defaultText: 'the linked user, else a new UUID',
    description: 'Login flow: maps a Discord account to a host user id.'
  }),
  redirectUrls: opt(Type.Array(Type.String({ minLength: 1, maxLength: 2048 }), { maxItems: 100 }), {
    defaultText: '`[]` (no redirect_url accepted: the callback answers JSON)',
    description: 'Allowed `redirect_url` values: absolute http(s) URLs compared on origin and path exactly ' +
      '(a query string on the request is kept; fragments and credentials are refused).'
  }),
  bindStateToBrowser: opt(Type.Boolean(), {
    default: true,
    description: 'Bind each OAuth flow to the browser that started it: `GET /auth/login` and `POST /auth/link` (starting a flow) set a ' +
      'short-lived HttpOnly cookie, and `GET /auth/callback` refuses a state without it (400 FST_DISCORD_OAUTH_BROWSER_MISMATCH). ' +
      "Without it, anyone who starts a flow can make another person's browser complete it: a login as the attacker, or the victim's " +
      "Discord account linked to the attacker's user. Turn it off only for clients that send the user to `auth_url` from somewhere " +
      'other than where they called the API and complete the flow at `GET /auth/callback` (completing with `POST /auth/link` needs ' +
      'no cookie: the session binds it).'
  }),
  stateRateLimit: opt(Type.Union([
    Type.Literal(false),
    Type.Object({ max: Type.Integer({ minimum: 1, maximum: 100_000 }), timeWindow: DURATION }, { additionalProperties: false })
  ], { title: 'false | { max, timeWindow }' }), {
    default: { max: 30, timeWindow: '1m' },
    description: 'Per-IP budget of OAuth flow starts (`GET /auth/login`, and `POST /auth/link` without a code): each start stores a ' +
      'state until it expires, and anyone can ask for one, so at most `max` starts per client IP and `timeWindow` (a duration, at least 1s) are ' +
      'answered; the next gets 429 FST_DISCORD_RATE_LIMITED with `Retry-After`. Counted in this process (a bounded map), so with N ' +
      'instances an IP gets up to N × `max`. `false` turns it off (a host limiting these routes itself).'
  }),
  pkce: opt(Type.Union([Type.Literal(false), Type.Literal('S256')], { title: "false | 'S256'" }), {
    default: false,
    description: "`'S256'` adds PKCE (RFC 7636) to the authorisation-code flow: @fastify/oauth2 sends a `code_challenge` with the " +
      'authorize URL and keeps its verifier in a short-lived HttpOnly cookie (`falcon_oauth_verifier`, same attributes as the binding ' +
      'cookie) that the code exchange at `GET /auth/callback` sends back to Discord. Off by default: Discord\'s OAuth2 topic does not ' +
      'document PKCE, so whether Discord checks it is not documented (the simulator does). Needs `bindStateToBrowser` (the verifier ' +
      'lives in the browser that started the flow); a flow started with it must complete at `GET /auth/callback`, not with ' +
      '`POST /auth/link` `{ code, state }` (400 FST_DISCORD_VALIDATION).'
  })
}, { additionalProperties: false, description: 'Sessions, authorisation and redirects (see docs/security.md and docs/host-integration.md).' })

/** Sessions, authorisation and redirects. */
export type AuthOptions = Static<typeof AuthSchema>

export interface ResolvedAuthOptions {
  jwtSecret: JwtSecretOption | null
  cookieName: string
  cookieSecure: boolean
  cookiePath: string
  cookieDomain: string | null
  sessionExpiryMs: number
  userIdClaim: string
  permissionsClaim: string
  adminPermission: string
  isAdmin: IsAdminHook | null
  resolveUser: ResolveUserHook | null
  /** Normalised `origin + pathname` of each allowed redirect. */
  redirectUrls: string[]
  bindStateToBrowser: boolean
  /** null when turned off (`stateRateLimit: false`). */
  stateRateLimit: { max: number, timeWindowMs: number } | null
  /** PKCE method for the authorisation-code flow, or false (the default). */
  pkce: false | 'S256'
}

function resolveJwtSecret (value: unknown): JwtSecretOption | null {
  if (value === undefined) return null
  if (typeof value === 'string') {
    // HS256 needs at least 256 bits; a short secret is brute-forceable offline from any issued token.
    if (value.length < 32) fail('auth.jwtSecret', 'must be at least 32 characters')
    return value
  }
  if (Buffer.isBuffer(value)) {
    if (value.length < 32) fail('auth.jwtSecret', 'must be at least 32 bytes')
    return value
  }
  if (typeof value === 'object' && value !== null) {
    const pair = value as Record<string, unknown>
    const isKey = (k: unknown): boolean => (typeof k === 'string' && k.length > 0) || Buffer.isBuffer(k)
    if (Object.keys(pair).every((k) => k === 'private' || k === 'public') && isKey(pair.private) && isKey(pair.public)) {
      return { private: pair.private as string | Buffer, public: pair.public as string | Buffer }
    }
  }
  return fail('auth.jwtSecret', 'must be a string of at least 32 characters, a Buffer, or { private, public } PEM keys')
}

/** Normalises an allowed redirect to `origin + pathname`, the exact form requests are compared on. */
export function normaliseRedirectUrl (value: string): string | null {
  let u: URL
  try { u = new URL(value) } catch { return null }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return null
  if (u.username !== '' || u.password !== '' || u.hash !== '') return null
  return u.origin + u.pathname
}

const DEFAULTS = defaultsOf(AuthSchema)

export function resolveAuth (a: AuthOptions | undefined): ResolvedAuthOptions {
  const o = a ?? {}
  if (o.isAdmin !== undefined && typeof o.isAdmin !== 'function') fail('auth.isAdmin', 'must be a function (user, request) => boolean')
  if (o.resolveUser !== undefined && typeof o.resolveUser !== 'function') fail('auth.resolveUser', 'must be a function (profile, context) => user id')
  const redirectUrls = (o.redirectUrls ?? []).map((v, i) => {
    if (v.includes('?')) fail(`auth.redirectUrls[${i}]`, 'must not carry a query string (requests are matched on origin and path)')
    return normaliseRedirectUrl(v) ?? fail(`auth.redirectUrls[${i}]`, 'must be an absolute http(s) URL without credentials or fragment')
  })
  return {
    jwtSecret: resolveJwtSecret(o.jwtSecret),
    cookieName: o.cookieName ?? DEFAULTS.cookieName,
    cookieSecure: o.cookieSecure ?? DEFAULTS.cookieSecure,
    cookiePath: o.cookiePath ?? DEFAULTS.cookiePath,
    cookieDomain: o.cookieDomain ?? null,
    sessionExpiryMs: durationMs(o.sessionExpiry, AuthSchema.properties.sessionExpiry, 'auth.sessionExpiry'),
    userIdClaim: o.userIdClaim ?? DEFAULTS.userIdClaim,
    permissionsClaim: o.permissionsClaim ?? DEFAULTS.permissionsClaim,
    adminPermission: o.adminPermission ?? DEFAULTS.adminPermission,
    isAdmin: o.isAdmin ?? null,
    resolveUser: o.resolveUser ?? null,
    redirectUrls: [...new Set(redirectUrls)],
    bindStateToBrowser: o.bindStateToBrowser ?? DEFAULTS.bindStateToBrowser,
    stateRateLimit: resolveStateRateLimit(o.stateRateLimit),
    pkce: resolvePkce(o.pkce, o.bindStateToBrowser ?? DEFAULTS.bindStateToBrowser)
  }
}

function resolvePkce (value: AuthOptions['pkce'], bound: boolean): ResolvedAuthOptions['pkce'] {
  const v = value ?? DEFAULTS.pkce
  if (v === false) return false
  if (v !== 'S256') return fail('auth.pkce', "must be false or 'S256'")
  // The verifier is a cookie of the browser that started the flow: a flow completed elsewhere could never send it.
  if (!bound) fail('auth.pkce', 'needs auth.bindStateToBrowser (the PKCE verifier is kept in the browser that started the flow)')
  return v
}

function resolveStateRateLimit (value: AuthOptions['stateRateLimit']): ResolvedAuthOptions['stateRateLimit'] {
  if (value === false) return null
  const v = value ?? DEFAULTS.stateRateLimit
  if (typeof v !== 'object' || v === null) return fail('auth.stateRateLimit', 'must be false or { max, timeWindow }')
  if (!Number.isSafeInteger(v.max) || v.max < 1) fail('auth.stateRateLimit.max', 'must be a positive integer')
  return { max: v.max, timeWindowMs: durationMs(v.timeWindow, { ...DURATION, minimumMs: 1_000 }, 'auth.stateRateLimit.timeWindow') }
}
