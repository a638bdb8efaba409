import { performance } from 'node:perf_hooks'
import { DiscordNetworkError } from '../errors/network-error.js'
import { DiscordTimeoutError } from '../errors/timeout-error.js'
import type { DiscordRestLogger } from '../options.js'
import type { RouteInfo } from '../route.js'
import type { BucketLimiter } from '../ratelimit/bucket-limiter.js'
import type { BucketQueues } from '../ratelimit/bucket-queue.js'
import type { LimiterContext, WaitNotice } from '../ratelimit/context.js'
import type { GlobalLimiter } from '../ratelimit/global-limiter.js'
import { parseRateLimitHeaders } from '../ratelimit/headers.js'
import type { BucketUpdate } from '../ratelimit/store.js'
import type { InternalRequest } from '../types.js'
import { classifyResponse } from './classify.js'
import type { HttpSender } from './http.js'
import type { Notify } from './notify.js'
import type { Outcome, RawResponse } from './outcome.js'
import { handleRateLimited } from './rate-limited.js'
import type { TokenLocks } from './token-locks.js'

export interface SequentialHandlerDeps {
  queues: BucketQueues
  buckets: BucketLimiter
  global: GlobalLimiter
  locks: TokenLocks
  http: HttpSender
  notify: Notify
  logger: DiscordRestLogger | undefined
  maxRateLimitWaitMs: number
  /** Identifies this client in lock owners, so two processes never take each other's lock for their own. */
  instanceId: string
}

/** What releasing the held bucket must write, as the answer revealed it. */
interface BucketRelease {
  /** The bucket the state goes under: the one held, or the one the answer named. */
  stateKey: string
  update: BucketUpdate | null
  /** Pause after a per-route 429. */
  pauseMs: number
}

/**
 * One attempt of a request, in line behind the other requests of its bucket (as discord.js's
 * SequentialHandler): wait in the bucket's queue, take the bucket and a global slot, send,
 * record what the answer says about the bucket, and hand the answer to the 429 handler or
 * the classifier. Retrying is the transport's business.
 */
export class SequentialHandler {
  readonly #deps: SequentialHandlerDeps
  #seq = 0

  constructor (deps: SequentialHandlerDeps) {
    this.#deps = deps
  }

  async attempt (request: InternalRequest, route: RouteInfo, routeKey: string, attempt: number): Promise<Outcome> {
    const { queues, buckets, global } = this.#deps
    const credential = request.credential
    const tokenId = credential.id
    // The guard is checked before queueing too, so a tripped token fails at once instead of after a bucket wait.
    await global.assertValid({ tokenId, method: request.method, route: route.template, major: route.major })
    const knownHash = await buckets.resolveHash(tokenId, routeKey)
    const queueKey = `${tokenId}:${knownHash ?? `route:${routeKey}`}:${route.major}`
    return await queues.run(queueKey, async () => {
      const owner = `${this.#deps.instanceId}:${++this.#seq}`
      const ctx: LimiterContext = { tokenId, method: request.method, route: route.template, major: route.major, signal: request.signal }
      let hash = buckets.cachedHash(tokenId, routeKey) ?? knownHash
      const onWait = (notice: WaitNotice): void => {
        this.#deps.notify('wait', { method: request.method, route: route.template, tokenId, reason: notice.reason, waitMs: notice.waitMs, bucket: notice.bucket ?? hash })
      }
      let bucketKey: string
      for (;;) {
        bucketKey = `${hash ?? `route:${routeKey}`}:${route.major}`
        await buckets.acquire(ctx, bucketKey, hash, owner, onWait)
        if (hash !== undefined) break
        // Holding the route's provisional lock: whoever held it before us has written the
        // mapping before releasing it, so a hash found now is authoritative. Switch to it
        // rather than send blind into a bucket another process may have exhausted.
        const discovered = await buckets.resolveHash(tokenId, routeKey)
        if (discovered === undefined) break
        await buckets.release(tokenId, bucketKey, owner, bucketKey, null)
        hash = discovered
      }
      const held: BucketRelease = { stateKey: bucketKey, update: null, pauseMs: 0 }
      try {
        return await this.#sendHeld(request, route, routeKey, attempt, ctx, hash, onWait, held)
      } finally {
        await buckets.release(tokenId, bucketKey, owner, held.stateKey, held.update, held.pauseMs)
      }
    }, request.signal)
  }

  /** With the bucket held: take a global slot, send, and note in `held` what the release must write. */
  async #sendHeld (
    request: InternalRequest,
    route: RouteInfo,
    routeKey: string,
    attempt: number,
    ctx: LimiterContext,
    hash: string | undefined,
    onWait: (notice: WaitNotice) => void,
    held: BucketRelease
  ): Promise<Outcome> {
    const { buckets, global, locks, notify } = this.#deps
    const credential = request.credential
    const tokenId = credential.id
    // Re-checked inside the queue: a 401 earlier in the queue locks the requests behind it.
    locks.assertUnlocked(credential, request.method, route.template)
    const grant = await global.acquire(ctx, onWait)
    const started = performance.now()
    notify('request', { method: request.method, route: route.template, tokenId, bucket: hash, attempt })
    let response: RawResponse
    try {
      response = await this.#deps.http.send(request, route)
    } catch (err) {
      if (err instanceof DiscordTimeoutError) return { kind: 'retry', error: err, reason: 'timeout', status: undefined }
      if (err instanceof DiscordNetworkError) return { kind: 'retry', error: err, reason: 'network', status: undefined }
      throw err
    } finally {
      // The request reached Discord (if at all) by now: its grant is dated now, not when granted.
      await global.settle(tokenId, grant)
    }
    const headers = parseRateLimitHeaders(response.headers)
    const bucket = headers.bucket ?? hash
    notify('response', {
      method: request.method,
      route: route.template,
      tokenId,
      bucket,
      attempt,
      status: response.status,
      durationMs: Math.round((performance.now() - started) * 1000) / 1000,
      guildId: route.template.startsWith('/guilds/:guild_id') ? route.major : null
    })
    if (headers.bucket !== undefined) {
      held.stateKey = `${headers.bucket}:${route.major}`
      await buckets.remember(tokenId, routeKey, headers.bucket)
    }
    if (headers.limit !== undefined && headers.remaining !== undefined && headers.resetAfterMs !== undefined) {
      held.update = { limit: headers.limit, remaining: headers.remaining, resetAfterMs: headers.resetAfterMs }
    }
    if (response.status === 429) {
      const { outcome, pauseMs } = await handleRateLimited(
        { global, notify, logger: this.#deps.logger, maxWaitMs: this.#deps.maxRateLimitWaitMs },
        { method: request.method, route: route.template, tokenId, bucket, headers, text: response.text })
      held.pauseMs = pauseMs
      return outcome
    }
    if (response.status === 401 || response.status === 403) {
      await global.recordInvalid(tokenId)
      if (response.status === 401 && credential.lockable) locks.lock(credential, request.method, route.template)
    }
    return classifyResponse(request, route, response)
  }
}
