import type { FastifyPluginAsync } from 'fastify'
import fastifyCookie from '@fastify/cookie'
import { discordErrorHandler } from './error-handler.js'
import statusRoutes from './status/index.js'
import authRoutes from './auth/index.js'

/** Every route group of the plugin, mounted in one encapsulated context under the prefix. */
const routes: FastifyPluginAsync = async (fastify) => {
  fastify.setErrorHandler(discordErrorHandler)
  // Session cookies are read and set by our routes; a host that registered @fastify/cookie keeps its own.
  if (!fastify.hasRequestDecorator('cookies')) await fastify.register(fastifyCookie)
  await fastify.register(statusRoutes)
  await fastify.register(authRoutes)
}

export default routes
