import type { FastifyRateLimitOptions, FastifyRateLimitStore, FastifyRateLimitStoreCtor } from '@fastify/rate-limit'
import type { RedisBreaker } from '../health/redis-breaker.js'

/*
 * The API rate limit's counts in Redis, the way @fastify/rate-limit's own Redis store keeps them
 * (same script, same keys: `<nameSpace><key>`, per-route `<nameSpace><METHOD><url>-<key>`), so
 * instances still share them, with every call through the breaker: a hung Redis costs one
 * request at most `redisCommandTimeout`, and the limiter, which skips on errors, lets it through.
 */

// @fastify/rate-limit 11's RedisStore script, unchanged.
const INCR = `
local key = KEYS[1]
local timeWindow = tonumber(ARGV[1])
local max = tonumber(ARGV[2])
local continueExceeding = ARGV[3] == 'true'
local exponentialBackoff = ARGV[4] == 'true'
local MAX_SAFE_INTEGER = (2^53) - 1
local current = redis.call('INCR', key)
if current == 1 or (continueExceeding and current > max) then
  redis.call('PEXPIRE', key, timeWindow)
elseif exponentialBackoff and current > max then
  local backoffExponent = current - max - 1
  timeWindow = math.min(timeWindow * (2 ^ backoffExponent), MAX_SAFE_INTEGER)
  redis.call('PEXPIRE', key, timeWindow)
else
  timeWindow = redis.call('PTTL', key)
end
return {current, timeWindow}
`

interface Counting { continueExceeding?: boolean, exponentialBackoff?: boolean }

class BreakerStore implements FastifyRateLimitStore {
  readonly #counting: Counting
  readonly #prefix: string
  readonly #breaker: RedisBreaker

  constructor (counting: Counting, prefix: string, breaker: RedisBreaker) {
    this.#counting = counting
    this.#prefix = prefix
    this.#breaker = breaker
  }

  incr (key: string, callback: (error: Error | null, result?: { current: number, ttl: number }) => void, timeWindow: number, max: number): void {
    const { continueExceeding, exponentialBackoff } = this.#counting
    this.#breaker.call((redis) => redis.eval(INCR, 1, `${this.#prefix}${key}`, timeWindow, max, String(continueExceeding === true), String(exponentialBackoff === true)))
      .then((reply) => {
        const [current, ttl] = reply as [number, number]
        callback(null, { current, ttl })
      }, (err: Error) => callback(err))
  }

  child (routeOptions: Parameters<FastifyRateLimitStore['child']>[0]): FastifyRateLimitStore {
    const route = routeOptions as unknown as Counting & { routeInfo: { method: string, url: string } }
    return new BreakerStore(route, `${this.#prefix}${route.routeInfo.method}${route.routeInfo.url}-`, this.#breaker)
  }
}

/** A store class for `@fastify/rate-limit`'s `store` option, counting in Redis through `breaker`. */
export function breakerRateLimitStore (breaker: RedisBreaker, nameSpace: string): FastifyRateLimitStoreCtor {
  return class extends BreakerStore {
    constructor (options: FastifyRateLimitOptions) {
      super(options as Counting, nameSpace, breaker)
    }
  }
}
