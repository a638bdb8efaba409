import { SimClock } from './clock.js'
import type { SimContext } from './context.js'
import { FaultInjector, type FaultOptions, type ScriptedFault } from './faults.js'
import type { GatewayOptions, SimulatorGateway } from './gateway/controls.js'
import { Gateway } from './gateway/gateway.js'
import { defaultRateLimitConfig, mergeRateLimitConfig, type RateLimitConfig, type RateLimitOptions } from './ratelimit/config.js'
import { RateLimiter, type ForcedSharedLimit } from './ratelimit/limiter.js'
import { RequestLog, type RequestCount } from './rest/request-log.js'
import type { RecordedRequest } from './rest/request.js'
import { checkRetentionLimit, DEFAULT_AUDIT_LOG_LIMIT, DEFAULT_AUTHORIZATIONS_PER_USER, DEFAULT_ENDED_AUTHORIZATIONS, DEFAULT_MESSAGE_LIMIT, DEFAULT_REQUEST_LOG_LIMIT } from './retention.js'
import { createServer } from './server.js'
import { SimulatorState } from './state/simulator-state.js'
import type { DeliverOptions } from './webhooks/deliver.js'
import { WebhookEvents, type DeauthorizeResult, type SimulatorWebhooks } from './webhooks/webhook-events.js'

/*
 * createDiscordSimulator: a real HTTP server on loopback that answers like Discord's API v10
 * for the operations this product uses, plus a programmatic API to seed and inspect the world.
 */

export interface SimulatorOptions {
  /** Interface to bind (default 127.0.0.1). */
  host?: string
  /** Port (default 0: an ephemeral port). */
  port?: number
  /** Discord time runs this many times faster than real time (default 1). Headers report real seconds. */
  timeScale?: number
  /** Overrides of the default rate limits (see ratelimit/config.ts for the defaults and their sources). */
  rateLimits?: RateLimitOptions
  /** Faults active from the start. */
  faults?: FaultOptions
  /** Consent page: approve at once as this user instead of rendering the page (tests). */
  autoApproveUserId?: string
  /** Access-token lifetime in Discord seconds (default 604800, the docs' expires_in). */
  accessTokenTtlSeconds?: number
  /** Use X-Forwarded-For for the client IP (lets tests act as several IPs for the invalid-request ban). */
  trustProxy?: boolean
  /**
   * Requests `requests` retains (default 10,000; Infinity keeps all, 0 none): a ring buffer, the
   * oldest dropped first. `requestCounts()` and `droppedRequests` keep counting past it.
   */
  requestLogLimit?: number
  /** Entries `state.auditLog` retains (default 10,000; Infinity keeps all), the oldest dropped first. */
  auditLogLimit?: number
  /** Messages `state.messages` retains over all channels (default 10,000; Infinity keeps all), the oldest dropped first. */
  messageLimit?: number
  /**
   * Live OAuth authorizations kept per user and app (default 10; Infinity keeps all): one more
   * login revokes the oldest, so a user logging in again and again does not grow the simulator.
   */
  authorizationsPerUserLimit?: number
  /**
   * Ended OAuth authorizations (revoked, or left without tokens) kept for
   * `state.listAuthorizations()`, the newest (default 1,000; Infinity keeps all).
   */
  endedAuthorizationsLimit?: number
  /** The Gateway: heartbeat interval and timeout, resume backlog, GET /gateway/bot numbers. */
  gateway?: GatewayOptions
}

export interface DiscordSimulator {
  /** http://127.0.0.1:PORT (the site root: /oauth2/authorize lives here). */
  readonly url: string
  /** `${url}/api/v10` */
  readonly apiBaseUrl: string
  readonly state: SimulatorState
  readonly timeScale: number
  /**
   * The last `requestLogLimit` API requests (all of them until the log is full), in order of
   * completion (`at` is the arrival time). A frozen snapshot: read it again to see later requests.
   */
  readonly requests: ReadonlyArray<RecordedRequest>
  /** The `requestLogLimit` in force. */
  readonly requestLogLimit: number
  /** Every API request answered since the start, per (method, route template, status); never dropped, not reset by clearRequests. */
  requestCounts: () => RequestCount[]
  /** Requests that left `requests` because the log was full (clearRequests does not count). */
  readonly droppedRequests: number
  /**
   * The clock of `RecordedRequest.at`: real ms since the simulator started. A test in the same
   * process timestamps its own events with it to compare them with arrivals at the simulator.
   */
  now: () => number
  /**
   * Epoch ms (fractional) of `at === 0`: `clockOrigin + at` is comparable with
   * `performance.timeOrigin + performance.now()` taken in any process on the same machine.
   */
  readonly clockOrigin: number
  /** Unexpected handler exceptions (each was answered 500). Should stay empty. */
  readonly internalErrors: ReadonlyArray<Error>
  /** The rate-limit configuration in force. */
  readonly rateLimits: Readonly<RateLimitConfig>
  /** Empties `requests` (the counters of `requestCounts()` keep their values). */
  clearRequests: () => void
  /** Replaces the probabilistic faults (and restarts their PRNG from the seed). */
  setFaults: (faults: FaultOptions) => void
  /** Queues a fault for the next matching request(s), regardless of the rates. */
  scriptFault: (fault: ScriptedFault) => void
  clearFaults: () => void
  /** Merges into the rate-limit configuration and resets every open window. */
  setRateLimits: (partial: RateLimitOptions) => void
  /** The next matching request(s) get a 429 with X-RateLimit-Scope: shared (not counted as invalid). */
  forceSharedRateLimit: (forced: ForcedSharedLimit) => void
  /** The opaque X-RateLimit-Bucket value of a route template ('PATCH /guilds/:guild_id/members/:user_id') or group name. */
  bucketHashOf: (routeOrGroup: string) => string
  /** Invalid responses (401/403/non-shared 429) counted for an IP in the current window. */
  invalidRequestCount: (ip?: string) => number
  /** Real ms left on an IP's ban (0 when not banned). */
  banRemainingMs: (ip?: string) => number
  liftBans: () => void
  /** Consent page auto-approval for every app without its own setting; null shows the page. */
  setAutoApprove: (userId: string | null) => void
  /** The Gateway (WebSockets at `gateway.url`) and its test controls: drop, hold, refuse resumes, RECONNECT. */
  readonly gateway: SimulatorGateway
  /** Webhook Events: signed POSTs to an app's `event_webhooks_url`, and what was delivered. */
  readonly webhooks: SimulatorWebhooks
  /**
   * The user deauthorizes the app (`clientId`, default the only app): their tokens are revoked and
   * a signed APPLICATION_DEAUTHORIZED goes to the app's events URL. Same as `webhooks.deauthorize`.
   */
  deauthorize: (userId: string, options?: DeliverOptions & { clientId?: string }) => Promise<DeauthorizeResult>
  close: () => Promise<void>
}

