import type { RedisConnection as Redis } from '../util/driver-types.js'
import { withTimeout } from '../util/timeout.js'

/** Redis is known unreachable or hung; the call was not sent. */
export class RedisUnavailableError extends Error {
  constructor (message = 'Redis is unavailable') {
    super(message)
    this.name = 'RedisUnavailableError'
  }
}

/**
 * Guards the plugin's Redis calls that a request waits for (the API rate limit, the /status
 * probe): each gets at most `timeoutMs`, and once one fails for want of Redis (a timeout or a
 * connection error, not a script's own error) the following ones fail at once instead of each
 * waiting out the budget again, until a background PING, at most one every `retryMs`, answers.
 * So a request waits on a hung Redis at most once per budget, and only the first ones do.
 * The Discord client's limiter shares it (`redisOutage`), so a request that also calls Discord
 * does not wait on Redis a second time.
 */
export class RedisBreaker {
  readonly #redis: Redis
  readonly #timeoutMs: number
  readonly #retryMs: number
  #open = false
  #nextProbe = 0
  #probing = false

  constructor (redis: Redis, timeoutMs: number, retryMs = timeoutMs) {
    this.#redis = redis
    this.#timeoutMs = timeoutMs
    this.#retryMs = retryMs
  }

  /** Whether calls currently fail without being sent. */
  get open (): boolean {
    return this.#open
  }

  /** Runs `fn` within the budget, or fails at once while Redis is known to be away. */
  async call<T> (fn: (redis: Redis) => Promise<T>): Promise<T> {
    if (this.#open) {
      this.#probe()
      throw new RedisUnavailableError()
    }
    try {
      return await this.#timed(fn(this.#redis))
    } catch (err) {
      // A ReplyError is Redis answering (a script or argument problem): Redis itself is there.
      if ((err as Error)?.name !== 'ReplyError') this.trip()
      throw err
    }
  }

  #timed<T> (promise: Promise<T>): Promise<T> {
    const ms = this.#timeoutMs
    return withTimeout(promise, ms, () => new RedisUnavailableError(`Redis did not answer within ${ms} ms`))
  }

  /** Records a failure seen elsewhere (the Discord client's limiter): calls fail at once from now on. */
  trip (): void {
    if (this.#open) return
    this.#open = true
    this.#nextProbe = Date.now() + this.#retryMs
  }

  /** Records that Redis answered elsewhere: calls are sent again. */
  reset (): void {
    this.#open = false
  }

  #probe (): void {
    if (this.#probing || Date.now() < this.#nextProbe) return
    this.#probing = true
    this.#timed(this.#redis.ping()).then(() => { this.#open = false }, () => { this.#nextProbe = Date.now() + this.#retryMs })
      .finally(() => { this.#probing = false })
  }
}
