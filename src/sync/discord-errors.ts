/*
 * How the engine reacts to each Discord failure (codes from docs/opcodes-and-status-codes.mdx).
 * The distinction that matters: a failure about one member (10007 Unknown Member) is recorded
 * and the run moves on; a failure about the guild (401, 403 50013/50001, 10004) means every
 * further write there would fail the same way, and each would count toward Discord's
 * invalid-request ban (401/403/429 responses, docs/rate-limits.mdx), so the guild stops at once.
 */
import {
  DiscordAPIError,
  DiscordAuthenticationError,
  DiscordInvalidRequestLimitError,
  DiscordNotFoundError,
  DiscordPermissionError,
  DiscordRateLimitError,
  DiscordTokenInvalidError
} from '../discord/errors/index.js'

export const DiscordCodes = Object.freeze({
  UNKNOWN_GUILD: 10004,
  UNKNOWN_MEMBER: 10007,
  UNKNOWN_ROLE: 10011,
  MISSING_ACCESS: 50001,
  MISSING_PERMISSIONS: 50013
})

export type FailureKind =
  /** 10007: the member left the guild. */
  | 'unknown_member'
  /** 10011: a mapped role was deleted; the role cache is stale. */
  | 'unknown_role'
  /** The guild cannot be written any more (bad token, missing permission, bot removed). */
  | 'guild_fatal'
  /** The client could not wait a rate limit out. */
  | 'rate_limited'
  /** The run was cancelled (shutdown, or the guild was halted meanwhile). */
  | 'aborted'
  /** Anything else (5xx after retries, timeout, network, malformed answer, host error). */
  | 'transient'

export interface Failure {
  kind: FailureKind
  /** Stable code for audit entries and run errors: Discord's JSON code when there is one. */
  code: string
  /** Log- and client-safe text: route templates and Discord's message only, never a token. */
  message: string
}

export function classifyFailure (err: unknown): Failure {
  if (err instanceof DiscordAPIError) {
    // Code 0 is Discord's "general error": the HTTP status says more.
    const code = err.discordCode !== undefined && err.discordCode !== 0 ? String(err.discordCode) : err.status !== undefined ? String(err.status) : err.code
    if (err instanceof DiscordNotFoundError) {
      if (err.discordCode === DiscordCodes.UNKNOWN_MEMBER) return { kind: 'unknown_member', code, message: err.message }
      if (err.discordCode === DiscordCodes.UNKNOWN_ROLE) return { kind: 'unknown_role', code, message: err.message }
      if (err.discordCode === DiscordCodes.UNKNOWN_GUILD) return { kind: 'guild_fatal', code, message: err.message }
      return { kind: 'transient', code, message: err.message }
    }
    if (err instanceof DiscordPermissionError || err instanceof DiscordAuthenticationError) return { kind: 'guild_fatal', code, message: err.message }
    if (err instanceof DiscordTokenInvalidError) return { kind: 'guild_fatal', code: '401', message: err.message }
    if (err instanceof DiscordInvalidRequestLimitError) return { kind: 'guild_fatal', code: 'invalid_request_limit', message: err.message }
    if (err instanceof DiscordRateLimitError) return { kind: 'rate_limited', code: '429', message: err.message }
    return { kind: 'transient', code, message: err.message }
  }
  if (err instanceof Error && (err.name === 'AbortError' || err.name === 'TimeoutError' || (err as { code?: unknown }).code === 'ABORT_ERR')) {
    return { kind: 'aborted', code: 'aborted', message: 'cancelled' }
  }
  // Not from Discord (store, provider, a bug): the class name only, messages may carry internals.
  return { kind: 'transient', code: 'internal', message: `internal error (${err instanceof Error ? err.name : typeof err})` }
}
