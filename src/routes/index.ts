import type { FastifyError, FastifyPluginAsync } from 'fastify'
import fastifyCookie from '@fastify/cookie'
import fastifyRateLimit from '@fastify/rate-limit'
import { discordErrorHandler } from './error-handler.js'
import statusRoutes from './status/index.js'
import authRoutes from './auth/index.js'
import guildRoutes from './guilds/index.js'
import roleMappingRoutes from './role-mappings/index.js'
import userRoutes from './users/index.js'
import syncRoutes from './sync/index.js'
import adminRoutes from './admin/index.js'
import { adminUi } from '../admin-ui/index.js'
import { normaliseFastifyError, useStrictJson } from './strict-json.js'
import { NotFoundError, RateLimitedError } from '../errors.js'
import type { ResolvedRateLimitOptions } from '../options/index.js'
import type { GuildHealthTask } from '../health/guild-health.js'
import type { WebhookEvents } from '../live/webhook-events.js'
import webhookRoutes from './webhooks/index.js'
import memberRoutes from './members/index.js'
import type { MemberDirectory } from '../members/directory.js'
import type { MembershipProvider } from '../sync/membership.js'
import { openApi } from './docs/index.js'
import type { RedisBreaker } from '../health/redis-breaker.js'
import { breakerRateLimitStore } from './rate-limit-store.js'
import { simplifyRouteResponses } from './response-schemas.js'
import type { RequestActivity } from '../discord/request-activity.js'
import type { ReadCache } from './read-cache.js'

export interface RoutesOptions {
  /** null: no rate limit (the host handles it). */
  rateLimit: ResolvedRateLimitOptions | null
  /** Redis for the API rate limit's counts, behind the breaker; null: in-process counts. */
  redisBreaker?: RedisBreaker | null
  /** Serve GET /openapi.json. */
  openapi: boolean
  /** Serve the API reference page at /docs (with `openapi` only). */
  apiDocs?: boolean
  /** Serve the admin web UI at /admin/. */
  adminUi?: boolean
  /** The path prefix this context is registered with ('' when the routes sit at the host's own level). */
  prefix?: string
  /** Checks one guild's bot on demand (POST /guilds/{id}/health-check), scheduled or not. */
  healthChecker: GuildHealthTask
  /** Discord's signed Webhook Events (POST /webhooks/events). */
  webhooks: WebhookEvents
  /** The admin members page (GET /members...) and the provider's groups (GET /membership/groups). */
  members: MemberDirectory
  /** Bounded in time; null without a provider. */
  membership: MembershipProvider | null
  /** Discord requests and 429s per minute (GET /guilds/{id}/activity). */
  requestActivity: RequestActivity
  /** Rendered list pages kept while the store is unchanged; null: every page built per request. */
  readCache?: ReadCache | null
}

/** Every route group of the plugin, mounted in one encapsulated context under the prefix. */
const routes: FastifyPluginAsync<RoutesOptions> = async (fastify, opts) => {
  fastify.setErrorHandler((err: FastifyError, request, reply) => discordErrorHandler(normaliseFastifyError(err), request, reply))
  // One validator for every route group, set before any is registered so each inherits it.
  useStrictJson(fastify)
  // Session cookies are read and set by our routes; a host that registered @fastify/cookie keeps its own.
  if (!fastify.hasRequestDecorator('cookies')) await fastify.register(fastifyCookie)

  // Recorded here, inside our encapsulated context, so the document describes only the plugin's
  // routes; built on first use (docs/index.ts). The rate limiter is registered here too, so it never
  // clashes with a host's own @fastify/rate-limit.
  const openapi = opts.openapi ? openApi(fastify, { cookieName: fastify.discord.auth.cookieName, apiDocs: opts.apiDocs === true }) : null
  // The admin UI's static files come before the limiter, which then applies to the routes
  // registered after it only: a page load fetches some 40 small modules, which would otherwise
  // spend a third of an anonymous IP's API quota (the limit is there to protect the API and
  // Discord behind it; the files are read from disk).
  if (opts.adminUi === true) await fastify.register(adminUi)
  if (openapi !== null && opts.apiDocs === true) openapi.serveDocs()
  if (opts.rateLimit !== null) {
    const { auth } = fastify.discord
    await fastify.register(fastifyRateLimit, {
      max: opts.rateLimit.max,
      timeWindow: opts.rateLimit.timeWindowMs,
      // Shared across instances when Redis is configured; a Redis outage lets requests through rather than failing them,
      // and a hung Redis too: the breaker turns it into an error within redisCommandTimeout.
      ...(opts.redisBreaker == null ? {} : { store: breakerRateLimitStore(opts.redisBreaker, `${fastify.discord.options.redisKeyPrefix}ratelimit:`) }),
      skipOnError: true,
      // Per verified user when a session is presented (many users may share one NAT'd IP), per IP otherwise.
      // A token that does not verify counts against its IP: inventing user ids must not buy fresh quotas.
      keyGenerator: (request) => {
        try {
          const user = auth.identify(request)
          if (user !== null) return `user:${user.id}`
        } catch { /* invalid or unconfigured session: fall back to the IP */ }
        return `ip:${request.ip}`
      },
      errorResponseBuilder: (_request, context) => new RateLimitedError(context.after)
    })
  }

  // Before any route: each response schema in a form fast-json-stringify needs no validator for.
  fastify.addHook('onRoute', simplifyRouteResponses)
  await fastify.register(statusRoutes)
  await fastify.register(authRoutes)
  // Routes that ask for it (config.discordReadCache) answer from kept pages while the store is unchanged.
  if (opts.readCache != null) fastify.addHook('onRoute', opts.readCache.onRoute)
  await fastify.register(guildRoutes)
  await fastify.register(roleMappingRoutes)
  await fastify.register(userRoutes)
  await fastify.register(syncRoutes, { namer: opts.members.namer })
  await fastify.register(adminRoutes, { healthChecker: opts.healthChecker, requestActivity: opts.requestActivity })
  await fastify.register(webhookRoutes, { webhooks: opts.webhooks })
  await fastify.register(memberRoutes, { members: opts.members, membership: opts.membership })

  if (openapi !== null) {
    fastify.get('/openapi.json', { schema: { hide: true } }, async () => await openapi.document())
  }

  // A path under the prefix that no route matches (a typo, a method the route lacks, a client
  // that normalised "/guilds/.." away) answers in the plugin's error shape too. Without a prefix
  // every unmatched URL of the host (or of the host's prefixed context we would share) would
  // land here, so the host's 404 stays the host's.
  if (opts.prefix !== undefined && opts.prefix !== '') {
    fastify.setNotFoundHandler(async (request) => {
      // The path only: a query string may carry an OAuth code or state.
      throw new NotFoundError(`Route ${request.method} ${request.url.split('?', 1)[0] as string} not found`)
    })
  }
}

export default routes
