import type { RESTPostOAuth2AccessTokenResult, RESTPostOAuth2RefreshTokenResult } from 'discord-api-types/v10'
import { Routes } from './routes.js'
import type { CallOptions, Send } from './types.js'
import { expectTokenResponse } from './validate.js'

/** An OAuth2 application's credentials. */
export interface OAuth2ClientCredentials {
  clientId: string
  clientSecret: string
  /**
   * How the client authenticates to the token endpoints. Discord accepts
   * "either HTTP Basic authentication or client_id and client_secret supplied
   * in the form data body". Default `basic`.
   */
  authMethod?: 'basic' | 'body'
}

/**
 * OAuth2 token endpoints of one application. Bodies are
 * `application/x-www-form-urlencoded` only (Discord refuses JSON there).
 * Errors with an OAuth2 body surface as `DiscordOAuthError` (`oauthError` =
 * `invalid_grant`, `invalid_client`, ...).
 */
export class DiscordOAuth2Client {
  readonly #send: Send
  readonly #clientFields: Record<string, string>

  /** @internal Use `client.oauth2(credentials)`. */
  constructor (send: Send, credentials: OAuth2ClientCredentials, method: 'basic' | 'body') {
    this.#send = send
    this.#clientFields = method === 'body' ? { client_id: credentials.clientId, client_secret: credentials.clientSecret } : {}
  }

  /** POST /oauth2/token, `grant_type=authorization_code`: exchanges an authorisation code. */
  async exchangeCode (code: string, redirectUri: string, options: CallOptions = {}): Promise<RESTPostOAuth2AccessTokenResult> {
    const path = Routes.oauth2TokenExchange()
    const value = await this.#send<unknown>({
      method: 'POST',
      path,
      form: { ...this.#clientFields, grant_type: 'authorization_code', code, redirect_uri: redirectUri },
      oauth: true,
      signal: options.signal
    })
    return expectTokenResponse<RESTPostOAuth2AccessTokenResult>(value, { method: 'POST', route: path }, true)
  }

  /** POST /oauth2/token, `grant_type=refresh_token`: rotates the tokens. */
  async refreshToken (refreshToken: string, options: CallOptions = {}): Promise<RESTPostOAuth2RefreshTokenResult> {
    const path = Routes.oauth2TokenExchange()
    const value = await this.#send<unknown>({
      method: 'POST',
      path,
      form: { ...this.#clientFields, grant_type: 'refresh_token', refresh_token: refreshToken },
      oauth: true,
      signal: options.signal
    })
    return expectTokenResponse<RESTPostOAuth2RefreshTokenResult>(value, { method: 'POST', route: path }, true)
  }

  /** POST /oauth2/token/revoke: revokes an access or refresh token (and with it the whole authorisation). */
  async revokeToken (token: string, tokenTypeHint?: 'access_token' | 'refresh_token', options: CallOptions = {}): Promise<void> {
    const form: Record<string, string> = { ...this.#clientFields, token }
    if (tokenTypeHint !== undefined) form.token_type_hint = tokenTypeHint
    await this.#send<unknown>({ method: 'POST', path: Routes.oauth2TokenRevocation(), form, oauth: true, signal: options.signal })
  }
}
