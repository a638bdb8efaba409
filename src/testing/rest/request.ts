import type { FastifyReply, FastifyRequest } from 'fastify'
import type { SimBot } from '../state/types.js'
import type { AccessTokenRecord } from '../state/oauth-types.js'

/*
 * What the API pipeline knows about a request: the route's spec, the per-request context the
 * pipeline fills in and handlers read, and the record tests inspect afterwards.
 */

export type AuthKind = 'bot' | 'bearer' | 'none'

/** Which credentials a route accepts. 'none' routes authenticate the client themselves (OAuth2 token endpoints). */
export type RouteAuth = 'bot' | 'bearer' | 'bot-or-bearer' | 'none'

export interface RouteSpec {
  /** Template without the API prefix, e.g. 'PATCH /guilds/:guild_id/members/:user_id'. */
  route: string
  auth: RouteAuth
  /** Name of the path parameter that is the top-level resource (guild_id / channel_id), if any. */
  major?: 'guild_id' | 'channel_id'
  /** OAuth2 endpoints answer errors in the OAuth shape instead of Discord's JSON errors. */
  oauth?: boolean
}

export type RateLimitScope = 'user' | 'global' | 'shared'

export interface RecordedRequest {
  /** Real ms since the simulator started. */
  at: number
  method: string
  /** Path without the query string, as routed (e.g. '/api/v10/guilds/123/members'; an encoded '%40' reads '@'). */
  path: string
  /** Query string without '?', '' when none. */
  query: string
  /** Route template without prefix, e.g. 'PATCH /guilds/:guild_id/members/:user_id'; null for unknown routes. */
  route: string | null
  /** Top-level resource id (guild or channel) the bucket was keyed by, '' when none. */
  majorId: string
  /** Opaque bucket hash reported in X-RateLimit-Bucket; null when no bucket applied. */
  bucket: string | null
  status: number
  /** Set on 429s answered by the rate limiter. */
  scope?: RateLimitScope
  /** Set on 429s answered by the rate limiter: the body's `retry_after` in real ms (as sent, millisecond precision). */
  retryAfterMs?: number
  auth: AuthKind
  /** Hash id of the credential used (bot or bearer token); null without a valid credential. Never the token. */
  tokenId: string | null
  /** X-Audit-Log-Reason, URL-decoded, when sent. */
  reason?: string
  ip: string
  /** The User-Agent header (docs/reference.mdx asks for `DiscordBot ($url, $versionNumber)`); null when absent. */
  userAgent: string | null
  /** 'ban' when the Cloudflare-style ban answered; 'error' / 'reset' / 'malformed' when a fault was injected. */
  fault?: 'ban' | 'error' | 'reset' | 'malformed'
}

export interface RequestCtx {
  spec: RouteSpec | null
  at: number
  auth: AuthKind
  tokenId: string | null
  bot?: SimBot
  bearer?: AccessTokenRecord
  /** Whether the Authorization header was present but unusable for this route. */
  unauthorized: boolean
  majorId: string
  bucket: string | null
  scope?: RateLimitScope
  retryAfterMs?: number
  reason?: string
  fault?: 'ban' | 'error' | 'reset' | 'malformed'
  /** A scripted 'malformed' fault: the 2xx body is replaced by this text (or cut in half when null). */
  malformedBody?: string | null
  recorded: boolean
}

export type Handler = (request: FastifyRequest, reply: FastifyReply, ctx: RequestCtx) => Promise<unknown>

/** How route modules add their routes to the API plugin (once per API prefix). */
export interface ApiRouter {
  route: (spec: RouteSpec, handler: Handler) => void
}
