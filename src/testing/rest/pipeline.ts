import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { seconds } from '../clock.js'
import type { SimContext } from '../context.js'
import type { BucketSnapshot } from '../ratelimit/limiter.js'
import { authenticate } from './authenticate.js'
import { installErrorHandlers } from './error-handler.js'
import { Errors } from './errors.js'
import { record } from './recorder.js'
import type { ApiRouter, RequestCtx } from './request.js'

/*
 * The request pipeline every /api route goes through, in the order Discord's edge and
 * API apply it:
 *   1. Cloudflare-style ban for the client IP (no API involvement, no JSON);
 *   2. injected faults (latency, connection reset, 5xx) in front of the API; a scripted
 *      'malformed' fault instead lets the request through and replaces its 2xx body in onSend;
 *   3. authentication (identifies whose limits apply; a bad credential falls back to the IP);
 *   4. rate limits: global, forced shared, route bucket; X-RateLimit-* headers on every answer;
 *   5. the route handler (404 / 403 / 400 / success).
 * After the response is produced, 401/403/non-shared 429 answers are counted toward the
 * IP's invalid-request budget, and the request is recorded for tests (recorder.ts).
 * What no handler answers (unknown routes, thrown errors) goes to error-handler.ts.
 */

const STATUS_TEXT: Record<number, string> = { 500: 'Internal Server Error', 502: 'Bad Gateway', 503: 'Service Unavailable', 504: 'Gateway Timeout' }

/** A short HTML page, as a CDN in front of the API would answer a banned IP. Not JSON, on purpose. */
const BAN_PAGE = '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Access denied</title></head>' +
  '<body><h1>Access denied</h1><p>This IP address made too many invalid requests (401, 403, 429) and is temporarily restricted.</p>' +
  '<p>error code: 40333</p></body></html>'

function sleep (ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) {
      resolve()
      return
    }
    const done = (): void => {
      clearTimeout(timer)
      signal.removeEventListener('abort', done)
      resolve()
    }
    const timer = setTimeout(done, ms)
    signal.addEventListener('abort', done, { once: true })
  })
}

function formatSeconds (ms: number): string {
  return String(seconds(ms))
}

function setBucketHeaders (reply: FastifyReply, bucket: BucketSnapshot): void {
  reply.header('x-ratelimit-limit', String(bucket.limit))
  reply.header('x-ratelimit-remaining', String(bucket.remaining))
  // Epoch seconds with millisecond decimals, like "1470173023.123".
  reply.header('x-ratelimit-reset', ((Date.now() + bucket.resetAfterMs) / 1000).toFixed(3))
  reply.header('x-ratelimit-reset-after', formatSeconds(bucket.resetAfterMs))
  reply.header('x-ratelimit-bucket', bucket.hash)
}

function ctxOf (sim: SimContext, request: FastifyRequest): RequestCtx {
  const ctx = sim.requestCtx.get(request)
  if (ctx === undefined) throw new Error('discord simulator: request context missing')
  return ctx
}

function decodeReason (raw: string | string[] | undefined): string | undefined {
  const value = Array.isArray(raw) ? raw[0] : raw
  if (value === undefined) return undefined
  try {
    return decodeURIComponent(value)
  } catch {
    return value
  }
}

/**
 * The /api plugin: registered once per prefix ('/api/v10' and unversioned '/api'), with
 * `register` adding the routes. Returns a plain async plugin function (encapsulated, so its
 * hooks and error handler only apply to API routes, not to the consent page).
 */
