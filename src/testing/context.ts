import type { FastifyRequest } from 'fastify'
import type { SimClock } from './clock.js'
import type { FaultInjector } from './faults.js'
import type { Gateway } from './gateway/gateway.js'
import type { RateLimiter } from './ratelimit/limiter.js'
import type { RequestLog } from './rest/request-log.js'
import type { RequestCtx, RouteSpec } from './rest/request.js'
import type { SimulatorState } from './state/simulator-state.js'

/*
 * What every route module shares: the world, the limiter, the fault injector, the clock,
 * and per-request bookkeeping. Per-request data lives in a WeakMap rather than a Fastify
 * request decoration so the simulator adds no global type augmentation to the package.
 */

export interface SimContext {
  state: SimulatorState
  limiter: RateLimiter
  faults: FaultInjector
  clock: SimClock
  /** What `sim.requests` and `sim.requestCounts()` read (bounded, see retention.ts). */
  requestLog: RequestLog
  requestCtx: WeakMap<FastifyRequest, RequestCtx>
  /** method + ' ' + template -> spec */
  routes: Map<string, RouteSpec>
  /** Simulator-wide auto-approval for the consent page (null = show the page). */
  autoApproveUserId: string | null
  /** Real ms an authorization request stays valid on the consent page. */
  consentTtlMs: number
  /** Aborted on close so in-flight latency sleeps end immediately. */
  closing: AbortController
  /** The Gateway (WebSockets at /gateway); GET /gateway/bot reads its URL and session start limit. */
  gateway: Gateway
  /** Unexpected exceptions in handlers (answered as 500); tests assert this stays empty. The first INTERNAL_ERRORS_KEPT are kept. */
  internalErrors: Error[]
}
