import type { FastifyRequest } from 'fastify'
import type { SimContext } from '../context.js'
import type { RequestCtx } from './request.js'

/** Adds the request to `sim.requests` once, whichever of the reset path and onResponse comes first. */
export function record (sim: SimContext, request: FastifyRequest, ctx: RequestCtx, status: number): void {
  if (ctx.recorded) return
  ctx.recorded = true
  const url = request.raw.url ?? request.url
  const q = url.indexOf('?')
  sim.requestLog.add({
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
