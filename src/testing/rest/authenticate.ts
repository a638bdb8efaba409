import type { FastifyRequest } from 'fastify'
import type { SimContext } from '../context.js'
import { tokenId } from '../tokens.js'
import type { RequestCtx, RouteSpec } from './request.js'

/**
 * Step 3 of the pipeline: reads `Bot <token>` / `Bearer <token>` into `ctx`. A missing or unusable
 * credential only marks `ctx.unauthorized`: the 401 is sent after the rate limits, which then
 * apply to the client IP.
 */
export function authenticate (sim: SimContext, request: FastifyRequest, ctx: RequestCtx, spec: RouteSpec): void {
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
