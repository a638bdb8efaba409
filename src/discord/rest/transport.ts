import { randomBytes } from 'node:crypto'
import type { EventEmitter } from 'node:events'
import type { Credential } from '../credential.js'
import type { DiscordRestEvents } from '../events.js'
import type { ResolvedRestOptions } from '../options.js'
import { parseRoute } from '../route.js'
import { BucketLimiter } from '../ratelimit/bucket-limiter.js'
import { BucketQueues } from '../ratelimit/bucket-queue.js'
import { FallbackRateLimitStore } from '../ratelimit/fallback.js'
import type { GlobalArbiter } from '../ratelimit/arbiter.js'
import { GlobalLimiter } from '../ratelimit/global-limiter.js'
import { MemoryRateLimitStore } from '../ratelimit/memory.js'
import type { RateLimitStore } from '../ratelimit/store.js'
import type { InternalRequest, Send } from '../types.js'
import { fullJitterDelay, sleep } from '../util.js'
import { HttpSender } from './http.js'
import { notifier, type Notify } from './notify.js'
import { SequentialHandler } from './sequential-handler.js'
import { TokenLocks } from './token-locks.js'

/**
 * The request machinery behind every view: owns the HTTP sender, the rate-limit store and
 * limiters, and the 401 token locks, and runs a request to its end: attempts through the
 * sequential handler, waiting out 429s (the store holds the pause) and retrying 5xx,
 * timeouts and connection errors with full-jitter backoff.
 */
export class RestTransport {
  readonly #opts: ResolvedRestOptions
  readonly #http: HttpSender
  readonly #store: RateLimitStore
  readonly #handler: SequentialHandler
  readonly #global: GlobalLimiter
  readonly #notify: Notify
  /** Bot tokens Discord answered 401 to. */
  readonly locks: TokenLocks
  #closed = false

  /** `events` receives the client's events (`wait`, `retry`, `rateLimited`, ...). */
  constructor (opts: ResolvedRestOptions, events: EventEmitter<DiscordRestEvents>) {
    this.#opts = opts
    this.#notify = notifier(events, opts.logger)
    this.#http = new HttpSender(opts)
    this.#store = opts.redis === undefined
      ? new MemoryRateLimitStore()
      : new FallbackRateLimitStore({
        redis: opts.redis,
        prefix: opts.redisKeyPrefix,
        timeoutMs: opts.redisTimeoutMs,
        retryIntervalMs: opts.redisRetryIntervalMs,
        outage: opts.redisOutage,
        logger: opts.logger,
        onChange: (state, reason) => this.#notify('store', { state, reason })
      })
    const instanceId = randomBytes(6).toString('hex')
    const buckets = new BucketLimiter(this.#store, {
      offsetMs: opts.offsetMs,
      maxWaitMs: opts.maxRateLimitWaitMs,
      // Covers the attempt itself plus a global wait; a crashed holder frees the bucket after it.
      lockTtlMs: opts.timeoutMs + 5_000
    })
    const global = new GlobalLimiter(this.#store, {
      requestsPerWindow: opts.globalRequestsPerSecond,
      windowMs: opts.globalWindowMs,
      globalOffsetMs: opts.globalOffsetMs,
      offsetMs: opts.offsetMs,
      maxWaitMs: opts.maxRateLimitWaitMs,
      inFlightMs: opts.timeoutMs,
      invalidThreshold: opts.invalidRequestThreshold,
      invalidTotalThreshold: opts.invalidRequestTotalThreshold,
      invalidWindowMs: opts.invalidRequestWindowMs
    }, instanceId)
    this.#global = global
    this.locks = new TokenLocks(opts.logger, this.#notify)
    this.#handler = new SequentialHandler({
      queues: new BucketQueues(),
      buckets,
      global,
      locks: this.locks,
      http: this.#http,
      notify: this.#notify,
      logger: opts.logger,
      maxRateLimitWaitMs: opts.maxRateLimitWaitMs,
      instanceId
    })
  }

  /** `redis` while limits are shared through Redis, `memory` when in-process. */
  get limiterBackend (): 'memory' | 'redis' {
    return this.#store.kind
  }

  /** The global arbiter of a credential (see GlobalArbiter). */
  arbiter (credential: Credential): GlobalArbiter {
    return this.#global.arbiter(credential.id)
  }

  /** The transport as one credential uses it: what a view holds instead of a token. */
  bind (credential: Credential): Send {
    return <T>(request: Omit<InternalRequest, 'credential'>) => this.request<T>({ ...request, credential })
  }

  /** Stops accepting requests and closes the HTTP agent if the transport created it. */
  async close (): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    if (this.#store instanceof FallbackRateLimitStore) this.#store.close()
    await this.#http.close()
  }

  async request<T> (request: InternalRequest): Promise<T> {
    if (this.#closed) throw new Error('DiscordRestClient is closed')
    request.signal?.throwIfAborted()
    const route = parseRoute(request.path)
    const routeKey = `${request.method}:${route.template}`
    this.locks.assertUnlocked(request.credential, request.method, route.template)
    let serverRetries = 0
    let rateLimits = 0
    for (let attempt = 0; ; attempt++) {
      const outcome = await this.#handler.attempt(request, route, routeKey, attempt)
      if (outcome.kind === 'ok') return outcome.value as T
      if (outcome.kind === 'rateLimited') {
        rateLimits++
        if (outcome.final || rateLimits > this.#opts.rateLimitRetries) throw outcome.error
        // The store now holds the pause (bucket or global); the next attempt waits for it.
        continue
      }
      if (serverRetries >= this.#opts.retries) throw outcome.error
      // A 5xx is an answer (not applied); a timeout or a broken connection may have been applied.
      if (request.resendUnknownOutcome === false && request.method !== 'GET' && outcome.reason !== 'server_error') throw outcome.error
      const delayMs = fullJitterDelay(serverRetries, this.#opts.retryBaseDelayMs, this.#opts.retryMaxDelayMs)
      serverRetries++
      this.#notify('retry', {
        method: request.method,
        route: route.template,
        tokenId: request.credential.id,
        attempt: attempt + 1,
        delayMs,
        reason: outcome.reason,
        status: outcome.status
      })
      await sleep(delayMs, request.signal)
    }
  }
}
