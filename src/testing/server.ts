import Fastify, { type FastifyInstance } from 'fastify'
import type { SimContext } from './context.js'
import { authorizePlugin } from './oauth/authorize.js'
import { registerCurrentAuthorizationRoute } from './oauth/current-authorization.js'
import { registerTokenRoutes } from './oauth/token-routes.js'
import { installBodyParsers } from './rest/body.js'
import { apiPlugin } from './rest/pipeline.js'
import type { ApiRouter } from './rest/request.js'
import { registerGatewayRoutes } from './rest/routes/gateway.js'
import { registerGuildRoutes } from './rest/routes/guilds.js'
import { registerMemberRoutes } from './rest/routes/members.js'
import { registerJoinRoutes } from './rest/routes/join.js'
import { registerRoleConnectionRoutes } from './rest/routes/role-connections.js'
import { registerMessageRoutes } from './rest/routes/messages.js'
import { registerUserRoutes } from './rest/routes/users.js'

/*
 * The HTTP server: the API (every route behind the request pipeline) under /api/v10 and /api,
 * and the OAuth2 consent page, which is a site page rather than an API route.
 */

function registerApiRoutes (sim: SimContext, router: ApiRouter): void {
  registerGuildRoutes(sim, router)
  registerMemberRoutes(sim, router)
  registerJoinRoutes(sim, router)
  registerRoleConnectionRoutes(sim, router)
  registerMessageRoutes(sim, router)
  registerUserRoutes(sim, router)
  registerGatewayRoutes(sim, router)
  registerCurrentAuthorizationRoute(sim, router)
  registerTokenRoutes(sim, router)
}

/** A Fastify instance with every route registered, ready to listen. */
export async function createServer (sim: SimContext, options: { trustProxy: boolean }): Promise<FastifyInstance> {
  const app = Fastify({
    logger: false,
    trustProxy: options.trustProxy,
    // No implicit HEAD routes: Discord's route table is explicit, and a HEAD would bypass the bucket table.
    exposeHeadRoutes: false,
    // close() must not wait for keep-alive sockets of clients that forgot to close their pools.
    forceCloseConnections: true,
    return503OnClosing: false,
    // Discord decodes percent-escapes in paths: discord-api-types builds '/users/%40me' and the real API
    // serves it as '/users/@me'. The router matches literal segments, so '@' is decoded before routing.
    rewriteUrl: (req) => {
      const url = req.url ?? '/'
      const q = url.indexOf('?')
      const path = q === -1 ? url : url.slice(0, q)
      return path.replace(/%40/gi, '@') + (q === -1 ? '' : url.slice(q))
    }
  })
  installBodyParsers(app)

  const routes = (router: ApiRouter): void => registerApiRoutes(sim, router)
  // Versioned and unversioned API (docs/reference.mdx: omitting the version routes to the default one;
  // the simulator only speaks v10, so /api is an alias).
  await app.register(apiPlugin(sim, routes), { prefix: '/api/v10' })
  await app.register(apiPlugin(sim, routes), { prefix: '/api' })
  // discord.com/oauth2/authorize, and the API-based spellings some clients use.
  await app.register(authorizePlugin(sim))
  await app.register(authorizePlugin(sim), { prefix: '/api/v10' })
  await app.register(authorizePlugin(sim), { prefix: '/api' })
  return app
}
