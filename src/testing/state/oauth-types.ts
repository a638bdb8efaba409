/*
 * OAuth2 data of the simulator's world: apps as tests seed them, the authorizations, codes and
 * tokens it stores (tokens only as hash keys), and what tests may read about them.
 */

export interface OAuthAppSeed {
  client_id: string
  client_secret: string
  redirect_uris: string[]
  name?: string
  /** Owner user: the subject of client_credentials tokens. */
  owner_id?: string
  /** Per-app override of the simulator-wide `autoApproveUserId`. */
  autoApproveUserId?: string
  /** Webhook Events URL (docs/webhook-events.mdx): where signed events are POSTed. Default none. */
  event_webhooks_url?: string | null
}

export interface OAuthApp {
  client_id: string
  client_secret: string
  redirect_uris: string[]
  name: string
  owner_id?: string
  autoApproveUserId?: string
  /** The app's Ed25519 public key in hex (docs/application.mdx `verify_key`), generated per app. */
  verify_key: string
  /** Where webhook events go; null until configured. */
  event_webhooks_url: string | null
}

/** One authorization (a user's consent to an app), shared by the access and refresh tokens it issued. */
export interface OAuthAuthorization {
  id: number
  clientId: string
  userId: string
  scopes: string[]
  revoked: boolean
  /** Hash keys of live access tokens (a rotation adds one; revoke clears all). */
  accessKeys: Set<string>
  refreshKey: string | null
}

export interface AccessTokenRecord {
  authorization: OAuthAuthorization
  /** Real epoch ms after which the token is rejected. */
  expiresAt: number
  tokenId: string
}

export interface AuthorizationCodeRecord {
  clientId: string
  userId: string
  scopes: string[]
  redirectUri: string
  /** Whether redirect_uri was in the authorize request (then the token request must repeat it). */
  redirectUriGiven: boolean
  /** PKCE (RFC 7636): the S256 `code_challenge` of the authorize request, or null when it sent none. */
  codeChallenge: string | null
  expiresAt: number
  used: boolean
}

/** What tests may read about an authorization: never the tokens themselves. */
export interface AuthorizationSummary {
  clientId: string
  userId: string
  scopes: string[]
  revoked: boolean
  accessTokenIds: string[]
  hasRefreshToken: boolean
}

export interface IssuedTokens {
  access_token: string
  token_type: 'Bearer'
  expires_in: number
  refresh_token?: string
  scope: string
}
