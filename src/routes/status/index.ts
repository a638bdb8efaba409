import { Type } from '@sinclair/typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'

const HealthResponse = Type.Object({
  module: Type.Literal('discord'),
  status: Type.Union([Type.Literal('healthy'), Type.Literal('degraded'), Type.Literal('unhealthy')]),
  message: Type.String(),
  checks: Type.Object({
    store: Type.Union([Type.Literal('ok'), Type.Literal('unreachable')]),
    redis: Type.Union([Type.Literal('ok'), Type.Literal('unreachable'), Type.Literal('not_configured')]),
    discord: Type.Union([Type.Literal('configured'), Type.Literal('not_configured')])
  })
})

/** GET /status: public module health. 200 when healthy or degraded, 503 when unhealthy (for load balancers). */
const statusRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.get('/status', {
    schema: {
      tags: ['discord'],
      summary: 'Discord module status',
      response: { 200: HealthResponse, 503: HealthResponse }
    }
  }, async (_request, reply) => {
    const report = await fastify.discord.health()
    return reply.status(report.status === 'unhealthy' ? 503 : 200).send(report)
  })
}

export default statusRoutes
