import type { RateLimitScope } from './errors/rate-limit-error.js'

/*
 * Payloads of the client's events. They carry the method, the route template,
 * the bucket hash and `tokenId` (a hash of the credential), never a token.
 */

interface Base {
  method: string
  /** Route template, e.g. `/guilds/:guild_id/members/:user_id`. */
  route: string
  /** Hash of the credential used (never the token). */
  tokenId: string
}

/** A request is about to be sent (every attempt, including retries). */
export interface RequestEvent extends Base {
  bucket: string | undefined
  /** 0 for the first attempt. */
  attempt: number
}

/** Discord answered (any status). */
export interface ResponseEvent extends RequestEvent {
  status: number
  durationMs: number
  /** The guild a `/guilds/{guild.id}/...` request was for (a snowflake, not secret); null for any other path. */
  guildId: string | null
}

/** Discord answered 429. */
export interface RateLimitedEvent extends Base {
  bucket: string | undefined
  scope: RateLimitScope
  global: boolean
  retryAfterMs: number
  /** Whether the 429 counts toward Discord's invalid-request limit (not for scope `shared`). */
  countsAsInvalid: boolean
}

/** A failed attempt (5xx, timeout, connection error) is about to be retried. */
export interface RetryEvent extends Base {
  /** Number of the attempt that will follow (1 for the first retry). */
  attempt: number
  delayMs: number
  reason: 'server_error' | 'timeout' | 'network'
  status: number | undefined
}

/** The client waits before sending, because a bucket is exhausted or the global limit is reached. */
export interface WaitEvent extends Base {
  reason: 'bucket' | 'global' | 'globalPause'
  waitMs: number
  bucket: string | undefined
}

/** Redis went away (limits fall back to in-process) or came back. */
export interface StoreEvent {
  state: 'fallback' | 'recovered'
  reason?: string | undefined
}

/** A bot token was answered 401 and is locked until `resetToken`. */
export interface TokenLockedEvent extends Base {}

export interface DiscordRestEvents {
  request: [RequestEvent]
  response: [ResponseEvent]
  rateLimited: [RateLimitedEvent]
  retry: [RetryEvent]
  wait: [WaitEvent]
  store: [StoreEvent]
  tokenLocked: [TokenLockedEvent]
}
