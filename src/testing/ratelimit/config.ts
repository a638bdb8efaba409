/*
 * The rate-limit configuration (limiter.ts and invalid-requests.ts apply it).
 *
 * Default numbers, and where each comes from:
 * - global 50 per 1 s per token ......... docs/rate-limits.mdx "Global Rate Limit": "All bots can make up to 50 requests per second".
 * - invalid requests 10,000 per 10 min .. docs/rate-limits.mdx "Invalid Request Limit": "Currently, this limit is 10,000 per 10 minutes".
 *   The ban length is not documented: assumed equal to the window (10 min).
 * - every per-route number below ......... NOT documented (the docs say not to hard-code them). The member-write
 *   and member-read figures are the ones the project's issue records as observed; the rest are assumptions
 *   chosen in the same spirit. All are configurable per simulator.
 */

export interface BucketLimit {
  /** Requests allowed per window. */
  limit: number
  /** Window length in Discord milliseconds (divided by timeScale at run time). */
  windowMs: number
}

export interface InvalidRequestLimit {
  threshold: number
  windowMs: number
  /** How long a ban lasts once the threshold is passed (Discord ms). */
  banMs: number
}

export interface RateLimitConfig {
  /** Set false to disable every limit (headers are still sent, with the configured numbers). */
  enabled: boolean
  global: BucketLimit
  /** Limits by group name. */
  buckets: Record<string, BucketLimit>
  /** Route template ('PATCH /guilds/:guild_id/members/:user_id') -> group name. */
  routeGroups: Record<string, string>
  invalidRequests: InvalidRequestLimit
}

export interface RateLimitOptions {
  enabled?: boolean
  global?: Partial<BucketLimit>
  buckets?: Record<string, Partial<BucketLimit>>
  routeGroups?: Record<string, string>
  invalidRequests?: Partial<InvalidRequestLimit>
}

export const DEFAULT_BUCKETS: Record<string, BucketLimit> = {
  // One bucket for PATCH member, PUT member role and DELETE member role. Choice: they are one
  // group because all three write a member's role list in the same guild, and a shared bucket is the
  // stricter case for a client (it has to learn from X-RateLimit-Bucket that three routes share one
  // budget). Split them with `routeGroups` if a test needs separate budgets.
  'guild-member-write': { limit: 10, windowMs: 10_000 }, // issue: "member role writes 10 per 10 s per guild" (observed)
  'guild-member-get': { limit: 5, windowMs: 1_000 }, // issue: "member reads 5/s" (observed)
  'guild-members-list': { limit: 10, windowMs: 10_000 }, // assumed
  'guild-get': { limit: 5, windowMs: 1_000 }, // assumed
  'guild-roles-list': { limit: 5, windowMs: 1_000 }, // assumed
  'guild-channels-list': { limit: 5, windowMs: 1_000 }, // assumed
  'channel-message-create': { limit: 5, windowMs: 5_000 }, // assumed
  'users-me': { limit: 5, windowMs: 1_000 }, // assumed
  'users-me-guilds': { limit: 1, windowMs: 1_000 }, // assumed
  'users-me-guild-member': { limit: 5, windowMs: 1_000 }, // assumed
  'oauth2-me': { limit: 5, windowMs: 1_000 }, // assumed
  'oauth2-token': { limit: 10, windowMs: 1_000 }, // assumed
  'oauth2-token-revoke': { limit: 10, windowMs: 1_000 } // assumed
}

export const DEFAULT_ROUTE_GROUPS: Record<string, string> = {
  'GET /guilds/:guild_id': 'guild-get',
  'GET /guilds/:guild_id/roles': 'guild-roles-list',
  'GET /guilds/:guild_id/channels': 'guild-channels-list',
  'GET /guilds/:guild_id/members': 'guild-members-list',
  'GET /guilds/:guild_id/members/:user_id': 'guild-member-get',
  'PATCH /guilds/:guild_id/members/:user_id': 'guild-member-write',
  'DELETE /guilds/:guild_id/members/:user_id': 'guild-member-write',
  'PUT /guilds/:guild_id/members/:user_id/roles/:role_id': 'guild-member-write',
  'DELETE /guilds/:guild_id/members/:user_id/roles/:role_id': 'guild-member-write',
  'POST /channels/:channel_id/messages': 'channel-message-create',
  'GET /users/@me': 'users-me',
  'GET /users/@me/guilds': 'users-me-guilds',
  'GET /users/@me/guilds/:guild_id/member': 'users-me-guild-member',
  'GET /oauth2/@me': 'oauth2-me',
  'POST /oauth2/token': 'oauth2-token',
  'POST /oauth2/token/revoke': 'oauth2-token-revoke'
}

/** Fallback for a route with no group: its own bucket, 5 per second (assumed). */
export const FALLBACK_BUCKET: BucketLimit = { limit: 5, windowMs: 1_000 }

export function defaultRateLimitConfig (): RateLimitConfig {
  return {
    enabled: true,
    global: { limit: 50, windowMs: 1_000 },
    buckets: structuredClone(DEFAULT_BUCKETS),
    routeGroups: { ...DEFAULT_ROUTE_GROUPS },
    invalidRequests: { threshold: 10_000, windowMs: 600_000, banMs: 600_000 }
  }
}

export function mergeRateLimitConfig (base: RateLimitConfig, partial: RateLimitOptions = {}): RateLimitConfig {
  const next = structuredClone(base)
  if (partial.enabled !== undefined) next.enabled = partial.enabled
  if (partial.global !== undefined) next.global = { ...next.global, ...partial.global }
  for (const [group, limit] of Object.entries(partial.buckets ?? {})) {
    next.buckets[group] = { ...(next.buckets[group] ?? FALLBACK_BUCKET), ...limit }
  }
  Object.assign(next.routeGroups, partial.routeGroups ?? {})
  if (partial.invalidRequests !== undefined) next.invalidRequests = { ...next.invalidRequests, ...partial.invalidRequests }
  for (const [name, l] of [['global', next.global], ...Object.entries(next.buckets)] as Array<[string, BucketLimit]>) {
    if (!(Number.isInteger(l.limit) && l.limit > 0 && l.windowMs > 0)) throw new RangeError(`rate limit ${name} needs a positive integer limit and a positive windowMs`)
  }
  return next
}
