/**
 * The storage behind the rate limiter, in the spirit of @fastify/rate-limit's
 * stores: one small interface, one file per backend (`memory.ts`, `redis.ts`).
 *
 * Every key is scoped by `tokenId`, a hash of the credential; a token never
 * reaches a store. Times are computed by the store itself (Redis: `TIME` inside
 * the script), so several processes agree on resets even with skewed clocks.
 */

/** Parameters of one global-limit acquisition. */
export interface GlobalAcquireParams {
  /** Requests allowed per window. */
  limit: number
  /** Window length in ms (already including the safety offset). */
  windowMs: number
  /**
   * Pacing: grants are spread at least this far apart on average (a GCRA, "generic cell rate
   * algorithm", whose theoretical arrival time is kept per token), with `burst` grants of slack
   * so that a waiter woken late does not lose its turn for good. 0 or absent: no pacing.
   * Without it the sliding window admits the whole limit at once, and a burst of 50 queued on the
   * connections reaches Discord spread out (some in the next second).
   */
  intervalMs?: number
  /** Grants that may follow one another without waiting for `intervalMs` (at least 1). */
  burst?: number
  /** Invalid responses per token allowed in `invalidWindowMs`. */
  invalidThreshold: number
  /** Invalid responses over all tokens allowed in `invalidWindowMs`. */
  invalidTotalThreshold: number
  /** Sliding window of the invalid-request guard. */
  invalidWindowMs: number
  /** Unique id of this acquisition (a member of the sliding-window log). */
  member: string
  /**
   * How long a grant counts as in flight until `settleGlobal` dates it (at most: a request is
   * answered, timed out or failed by then). While in flight it holds its place in the window;
   * 0 or absent: the grant is dated at once (the window then trusts the request to reach
   * Discord as soon as it is granted).
   */
  inFlightMs?: number
  /** Id of the calling process, so a shared store can tell how many processes use the token. */
  instance?: string
}

/** What the shared store last said about a token's global window (see FallbackRateLimitStore). */
export interface GlobalWindowSighting {
  /** Grants in the window just after this call. */
  inWindow: number
  /** Processes that used the token recently. */
  instances: number
}

export type GlobalAcquireResult =
  | { granted: true }
  /** `limit`: the sliding window is full; `paused`: a global 429 paused the token. */
  | { granted: false, reason: 'limit' | 'paused', waitMs: number }
  /** The invalid-request guard is tripped (per token or over all tokens). */
  | { granted: false, reason: 'invalid' | 'invalidTotal', waitMs: number, count: number }

/** Parameters of the invalid-request guard. */
export interface InvalidGuardParams {
  invalidThreshold: number
  invalidTotalThreshold: number
  invalidWindowMs: number
}

export type InvalidCheckResult =
  | { tripped: false }
  | { tripped: true, reason: 'invalid' | 'invalidTotal', waitMs: number, count: number }

export type BucketAcquireResult =
  | { granted: true }
  /** `locked`: another request of this bucket is in flight; `exhausted`: remaining is 0 until the reset. */
  | { granted: false, reason: 'locked' | 'exhausted', waitMs: number }

/** Authoritative bucket state from a response's headers (or a 429). */
export interface BucketUpdate {
  limit: number
  remaining: number
  resetAfterMs: number
}

export interface RateLimitStore {
  /** `memory` or `redis`. */
  readonly kind: 'memory' | 'redis'

  /**
   * Atomically: refuse when the invalid-request guard is tripped, or the token is
   * paused by a global 429, or the sliding window already holds `limit` grants;
   * otherwise record one grant.
   */
  acquireGlobal (tokenId: string, params: GlobalAcquireParams): Promise<GlobalAcquireResult>

  /**
   * Dates the grant `member` now: its request has been answered (or failed), so it reached
   * Discord no later than this. A grant is counted in the window from the moment it is granted
   * until `windowMs` after it is settled, so however long it took to leave this process or to
   * cross the network, every window of arrivals at Discord holds at most `limit` of them.
   * Unknown or already settled members are ignored.
   */
  settleGlobal (tokenId: string, member: string): Promise<void>

  /** The invalid-request guard alone (checked before a request even queues for its bucket). */
  checkInvalid (tokenId: string, params: InvalidGuardParams): Promise<InvalidCheckResult>

  /** Pauses every request of the token for `ms` (global 429). Never shortens a longer pause. */
  pauseGlobal (tokenId: string, ms: number): Promise<void>

  /** Counts one invalid response (401, 403, non-shared 429) for the token and in the total. */
  recordInvalid (tokenId: string, member: string, windowMs: number): Promise<void>

  /**
   * Atomically: refuse while another owner holds the bucket's lock, or while the
   * bucket is known exhausted before its reset, or paused by a 429; otherwise take the lock for
   * `lockTtlMs` and consume one of `remaining` when the state is current.
   */
  acquireBucket (tokenId: string, bucketKey: string, owner: string, lockTtlMs: number): Promise<BucketAcquireResult>

  /**
   * Writes the bucket's state from a response under `stateKey` (the discovered
   * bucket; `update` null leaves it alone), pauses the bucket for `pauseMs` after a
   * user- or shared-scope 429 (never shortening a longer pause; independent of the
   * headers' remaining and reset), and releases `owner`'s lock on `lockKey`.
   * While the stored window is still running, the two are merged conservatively
   * (lower remaining, later reset): a late answer from another process can never
   * make a bucket look fresher than it is.
   */
  releaseBucket (tokenId: string, lockKey: string, owner: string, stateKey: string, update: BucketUpdate | null, pauseMs?: number): Promise<void>

  /** The bucket hash discovered for a (method, route template), if any process saw it. */
  getBucketHash (tokenId: string, routeKey: string): Promise<string | undefined>

  /** Records a discovered bucket hash. */
  setBucketHash (tokenId: string, routeKey: string, hash: string): Promise<void>
}

/** How long a discovered route -> bucket mapping is kept (refreshed on every sighting). */
export const BUCKET_HASH_TTL_MS = 24 * 60 * 60 * 1000
/**
 * In this process (the limiter's cache, the memory store) a mapping unused this long is
 * forgotten sooner. Keys include the token, and a user's OAuth token makes a few requests at
 * login and is then idle: kept 24 h, every login added entries for a day (issue 18's soak).
 * Forgetting one costs its next request a turn under the provisional route key, and its bucket
 * state has long expired by then (it is dropped a second after its reset).
 */
export const BUCKET_HASH_IDLE_MS = 10 * 60 * 1000
/** Bucket state is kept this long past its reset (it is useless after the reset). */
export const BUCKET_STATE_GRACE_MS = 1_000
