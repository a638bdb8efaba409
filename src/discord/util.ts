import { setTimeout as delay } from 'node:timers/promises'
import { MAX_AUDIT_LOG_REASON_LENGTH } from './defaults.js'

/** Sleeps `ms` milliseconds; rejects with the signal's reason when it aborts. */
export async function sleep (ms: number, signal?: AbortSignal): Promise<void> {
  if (ms <= 0) {
    signal?.throwIfAborted()
    return
  }
  if (signal === undefined) {
    await delay(ms)
    return
  }
  try {
    await delay(ms, undefined, { signal })
  } catch (err) {
    // Surface the caller's own reason, as fetch and undici do.
    if (signal.aborted) throw signal.reason
    throw err
  }
}

/**
 * Exponential backoff with full jitter: a uniform delay in
 * `[0, min(maxMs, baseMs * 2^attempt)]` (attempt counts from 0).
 */
export function fullJitterDelay (attempt: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** attempt)
  return Math.floor(random() * ceiling)
}

/**
 * Encodes an audit-log reason for `X-Audit-Log-Reason`: URL-encoded UTF-8,
 * at most 512 characters once encoded (whole code points are dropped from the
 * end, so an escape sequence is never cut). Empty reasons give `undefined`.
 */
export function encodeAuditLogReason (reason: string | undefined): string | undefined {
  if (reason === undefined) return undefined
  const chars = Array.from(reason.trim())
  if (chars.length === 0) return undefined
  let encoded = ''
  for (const ch of chars) {
    const next = encoded + encodeURIComponent(ch)
    if (next.length > MAX_AUDIT_LOG_REASON_LENGTH) break
    encoded = next
  }
  return encoded.length === 0 ? undefined : encoded
}

/** Validates a snowflake before it is put in a URL path (no `..`, no `/`). */
export function assertSnowflake (name: string, value: string): void {
  if (typeof value !== 'string' || !/^\d{1,20}$/.test(value)) {
    throw new TypeError(`${name} must be a snowflake (a string of 1-20 digits)`)
  }
}

/** Compares two snowflakes numerically. */
export function compareSnowflakes (a: string, b: string): number {
  const x = BigInt(a)
  const y = BigInt(b)
  return x < y ? -1 : x > y ? 1 : 0
}
