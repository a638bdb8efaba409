import type { FastifyInstance, RouteHandlerMethod, RouteOptions } from 'fastify'
import type { SwaggerOptions } from '@fastify/swagger'
import { PACKAGE_VERSION } from '../../discord/defaults.js'
import { forwardTo, lazyApp } from '../deferred-app.js'

/*
 * The OpenAPI document (GET /openapi.json) and the API reference page (GET /docs), built on
 * their first request (issue 16, part 4): @fastify/swagger loads yaml and json-schema-resolver
 * when it is registered, and @fastify/swagger-ui loads @fastify/static and registers a dozen
 * routes, all paid by every process at start while the document is read rarely.
 *
 * @fastify/swagger describes the routes its onRoute hook sees: those registered in this context
 * after it. This records the same routes at the same place (openApi() is called where the plugin
 * used to register @fastify/swagger), and on first use replays them, with the very same schema
 * objects, into an instance of our own that carries @fastify/swagger (and, for the page,
 * @fastify/swagger-ui at the same paths; routes/deferred-app.ts forwards its requests). Hidden
 * routes are left out of the replay, as @fastify/swagger leaves them out of the document. The
 * routes there never run, so their schemas are not compiled.
 */

/** @fastify/swagger's options: OpenAPI 3.1, the plugin's security schemes. */
function swaggerOptions (cookieName: string): SwaggerOptions {
  return {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'fastify-discord-sync', version: PACKAGE_VERSION, description: 'Discord OAuth2 login and linking, guild bot configuration, group to role mappings and role sync' },
      components: {
        securitySchemes: {
          bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
          cookieAuth: { type: 'apiKey', in: 'cookie', name: cookieName }
        }
      }
    }
  }
}

/*
 * The API reference page: @fastify/swagger-ui over the document above (so it shows the plugin's
 * routes only, never the host's). The page loads the document from /docs/json, the same object
 * GET /openapi.json answers. Its assets come from the package (no CDN), and nothing leaves the
 * origin: the online validator badge (validator.swagger.io) is off.
 */
const UI_OPTIONS = {
  uiConfig: { validatorUrl: null, deepLinking: true },
  // swagger-ui's own CSP, minus upgrade-insecure-requests: the page is also opened over plain
  // http on loopback (the demo, a developer's host), where upgrading its assets would break it.
  staticCSP: true,
  transformStaticCSP: (header: string) => header.replace(/\s*upgrade-insecure-requests;?/, '')
}

/** The document of this context's routes, built on first use. */
export interface OpenApi {
  document: () => Promise<unknown>
  /** Serves the reference page at /docs (call where the page's routes belong). */
  serveDocs: () => void
}

const noop = async (): Promise<void> => {}

/** Starts recording this context's routes for the OpenAPI document (call before registering them). */
export function openApi (fastify: FastifyInstance, options: { cookieName: string, apiDocs: boolean }): OpenApi {
  const routes: RouteOptions[] = []
  fastify.addHook('onRoute', (route) => { routes.push(route) })
  const prefix = fastify.prefix
  const app = lazyApp(fastify, async (own) => {
    const [{ default: fastifySwagger }, ui] = await Promise.all([
      import('@fastify/swagger'),
      options.apiDocs ? import('@fastify/swagger-ui') : null
    ])
    own.setValidatorCompiler(() => () => true)
    own.setSerializerCompiler(() => (data) => JSON.stringify(data))
    // Shared schemas (a host's addSchema) are described as @fastify/swagger found them here.
    for (const schema of Object.values(fastify.getSchemas())) own.addSchema(schema)
    await own.register(fastifySwagger, swaggerOptions(options.cookieName))
    await own.register(async (replay) => {
      for (const r of routes) {
        if ((r.schema as { hide?: unknown } | undefined)?.hide === true) continue
        replay.route({ method: r.method, url: r.url, schema: r.schema, config: r.config, constraints: r.constraints, exposeHeadRoute: false, handler: noop, ...(r.links === undefined ? {} : { links: r.links }) })
      }
    })
    // Under this context's prefix, as it was registered here: the page's asset URLs are built from routePrefix.
    if (ui !== null) await own.register(async (scope) => { await scope.register(ui.default, { ...UI_OPTIONS, routePrefix: '/docs' }) }, { prefix })
  })
  return {
    document: async () => (await app.get() as unknown as { swagger: () => unknown }).swagger(),
    serveDocs: () => {
      const forward = forwardTo(fastify, ['/docs/*'], app)
      // swagger-ui's page at /docs (no slash) links its assets at /docs/static/..., without this
      // context's prefix, so they 404 under /discord. /docs/ links them relatively: send the
      // browser there (a relative Location, right behind a proxy that rewrites the prefix too).
      // A router that ignores trailing slashes routes /docs/ here as well: that one is forwarded.
      const toSlash: RouteHandlerMethod = async function (request, reply) {
        const at = request.url.indexOf('?')
        const path = at === -1 ? request.url : request.url.slice(0, at)
        if (path.endsWith('/')) return await forward.call(this, request, reply)
        return await reply.redirect(`${path.slice(path.lastIndexOf('/') + 1)}/${at === -1 ? '' : request.url.slice(at)}`, 302)
      }
      fastify.route({ method: 'GET', url: '/docs', exposeHeadRoute: false, schema: { hide: true }, handler: toSlash })
      fastify.route({ method: 'HEAD', url: '/docs', schema: { hide: true }, handler: toSlash })
    }
  }
}
