import type { Dispatcher } from 'undici'
import type { RedisConnection as Redis } from '../util/driver-types.js'
import { DEFAULT_REST_OPTIONS } from './defaults.js'

type LogFn = (obj: Record<string, unknown>, msg?: string) => void

/** The subset of a pino / Fastify logger the client uses. */
export interface DiscordRestLogger {
  warn: LogFn
  info: LogFn
  debug?: LogFn
  error?: LogFn
}

/** Options of `DiscordRestClient`. Every default lives in `DEFAULT_REST_OPTIONS`. */
export interface DiscordRestClientOptions {
  /** API base URL including the version. Default `https://discord.com/api/v10`. */
  baseUrl?: string
  /** Per-attempt timeout (headers and body), enforced with `AbortSignal.timeout`. Default 15 000 ms. */
  timeoutMs?: number
  /** Retries after a 5xx, a timeout or a connection error (429s never consume these). Default 3. */
  retries?: number
  /** Base of the exponential backoff between retries (full jitter: a uniform delay in `[0, min(max, base * 2^attempt)]`). Default 250 ms. */
  retryBaseDelayMs?: number
  /** Upper bound of one backoff delay. Default 5 000 ms. */
  retryMaxDelayMs?: number
  /** Upper bound on 429 answers one call may receive before giving up with `DiscordRateLimitError`. Default 10. */
  rateLimitRetries?: number
  /** A rate-limit wait longer than this is not waited out: the call fails with `DiscordRateLimitError` instead. Default 60 000 ms. */
  maxRateLimitWaitMs?: number
  /** Global limit per token (Discord: 50 requests per second per bot). Default 50. */
  globalRequestsPerSecond?: number
  /** Length of the global window; only change it against a time-scaled simulator. Default 1 000 ms. */
  globalWindowMs?: number
  /** Safety margin added to every bucket reset and to the wait after a global 429 (clock skew, transit jitter; see `DEFAULT_REST_OPTIONS`). Default 150 ms. */
  offsetMs?: number
  /** Safety margin of the global window, whose grants are paced (see `DEFAULT_REST_OPTIONS`). Default 50 ms. */
  globalOffsetMs?: number
  /** Invalid responses (401, 403, non-shared 429) per token in the sliding window before that token's requests are refused. Default 1 000 (Discord bans at 10 000 per IP). */
  invalidRequestThreshold?: number
  /** Invalid responses over all tokens in the sliding window before every request is refused. Default 5 000. */
  invalidRequestTotalThreshold?: number
  /** Sliding window of the invalid-request guard. Default 600 000 ms (Discord's 10 minutes). */
  invalidRequestWindowMs?: number
  /** An ioredis client to share limiter state across processes. Never closed by the client. */
  redis?: Redis
  /** Prefix of every Redis key the client writes. Default `discord-sync:rest:`. */
  redisKeyPrefix?: string
  /** A Redis call slower than this counts as a Redis failure (fallback to in-process limits). Default 500 ms. */
  redisTimeoutMs?: number
  /** While fallen back, how often Redis is probed for recovery. Default 1 000 ms. */
  redisRetryIntervalMs?: number
  /**
   * What other users of the same Redis in this process know about it (the plugin passes the
   * breaker its routes use): while `open`, the client falls back at once instead of waiting
   * `redisTimeoutMs` on a Redis already known to be away; its own failures `trip()` it, and its
   * recovery `reset()`s it.
   */
  redisOutage?: RedisOutageSignal
  /** `User-Agent` header. Default `DiscordBot (<package url>, <version>)`. */
  userAgent?: string
  /** Logger (pino-like). Optional; nothing is logged without it. Never receives a token. */
  logger?: DiscordRestLogger
  /** An undici dispatcher to send requests with. When given it is not closed by `close()`. */
  dispatcher?: Dispatcher
  /** Connections per origin of the Agent the client creates when no dispatcher is given. Default 32. */
  connections?: number
  /** Keep-alive timeout of the Agent the client creates. Default 10 000 ms. */
  keepAliveTimeoutMs?: number
}

/** Knowledge, shared within a process, that Redis is unreachable or hung. */
export interface RedisOutageSignal {
  /** True while Redis is known to be away. */
  readonly open: boolean
  /** Records that Redis failed. */
  trip (): void
  /** Records that Redis answers again. */
  reset (): void
}

/** Options after defaults are applied. */
export type ResolvedRestOptions = Required<Omit<DiscordRestClientOptions, 'redis' | 'logger' | 'dispatcher' | 'redisOutage'>> &
  Pick<DiscordRestClientOptions, 'redis' | 'logger' | 'dispatcher' | 'redisOutage'>

/** Applies `DEFAULT_REST_OPTIONS` to what the caller left undefined and rejects values the client cannot work with. */
export function resolveOptions (options: DiscordRestClientOptions): ResolvedRestOptions {
  const merged = { ...DEFAULT_REST_OPTIONS } as ResolvedRestOptions
  for (const [key, value] of Object.entries(options)) {
    if (value !== undefined) (merged as unknown as Record<string, unknown>)[key] = value
  }
  const positive = ['timeoutMs', 'globalRequestsPerSecond', 'globalWindowMs', 'invalidRequestThreshold', 'invalidRequestTotalThreshold',
    'invalidRequestWindowMs', 'redisTimeoutMs', 'redisRetryIntervalMs', 'connections', 'keepAliveTimeoutMs', 'maxRateLimitWaitMs'] as const
  for (const key of positive) {
    const v = merged[key]
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw new TypeError(`DiscordRestClient option ${key} must be a positive number`)
  }
  const nonNegative = ['retries', 'retryBaseDelayMs', 'retryMaxDelayMs', 'rateLimitRetries', 'offsetMs', 'globalOffsetMs'] as const
  for (const key of nonNegative) {
    const v = merged[key]
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new TypeError(`DiscordRestClient option ${key} must be a non-negative number`)
  }
  // Header values: a line break would only surface later, as a "connection failed" retried three times.
  for (const key of ['userAgent', 'redisKeyPrefix'] as const) {
    const v = merged[key]
    if (typeof v !== 'string' || v.length === 0 || /[\r\n]/.test(v)) throw new TypeError(`DiscordRestClient option ${key} must be a non-empty string without line breaks`)
  }
  try {
    const url = new URL(merged.baseUrl)
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error('protocol')
  } catch {
    throw new TypeError('DiscordRestClient option baseUrl must be an http(s) URL')
  }
  return merged
}
