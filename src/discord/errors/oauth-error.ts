import { DiscordAPIError, type DiscordAPIErrorOptions } from './discord-api-error.js'

export interface DiscordOAuthErrorOptions extends DiscordAPIErrorOptions {
  /** The OAuth2 `error` field, for example `invalid_grant` or `invalid_client`. */
  oauthError: string
  /** The OAuth2 `error_description` field, when present. */
  description?: string | undefined
}

/**
 * An OAuth2 token or revocation endpoint answered with an RFC 6749 error body
 * (`{ "error": "invalid_grant", "error_description": "..." }`).
 */
export class DiscordOAuthError extends DiscordAPIError {
  override readonly code: string = 'FST_DISCORD_API_OAUTH'
  /** The OAuth2 `error` field. */
  readonly oauthError: string
  /** The OAuth2 `error_description` field, when present. */
  readonly description: string | undefined

  constructor (options: DiscordOAuthErrorOptions) {
    super(options)
    this.name = 'DiscordOAuthError'
    this.oauthError = options.oauthError
    this.description = options.description
  }
}
