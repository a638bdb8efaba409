import { credentialId } from './token.js'

/**
 * How one request authenticates. The secret only exists inside the
 * `Authorization` header value, in a private field; `id` (a hash) is what the
 * limiter, the logs and the events see.
 */
export class Credential {
  /** Hash identifying the credential (safe to log and to use in keys). */
  readonly id: string
  /** `Bot`, `Bearer`, `Basic` (OAuth2 client) or `None`. */
  readonly scheme: 'Bot' | 'Bearer' | 'Basic' | 'None'
  readonly #header: string | undefined

  private constructor (scheme: Credential['scheme'], id: string, header: string | undefined) {
    this.scheme = scheme
    this.id = id
    this.#header = header
  }

  /** Whether a 401 locks this credential (bot tokens only). */
  get lockable (): boolean {
    return this.scheme === 'Bot'
  }

  /** The `Authorization` header value, if any. */
  authorization (): string | undefined {
    return this.#header
  }

  static bot (token: string): Credential {
    assertToken(token, 'bot token')
    return new Credential('Bot', credentialId('bot', token), `Bot ${token}`)
  }

  static bearer (token: string): Credential {
    assertToken(token, 'access token')
    return new Credential('Bearer', credentialId('bearer', token), `Bearer ${token}`)
  }

  /**
   * OAuth2 client authentication. `basic` sends HTTP Basic with the client id and
   * secret form-urlencoded first (RFC 6749 section 2.3.1); `body` sends no header
   * (the caller puts `client_id` / `client_secret` in the form body).
   */
  static oauthClient (clientId: string, clientSecret: string, method: 'basic' | 'body'): Credential {
    assertToken(clientId, 'client id')
    assertToken(clientSecret, 'client secret')
    const id = credentialId('oauth2', clientId)
    if (method === 'body') return new Credential('None', id, undefined)
    const user = new URLSearchParams({ u: clientId }).toString().slice(2)
    const pass = new URLSearchParams({ p: clientSecret }).toString().slice(2)
    return new Credential('Basic', id, `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`)
  }

  /** No authentication at all (requests are limited under the id `anonymous`). */
  static none (): Credential {
    return new Credential('None', 'anonymous', undefined)
  }

  toJSON (): Record<string, unknown> {
    return { scheme: this.scheme, id: this.id }
  }
}

function assertToken (value: unknown, what: string): void {
  if (typeof value !== 'string' || value.length === 0 || /[\r\n]/.test(value)) {
    throw new TypeError(`A non-empty ${what} without line breaks is required`)
  }
}