export async function createDiscordSimulator (options: SimulatorOptions = {}): Promise<DiscordSimulator> {
  const clock = new SimClock(options.timeScale ?? 1)
  const requestLog = new RequestLog(checkRetentionLimit('requestLogLimit', options.requestLogLimit, DEFAULT_REQUEST_LOG_LIMIT))
  const ttlSeconds = options.accessTokenTtlSeconds ?? 604800
  const state = new SimulatorState({
    accessTokenTtlMs: clock.real(ttlSeconds * 1000),
    accessTokenTtlSeconds: Math.max(1, Math.round(ttlSeconds / clock.timeScale)),
    // RFC 6749 4.1.2: codes should live at most 10 minutes.
    codeTtlMs: clock.real(600_000),
    auditLogLimit: checkRetentionLimit('auditLogLimit', options.auditLogLimit, DEFAULT_AUDIT_LOG_LIMIT),
    authorizationsPerUser: checkRetentionLimit('authorizationsPerUserLimit', options.authorizationsPerUserLimit, DEFAULT_AUTHORIZATIONS_PER_USER),
    endedAuthorizations: checkRetentionLimit('endedAuthorizationsLimit', options.endedAuthorizationsLimit, DEFAULT_ENDED_AUTHORIZATIONS),
    messageLimit: checkRetentionLimit('messageLimit', options.messageLimit, DEFAULT_MESSAGE_LIMIT)
  })
  const gateway = new Gateway(state, clock, options.gateway)
  const webhooks = new WebhookEvents(state)
  const limiter = new RateLimiter(mergeRateLimitConfig(defaultRateLimitConfig(), options.rateLimits), clock)
  const sim: SimContext = {
    state,
    limiter,
    faults: new FaultInjector(options.faults),
    clock,
    requestLog,
    requestCtx: new WeakMap(),
    routes: new Map(),
    autoApproveUserId: options.autoApproveUserId ?? null,
    consentTtlMs: clock.real(600_000),
    closing: new AbortController(),
    gateway,
    internalErrors: []
  }

  const app = await createServer(sim, { trustProxy: options.trustProxy ?? false })

  const sweeper = setInterval(() => limiter.sweep(), 30_000)
  sweeper.unref()

  const address = await app.listen({ host: options.host ?? '127.0.0.1', port: options.port ?? 0 })
  const url = address.replace('localhost', '127.0.0.1')
  gateway.attach(app.server, url)
  let closed = false

  return {
    url,
    apiBaseUrl: `${url}/api/v10`,
    state,
    timeScale: clock.timeScale,
    get requests () {
      return requestLog.entries()
    },
    requestLogLimit: requestLog.limit,
    requestCounts: () => requestLog.counts(),
    get droppedRequests () {
      return requestLog.dropped
    },
    now: () => clock.now(),
    clockOrigin: clock.originEpochMs,
    get internalErrors () {
      return sim.internalErrors
    },
    get rateLimits () {
      return limiter.config
    },
    clearRequests () {
      requestLog.clear()
    },
    setFaults (faults) {
      sim.faults.set(faults)
    },
    scriptFault (fault) {
      sim.faults.script(fault)
    },
    clearFaults () {
      sim.faults.clear()
    },
    setRateLimits (partial) {
      limiter.configure(partial)
    },
    forceSharedRateLimit (forced) {
      limiter.forceShared(forced)
    },
    bucketHashOf (routeOrGroup) {
      return limiter.hashOf(limiter.config.routeGroups[routeOrGroup] ?? (routeOrGroup.includes(' ') ? limiter.groupOf(routeOrGroup) : routeOrGroup))
    },
    invalidRequestCount (ip = '127.0.0.1') {
      return limiter.invalidRequests.count(ip)
    },
    banRemainingMs (ip = '127.0.0.1') {
      return limiter.invalidRequests.banRemainingMs(ip)
    },
    liftBans () {
      limiter.invalidRequests.liftBans()
    },
    setAutoApprove (userId) {
      sim.autoApproveUserId = userId
    },
    gateway,
    webhooks,
    async deauthorize (userId, deliverOptions) {
      return webhooks.deauthorize(userId, deliverOptions)
    },
    async close () {
      if (closed) return
      closed = true
      clearInterval(sweeper)
      sim.closing.abort()
      await gateway.close()
      await app.close()
    }
  }
}
