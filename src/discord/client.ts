import { EventEmitter } from 'node:events'
import { randomBytes } from 'node:crypto'
import type { IncomingHttpHeaders } from 'node:http'
import { performance } from 'node:perf_hooks'
import { Agent, type Dispatcher } from 'undici'
import { DEFAULT_REST_OPTIONS } from './defaults.js'
import type { DiscordRestClientOptions, ResolvedRestOptions } from './options.js'
import type { DiscordRestEvents } from './events.js'
import { Credential } from './credential.js'
import { parseRoute, type RouteInfo } from './route.js'
import { encodeAuditLogReason, fullJitterDelay, sleep } from './util.js'
import { isRecord } from './validate.js'
import { botTokenId } from './token.js'
import { DiscordAPIError, describeFailure } from './errors/discord-api-error.js'
import { DiscordAuthenticationError } from './errors/authentication-error.js'
import { DiscordPermissionError } from './errors/permission-error.js'
import { DiscordNotFoundError } from './errors/not-found-error.js'
import { DiscordServerError } from './errors/server-error.js'
import { DiscordMalformedResponseError } from './errors/malformed-response-error.js'
import { DiscordTimeoutError } from './errors/timeout-error.js'
import { DiscordNetworkError } from './errors/network-error.js'
import { DiscordRateLimitError, type RateLimitScope } from './errors/rate-limit-error.js'
import { DiscordTokenInvalidError } from './errors/token-invalid-error.js'
import { DiscordOAuthError } from './errors/oauth-error.js'
import { parseRateLimitHeaders } from './ratelimit/headers.js'
import { MemoryRateLimitStore } from './ratelimit/memory.js'
import { FallbackRateLimitStore } from './ratelimit/fallback.js'
import type { BucketUpdate, RateLimitStore } from './ratelimit/store.js'
import { BucketQueues } from './ratelimit/bucket-queue.js'
import { BucketLimiter } from './ratelimit/bucket-limiter.js'
import { GlobalLimiter } from './ratelimit/global-limiter.js'
import type { LimiterContext, WaitNotice } from './ratelimit/context.js'
import { DiscordBotClient } from './bot.js'
import { DiscordUserClient } from './user.js'
import { DiscordOAuth2Client, type OAuth2ClientCredentials } from './oauth2.js'

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'

/** How a request made with `client.request()` authenticates. */
export type RequestAuth =
  | { type: 'Bot', token: string }
  | { type: 'Bearer', token: string }
  | { type: 'None' }

/** Options common to every call. */
export interface CallOptions {
  /** Aborts the call, including any rate-limit wait. */
  signal?: AbortSignal
}

/** Options of calls that write and accept an audit-log reason. */
export interface WriteOptions extends CallOptions {
  /** Sent as `X-Audit-Log-Reason` (URL-encoded, truncated to 512 encoded characters). */
  reason?: string
}

/** A low-level request. */
export interface RestRequest extends WriteOptions {
  method: HttpMethod
  /** Path below the base URL, e.g. `/guilds/123`; its route template and top-level id are derived from it. */
  path: string
  query?: Record<string, string | number | boolean | undefined>
  /** JSON body. */
  body?: unknown
  /** `application/x-www-form-urlencoded` body (OAuth2 endpoints). */
  form?: Record<string, string>
}

/** @internal A request as the views hand it to the client. */
export interface InternalRequest extends RestRequest {
  credential: Credential
  /** Map `{ error }` bodies to `DiscordOAuthError`. */
  oauth?: boolean
}

/** @internal What the views call. */
export type Send = <T>(request: Omit<InternalRequest, 'credential'>) => Promise<T>

interface RawResponse {
  status: number
  headers: IncomingHttpHeaders
  text: string
}

type Outcome =
  | { kind: 'ok', value: unknown }
  | { kind: 'rateLimited', error: DiscordRateLimitError, final: boolean }
  | { kind: 'retry', error: DiscordAPIError, reason: 'server_error' | 'timeout' | 'network', status: number | undefined }

function resolveOptions (options: DiscordRestClientOptions): ResolvedRestOptions {
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
  const nonNegative = ['retries', 'retryBaseDelayMs', 'retryMaxDelayMs', 'rateLimitRetries', 'offsetMs'] as const
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

function parseJson (text: string): { ok: true, value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text) }
  } catch {
    return { ok: false }
  }
}

