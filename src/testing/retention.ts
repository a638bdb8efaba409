/*
 * How much history the simulator keeps. Everything it records per request or per operation is
 * bounded, so a demo or a long test run that drives it for hours does not grow without end; the
 * newest entries are kept and the oldest dropped first. Counters that must stay exact (requests
 * per route and status) are kept as aggregates, which do not grow with traffic.
 */

/** Default `requestLogLimit`: requests `sim.requests` retains. */
export const DEFAULT_REQUEST_LOG_LIMIT = 10_000
/** Default `auditLogLimit`: audit-log entries `sim.state.auditLog` retains. */
export const DEFAULT_AUDIT_LOG_LIMIT = 10_000
/** Default `messageLimit`: channel messages `sim.state.messages` retains (all channels together). */
export const DEFAULT_MESSAGE_LIMIT = 10_000
/**
 * Default `authorizationsPerUserLimit`: live OAuth authorizations the simulator keeps per user and
 * app (each login is one, its refresh token valid until used or revoked); past it the oldest is
 * revoked. Discord documents no such number; the plugin only ever holds a user's newest tokens.
 */
export const DEFAULT_AUTHORIZATIONS_PER_USER = 10
/**
 * Default `endedAuthorizationsLimit`: ended OAuth authorizations (revoked, or left without tokens)
 * the simulator keeps for `listAuthorizations()`, the newest.
 */
export const DEFAULT_ENDED_AUTHORIZATIONS = 1000
/** Unexpected handler exceptions kept in `sim.internalErrors` (the first ones: they show the cause). */
export const INTERNAL_ERRORS_KEPT = 100

/**
 * A retention limit must be a whole number of entries (0 keeps none), or Infinity to keep
 * everything (the unbounded log some benchmarks analyse in full).
 */
export function checkRetentionLimit (name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback
  if (value === Number.POSITIVE_INFINITY || (Number.isSafeInteger(value) && value >= 0)) return value
  throw new RangeError(`${name} must be a whole number >= 0 or Infinity, got ${String(value)}`)
}

/** Appends to a bounded list, dropping the oldest entries beyond `limit`; returns how many were dropped. */
export function appendBounded<T> (list: T[], item: T, limit: number): number {
  if (limit === 0) return 1
  list.push(item)
  if (list.length <= limit) return 0
  // One entry over the limit at a time: shift is cheap for the default sizes (V8 trims the front in place).
  list.shift()
  return 1
}
