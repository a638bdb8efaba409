import { setTimeout as sleep } from 'node:timers/promises'
import type { FastifyOAuth2Options, OAuth2Namespace } from '@fastify/oauth2'
import type { FastifyBaseLogger, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { Routes } from '../discord/routes.js'
import { DiscordUpstreamError, OAuthInvalidGrantError } from '../errors.js'
import { DEFAULT_REST_OPTIONS } from '../discord/index.js'
import { fullJitterDelay } from '../discord/util.js'
import { expectTokenResponse, shapeContext } from '../discord/validate.js'
import type { ResolvedAuthOptions, ResolvedDiscordApp } from '../options/index.js'
import type { DiscordStore, OAuthStateRecord, OAuthTokens } from '../store/port/index.js'
import { FlowStates, type ClaimContext, type IssuedState, type PendingFlow } from './flow-states.js'
import { PKCE_VERIFIER_COOKIE, StateBinding } from './state-binding.js'

/*
 * The authorisation-code flow runs on @fastify/oauth2 (the design card's library): it builds the
 * authorize URL (with the PKCE challenge when `auth.pkce` is on) and exchanges the code, calling
 * our store-backed generateStateFunction / checkStateFunction (flow-states.ts) instead of its
 * state cookie. What it is handed as "request" and "reply" are small carriers, not the HTTP ones:
 * - a flow completes from GET /auth/callback (query) or POST /auth/link (body), and its state
 *   check needs what only we know (the binding cookie, the user a link must belong to), while
 *   @fastify/oauth2 reads `request.query.code` and `request.cookies[verifier]` only;
 * - it writes its state into a cookie for its default check; ours is in the store and the browser
 *   proof is the binding cookie (a keyed hash, not the state), so of its cookies only the PKCE
 *   verifier reaches the browser.
 * Refresh and revoke do not use it: they stay on DiscordRestClient (src/discord), whose shared
 * rate-limit buckets (in Redis across instances), 429 handling, retries and typed errors they
 * need, the refresh task's invalid_grant handling included; one client for every Discord call
 * that runs unattended. The exchange is one call per login, made while the user waits.
 */

/**
 * @fastify/oauth2 decorates with this name (and `oauth2FastifyDiscordSync`) a Fastify instance of
 * our own that never listens (see `lazyNamespace`): a host's instance never gets it, so a host's
 * own @fastify/oauth2 and a second registration of this plugin do not clash with it.
 */
const DECORATOR = 'fastifyDiscordSync'

/** Server errors and lost connections are retried like DiscordRestClient retries them. */
const RETRIES = DEFAULT_REST_OPTIONS.retries

/** The "request" of a flow start: the validated flow its state will remember. */
class StartCarrier {
  issued: IssuedState | null = null
  constructor (readonly pending: PendingFlow) {}
}

/** The "request" of a code exchange: the code, the state, the PKCE verifier and what the state must satisfy. */
class ExchangeCarrier {
  readonly query: { code: string, state: string }
  readonly cookies: Record<string, string | undefined>
  /** Set once checkStateFunction has claimed the state; a retried exchange does not claim it again. */
  record: OAuthStateRecord | null = null
  constructor (code: string, state: string, verifier: string | undefined, readonly claim: ClaimContext) {
    this.query = { code, state }
    this.cookies = { [PKCE_VERIFIER_COOKIE]: verifier }
  }
}

/** Where the PKCE verifier cookie goes: the reply of the request that starts the flow. */
export type CookieSink = Pick<FastifyReply, 'setCookie'>

/** A flow's authorize URL and the state stored for it. */
export interface AuthorizeResult {
  auth_url: string
  issued: IssuedState
}

/** Narrows @fastify/oauth2's URL (its scope is fixed at registration) to the flow's scopes, spaces as %20. */
function discordAuthorizeUrl (generated: string, scopes: readonly string[]): string {
  const url = new URL(generated)
  url.searchParams.set('scope', scopes.join(' '))
  // URLSearchParams writes a space as '+' and a literal '+' as %2B, so each '+' is a space;
  // Discord's documented example separates scopes with %20 (docs/oauth2.mdx).
  return `${url.origin}${url.pathname}?${url.searchParams.toString().replace(/\+/g, '%20')}`
}

/** Discord's `error` parameter is echoed in our message, so only a short token-like value is kept. */
function safeOAuthErrorName (value: string): string {
  return /^[a-z0-9_.-]{1,64}$/i.test(value) ? value : 'unrecognised error'
}

/** Tokens as the store keeps them, from the token endpoint's answer (shape checked like DiscordRestClient checks it). */
function toTokens (token: unknown, now: Date): OAuthTokens {
  const t = expectTokenResponse<{ access_token: string, refresh_token?: string, expires_in: number, scope: string }>(
    token, shapeContext('POST', Routes.oauth2TokenExchange()), true)
  return {
    access_token: t.access_token,
    refresh_token: typeof t.refresh_token === 'string' && t.refresh_token !== '' ? t.refresh_token : null,
    expires_at: new Date(now.getTime() + t.expires_in * 1000),
    scopes: t.scope.split(/\s+/).filter(Boolean)
  }
}

interface ExchangeFailure { retry: boolean, error: Error, status: number | null, oauthError: string | null, waitMs?: number }

/** The longest a 429 on the token endpoint is waited out before the user gets a 502. */
const MAX_RATE_LIMIT_WAIT_MS = 10_000

/** A 429's wait, from Discord's JSON `retry_after` (seconds) or the Retry-After header; null when neither is usable. */
function retryAfterMs (payload: unknown, headers: unknown): number | null {
  const body = typeof payload === 'object' && payload !== null ? (payload as { retry_after?: unknown }).retry_after : undefined
  const header = typeof headers === 'object' && headers !== null ? (headers as Record<string, unknown>)['retry-after'] : undefined
  const seconds = typeof body === 'number' ? body : typeof header === 'string' ? Number(header) : NaN
  return Number.isFinite(seconds) && seconds >= 0 ? Math.ceil(seconds * 1000) : null
}

/** Maps a failed token request (@hapi/wreck's errors under simple-oauth2) to a client-safe error. */
function classify (err: unknown): ExchangeFailure {
  const data = (err as { data?: { res?: { statusCode?: unknown, headers?: unknown }, payload?: unknown } } | null)?.data
  const status = typeof data?.res?.statusCode === 'number' ? data.res.statusCode : null
  const payload = data?.payload
  const named = typeof payload === 'object' && payload !== null && typeof (payload as { error?: unknown }).error === 'string'
    ? (payload as { error: string }).error
    : null
  const what = 'exchanging the authorisation code'
  if (status === null) return { retry: true, error: new DiscordUpstreamError(`${what} failed (no response)`), status, oauthError: null }
  if (status >= 500) return { retry: true, error: new DiscordUpstreamError(`${what} failed (HTTP ${status})`), status, oauthError: named }
  // An unreadable 2xx (Discord may have spent the code): not retried.
  if (status < 400) return { retry: false, error: new DiscordUpstreamError(`${what} failed (unreadable answer)`), status, oauthError: null }
  if (status === 429) {
    // The code stays valid while we wait: a short limit (the token endpoint's per-second bucket)
    // is waited out, as the REST client does for every other route; a long one is the user's 502.
    const waitMs = retryAfterMs(payload, data?.res?.headers)
    const retry = waitMs !== null && waitMs <= MAX_RATE_LIMIT_WAIT_MS
    return { retry, error: new DiscordUpstreamError(`rate limited by Discord while ${what}; retry later`), status, oauthError: named, ...(retry ? { waitMs } : {}) }
  }
  if (named === 'invalid_grant') return { retry: false, error: new OAuthInvalidGrantError(), status, oauthError: named }
  if (named !== null) return { retry: false, error: new DiscordUpstreamError(`Discord refused ${what} (${safeOAuthErrorName(named)})`), status, oauthError: safeOAuthErrorName(named) }
  return { retry: false, error: new DiscordUpstreamError(`${what} failed (HTTP ${status})`), status, oauthError: null }
}

/** Our own errors (a refused state) pass through @fastify/oauth2 unchanged. */
function isPluginError (err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code
  return typeof code === 'string' && code.startsWith('FST_DISCORD_')
}

export interface OAuthFlowDeps {
  store: DiscordStore
  /** null without a Discord application: nothing is registered, no flow can start. */
  app: ResolvedDiscordApp | null
  auth: ResolvedAuthOptions
  /** The resolved Discord REST base URL; the token endpoint is `{apiBaseUrl}/oauth2/token`. */
  apiBaseUrl: string
  stateExpiryMs: number
  userAgent?: string
  log: FastifyBaseLogger
  now?: () => Date
}

/** The flow's parts: the browser binding, the stored states, and @fastify/oauth2 (null without an application). */
export interface OAuthFlow {
  binding: StateBinding
  states: FlowStates
  oauth2: DiscordOAuth2 | null
}

/** The authorize URL and the code exchange, through @fastify/oauth2. */
export class DiscordOAuth2 {
  readonly #ns: () => Promise<OAuth2Namespace>
  readonly #log: FastifyBaseLogger
  readonly #now: () => Date

  /** @internal Built by `registerOAuthFlow`; `ns` yields @fastify/oauth2's namespace (loaded on first use). */
  constructor (ns: () => Promise<OAuth2Namespace>, log: FastifyBaseLogger, now: () => Date) {
    this.#ns = ns
    this.#log = log
    this.#now = now
  }

  /** Stores a state for the flow (generateStateFunction) and returns the authorize URL; `cookies` receives the PKCE verifier. */
  async authorize (pending: PendingFlow, cookies: CookieSink | undefined): Promise<AuthorizeResult> {
    const carrier = new StartCarrier(pending)
    const onlyVerifier = {
      setCookie (name: string, value: string, options: Parameters<FastifyReply['setCookie']>[2]) {
        if (name === PKCE_VERIFIER_COOKIE) cookies?.setCookie(name, value, options)
        return this
      }
    }
    const generated = await (await this.#ns()).generateAuthorizationUri(carrier as unknown as FastifyRequest, onlyVerifier as unknown as FastifyReply)
    if (carrier.issued === null) throw new Error('@fastify/oauth2 produced an authorize URL without calling generateStateFunction')
    return { auth_url: discordAuthorizeUrl(generated, pending.scopes), issued: carrier.issued }
  }

  /**
   * Exchanges the code (redirect_uri = `discord.redirectUri`, the one the authorize URL named),
   * after checkStateFunction has claimed the state. Server errors and lost connections are
   * retried without claiming the state again; invalid_grant is 400, any other failure 502.
   */
  async exchange (code: string, state: string, verifier: string | undefined, claim: ClaimContext): Promise<{ record: OAuthStateRecord, tokens: OAuthTokens }> {
    const carrier = new ExchangeCarrier(code, state, verifier, claim)
    const ns = await this.#ns()
    for (let attempt = 0; ; attempt++) {
      let token: unknown
      try {
        token = (await ns.getAccessTokenFromAuthorizationCodeFlow(carrier as unknown as FastifyRequest)).token
      } catch (err) {
        if (isPluginError(err)) throw err
        const failure = classify(err)
        if (failure.retry && attempt < RETRIES) {
          await sleep(failure.waitMs ?? fullJitterDelay(attempt, DEFAULT_REST_OPTIONS.retryBaseDelayMs, DEFAULT_REST_OPTIONS.retryMaxDelayMs))
          continue
        }
        this.#log.warn({ status: failure.status, oauth_error: failure.oauthError, attempts: attempt + 1 }, 'discord oauth code exchange failed')
        throw failure.error
      }
      const record = carrier.record as OAuthStateRecord
      try {
        return { record, tokens: toTokens(token, this.#now()) }
      } catch {
        this.#log.warn('discord oauth code exchange answered without the token fields')
        throw new DiscordUpstreamError('exchanging the authorisation code failed (malformed answer)')
      }
    }
  }
}

/**
 * Builds the flow's parts. With a Discord application, @fastify/oauth2 is configured with
 * Discord's endpoints from the options (`discord.authorizeUrl`, `apiBaseUrl`), so the simulator is
 * reached the same way as Discord, and loaded on the first flow (see `lazyNamespace`).
 */
export async function registerOAuthFlow (fastify: FastifyInstance, deps: OAuthFlowDeps): Promise<OAuthFlow> {
  const now = deps.now ?? (() => new Date())
  const binding = new StateBinding(deps.app, deps.auth, deps.stateExpiryMs)
  const states = new FlowStates({ store: deps.store, binding, stateExpiryMs: deps.stateExpiryMs, now })
  const app = deps.app
  if (app === null) return { binding, states, oauth2: null }

  const authorize = new URL(app.authorizeUrl)
  const token = new URL(`${deps.apiBaseUrl}${Routes.oauth2TokenExchange()}`)
  const options: FastifyOAuth2Options = {
    name: DECORATOR,
    scope: app.scopes,
    credentials: {
      client: { id: app.clientId, secret: app.clientSecret },
      auth: {
        authorizeHost: authorize.origin,
        authorizePath: `${authorize.pathname}${authorize.search}`,
        tokenHost: token.origin,
        tokenPath: token.pathname
      },
      // Discord accepts HTTP Basic client authentication, as DiscordRestClient sends it.
      options: { authorizationMethod: 'header' },
      http: { timeout: DEFAULT_REST_OPTIONS.timeoutMs }
    },
    callbackUri: app.redirectUri,
    generateStateFunction: async (request: FastifyRequest): Promise<string> => {
      const carrier = request as unknown
      if (!(carrier instanceof StartCarrier)) throw new Error('generateStateFunction called without a flow start')
      carrier.issued = await states.issue(carrier.pending)
      return carrier.issued.state
    },
    checkStateFunction: async (request: FastifyRequest): Promise<boolean> => {
      const carrier = request as unknown
      if (!(carrier instanceof ExchangeCarrier)) throw new Error('checkStateFunction called without a code exchange')
      carrier.record ??= await states.claim(carrier.query.state, carrier.claim)
      return true
    },
    ...(deps.auth.pkce === false ? {} : { pkce: deps.auth.pkce }),
    verifierCookieName: PKCE_VERIFIER_COOKIE,
    cookie: binding.verifierCookieOptions,
    userAgent: deps.userAgent ?? DEFAULT_REST_OPTIONS.userAgent
  }
  const lazy = lazyNamespace(options)
  fastify.addHook('onClose', lazy.close)
  return { binding, states, oauth2: new DiscordOAuth2(lazy.get, deps.log, now) }
}

/*
 * @fastify/oauth2 (with simple-oauth2 and joi under it) was a sixth of the plugin's start-up
 * (issue 16, part 4), paid by every process, including workers and API processes nobody logs in
 * through. It is loaded on the first login or link instead, and registered on a Fastify instance of
 * our own that never listens: a plugin cannot register on the host's instance after ready, and
 * the namespace is only ever handed carriers (see above), never the HTTP request and reply, so
 * which instance carries the decorator makes no difference. A failed load is not kept: the next
 * flow tries again.
 */
function lazyNamespace (options: FastifyOAuth2Options): { get: () => Promise<OAuth2Namespace>, close: () => Promise<void> } {
  let loading: Promise<{ ns: OAuth2Namespace, close: () => Promise<void> }> | null = null
  const load = async (): Promise<{ ns: OAuth2Namespace, close: () => Promise<void> }> => {
    const [{ default: Fastify }, { default: fastifyOauth2 }] = await Promise.all([import('fastify'), import('@fastify/oauth2')])
    const own = Fastify({ logger: false })
    await own.register(fastifyOauth2, options)
    await own.ready()
    const ns = (own as unknown as Record<string, OAuth2Namespace | undefined>).oauth2FastifyDiscordSync
    if (ns === undefined) throw new Error('@fastify/oauth2 did not decorate its namespace')
    return { ns, close: async () => { await own.close() } }
  }
  return {
    get: async () => {
      loading ??= load().catch((err: unknown) => { loading = null; throw err })
      return (await loading).ns
    },
    close: async () => {
      const loaded = await loading?.catch(() => null)
      await loaded?.close()
    }
  }
}