export function apiPlugin (sim: SimContext, registerRoutes: (router: ApiRouter) => void) {
  return async function api (app: FastifyInstance): Promise<void> {
    const prefix = app.prefix

    app.addHook('onRequest', async (request, reply) => {
      const routeUrl = request.routeOptions.url
      const template = routeUrl === undefined ? null : routeUrl.slice(prefix.length)
      const spec = template === null ? null : sim.routes.get(`${request.method} ${template}`) ?? null
      const ctx: RequestCtx = { spec, at: sim.clock.now(), auth: 'none', tokenId: null, unauthorized: false, majorId: '', bucket: null, recorded: false }
      sim.requestCtx.set(request, ctx)

      // 1. Ban: the answer comes from "Cloudflare", so no JSON and no rate-limit headers.
      if (sim.limiter.invalidRequests.banRemainingMs(request.ip) > 0) {
        ctx.fault = 'ban'
        reply.code(429).header('content-type', 'text/html; charset=utf-8').send(BAN_PAGE)
        return reply
      }
      if (spec === null) return // the not-found handler answers

      // 2. Faults.
      const fault = sim.faults.decide(spec.route)
      if (fault.latencyMs > 0) await sleep(fault.latencyMs, sim.closing.signal)
      if (fault.reset) {
        ctx.fault = 'reset'
        record(sim, request, ctx, 0)
        reply.hijack()
        // A real reset (TCP RST), so clients see ECONNRESET as they would from a failing peer,
        // rather than the orderly close (FIN) that destroy() sends.
        request.raw.socket.resetAndDestroy()
        return reply
      }
      if (fault.errorStatus !== null) {
        ctx.fault = 'error'
        reply.code(fault.errorStatus).send({ message: `${fault.errorStatus}: ${STATUS_TEXT[fault.errorStatus] ?? 'Server Error'}`, code: 0 })
        return reply
      }
      // A malformed answer comes from the API itself: the request goes on as usual, onSend replaces the body.
      if (fault.malformedBody !== undefined) ctx.malformedBody = fault.malformedBody

      // 3. Authentication.
      authenticate(sim, request, ctx, spec)
      const params = request.params as Record<string, string | undefined>
      ctx.majorId = spec.major === undefined ? '' : params[spec.major] ?? ''
      const identity = ctx.bot !== undefined
        ? `bot:${ctx.bot.tokenId}`
        : ctx.bearer !== undefined ? `bearer:${ctx.bearer.tokenId}` : `ip:${request.ip}`

      // 4. Rate limits.
      const outcome = sim.limiter.take(identity, spec.route, ctx.majorId)
      setBucketHeaders(reply, outcome.bucket)
      ctx.bucket = outcome.bucket.hash
      if (!outcome.ok) {
        ctx.scope = outcome.scope
        const retryAfter = Math.max(0.001, seconds(outcome.retryAfterMs))
        ctx.retryAfterMs = Math.round(retryAfter * 1000)
        reply.code(429)
          .header('retry-after', String(Math.ceil(retryAfter)))
          .header('x-ratelimit-scope', outcome.scope)
        if (outcome.scope === 'global') reply.header('x-ratelimit-global', 'true')
        // `code` is optional in the docs' 429 structure but required by openapi's RatelimitedResponse;
        // 0 ("General error") satisfies both.
        reply.send({
          message: outcome.scope === 'shared' ? 'The resource is being rate limited.' : 'You are being rate limited.',
          retry_after: retryAfter,
          global: outcome.scope === 'global',
          code: 0
        })
        return reply
      }
      if (ctx.unauthorized) throw Errors.unauthorized()

      const reason = decodeReason(request.headers['x-audit-log-reason'])
      if (reason !== undefined) ctx.reason = reason
    })

    app.addHook('onSend', async (request, reply, payload) => {
      const ctx = sim.requestCtx.get(request)
      const status = reply.statusCode
      if (ctx !== undefined && ctx.fault !== 'ban' && (status === 401 || status === 403 || (status === 429 && ctx.scope !== 'shared'))) {
        sim.limiter.invalidRequests.record(request.ip)
      }
      if (ctx?.malformedBody !== undefined && status >= 200 && status < 300 && typeof payload === 'string' && payload.length > 0) {
        ctx.fault = 'malformed'
        return ctx.malformedBody ?? payload.slice(0, Math.floor(payload.length / 2))
      }
      return payload
    })

    app.addHook('onResponse', async (request, reply) => {
      const ctx = sim.requestCtx.get(request)
      if (ctx !== undefined) record(sim, request, ctx, reply.statusCode)
    })

    installErrorHandlers(sim, app)

    registerRoutes({
      route (spec, handler) {
        const space = spec.route.indexOf(' ')
        const method = spec.route.slice(0, space)
        const url = spec.route.slice(space + 1)
        sim.routes.set(spec.route, spec)
        app.route({
          method: method as 'GET',
          url,
          handler: async (request, reply) => handler(request, reply, ctxOf(sim, request))
        })
      }
    })
  }
}
