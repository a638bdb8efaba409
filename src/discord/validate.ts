import { DiscordMalformedResponseError } from './errors/malformed-response-error.js'
import { describeFailure } from './errors/discord-api-error.js'
import { parseRoute } from './route.js'

/** Where a response came from, for the error if its shape is wrong. */
export interface ShapeContext {
  method: string
  route: string
  status?: number
}

const SNOWFLAKE = /^\d{1,20}$/

/** Where a response to `method path` came from, with the path reduced to its template (no ids). */
export function shapeContext (method: string, path: string): ShapeContext {
  return { method, route: parseRoute(path).template }
}

export function isRecord (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

export function malformed (ctx: ShapeContext, what: string): DiscordMalformedResponseError {
  return new DiscordMalformedResponseError({
    method: ctx.method,
    route: ctx.route,
    status: ctx.status ?? 200,
    message: describeFailure(`Malformed Discord response: ${what}`, ctx.method, ctx.route, ctx.status ?? 200)
  })
}

/** Asserts an object whose `id` is a snowflake (users, guilds, messages, roles). */
export function expectEntity<T> (value: unknown, ctx: ShapeContext, what: string): T {
  if (!isRecord(value) || typeof value.id !== 'string' || !SNOWFLAKE.test(value.id)) {
    throw malformed(ctx, `expected ${what} with a snowflake id`)
  }
  return value as T
}

/** Asserts an array of entities with snowflake ids. */
export function expectEntities<T> (value: unknown, ctx: ShapeContext, what: string): T[] {
  if (!Array.isArray(value)) throw malformed(ctx, `expected an array of ${what}`)
  for (const item of value) expectEntity(item, ctx, what)
  return value as T[]
}

/** Asserts a guild member: a `user` with a snowflake id and a `roles` array of snowflakes. */
export function expectMember<T> (value: unknown, ctx: ShapeContext): T {
  if (!isRecord(value)) throw malformed(ctx, 'expected a guild member object')
  expectEntity(value.user, ctx, 'a member user')
  if (!Array.isArray(value.roles) || !value.roles.every((r) => typeof r === 'string' && SNOWFLAKE.test(r))) {
    throw malformed(ctx, 'expected member roles to be an array of snowflakes')
  }
  return value as T
}

/** Asserts GET /gateway/bot: a ws(s) URL, a shard count and the session start limit. */
export function expectGatewayBot<T> (value: unknown, ctx: ShapeContext): T {
  const limit = isRecord(value) ? value.session_start_limit : undefined
  const count = (n: unknown): boolean => Number.isSafeInteger(n) && (n as number) >= 0
  if (!isRecord(value) || typeof value.url !== 'string' || !/^wss?:\/\//.test(value.url) || !Number.isSafeInteger(value.shards) || (value.shards as number) < 1 ||
      !isRecord(limit) || !count(limit.total) || !count(limit.remaining) || !count(limit.reset_after) || !Number.isSafeInteger(limit.max_concurrency) || (limit.max_concurrency as number) < 1) {
    throw malformed(ctx, 'expected gateway information (url, shards, session_start_limit)')
  }
  return value as T
}

/** Asserts an OAuth2 access-token response. */
export function expectTokenResponse<T> (value: unknown, ctx: ShapeContext, requireRefresh: boolean): T {
  if (!isRecord(value) ||
      typeof value.access_token !== 'string' || value.access_token.length === 0 ||
      typeof value.token_type !== 'string' ||
      typeof value.expires_in !== 'number' || !Number.isFinite(value.expires_in) ||
      typeof value.scope !== 'string' ||
      (requireRefresh && typeof value.refresh_token !== 'string')) {
    throw malformed(ctx, 'expected an OAuth2 token response (access_token, token_type, expires_in, scope' + (requireRefresh ? ', refresh_token)' : ')'))
  }
  return value as T
}
