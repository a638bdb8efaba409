import type { KeyObject } from 'node:crypto'
import { DEFAULT_AUTHORIZATIONS_PER_USER, DEFAULT_ENDED_AUTHORIZATIONS } from '../retention.js'
import { randomToken, tokenId, tokenKey } from '../tokens.js'
import { generateSigningKeyPair } from '../webhooks/keys.js'
import { fail, requireSnowflake } from './guards.js'
import type { AccessTokenRecord, AuthorizationCodeRecord, AuthorizationSummary, IssuedTokens, OAuthApp, OAuthAppSeed, OAuthAuthorization } from './oauth-types.js'
import type { SimUser } from './types.js'

export interface OAuthLifetimes {
  /** Access-token lifetime in real milliseconds (already divided by the time scale). */
  accessTokenTtlMs: number
  /** Authorization-code lifetime in real milliseconds. */
  codeTtlMs: number
  /** Lifetime reported as expires_in, in real seconds. */
  accessTokenTtlSeconds: number
  /** Live authorizations kept per user and app (default DEFAULT_AUTHORIZATIONS_PER_USER; see retention.ts). */
  authorizationsPerUser?: number
  /** Ended authorizations (revoked, or left with no token) kept, the newest (default DEFAULT_ENDED_AUTHORIZATIONS). */
  endedAuthorizations?: number
}
/** Below this many records, growth never triggers a sweep. */
const MIN_SWEEP_SIZE = 256

/*
 * OAuth2 applications and what users granted them: authorizations, single-use codes, access
 * and refresh tokens. Tokens are kept only under their SHA-256 key (see tokens.ts).
 *
 * What can no longer be used is forgotten, so logins and refreshes in a long run do not grow the
 * store: codes once expired (a used or expired code answers invalid_grant either way), access
 * tokens one lifetime after they expired (until then revoking with one still revokes its
 * authorization), and ended authorizations beyond the newest `endedAuthorizations`. The
 * sweep runs when the store has doubled since the last one, so its cost per token is constant.
 */
export class OAuthStore {
  readonly apps = new Map<string, OAuthApp>()
  /** access-token hash key -> record */
  readonly accessTokens = new Map<string, AccessTokenRecord>()
  /** refresh-token hash key -> authorization */
  readonly refreshTokens = new Map<string, OAuthAuthorization>()
  /** authorization code (hash key) -> record */
  readonly codes = new Map<string, AuthorizationCodeRecord>()
  readonly authorizations: OAuthAuthorization[] = []

  readonly #users: ReadonlyMap<string, SimUser>
  /** client_id -> private signing key, kept off the app record so dumping the state cannot print it. */
  readonly #signingKeys = new Map<string, KeyObject>()
  readonly #lifetimes: OAuthLifetimes
  #authorizationSeq = 0
  #sweepAt = MIN_SWEEP_SIZE

  constructor (users: ReadonlyMap<string, SimUser>, lifetimes: OAuthLifetimes) {
    this.#users = users
    this.#lifetimes = lifetimes
  }

  addOAuthApp (seed: OAuthAppSeed): OAuthApp {
    requireSnowflake('client_id', seed.client_id)
    if (seed.redirect_uris.length === 0) fail('an OAuth app needs at least one redirect URI')
    for (const uri of seed.redirect_uris) {
      try {
        // eslint-disable-next-line no-new
        new URL(uri)
      } catch {
        fail(`redirect URI ${uri} is not an absolute URL`)
      }
    }
    const keys = generateSigningKeyPair()
    this.#signingKeys.set(seed.client_id, keys.privateKey)
    const app: OAuthApp = {
      client_id: seed.client_id,
      client_secret: seed.client_secret,
      redirect_uris: [...seed.redirect_uris],
      name: seed.name ?? `App ${seed.client_id.slice(-4)}`,
      ...(seed.owner_id !== undefined ? { owner_id: seed.owner_id } : {}),
      ...(seed.autoApproveUserId !== undefined ? { autoApproveUserId: seed.autoApproveUserId } : {}),
      verify_key: keys.publicKeyHex,
      event_webhooks_url: seed.event_webhooks_url ?? null
    }
    this.apps.set(app.client_id, app)
    return app
  }

  /** The app's private Ed25519 key (webhook events are signed with it). */
  signingKey (clientId: string): KeyObject {
    return this.#signingKeys.get(clientId) ?? fail(`unknown OAuth app ${clientId}`)
  }

