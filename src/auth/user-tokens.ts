import { DiscordOAuthError, type DiscordOAuth2Client } from '../discord/index.js'
import type { DiscordStore, OAuthTokens } from '../store/port/index.js'

/*
 * A linked user's access token for the calls the plugin makes on their behalf (join on link,
 * their Linked Roles connection): read from the store, refreshed first when it has expired or is
 * about to, and refreshed on demand once Discord refused it. The scheduled refresh task
 * (tasks/token-refresh.ts) keeps most tokens fresh; this covers a token it has not reached yet.
 */

/**
 * The scopes the plugin's features need on a new link, asked for on top of a flow's own:
 * `guilds.join` only while some enabled guild has auto_join on (least privilege: no guild joins,
 * no one is asked), `role_connections.write` only when Linked Roles are configured.
 */
export function featureScopes (store: Pick<DiscordStore, 'listGuilds'>, linkedRoles: boolean): () => Promise<string[]> {
  return async () => {
    const out: string[] = []
    if ((await store.listGuilds({ enabled: true })).some((g) => g.settings.auto_join)) out.push('guilds.join')
    if (linkedRoles) out.push('role_connections.write')
    return out
  }
}

/** An access token this close to its expiry is refreshed before use: it could expire in flight. */
const EXPIRY_MARGIN_MS = 60_000

/**
 * The tokens to store after a refresh: Discord may omit a new refresh token or the scope, and then
 * the current ones stay valid (docs/oauth2.mdx "Refresh Token Exchange").
 */
export function refreshedTokens (answer: { access_token: string, refresh_token?: string | null, expires_in: number, scope?: string | null }, current: OAuthTokens, now: Date): OAuthTokens {
  return {
    access_token: answer.access_token,
    refresh_token: typeof answer.refresh_token === 'string' && answer.refresh_token !== '' ? answer.refresh_token : current.refresh_token,
    expires_at: new Date(now.getTime() + answer.expires_in * 1000),
    scopes: typeof answer.scope === 'string' && answer.scope !== '' ? answer.scope.split(/\s+/) : current.scopes
  }
}

export interface UserTokenDeps {
  store: DiscordStore
  oauth: DiscordOAuth2Client
  now?: () => Date
}

export class UserTokens {
  readonly #d: UserTokenDeps
  readonly #now: () => Date

  constructor (deps: UserTokenDeps) {
    this.#d = deps
    this.#now = deps.now ?? (() => new Date())
  }

  /**
   * The link's access token when its grant includes `scope`, refreshed first when it has expired;
   * null when the link holds no tokens, lacks the scope, or needs to authorise again.
   */
  async access (discordUserId: string, scope: string, signal?: AbortSignal): Promise<string | null> {
    const link = await this.#d.store.getUserByDiscordId(discordUserId)
    if (link === null || !link.is_active || link.needs_reauth || !link.scopes.includes(scope)) return null
    const tokens = await this.#d.store.getUserTokens(discordUserId)
    if (tokens === null) return null
    const expired = tokens.expires_at !== null && tokens.expires_at.getTime() - EXPIRY_MARGIN_MS <= this.#now().getTime()
    if (!expired) return tokens.access_token
    return (await this.#refresh(discordUserId, tokens, signal))?.access_token ?? null
  }

  /** Discord refused the access token: refreshes it once. Null when that is not possible (no refresh token, invalid_grant). */
  async refresh (discordUserId: string, signal?: AbortSignal): Promise<string | null> {
    const tokens = await this.#d.store.getUserTokens(discordUserId)
    if (tokens === null) return null
    return (await this.#refresh(discordUserId, tokens, signal))?.access_token ?? null
  }

  async #refresh (discordUserId: string, current: OAuthTokens, signal?: AbortSignal): Promise<OAuthTokens | null> {
    if (current.refresh_token === null) return null
    try {
      const next = refreshedTokens(await this.#d.oauth.refreshToken(current.refresh_token, signal === undefined ? {} : { signal }), current, this.#now())
      await this.#d.store.setUserTokens(discordUserId, next)
      return next
    } catch (err) {
      if (err instanceof DiscordOAuthError && err.oauthError === 'invalid_grant') {
        // Same rule as the refresh task: only flag the link if a re-link did not replace the tokens meanwhile.
        const now = await this.#d.store.getUserTokens(discordUserId)
        if (now !== null && now.refresh_token === current.refresh_token) await this.#d.store.updateUser(discordUserId, { needs_reauth: true })
        return null
      }
      throw err
    }
  }
}
