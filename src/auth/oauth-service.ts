import { randomUUID } from 'node:crypto'
import type { FastifyBaseLogger, FastifyRequest } from 'fastify'
import type { APIUser, RESTAPIPartialCurrentUserGuild } from 'discord-api-types/v10'
import {
  AccountLinkedElsewhereError,
  AuthRequiredError,
  DiscordNotConfiguredError,
  DiscordUpstreamError,
  NotFoundError,
  OAuthCodeMissingError,
  OAuthDeniedError,
  StoreConflictError,
  ValidationError
} from '../errors.js'
import { DiscordAPIError, DiscordOAuthError, DiscordRateLimitError, type DiscordRestClient } from '../discord/index.js'
import type { ResolvedAuthOptions, ResolvedDiscordApp } from '../options/index.js'
import type { DiscordGuildSummary, DiscordStore, DiscordUserRecord, OAuthTokens } from '../store/port/index.js'
import type { DiscordSyncEvents } from '../events.js'
import {
  toLinkedAccount,
  type AuthStatus, type BrowserProof, type CallbackInput, type CallbackOutcome, type CompletedFlow,
  type RevocationOutcome, type StartFlowInput, type StateObserver, type UnlinkResult
} from './oauth-types.js'
import { checkRedirectUrl, resolveRequestedScopes } from './flow.js'
import type { CookieSink, DiscordOAuth2, OAuthFlow } from './discord-oauth2.js'
import type { FlowStates } from './flow-states.js'
import type { SessionAuth } from './session.js'
import type { StateBinding } from './state-binding.js'
import { StateRateLimiter } from './state-rate-limit.js'
import type { AuthUser, DiscordProfile } from './types.js'

export interface OAuthServiceDeps {
  store: DiscordStore
  client: DiscordRestClient
  /** null when no Discord application is configured (routes answer 503 before reaching the service). */
  app: ResolvedDiscordApp | null
  auth: ResolvedAuthOptions
  session: SessionAuth
  /** The binding cookie, the stored states and @fastify/oauth2 (`registerOAuthFlow`). */
  flow: OAuthFlow
  log: FastifyBaseLogger
  /** Where linking, unlinking and failed flows are announced (sync on link, removal on unlink, metrics). */
  events: DiscordSyncEvents
  /**
   * Scopes a feature needs on every new link, added to each flow's scopes (`guilds.join` while a
   * guild has auto_join on, `role_connections.write` with Linked Roles): see user-tokens.ts.
   */
  featureScopes?: () => Promise<readonly string[]>
  /**
   * Called on unlink before the token is revoked, while it still works (Linked Roles deletes the
   * user's role connection with it). Bounded by the callee; a rejection is logged, the unlink goes on.
   */
  beforeUnlink?: (discordUserId: string) => Promise<void>
  now?: () => Date
}

function toGuildSummary (g: RESTAPIPartialCurrentUserGuild): DiscordGuildSummary {
  return { id: g.id, name: g.name, permissions: String(g.permissions), owner: g.owner === true }
}

/** The redirect URL with the failure's code as `error` (replacing one the app may have put there). */
function withErrorCode (redirectUrl: string, code: string): string {
  const url = new URL(redirectUrl)
  url.searchParams.delete('error')
  url.searchParams.append('error', code)
  return url.toString()
}

/** Discord's `error` parameter is echoed in our message, so only a short token-like value is kept. */
function safeOAuthErrorName (value: string): string {
  return /^[a-z0-9_.-]{1,64}$/i.test(value) ? value : 'unrecognised error'
}

/*
 * The authorize URL and the code exchange go through @fastify/oauth2 (discord-oauth2.ts), with
 * the state in the store (flow-states.ts). Refresh (tasks/token-refresh.ts) and revoke (below)
 * stay on DiscordRestClient: they run unattended and in bulk, so they need its shared rate-limit
 * buckets, 429 handling, retries and typed errors (invalid_grant recognised in one place), one
 * client for every such Discord call.
 */

/**
 * The OAuth2 authorisation-code flow (login and linking), unlinking and the auth status.
 * Talks to Discord only through DiscordRestClient and persists only through the store port,
 * so tokens are sealed at rest and never leave this module except toward Discord.
 */
