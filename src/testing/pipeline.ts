import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { seconds } from './clock.js'
import { ctxOf, type Handler, type RequestCtx, type RouteSpec, type SimContext } from './context.js'
import { DiscordHttpError, Errors } from './errors.js'
import { OAuthHttpError } from './oauth-errors.js'
import type { BucketSnapshot } from './rate-limits.js'
import { tokenId } from './tokens.js'

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
 * IP's invalid-request budget, and the request is recorded for tests.
 */

/** Parsed application/x-www-form-urlencoded body; kept distinct so JSON-only and form-only routes can tell them apart. */
export class FormBody {
  readonly fields: Record<string, string> = {}
  /** Parameters sent more than once (RFC 6749 3.1/3.2: must not be repeated). */
  readonly duplicates: string[] = []

  constructor (raw: string) {
    for (const [key, value] of new URLSearchParams(raw)) {
      if (Object.hasOwn(this.fields, key)) this.duplicates.push(key)
      else this.fields[key] = value
    }
  }
}

/**
 * Root-level body parsers. JSON: an empty body is "no body" (PUT role with a JSON content type and
 * nothing in it is legal), invalid JSON is Discord's 50109. Forms: parsed for the OAuth2 endpoints.
 * text/plain is removed: docs/reference.mdx "Content Type" allows only JSON, form and multipart,
 * and anything else is a 50035.
 */
export function installBodyParsers (app: FastifyInstance): void {
  app.removeContentTypeParser(['application/json', 'text/plain'])
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    const text = body as string
    if (text.trim() === '') {
      done(null, undefined)
      return
    }
    try {
      done(null, JSON.parse(text))
    } catch {
      done(Errors.invalidJson(), undefined)
    }
  })
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) => {
    done(null, new FormBody(body as string))
  })
}

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

function authenticate (sim: SimContext, request: FastifyRequest, ctx: RequestCtx, spec: RouteSpec): void {
  const header = request.headers.authorization
  if (header === undefined || header.trim() === '') {
    if (spec.auth !== 'none') ctx.unauthorized = true
    return
  }
  const space = header.indexOf(' ')
  const scheme = (space === -1 ? header : header.slice(0, space)).toLowerCase()
  const token = space === -1 ? '' : header.slice(space + 1).trim()
  if (scheme === 'bot') {
    ctx.auth = 'bot'
    ctx.tokenId = token === '' ? null : tokenId(token)
    const bot = token === '' ? undefined : sim.state.findBot(token)
    if (bot !== undefined && (spec.auth === 'bot' || spec.auth === 'bot-or-bearer')) {
      ctx.bot = bot
      return
    }
  } else if (scheme === 'bearer') {
    ctx.auth = 'bearer'
    ctx.tokenId = token === '' ? null : tokenId(token)
    const record = token === '' ? undefined : sim.state.findAccessToken(token)
    if (record !== undefined && (spec.auth === 'bearer' || spec.auth === 'bot-or-bearer')) {
      ctx.bearer = record
      return
    }
  } else if (spec.auth === 'none') {
    // Basic client authentication on the OAuth2 endpoints: the handler checks it.
    return
  }
  if (spec.auth !== 'none') ctx.unauthorized = true
}

function record (sim: SimContext, request: FastifyRequest, ctx: RequestCtx, status: number): void {
  if (ctx.recorded) return
  ctx.recorded = true
  const url = request.raw.url ?? request.url
  const q = url.indexOf('?')
  sim.records.push({
    at: Math.round(ctx.at * 1000) / 1000,
    method: request.method,
    path: q === -1 ? url : url.slice(0, q),
    query: q === -1 ? '' : url.slice(q + 1),
    route: ctx.spec?.route ?? null,
    majorId: ctx.majorId,
    bucket: ctx.bucket,
    status,
    ...(ctx.scope !== undefined ? { scope: ctx.scope } : {}),
    ...(ctx.retryAfterMs !== undefined ? { retryAfterMs: ctx.retryAfterMs } : {}),
    auth: ctx.auth,
    tokenId: ctx.tokenId,
    ...(ctx.reason !== undefined ? { reason: ctx.reason } : {}),
    ip: request.ip,
    userAgent: request.headers['user-agent'] ?? null,
    ...(ctx.fault !== undefined ? { fault: ctx.fault } : {})
  })
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

const patterns = new Map<string, RegExp>()

/** '/guilds/:guild_id/members' -> /^\/guilds\/[^/]+\/members$/ */
function templatePattern (template: string): RegExp {
  let re = patterns.get(template)
  if (re === undefined) {
    const body = template.split('/').map((seg) => (seg.startsWith(':') ? '[^/]+' : seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))).join('\\/')
    re = new RegExp(`^${body}$`)
    patterns.set(template, re)
  }
  return re
}

export interface ApiRouter {
  route: (spec: RouteSpec, handler: Handler) => void
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
      if (sim.limiter.banRemainingMs(request.ip) > 0) {
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
        sim.limiter.recordInvalid(request.ip)
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

    // A known path with another method is a 405 (opcodes-and-status-codes.mdx "405 (METHOD NOT ALLOWED)"),
    // anything else a 404; both in Discord's `{ message, code: 0 }` shape.
    app.setNotFoundHandler(async (request, reply) => {
      const url = request.raw.url ?? request.url
      const path = (url.split('?')[0] ?? '').slice(prefix.length)
      const known = [...sim.routes.keys()].some((key) => templatePattern(key.slice(key.indexOf(' ') + 1)).test(path))
      if (known) reply.code(405).send(Errors.methodNotAllowed().body)
      else reply.code(404).send(Errors.notFound().body)
    })

    app.setErrorHandler(async (error: FastifyError | DiscordHttpError | OAuthHttpError, request, reply) => {
      const spec = sim.requestCtx.get(request)?.spec ?? null
      if (error instanceof DiscordHttpError) {
        return reply.code(error.status).send(error.body)
      }
      if (error instanceof OAuthHttpError) {
        return reply.code(error.status).header('cache-control', 'no-store').send(error.body)
      }
      const code = (error as FastifyError).code
      if (code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' || code === 'FST_ERR_CTP_INVALID_TYPE') {
        if (spec?.oauth === true) {
          return reply.code(400).header('cache-control', 'no-store').send({ error: 'invalid_request', error_description: 'Content-Type must be application/x-www-form-urlencoded' })
        }
        return reply.code(400).send({
          message: 'Invalid Form Body',
          code: 50035,
          errors: { _errors: [{ code: 'CONTENT_TYPE_INVALID', message: 'Expected "Content-Type" header to be one of {\'application/json\', \'application/x-www-form-urlencoded\', \'multipart/form-data\'}.' }] }
        })
      }
      if (code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
        return reply.code(413).send({ message: 'Request entity too large', code: 40005 })
      }
      sim.internalErrors.push(error as Error)
      return reply.code(500).send({ message: '500: Internal Server Error', code: 0 })
    })

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
