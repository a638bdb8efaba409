import { EventEmitter } from 'node:events'
import { DiscordBotClient } from './bot.js'
import { Credential } from './credential.js'
import type { DiscordRestEvents } from './events.js'
import type { GlobalArbiter } from './ratelimit/arbiter.js'
import { DiscordOAuth2Client, type OAuth2ClientCredentials } from './oauth2.js'
import { resolveOptions, type DiscordRestClientOptions, type ResolvedRestOptions } from './options.js'
import { RestTransport } from './rest/transport.js'
import { botTokenId } from './token.js'
import type { RequestAuth, RestRequest } from './types.js'
import { DiscordUserClient } from './user.js'

/**
 * Discord REST client: undici with keep-alive, Discord's rate limits (per-route
 * buckets keyed by top-level resource, the per-token global limit, 429 scopes),
 * optionally shared across processes through Redis, an invalid-request guard,
 * retries with full-jitter backoff and typed errors.
 *
 * Bot tokens are per guild, so calls go through a scoped view:
 * `client.bot(token).getGuild(id)`; user calls through `client.user(accessToken)`;
 * OAuth2 through `client.oauth2({ clientId, clientSecret })`. All limiter state is
 * keyed by a hash of the token; a token never appears in a key, log line, error
 * or event.
 */
export class DiscordRestClient extends EventEmitter<DiscordRestEvents> {
  readonly #opts: ResolvedRestOptions
  readonly #transport: RestTransport

  constructor (options: DiscordRestClientOptions = {}) {
    super()
    this.#opts = resolveOptions(options)
    this.#transport = new RestTransport(this.#opts, this)
  }

  /** The options in effect (defaults applied). The Redis client, outage signal, logger and dispatcher are not included. */
  get options (): Readonly<Omit<ResolvedRestOptions, 'redis' | 'logger' | 'dispatcher' | 'redisOutage'>> {
    const { redis: _r, logger: _l, dispatcher: _d, redisOutage: _o, ...rest } = this.#opts
    return rest
  }

  /** `redis` while limits are shared through Redis, `memory` when in-process (no Redis, or Redis is down). */
  get limiterBackend (): 'memory' | 'redis' {
    return this.#transport.limiterBackend
  }

  /** A view of the API authenticated with one bot token (`Authorization: Bot <token>`). */
  bot (token: string): DiscordBotClient {
    return new DiscordBotClient(this.#transport.bind(Credential.bot(token)))
  }

  /**
   * The global arbiter of a bot token: the budget of Discord's global limit (50 requests per
   * second per bot) that every request this client sends with the token waits for, shared with
   * other processes through Redis when configured. For work that has to pace itself on that
   * budget; requests through `bot(token)` already take their slot.
   */
  globalArbiter (token: string): GlobalArbiter {
    return this.#transport.arbiter(Credential.bot(token))
  }

  /** A view of the API authenticated with a user's OAuth2 access token (`Authorization: Bearer <token>`). */
  user (accessToken: string): DiscordUserClient {
    return new DiscordUserClient(this.#transport.bind(Credential.bearer(accessToken)))
  }

  /** OAuth2 token endpoints for one application (form-encoded; client authentication per Discord's docs). */
  oauth2 (credentials: OAuth2ClientCredentials): DiscordOAuth2Client {
    const method = credentials.authMethod ?? 'basic'
    const credential = Credential.oauthClient(credentials.clientId, credentials.clientSecret, method)
    return new DiscordOAuth2Client(this.#transport.bind(credential), credentials, method)
  }

  /** A low-level request with the same rate limiting, retries and errors as the operations. */
  request<T = unknown>(request: RestRequest & { auth: RequestAuth }): Promise<T> {
    const { auth, ...rest } = request
    let credential: Credential
    if (auth.type === 'Bot') credential = Credential.bot(auth.token)
    else if (auth.type === 'Bearer') credential = Credential.bearer(auth.token)
    else credential = Credential.none()
    return this.#transport.request<T>({ ...rest, credential })
  }

  /** Whether Discord answered 401 to this bot token and it is locked. */
  isTokenLocked (token: string): boolean {
    return this.#transport.locks.has(botTokenId(token))
  }

  /** Unlocks a bot token after it has been reconfigured (a 401 locked it). Returns whether it was locked. */
  resetToken (token: string): boolean {
    return this.#transport.locks.unlock(botTokenId(token))
  }

  /** Stops accepting calls and closes the undici Agent if this client created it. Never closes the Redis client. */
  async close (): Promise<void> {
    await this.#transport.close()
  }
}
