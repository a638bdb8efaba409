/**
 * Context shared by every error the Discord REST client raises.
 * Nothing in here may ever hold a token: `route` is a template such as
 * `/guilds/:guild_id/members/:user_id`, never the concrete URL.
 */
export interface DiscordAPIErrorOptions {
  /** Human-readable message (Discord's `message` field when there is one). */
  message: string
  /** HTTP method of the failed request. */
  method: string
  /** Route template of the failed request (ids replaced by placeholders). */
  route: string
  /** HTTP status Discord answered with; `undefined` when no response arrived. */
  status?: number | undefined
  /** Discord's JSON error `code` (for example 50013), when the body carried one. */
  discordCode?: number | undefined
  /** Discord's raw `errors` object (form-validation details), when present. */
  errors?: unknown
}

/**
 * Base class of every error raised by the Discord REST client.
 *
 * `code` is a stable string (`FST_DISCORD_API_*`) suitable for `switch`es and
 * logs; `discordCode` is Discord's numeric JSON error code. `status` is the
 * HTTP status Discord returned. The class deliberately has no `statusCode`, so
 * a Discord 404 thrown inside a Fastify handler does not become the host's 404.
 */
export class DiscordAPIError extends Error {
  /** Stable machine-readable error code. */
  readonly code: string = 'FST_DISCORD_API_ERROR'
  /** HTTP status of Discord's answer, `undefined` when no response was received. */
  readonly status: number | undefined
  /** Discord's JSON error code, when the body carried one. */
  readonly discordCode: number | undefined
  /** HTTP method of the request. */
  readonly method: string
  /** Route template of the request (never a token, never concrete ids). */
  readonly route: string
  /** Discord's raw `errors` object for form-body errors (code 50035), when present. */
  readonly errors: unknown

  constructor (options: DiscordAPIErrorOptions) {
    super(options.message)
    this.name = 'DiscordAPIError'
    this.status = options.status
    this.discordCode = options.discordCode
    this.method = options.method
    this.route = options.route
    this.errors = options.errors
  }

  /**
   * A plain, log-safe representation (no stack, no token by construction): the message and every
   * own field, so a subclass's details (`retryAfterMs`, `timeoutMs`, `networkCode`, `count`, ...)
   * reach the logs without each subclass repeating this method.
   */
  toJSON (): Record<string, unknown> {
    return { name: this.name, code: this.code, message: this.message, ...Object.fromEntries(Object.entries(this)) }
  }
}

/** Builds `"<message> [<discord code>] (<METHOD> <route> -> <status>)"`. */
export function describeFailure (message: string, method: string, route: string, status?: number, discordCode?: number): string {
  const code = discordCode === undefined ? '' : ` [${discordCode}]`
  const where = status === undefined ? `${method} ${route}` : `${method} ${route} -> ${status}`
  return `${message}${code} (${where})`
}