export class OAuthService {
  readonly #d: OAuthServiceDeps
  readonly #now: () => Date
  readonly #states: FlowStates
  /** The cookie binding each flow to the browser that started it (set and cleared by the routes). */
  readonly binding: StateBinding
  /** The per-IP budget of flow starts (`auth.stateRateLimit`; null when off), taken by the routes that start one. */
  readonly stateLimiter: StateRateLimiter | null

  constructor (deps: OAuthServiceDeps) {
    this.#d = deps
    this.#now = deps.now ?? (() => new Date())
    this.binding = deps.flow.binding
    this.#states = deps.flow.states
    this.stateLimiter = deps.auth.stateRateLimit === null ? null : new StateRateLimiter(deps.auth.stateRateLimit)
  }

  #app (): ResolvedDiscordApp {
    if (this.#d.app === null) throw new DiscordNotConfiguredError('set the Discord application client id, secret and redirect URI')
    return this.#d.app
  }

  /** @fastify/oauth2, registered whenever an application is configured. */
  #oauth2 (): DiscordOAuth2 {
    const lib = this.#d.flow.oauth2
    if (lib === null) throw new DiscordNotConfiguredError('set the Discord application client id, secret and redirect URI')
    return lib
  }

  #oauth (): ReturnType<DiscordRestClient['oauth2']> {
    const app = this.#app()
    return this.#d.client.oauth2({ clientId: app.clientId, clientSecret: app.clientSecret })
  }

  /**
   * Starts a flow: validates scopes and redirect, stores a single-use state and returns Discord's
   * authorize URL. With a user it is a link flow for that user; without, a login flow. `client`
   * (the caller's IP, as the routes pass it) is counted against `auth.stateRateLimit` once the
   * request is otherwise valid: a refused request costs no budget, and a spent budget answers 429.
   * `cookies` (the route's reply) receives the PKCE verifier cookie when `auth.pkce` is on.
   */
  async start (input: StartFlowInput, user: AuthUser | null, client?: string, cookies?: CookieSink): Promise<{ auth_url: string, state: string, expires_at: string }> {
    const app = this.#app()
    const scopes = resolveRequestedScopes(input.scopes, app.scopes)
    for (const s of await this.#d.featureScopes?.() ?? []) if (!scopes.includes(s)) scopes.push(s)
    const redirectUrl = checkRedirectUrl(input.redirect_url, this.#d.auth.redirectUrls)
    // Fail before the user visits Discord, not after: a login must end with a session we can sign.
    if (user === null) this.#d.session.assertConfigured()
    if (client !== undefined) this.stateLimiter?.charge(client)
    const { auth_url: authUrl, issued } = await this.#oauth2().authorize({
      flow: user === null ? 'login' : 'link',
      user_id: user?.id ?? null,
      redirect_url: redirectUrl,
      scopes
    }, cookies)
    return { auth_url: authUrl, state: issued.state, expires_at: issued.expires_at.toISOString() }
  }

  /**
   * Completes a flow from Discord's redirect (`code` + `state`, or `error` + `state`).
   * `expectLinkFor` restricts completion to a link flow started by that user (POST /auth/link).
   * `browser` (GET /auth/callback) must carry the state's binding cookie when
   * `auth.bindStateToBrowser` is on; it is checked after consuming, so a refused state is spent.
   */
  async complete (input: CallbackInput, expectLinkFor: string | null = null, onState?: StateObserver, browser?: BrowserProof): Promise<CompletedFlow> {
    let result: CompletedFlow
    try {
      result = await this.#complete(input, expectLinkFor, onState, browser)
    } catch (err) {
      const code = (err as { code?: unknown })?.code
      this.#d.events.emit('oauth.failed', { flow: expectLinkFor === null ? 'callback' : 'link', code: typeof code === 'string' ? code : 'error' })
      throw err
    }
    this.#d.events.emit('account.linked', { flow: result.flow, user_id: result.user_id, discord_user_id: result.account.discord_user_id })
    return result
  }

  async #complete (input: CallbackInput, expectLinkFor: string | null, onState: StateObserver | undefined, browser: BrowserProof | undefined): Promise<CompletedFlow> {
    const lib = this.#oauth2()
    if ((input.code === undefined || input.code === '') && input.error === undefined) throw new OAuthCodeMissingError()
    const claim = { onState, browser, expectLinkFor }
    if (input.error !== undefined) {
      // Nothing to exchange, but the state is spent and its redirect known, like any other outcome.
      await this.#states.claim(input.state, claim)
      throw new OAuthDeniedError(safeOAuthErrorName(input.error))
    }
    // checkStateFunction claims the state (single use, binding, link owner) before the code is exchanged.
    const { record, tokens } = await lib.exchange(input.code as string, input.state, browser?.verifierCookie, claim)
    const profile = await this.#profile(tokens)

    const existing = await this.#d.store.getUserByDiscordId(profile.id)
    let userId: string
    let permissions: string[] = []
    if (record.flow === 'link') {
      userId = record.user_id as string
    } else {
      const resolved = this.#d.auth.resolveUser === null
        ? (existing?.user_id ?? randomUUID())
        : await this.#d.auth.resolveUser(profile, { linkedUserId: existing?.user_id ?? null })
      userId = typeof resolved === 'string' ? resolved : resolved.id
      if (typeof resolved === 'object' && Array.isArray(resolved.permissions)) permissions = [...resolved.permissions]
      if (typeof userId !== 'string' || userId === '') throw new TypeError('auth.resolveUser must return a non-empty user id')
    }
    // Discord keeps one authorisation per user and application, so revoking the tokens we just got
    // would also revoke the other user's link: on conflict they are only discarded.
    if (existing !== null && existing.user_id !== userId) throw new AccountLinkedElsewhereError()

    const saved = await this.#saveLink(userId, profile, tokens, existing)
    const session = record.flow === 'login' ? this.#d.session.issue({ id: userId, permissions }, this.#now().getTime()) : null
    this.#d.log.info({ flow: record.flow, user_id: userId, discord_user_id: profile.id }, 'discord account linked')
    return { flow: record.flow, user_id: userId, account: toLinkedAccount(saved), redirect_url: record.redirect_url, session }
  }

  /**
   * GET /auth/callback, where a browser lands: a failure after the state named a redirect URL
   * sends the browser back to that app with the error code rather than leaving it on a JSON
   * page. Goes through `complete`, so a callback announces its outcome like any other flow.
   */
  async callback (input: CallbackInput, browser: BrowserProof): Promise<CallbackOutcome> {
    let returnTo: string | null = null
    try {
      return { ok: true, result: await this.complete(input, null, (url) => { returnTo = url }, browser) }
    } catch (err) {
      if (returnTo === null) throw err
      const code = this.#callbackFailureCode(err)
      return { ok: false, code, redirect_url: withErrorCode(returnTo, code) }
    }
  }

  /** The stable code of a callback failure, logged as the routes' error handler would log it. */
  #callbackFailureCode (err: unknown): string {
    const { code, statusCode, message } = err as { code?: unknown, statusCode?: unknown, message?: unknown }
    if (typeof code === 'string' && code.startsWith('FST_DISCORD_')) {
      const level = typeof statusCode === 'number' && statusCode >= 500 ? 'warn' : 'info'
      this.#d.log[level]({ code, message }, 'discord oauth callback failed; redirecting with the error code')
      return code
    }
    this.#d.log.error({ err }, 'unexpected error in the discord oauth callback; redirecting with FST_DISCORD_INTERNAL')
    return 'FST_DISCORD_INTERNAL'
  }

  async #profile (tokens: OAuthTokens): Promise<DiscordProfile> {
    const user = this.#d.client.user(tokens.access_token)
    let me: APIUser
    let guilds: RESTAPIPartialCurrentUserGuild[] = []
    try {
      me = await user.getCurrentUser()
      // Without the guilds scope Discord answers 401/403; ask only when it was granted.
      if (tokens.scopes.includes('guilds')) guilds = await user.getCurrentUserGuilds()
    } catch (err) {
      throw this.#upstream(err, 'reading the Discord profile')
    }
    return {
      id: me.id,
      username: me.username,
      discriminator: me.discriminator === '0' || me.discriminator === undefined ? null : me.discriminator,
      global_name: me.global_name ?? null,
      avatar: me.avatar ?? null,
      email: typeof me.email === 'string' ? me.email : null,
      guilds: guilds.map(toGuildSummary),
      scopes: tokens.scopes
    }
  }

  async #saveLink (userId: string, p: DiscordProfile, tokens: OAuthTokens, existing: DiscordUserRecord | null): Promise<DiscordUserRecord> {
    const store = this.#d.store
    const fields = { username: p.username, discriminator: p.discriminator, global_name: p.global_name, avatar: p.avatar, guilds: p.guilds, is_active: true }
    if (existing === null) {
      try {
        return await store.createUser({ user_id: userId, discord_user_id: p.id, ...fields, tokens })
      } catch (err) {
        if (!(err instanceof StoreConflictError)) throw err
        // A concurrent callback linked the same account first: same user → update, other user → 409.
        const winner = await store.getUserByDiscordId(p.id)
        if (winner === null || winner.user_id !== userId) throw new AccountLinkedElsewhereError()
      }
    }
    await store.updateUser(p.id, fields)
    await store.setUserTokens(p.id, tokens) // also clears needs_reauth
    const saved = await store.getUserByDiscordId(p.id)
    if (saved === null) throw new NotFoundError('the Discord link disappeared while it was being saved')
    return saved
  }

  /** Maps a Discord client failure to a client-safe error. Messages carry routes and statuses only. */
  #upstream (err: unknown, what: string): Error {
    if (err instanceof DiscordOAuthError) {
      this.#d.log.warn({ err: err.toJSON() }, `discord oauth error while ${what}`)
      return new DiscordUpstreamError(`Discord refused ${what} (${safeOAuthErrorName(err.oauthError)})`)
    }
    if (err instanceof DiscordRateLimitError) {
      this.#d.log.warn({ err: err.toJSON() }, `discord rate limit while ${what}`)
      return new DiscordUpstreamError(`rate limited by Discord while ${what}; retry later`)
    }
    if (err instanceof DiscordAPIError) {
      this.#d.log.warn({ err: err.toJSON() }, `discord error while ${what}`)
      return new DiscordUpstreamError(`${what} failed (${err.status === undefined ? 'no response' : `HTTP ${err.status}`})`)
    }
    return err instanceof Error ? err : new Error(String(err))
  }

  /** POST /auth/link: either starts a link flow, or completes one with a code and state. */
  async link (input: StartFlowInput & { code?: string | undefined, state?: string | undefined }, user: AuthUser, client?: string, cookies?: CookieSink): Promise<
    { kind: 'started', auth_url: string, state: string, expires_at: string } | { kind: 'linked', result: CompletedFlow }
  > {
    const hasCode = input.code !== undefined
    const hasState = input.state !== undefined
    if (hasCode !== hasState) throw new ValidationError('code and state must be sent together')
    if (hasCode && (input.redirect_url !== undefined || input.scopes !== undefined)) {
      throw new ValidationError('redirect_url and scopes start a flow; they cannot be sent with code and state')
    }
    if (!hasCode) return { kind: 'started', ...(await this.start(input, user, client, cookies)) }
    // The PKCE verifier is a cookie scoped to the callback: this request cannot carry it.
    if (this.#d.auth.pkce !== false) throw new ValidationError('with auth.pkce, a flow completes at GET /auth/callback in the browser that started it')
    return { kind: 'linked', result: await this.complete({ code: input.code, state: input.state as string }, user.id) }
  }

  /**
   * Unlinks a Discord account: revokes its token at Discord (best effort; the outcome is reported),
   * deletes the stored tokens and the link, and queues removal of the roles this plugin manages.
   * The owner or an admin may; anyone else gets 404 FST_DISCORD_NOT_FOUND, the answer for an
   * account that is not linked at all.
   */
  async unlink (request: FastifyRequest, discordUserId: string): Promise<UnlinkResult> {
    const store = this.#d.store
    // Who may act is settled before the link is read, and a non-admin gets the same 404 whether
    // the account is linked to someone else or to no one: the answer never says which ids are linked.
    const actor = request.discordAuth
    if (actor === null || actor === undefined) throw new AuthRequiredError(this.#d.auth.cookieName)
    const admin = await this.#d.session.isAdmin(actor, request)
    const link = await store.getUserByDiscordId(discordUserId)
    if (link === null || (!admin && link.user_id !== actor.id)) {
      throw new NotFoundError(admin ? 'this Discord account is not linked' : 'no Discord account with this id is linked to you')
    }

    await this.#d.beforeUnlink?.(discordUserId).catch((err: unknown) => {
      this.#d.log.warn({ discord_user_id: discordUserId, code: (err as { code?: unknown }).code }, 'the step before revoking the token failed; unlinking anyway')
    })
    const token_revocation = await this.#revoke(discordUserId)
    const tokens_deleted = link.has_tokens ? await store.setUserTokens(discordUserId, null) : false
    await store.deleteUser(discordUserId)
    const role_removal = await this.#queueRoleRemoval(link, actor)
    this.#d.log.info({ discord_user_id: discordUserId, user_id: link.user_id, by: actor.id, token_revocation }, 'discord account unlinked')
    this.#d.events.emit('account.unlinked', { user_id: link.user_id, discord_user_id: discordUserId, initiated_by: `unlink:${link.user_id}`, role_removal })
    return { discord_user_id: discordUserId, user_id: link.user_id, unlinked: true, token_revocation, tokens_deleted, role_removal }
  }

  async #revoke (discordUserId: string): Promise<RevocationOutcome> {
    let tokens: OAuthTokens | null
    try {
      tokens = await this.#d.store.getUserTokens(discordUserId)
    } catch (err) {
      this.#d.log.warn({ discord_user_id: discordUserId, code: (err as { code?: unknown }).code }, 'stored Discord tokens unreadable; not revoked')
      return 'failed'
    }
    if (tokens === null) return 'no_tokens'
    if (this.#d.app === null) return 'failed'
    // Revoking either token revokes the whole authorisation (docs/oauth2.mdx); the refresh token outlives the access token.
    const [token, hint] = tokens.refresh_token !== null ? [tokens.refresh_token, 'refresh_token' as const] : [tokens.access_token, 'access_token' as const]
    try {
      await this.#oauth().revokeToken(token, hint)
      return 'revoked'
    } catch (err) {
      const safe = err instanceof DiscordAPIError ? err.toJSON() : { message: 'unexpected error' }
      this.#d.log.warn({ discord_user_id: discordUserId, err: safe }, 'revoking the Discord token failed; the link is removed anyway')
      return 'failed'
    }
  }

  /**
   * The sync engine applies role removal: a pending `user` sync run targeting the Discord id tells
   * it to plan this member with no linked user, which applies each guild's `on_access_lost` (removing
   * managed roles where `remove_roles_on_leave` is on, or kicking) after its `access_lost_grace`. Only guilds that are configured, enabled and known to contain
   * the member count; without any, nothing is queued.
   */
  async #queueRoleRemoval (link: DiscordUserRecord, actor: AuthUser): Promise<UnlinkResult['role_removal']> {
    const memberOf = new Set(link.guilds.map((g) => g.id))
    const guilds = (await this.#d.store.listGuilds({ enabled: true }))
      // Guilds where losing the link does something (on_access_lost; remove_roles also needs remove_roles_on_leave).
      .filter((g) => memberOf.has(g.guild_id) && (g.settings.on_access_lost === 'kick' || (g.settings.on_access_lost === 'remove_roles' && g.settings.remove_roles_on_leave)))
      .map((g) => g.guild_id)
    if (guilds.length === 0) return { queued: false, sync_run_id: null, guild_ids: [] }
    const run = await this.#d.store.createSyncRun({ sync_type: 'user', target_id: link.discord_user_id, status: 'pending', initiated_by: `unlink:${actor.id}` })
    return { queued: true, sync_run_id: run.id, guild_ids: guilds }
  }

  /** GET /auth/status: anonymous, or the caller's links with token metadata (never tokens). */
  async status (user: AuthUser | null): Promise<AuthStatus> {
    if (user === null) return { authenticated: false }
    const accounts = (await this.#d.store.listUsersByUserId(user.id)).map(toLinkedAccount)
    return { authenticated: true, user_id: user.id, linked: accounts.length > 0, needs_reauth: accounts.some((a) => a.needs_reauth), accounts }
  }
}