/**
 * Discord REST client: undici with keep-alive, Discord's rate limits (per-route
 * buckets keyed by top-level resource, the per-token global limit, 429 scopes),
 * optionally shared across processes through Redis, an invalid-request guard,
 * retries with full-jitter backoff and typed errors.
 *
 * Bot tokens are per guild, so calls go through a scoped view:
 * `client.bot(token).getGuild(id)`; user calls through `client.user(accessToken)`;
 * OAuth2 through `client.oauth2({ clientId, clientSecret })`. All limiter state is
 * keyed by a hash of the token; a token never appears in a key, log line, error
 * or event.
 */
export class DiscordRestClient extends EventEmitter<DiscordRestEvents> {
  readonly #opts: ResolvedRestOptions
  readonly #dispatcher: Dispatcher
  readonly #ownsDispatcher: boolean
  readonly #origin: string
  readonly #basePath: string
  readonly #store: RateLimitStore
  readonly #queues = new BucketQueues()
  readonly #buckets: BucketLimiter
  readonly #global: GlobalLimiter
  readonly #locked = new Set<string>()
  readonly #instanceId = randomBytes(6).toString('hex')
  #seq = 0
  #closed = false

  constructor (options: DiscordRestClientOptions = {}) {
    super()
    this.#opts = resolveOptions(options)
    const base = new URL(this.#opts.baseUrl)
    this.#origin = base.origin
    this.#basePath = base.pathname.replace(/\/+$/, '')
    if (this.#opts.dispatcher !== undefined) {
      this.#dispatcher = this.#opts.dispatcher
      this.#ownsDispatcher = false
    } else {
      this.#dispatcher = new Agent({ connections: this.#opts.connections, keepAliveTimeout: this.#opts.keepAliveTimeoutMs })
      this.#ownsDispatcher = true
    }
    this.#store = this.#opts.redis === undefined
      ? new MemoryRateLimitStore()
      : new FallbackRateLimitStore({
        redis: this.#opts.redis,
        prefix: this.#opts.redisKeyPrefix,
        timeoutMs: this.#opts.redisTimeoutMs,
        retryIntervalMs: this.#opts.redisRetryIntervalMs,
        logger: this.#opts.logger,
        onChange: (state, reason) => this.#notify('store', { state, reason })
      })
    this.#buckets = new BucketLimiter(this.#store, {
      offsetMs: this.#opts.offsetMs,
      maxWaitMs: this.#opts.maxRateLimitWaitMs,
      // Covers the attempt itself plus a global wait; a crashed holder frees the bucket after it.
      lockTtlMs: this.#opts.timeoutMs + 5_000
    })
    this.#global = new GlobalLimiter(this.#store, {
      requestsPerWindow: this.#opts.globalRequestsPerSecond,
      windowMs: this.#opts.globalWindowMs,
      offsetMs: this.#opts.offsetMs,
      maxWaitMs: this.#opts.maxRateLimitWaitMs,
      invalidThreshold: this.#opts.invalidRequestThreshold,
      invalidTotalThreshold: this.#opts.invalidRequestTotalThreshold,
      invalidWindowMs: this.#opts.invalidRequestWindowMs
    }, this.#instanceId)
  }

  /** The options in effect (defaults applied). The Redis client and logger are not included. */
  get options (): Readonly<Omit<ResolvedRestOptions, 'redis' | 'logger' | 'dispatcher'>> {
    const { redis: _r, logger: _l, dispatcher: _d, ...rest } = this.#opts
    return rest
  }

  /** `redis` while limits are shared through Redis, `memory` when in-process (no Redis, or Redis is down). */
  get limiterBackend (): 'memory' | 'redis' {
    return this.#store.kind
  }

  /** A view of the API authenticated with one bot token (`Authorization: Bot <token>`). */
  bot (token: string): DiscordBotClient {
    return new DiscordBotClient(this.#sender(Credential.bot(token)))
  }

  /** A view of the API authenticated with a user's OAuth2 access token (`Authorization: Bearer <token>`). */
  user (accessToken: string): DiscordUserClient {
    return new DiscordUserClient(this.#sender(Credential.bearer(accessToken)))
  }

  /** OAuth2 token endpoints for one application (form-encoded; client authentication per Discord's docs). */
  oauth2 (credentials: OAuth2ClientCredentials): DiscordOAuth2Client {
    const method = credentials.authMethod ?? 'basic'
    const credential = Credential.oauthClient(credentials.clientId, credentials.clientSecret, method)
    return new DiscordOAuth2Client(this.#sender(credential), credentials, method)
  }

  /** A low-level request with the same rate limiting, retries and errors as the operations. */
  request<T = unknown>(request: RestRequest & { auth: RequestAuth }): Promise<T> {
    const { auth, ...rest } = request
    let credential: Credential
    if (auth.type === 'Bot') credential = Credential.bot(auth.token)
    else if (auth.type === 'Bearer') credential = Credential.bearer(auth.token)
    else credential = Credential.none()
    return this.#request<T>({ ...rest, credential })
  }

  /** Whether Discord answered 401 to this bot token and it is locked. */
  isTokenLocked (token: string): boolean {
    return this.#locked.has(botTokenId(token))
  }

  /** Unlocks a bot token after it has been reconfigured (a 401 locked it). Returns whether it was locked. */
  resetToken (token: string): boolean {
    return this.#locked.delete(botTokenId(token))
  }

  /** Stops accepting calls and closes the undici Agent if this client created it. Never closes the Redis client. */
  async close (): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    if (this.#ownsDispatcher) await this.#dispatcher.close()
  }

  #sender (credential: Credential): Send {
    return <T>(request: Omit<InternalRequest, 'credential'>) => this.#request<T>({ ...request, credential })
  }

  async #request<T> (request: InternalRequest): Promise<T> {
    if (this.#closed) throw new Error('DiscordRestClient is closed')
    request.signal?.throwIfAborted()
    const route = parseRoute(request.path)
    const routeKey = `${request.method}:${route.template}`
    this.#assertUnlocked(request.credential, request.method, route.template)
    let serverRetries = 0
    let rateLimits = 0
    for (let attempt = 0; ; attempt++) {
      const outcome = await this.#attempt(request, route, routeKey, attempt)
      if (outcome.kind === 'ok') return outcome.value as T
      if (outcome.kind === 'rateLimited') {
        rateLimits++
        if (outcome.final || rateLimits > this.#opts.rateLimitRetries) throw outcome.error
        // The store now holds the pause (bucket or global); the next attempt waits for it.
        continue
      }
      if (serverRetries >= this.#opts.retries) throw outcome.error
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

  #assertUnlocked (credential: Credential, method: string, route: string): void {
    if (credential.lockable && this.#locked.has(credential.id)) {
      throw new DiscordTokenInvalidError({
        method,
        route,
        message: describeFailure('Request not sent: Discord rejected this bot token (401); it stays locked until client.resetToken() is called', method, route)
      })
    }
  }

  /** One attempt: wait in the bucket's queue, take the bucket and a global slot, send, record the answer. */
  async #attempt (request: InternalRequest, route: RouteInfo, routeKey: string, attempt: number): Promise<Outcome> {
    const credential = request.credential
    const tokenId = credential.id
    // The guard is checked before queueing too, so a tripped token fails at once instead of after a bucket wait.
    await this.#global.assertValid({ tokenId, method: request.method, route: route.template, major: route.major })
    const knownHash = await this.#buckets.resolveHash(tokenId, routeKey)
    const queueKey = `${tokenId}:${knownHash ?? `route:${routeKey}`}:${route.major}`
    return await this.#queues.run(queueKey, async () => {
      const owner = `${this.#instanceId}:${++this.#seq}`
      const ctx: LimiterContext = { tokenId, method: request.method, route: route.template, major: route.major, signal: request.signal }
      let hash = this.#buckets.cachedHash(tokenId, routeKey) ?? knownHash
      const onWait = (notice: WaitNotice): void => {
        this.#notify('wait', { method: request.method, route: route.template, tokenId, reason: notice.reason, waitMs: notice.waitMs, bucket: notice.bucket ?? hash })
      }
      let bucketKey: string
      for (;;) {
        bucketKey = `${hash ?? `route:${routeKey}`}:${route.major}`
        await this.#buckets.acquire(ctx, bucketKey, hash, owner, onWait)
        if (hash !== undefined) break
        // Holding the route's provisional lock: whoever held it before us has written the
        // mapping before releasing it, so a hash found now is authoritative. Switch to it
        // rather than send blind into a bucket another process may have exhausted.
        const discovered = await this.#buckets.resolveHash(tokenId, routeKey)
        if (discovered === undefined) break
        await this.#buckets.release(tokenId, bucketKey, owner, bucketKey, null)
        hash = discovered
      }
      let stateKey = bucketKey
      let update: BucketUpdate | null = null
      let pauseMs = 0
      try {
        // Re-checked inside the queue: a 401 earlier in the queue locks the requests behind it.
        this.#assertUnlocked(credential, request.method, route.template)
        await this.#global.acquire(ctx, onWait)
        const started = performance.now()
        this.#notify('request', { method: request.method, route: route.template, tokenId, bucket: hash, attempt })
        let response: RawResponse
        try {
          response = await this.#send(request, route)
        } catch (err) {
          if (err instanceof DiscordTimeoutError) return { kind: 'retry', error: err, reason: 'timeout', status: undefined }
          if (err instanceof DiscordNetworkError) return { kind: 'retry', error: err, reason: 'network', status: undefined }
          throw err
        }
        const headers = parseRateLimitHeaders(response.headers)
        const bucket = headers.bucket ?? hash
        this.#notify('response', {
          method: request.method,
          route: route.template,
          tokenId,
          bucket,
          attempt,
          status: response.status,
          durationMs: Math.round((performance.now() - started) * 1000) / 1000
        })
        if (headers.bucket !== undefined) {
          stateKey = `${headers.bucket}:${route.major}`
          await this.#buckets.remember(tokenId, routeKey, headers.bucket)
        }
        if (headers.limit !== undefined && headers.remaining !== undefined && headers.resetAfterMs !== undefined) {
          update = { limit: headers.limit, remaining: headers.remaining, resetAfterMs: headers.resetAfterMs }
        }
        if (response.status === 429) {
          const body = parseJson(response.text)
          const json = body.ok && isRecord(body.value) ? body.value : undefined
          const bodyRetry = typeof json?.retry_after === 'number' && Number.isFinite(json.retry_after) && json.retry_after >= 0
            ? Math.ceil(json.retry_after * 1000)
            : undefined
          const retryAfterMs = bodyRetry ?? headers.retryAfterMs ?? headers.resetAfterMs
          const global = headers.scope === 'global' || headers.global || json?.global === true
          const scope: RateLimitScope = headers.scope ?? (global ? 'global' : 'user')
          const countsAsInvalid = scope !== 'shared'
          if (countsAsInvalid) await this.#global.recordInvalid(tokenId)
          if (retryAfterMs !== undefined) {
            // Global: every request of the token waits. User / shared: this bucket waits retry_after,
            // whatever its headers say about remaining (a shared limit does not consume the bucket).
            if (global) await this.#global.pause(tokenId, retryAfterMs)
            else pauseMs = retryAfterMs
          }
          this.#notify('rateLimited', {
            method: request.method,
            route: route.template,
            tokenId,
            bucket,
            scope,
            global,
            retryAfterMs: retryAfterMs ?? 0,
            countsAsInvalid
          })
          this.#opts.logger?.debug?.({ method: request.method, route: route.template, bucket, scope, retryAfterMs }, 'Discord answered 429')
          const noInfo = retryAfterMs === undefined
          const error = new DiscordRateLimitError({
            method: request.method,
            route: route.template,
            status: 429,
            discordCode: typeof json?.code === 'number' ? json.code : undefined,
            message: describeFailure(
              noInfo
                ? 'Rate limited without a usable retry time (possibly an invalid-request ban)'
                : `Rate limited (${scope}) for ${retryAfterMs} ms`,
              request.method, route.template, 429, typeof json?.code === 'number' ? json.code : undefined),
            retryAfterMs: retryAfterMs ?? 0,
            scope,
            bucket,
            global
          })
          return { kind: 'rateLimited', error, final: noInfo || retryAfterMs > this.#opts.maxRateLimitWaitMs }
        }
        if (response.status === 401 || response.status === 403) {
          await this.#global.recordInvalid(tokenId)
          if (response.status === 401 && credential.lockable) this.#lock(credential, request.method, route.template)
        }
        return this.#classify(request, route, response)
      } finally {
        await this.#buckets.release(tokenId, bucketKey, owner, stateKey, update, pauseMs)
      }
    }, request.signal)
  }

  /** Emits an event; a listener that throws is logged, never allowed to fail the Discord call. */
  #notify<K extends keyof DiscordRestEvents> (event: K, ...args: DiscordRestEvents[K]): void {
    try {
      (this.emit as (name: string, ...payload: unknown[]) => boolean)(event, ...args)
    } catch (err) {
      this.#opts.logger?.error?.({ event, error: (err as Error)?.message }, 'A DiscordRestClient event listener threw')
    }
  }

  #lock (credential: Credential, method: string, route: string): void {
    if (this.#locked.has(credential.id)) return
    this.#locked.add(credential.id)
    this.#opts.logger?.warn({ tokenId: credential.id, method, route }, 'Discord rejected a bot token (401): it is locked until resetToken() is called')
    this.#notify('tokenLocked', { method, route, tokenId: credential.id })
  }

  /** Maps a non-429 answer to a value, a retry or a typed error. */
  #classify (request: InternalRequest, route: RouteInfo, response: RawResponse): Outcome {
    const { status, text } = response
    const method = request.method
    const template = route.template
    if (status >= 200 && status < 300) {
      if (status === 204 || text.length === 0) return { kind: 'ok', value: undefined }
      const parsed = parseJson(text)
      if (!parsed.ok) {
        throw new DiscordMalformedResponseError({
          method,
          route: template,
          status,
          message: describeFailure('Malformed Discord response: the body is not valid JSON', method, template, status)
        })
      }
      return { kind: 'ok', value: parsed.value }
    }
    const parsed = parseJson(text)
    const json = parsed.ok && isRecord(parsed.value) ? parsed.value : undefined
    const discordCode = typeof json?.code === 'number' ? json.code : undefined
    const discordMessage = typeof json?.message === 'string' && json.message.length > 0 ? json.message : `HTTP ${status}`
    const base = { method, route: template, status, discordCode, errors: json?.errors }
    if (status >= 500) {
      return { kind: 'retry', reason: 'server_error', status, error: new DiscordServerError({ ...base, message: describeFailure(discordMessage, method, template, status, discordCode) }) }
    }
    if (request.oauth === true && typeof json?.error === 'string') {
      const description = typeof json.error_description === 'string' ? json.error_description : undefined
      throw new DiscordOAuthError({
        ...base,
        message: describeFailure(`OAuth2 error ${json.error}${description === undefined ? '' : `: ${description}`}`, method, template, status),
        oauthError: json.error,
        description
      })
    }
    const message = describeFailure(discordMessage, method, template, status, discordCode)
    if (status === 401) throw new DiscordAuthenticationError({ ...base, message })
    if (status === 403) throw new DiscordPermissionError({ ...base, message })
    if (status === 404) throw new DiscordNotFoundError({ ...base, message })
    throw new DiscordAPIError({ ...base, message })
  }

  /** Sends one HTTP request and reads the whole body, within `timeoutMs`. */
  async #send (request: InternalRequest, route: RouteInfo): Promise<RawResponse> {
    const headers: Record<string, string> = { 'user-agent': this.#opts.userAgent }
    const authorization = request.credential.authorization()
    if (authorization !== undefined) headers.authorization = authorization
    let body: string | undefined
    if (request.form !== undefined) {
      headers['content-type'] = 'application/x-www-form-urlencoded'
      body = new URLSearchParams(request.form).toString()
    } else if (request.body !== undefined) {
      headers['content-type'] = 'application/json'
      body = JSON.stringify(request.body)
    }
    const reason = encodeAuditLogReason(request.reason)
    if (reason !== undefined && request.method !== 'GET') headers['x-audit-log-reason'] = reason
    let path = `${this.#basePath}${request.path}`
    if (request.query !== undefined) {
      const params = new URLSearchParams()
      for (const [key, value] of Object.entries(request.query)) if (value !== undefined) params.set(key, String(value))
      const qs = params.toString()
      if (qs.length > 0) path += `?${qs}`
    }
    const timeout = AbortSignal.timeout(this.#opts.timeoutMs)
    const signal = request.signal === undefined ? timeout : AbortSignal.any([request.signal, timeout])
    try {
      const res = await this.#dispatcher.request({ origin: this.#origin, path, method: request.method, headers, body: body ?? null, signal })
      const text = await res.body.text()
      return { status: res.statusCode, headers: res.headers, text }
    } catch (err) {
      if (request.signal?.aborted === true) throw request.signal.reason
      if (timeout.aborted) {
        throw new DiscordTimeoutError({
          method: request.method,
          route: route.template,
          timeoutMs: this.#opts.timeoutMs,
          message: describeFailure(`No complete answer from Discord within ${this.#opts.timeoutMs} ms`, request.method, route.template)
        })
      }
      const e = err as { code?: unknown, message?: unknown }
      const networkCode = typeof e.code === 'string' ? e.code : undefined
      throw new DiscordNetworkError({
        method: request.method,
        route: route.template,
        networkCode,
        message: describeFailure(`Connection to Discord failed${networkCode === undefined ? '' : ` (${networkCode})`}: ${typeof e.message === 'string' ? e.message : 'unknown error'}`, request.method, route.template)
      })
    }
  }
}
