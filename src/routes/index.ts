import type { FastifyPluginAsync } from 'fastify'
import { discordErrorHandler } from './error-handler.js'
import statusRoutes from './status/index.js'
import authRoutes from './auth/index.js'

/** Every route group of the plugin, mounted in one encapsulated context under the prefix. */
const routes: FastifyPluginAsync = async (fastify) => {
  fastify.setErrorHandler(discordErrorHandler)
  await fastify.register(statusRoutes)
  await fastify.register(authRoutes)
}

export default routes