  createAuthorizationCode (input: { clientId: string, userId: string, scopes: string[], redirectUri: string, redirectUriGiven: boolean, codeChallenge?: string | null }): string {
    this.#sweepIfGrown()
    const code = randomToken(30)
    this.codes.set(tokenKey(code), { ...input, codeChallenge: input.codeChallenge ?? null, expiresAt: Date.now() + this.#lifetimes.codeTtlMs, used: false })
    return code
  }

  findCode (code: string): AuthorizationCodeRecord | undefined {
    return this.codes.get(tokenKey(code))
  }

  issueUserToken (input: { clientId: string, userId: string, scopes: string[], withRefreshToken?: boolean }): IssuedTokens {
    if (!this.apps.has(input.clientId)) fail(`unknown OAuth app ${input.clientId}`)
    if (!this.#users.has(input.userId)) fail(`unknown user ${input.userId}`)
    const authorization: OAuthAuthorization = {
      id: ++this.#authorizationSeq,
      clientId: input.clientId,
      userId: input.userId,
      scopes: [...input.scopes],
      revoked: false,
      accessKeys: new Set(),
      refreshKey: null
    }
    this.#sweepIfGrown()
    this.authorizations.push(authorization)
    this.#endOldestBeyondLimit(input.clientId, input.userId)
    return this.#mint(authorization, input.withRefreshToken ?? true)
  }

  /*
   * Every login is an authorization with a refresh token that stays valid until used or revoked;
   * one user logging in again and again (a soak, a demo left running) would otherwise pile them
   * up for ever, ~1.4 KB each. Past the limit the oldest are revoked, as if the user had.
   */
  #endOldestBeyondLimit (clientId: string, userId: string): void {
    const limit = this.#lifetimes.authorizationsPerUser ?? DEFAULT_AUTHORIZATIONS_PER_USER
    if (limit === Number.POSITIVE_INFINITY) return
    const live = this.authorizations.filter((a) => a.clientId === clientId && a.userId === userId && !a.revoked)
    for (const a of live.slice(0, Math.max(0, live.length - limit))) this.revokeAuthorization(a)
  }

  rotate (authorization: OAuthAuthorization): IssuedTokens {
    this.#sweepIfGrown()
    if (authorization.refreshKey !== null) this.refreshTokens.delete(authorization.refreshKey)
    authorization.refreshKey = null
    return this.#mint(authorization, true)
  }

  #mint (authorization: OAuthAuthorization, withRefresh: boolean): IssuedTokens {
    const access = randomToken(30)
    const accessKey = tokenKey(access)
    authorization.accessKeys.add(accessKey)
    this.accessTokens.set(accessKey, { authorization, expiresAt: Date.now() + this.#lifetimes.accessTokenTtlMs, tokenId: tokenId(access) })
    const out: IssuedTokens = {
      access_token: access,
      token_type: 'Bearer',
      expires_in: this.#lifetimes.accessTokenTtlSeconds,
      scope: authorization.scopes.join(' ')
    }
    if (withRefresh) {
      const refresh = randomToken(30)
      authorization.refreshKey = tokenKey(refresh)
      this.refreshTokens.set(authorization.refreshKey, authorization)
      // Key order as in the docs' "Access Token Response".
      return { access_token: out.access_token, token_type: out.token_type, expires_in: out.expires_in, refresh_token: refresh, scope: out.scope }
    }
    return out
  }

  findAccessToken (token: string): AccessTokenRecord | undefined {
    const record = this.accessTokens.get(tokenKey(token))
    if (record === undefined || record.authorization.revoked || Date.now() >= record.expiresAt) return undefined
    return record
  }

  findRefreshToken (token: string): OAuthAuthorization | undefined {
    const authorization = this.refreshTokens.get(tokenKey(token))
    return authorization === undefined || authorization.revoked ? undefined : authorization
  }

  findAuthorizationByToken (token: string): OAuthAuthorization | undefined {
    const key = tokenKey(token)
    const authorization = this.accessTokens.get(key)?.authorization ?? this.refreshTokens.get(key)
    return authorization === undefined || authorization.revoked ? undefined : authorization
  }

  revokeAuthorization (authorization: OAuthAuthorization): void {
    authorization.revoked = true
    for (const key of authorization.accessKeys) this.accessTokens.delete(key)
    authorization.accessKeys.clear()
    if (authorization.refreshKey !== null) this.refreshTokens.delete(authorization.refreshKey)
    authorization.refreshKey = null
  }

  /** Revokes every live authorization `userId` gave `clientId`; returns how many there were. */
  revokeUserAuthorizations (clientId: string, userId: string): number {
    const live = this.authorizations.filter((a) => a.clientId === clientId && a.userId === userId && !a.revoked)
    for (const a of live) this.revokeAuthorization(a)
    return live.length
  }

  expireAccessToken (token: string): boolean {
    const record = this.accessTokens.get(tokenKey(token))
    if (record === undefined) return false
    // Now rather than 0: the record stays findable for revocation for one lifetime, as for any expiry.
    record.expiresAt = Date.now()
    return true
  }

  /** Forgets expired codes, access tokens expired for a lifetime, and the oldest ended authorizations. */
  sweep (now = Date.now()): void {
    for (const [key, code] of this.codes) if (now >= code.expiresAt) this.codes.delete(key)
    const horizon = now - this.#lifetimes.accessTokenTtlMs
    for (const [key, token] of this.accessTokens) {
      if (token.expiresAt <= horizon) {
        this.accessTokens.delete(key)
        token.authorization.accessKeys.delete(key)
      }
    }
    const ended = this.authorizations.filter((a) => a.revoked || (a.accessKeys.size === 0 && a.refreshKey === null))
    const keep = this.#lifetimes.endedAuthorizations ?? DEFAULT_ENDED_AUTHORIZATIONS
    if (ended.length > keep) {
      const forget = new Set(ended.slice(0, ended.length - keep))
      const kept = this.authorizations.filter((a) => !forget.has(a))
      this.authorizations.splice(0, this.authorizations.length, ...kept)
    }
  }

  #size (): number {
    return this.codes.size + this.accessTokens.size + this.authorizations.length
  }

  #sweepIfGrown (): void {
    if (this.#size() < this.#sweepAt) return
    this.sweep()
    this.#sweepAt = Math.max(MIN_SWEEP_SIZE, 2 * this.#size())
  }

  listAuthorizations (): AuthorizationSummary[] {
    return this.authorizations.map((a) => ({
      clientId: a.clientId,
      userId: a.userId,
      scopes: [...a.scopes],
      revoked: a.revoked,
      accessTokenIds: [...a.accessKeys].map((k) => this.accessTokens.get(k)?.tokenId).filter((id): id is string => id !== undefined),
      hasRefreshToken: a.refreshKey !== null
    }))
  }
}
