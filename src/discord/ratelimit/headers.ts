import type { IncomingHttpHeaders } from 'node:http'
import type { RateLimitScope } from '../errors/rate-limit-error.js'

/** What Discord's rate-limit headers say about one response. */
export interface RateLimitHeaders {
  /** `X-RateLimit-Bucket`: opaque bucket hash. */
  bucket: string | undefined
  /** `X-RateLimit-Limit`. */
  limit: number | undefined
  /** `X-RateLimit-Remaining`. */
  remaining: number | undefined
  /** `X-RateLimit-Reset-After` in milliseconds (Discord sends seconds with decimals). */
  resetAfterMs: number | undefined
  /** `X-RateLimit-Scope` (only on 429). */
  scope: RateLimitScope | undefined
  /** `X-RateLimit-Global` (only on 429). */
  global: boolean
  /** `Retry-After` in milliseconds. */
  retryAfterMs: number | undefined
}

// Bucket hashes end up in store keys: accept only plain opaque identifiers.
const BUCKET = /^[\w.:-]{1,128}$/

function header (headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name]
  if (Array.isArray(value)) return value[0]
  return value
}

function seconds (value: string | undefined): number | undefined {
  if (value === undefined || value.trim() === '') return undefined
  const n = Number(value)
  if (!Number.isFinite(n) || n < 0) return undefined
  return Math.ceil(n * 1000)
}

function count (value: string | undefined): number | undefined {
  if (value === undefined || value.trim() === '') return undefined
  const n = Number(value)
  if (!Number.isInteger(n) || n < 0) return undefined
  return n
}

/** Parses Discord's rate-limit headers; absent or malformed values become `undefined`. */
export function parseRateLimitHeaders (headers: IncomingHttpHeaders): RateLimitHeaders {
  const scopeRaw = header(headers, 'x-ratelimit-scope')?.toLowerCase()
  const scope = scopeRaw === 'global' || scopeRaw === 'user' || scopeRaw === 'shared' ? scopeRaw : undefined
  const bucket = header(headers, 'x-ratelimit-bucket')
  return {
    bucket: bucket !== undefined && BUCKET.test(bucket) ? bucket : undefined,
    limit: count(header(headers, 'x-ratelimit-limit')),
    remaining: count(header(headers, 'x-ratelimit-remaining')),
    resetAfterMs: seconds(header(headers, 'x-ratelimit-reset-after')),
    scope,
    global: header(headers, 'x-ratelimit-global')?.toLowerCase() === 'true',
    retryAfterMs: seconds(header(headers, 'retry-after'))
  }
}
