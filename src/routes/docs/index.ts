import type { FastifyPluginAsync } from 'fastify'
import fastifySwaggerUi from '@fastify/swagger-ui'

/*
 * The API reference page: @fastify/swagger-ui over the OpenAPI document @fastify/swagger builds
 * in the same encapsulated context (so it shows the plugin's routes only, never the host's).
 * The page loads the document from /docs/json, the same object GET /openapi.json answers.
 * Its assets come from the package (no CDN), and nothing leaves the origin: the online
 * validator badge (validator.swagger.io) is off.
 */
const apiDocsRoutes: FastifyPluginAsync = async (fastify) => {
  await fastify.register(fastifySwaggerUi, {
    routePrefix: '/docs',
    uiConfig: { validatorUrl: null, deepLinking: true },
    // swagger-ui's own CSP, minus upgrade-insecure-requests: the page is also opened over plain
    // http on loopback (the demo, a developer's host), where upgrading its assets would break it.
    staticCSP: true,
    transformStaticCSP: (header) => header.replace(/\s*upgrade-insecure-requests;?/, '')
  })
}

export default apiDocsRoutes
