import { describeFailure } from '../errors/discord-api-error.js'
import { DiscordRateLimitError, type RateLimitScope } from '../errors/rate-limit-error.js'
import type { DiscordRestLogger } from '../options.js'
import type { GlobalLimiter } from '../ratelimit/global-limiter.js'
import type { RateLimitHeaders } from '../ratelimit/headers.js'
import { isRecord } from '../validate.js'
import { parseJson, type Outcome } from './outcome.js'
import type { Notify } from './notify.js'

export interface RateLimitedDeps {
  global: GlobalLimiter
  notify: Notify
  logger: DiscordRestLogger | undefined
  /** A wait longer than this is not waited out: the call fails instead. */
  maxWaitMs: number
}

/** A 429 as the attempt received it. */
export interface RateLimitedAnswer {
  method: string
  /** Route template. */
  route: string
  tokenId: string
  /** The answer's bucket, or the one the attempt was sent in. */
  bucket: string | undefined
  headers: RateLimitHeaders
  text: string
}

/**
 * The 429 handler: works out the scope and the wait (body `retry_after` first, then the
 * headers), counts the answer towards the invalid-request guard unless the limit was shared,
 * pauses the whole token on a global limit and returns the pause a per-route limit puts on
 * the bucket (`pauseMs`, written when the bucket is released).
 */
export async function handleRateLimited (deps: RateLimitedDeps, answer: RateLimitedAnswer): Promise<{ outcome: Outcome, pauseMs: number }> {
  const { method, route, tokenId, bucket, headers } = answer
  const body = parseJson(answer.text)
  const json = body.ok && isRecord(body.value) ? body.value : undefined
  const bodyRetry = typeof json?.retry_after === 'number' && Number.isFinite(json.retry_after) && json.retry_after >= 0
    ? Math.ceil(json.retry_after * 1000)
    : undefined
  const retryAfterMs = bodyRetry ?? headers.retryAfterMs ?? headers.resetAfterMs
  const global = headers.scope === 'global' || headers.global || json?.global === true
  const scope: RateLimitScope = headers.scope ?? (global ? 'global' : 'user')
  const countsAsInvalid = scope !== 'shared'
  let pauseMs = 0
  if (countsAsInvalid) await deps.global.recordInvalid(tokenId)
  if (retryAfterMs !== undefined) {
    // Global: every request of the token waits. User / shared: this bucket waits retry_after,
    // whatever its headers say about remaining (a shared limit does not consume the bucket).
    if (global) await deps.global.pause(tokenId, retryAfterMs)
    else pauseMs = retryAfterMs
  }
  deps.notify('rateLimited', {
    method,
    route,
    tokenId,
    bucket,
    scope,
    global,
    retryAfterMs: retryAfterMs ?? 0,
    countsAsInvalid
  })
  deps.logger?.debug?.({ method, route, bucket, scope, retryAfterMs }, 'Discord answered 429')
  const noInfo = retryAfterMs === undefined
  const discordCode = typeof json?.code === 'number' ? json.code : undefined
  const error = new DiscordRateLimitError({
    method,
    route,
    status: 429,
    discordCode,
    message: describeFailure(
      noInfo
        ? 'Rate limited without a usable retry time (possibly an invalid-request ban)'
        : `Rate limited (${scope}) for ${retryAfterMs} ms`,
      method, route, 429, discordCode),
    retryAfterMs: retryAfterMs ?? 0,
    scope,
    bucket,
    global
  })
  return { outcome: { kind: 'rateLimited', error, final: noInfo || retryAfterMs > deps.maxWaitMs }, pauseMs }
}
