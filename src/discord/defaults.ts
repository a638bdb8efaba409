/** Homepage of this package, used in the `User-Agent` Discord requires. Kept in sync with package.json by a test. */
export const PACKAGE_URL = 'https://github.com/fastify-discord-sync/fastify-discord-sync'
/** Version of this package, used in the `User-Agent`. Kept in sync with package.json by a test. */
export const PACKAGE_VERSION = '0.1.0'

/**
 * Every default of `DiscordRestClient`, in one place. See `DiscordRestClientOptions`
 * for what each one means.
 */
export const DEFAULT_REST_OPTIONS = Object.freeze({
  baseUrl: 'https://discord.com/api/v10',
  /** Same order of magnitude as discord.js (15 s): long enough for a 1000-member page. */
  timeoutMs: 15_000,
  retries: 3,
  retryBaseDelayMs: 250,
  retryMaxDelayMs: 5_000,
  /** 429s do not consume `retries`; this bound only stops a pathological loop. */
  rateLimitRetries: 10,
  maxRateLimitWaitMs: 60_000,
  /** Discord: "All bots can make up to 50 requests per second to our API." */
  globalRequestsPerSecond: 50,
  globalWindowMs: 1_000,
  /**
   * Safety margin added to every reset and to the global window (clock skew, network jitter).
   * 150 ms, not discord.js's 50: with three processes sharing one token through Redis on a loaded
   * two-core machine, request transit reached ~120 ms at p99 and 50 ms let arrivals at the server
   * exceed 50/s (global 429s in 3 of 14 rounds); at 150 ms every round stayed at 50
   * (bench/README.md). It costs ~13% only when the global limit is the bottleneck, and ~1.5% on a
   * 10 s member-write bucket.
   */
  offsetMs: 150,
  /**
   * Safety margin of the global window: at most `globalRequestsPerSecond` requests in any
   * `globalWindowMs + globalOffsetMs`, paced evenly (one every 21 ms by default, 47.6/s). Smaller
   * than `offsetMs` because the global limiter paces its grants: the 150 ms above were measured
   * with bursts of a whole window queued on the connections (transit p99 ~120 ms); paced requests
   * do not queue, so their transit varies far less. It costs ~5% when the global limit is the
   * bottleneck. On a 2-core machine at load 16-29, 20-100 guilds still drew 2-47 global 429s
   * (docs/performance.md, "Many guilds"): stalls there exceed 50 ms.
   */
  globalOffsetMs: 50,
  /**
   * Discord bans an IP after 10,000 invalid requests (401, 403, non-shared 429) in
   * 10 minutes. That budget is per IP, while this guard counts per token: a host
   * runs one bot token per guild, from one IP, possibly in several processes.
   * 1,000 per token (10% of the IP budget) stops a misconfigured guild long before
   * it can endanger the others, while no healthy token ever gets near it (a
   * healthy client pre-empts almost every 429; a few 403s per sync are normal).
   */
  invalidRequestThreshold: 1_000,
  /**
   * Invalid requests over all tokens of this client (and, with Redis, of every
   * process sharing the prefix): half of Discord's per-IP 10,000, so that even
   * many misbehaving tokens together cannot reach the ban.
   */
  invalidRequestTotalThreshold: 5_000,
  /** Discord's invalid-request window: 10 minutes. */
  invalidRequestWindowMs: 600_000,
  redisKeyPrefix: 'discord-sync:rest:',
  redisTimeoutMs: 500,
  redisRetryIntervalMs: 1_000,
  userAgent: `DiscordBot (${PACKAGE_URL}, ${PACKAGE_VERSION})`,
  connections: 32,
  keepAliveTimeoutMs: 10_000
})

/** Audit-log reasons are 1-512 URL-encoded UTF-8 characters. */
export const MAX_AUDIT_LOG_REASON_LENGTH = 512
/** Discord's maximum page size for GET /guilds/{guild.id}/members. */
export const MAX_MEMBERS_PAGE_SIZE = 1_000
