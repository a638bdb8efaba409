import type { SimContext } from '../../context.js'
import { compareSnowflakes, isSnowflake } from '../../snowflake.js'
import type { SimUser } from '../../state/types.js'
import { Errors, formErrors } from '../errors.js'
import type { ApiRouter, RequestCtx } from '../request.js'

/*
 * Current-user routes (docs/user.mdx) for both credential kinds. With a Bearer token the
 * OAuth2 scopes are enforced: `identify` for /users/@me (plus `email` for the email
 * fields), `guilds` for /users/@me/guilds, `guilds.members.read` for the member route.
 * A valid token without the needed scope answers 403 50001 Missing Access: the docs do
 * not specify the answer, and 403 is their status for "the token you passed did not have
 * permission to the resource" (opcodes-and-status-codes.mdx), while 401 would tell a
 * client its token is invalid, which it is not.
 */

function requireScope (ctx: RequestCtx, scope: string): void {
  if (ctx.bearer !== undefined && !ctx.bearer.authorization.scopes.includes(scope)) throw Errors.missingAccess()
}

function subject (sim: SimContext, ctx: RequestCtx): SimUser {
  const userId = ctx.bot?.userId ?? ctx.bearer?.authorization.userId
  const user = userId === undefined ? undefined : sim.state.getUser(userId)
  if (user === undefined) throw Errors.unauthorized()
  return user
}

function queryError (name: string, code: string, message: string): never {
  throw Errors.invalidFormBody(formErrors([{ path: [name], code, message }]))
}

export function registerUserRoutes (sim: SimContext, router: ApiRouter): void {
  const { state } = sim

  router.route({ route: 'GET /users/@me', auth: 'bot-or-bearer' }, async (_request, _reply, ctx) => {
    requireScope(ctx, 'identify')
    const user = subject(sim, ctx)
    const out: Record<string, unknown> = { ...state.apiUser(user), mfa_enabled: user.mfa_enabled, locale: user.locale, premium_type: 0 }
    // user.mdx: `email` and `verified` need the `email` scope; a bot sees its own (null email).
    if (ctx.bot !== undefined) {
      out.email = null
      out.verified = true
    } else if (ctx.bearer?.authorization.scopes.includes('email') === true) {
      out.email = user.email
      out.verified = user.verified
    }
    return out
  })

  // user.mdx "Get Current User Guilds": before/after/limit (1-200, default 200)/with_counts.
  router.route({ route: 'GET /users/@me/guilds', auth: 'bot-or-bearer' }, async (request, _reply, ctx) => {
    requireScope(ctx, 'guilds')
    const user = subject(sim, ctx)
    const query = request.query as Record<string, string | undefined>
    let limit = 200
    if (query.limit !== undefined) {
      if (!/^-?\d+$/.test(query.limit)) queryError('limit', 'NUMBER_TYPE_COERCE', `Value "${query.limit}" is not int.`)
      limit = Number(query.limit)
      if (limit < 1) queryError('limit', 'NUMBER_TYPE_MIN', 'int value should be greater than or equal to 1.')
      if (limit > 200) queryError('limit', 'NUMBER_TYPE_MAX', 'int value should be less than or equal to 200.')
    }
    for (const name of ['before', 'after'] as const) {
      const v = query[name]
      if (v !== undefined && !isSnowflake(v)) queryError(name, 'NUMBER_TYPE_COERCE', `Value "${v}" is not snowflake.`)
    }
    const wc = query.with_counts
    const withCounts = wc === 'true' || wc === 'True' || wc === '1'
    let guilds = [...state.guilds.values()]
      .filter((g) => g.members.has(user.id))
      .sort((a, b) => compareSnowflakes(a.id, b.id))
    const { before, after } = query
    if (after !== undefined) guilds = guilds.filter((g) => compareSnowflakes(g.id, after) > 0)
    if (before !== undefined) guilds = guilds.filter((g) => compareSnowflakes(g.id, before) < 0)
    // Paging backwards with only `before` returns the guilds immediately before it.
    guilds = before !== undefined && after === undefined ? guilds.slice(-limit) : guilds.slice(0, limit)
    return guilds.map((g) => state.apiPartialGuild(g, user.id, withCounts))
  })

  router.route({ route: 'GET /users/@me/guilds/:guild_id/member', auth: 'bearer' }, async (request, _reply, ctx) => {
    requireScope(ctx, 'guilds.members.read')
    const user = subject(sim, ctx)
    const guildId = (request.params as Record<string, string>).guild_id ?? ''
    const member = isSnowflake(guildId) ? state.getGuild(guildId)?.members.get(user.id) : undefined
    if (member === undefined) throw Errors.unknownGuild()
    return state.apiMember(member)
  })
}
