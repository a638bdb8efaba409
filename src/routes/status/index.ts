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
  }),
  gateway: Type.Optional(Type.Object({
    leader: Type.Boolean({ description: 'This instance holds the Gateway connections (one instance does across a Redis-sharing cluster)' }),
    connections: Type.Integer({ description: 'Bot tokens with a connection held by this instance' }),
    connected: Type.Integer({ description: 'Of those, connected now' }),
    resumes: Type.Integer({ description: 'Sessions resumed after drops, summed over connections' })
  }, { description: 'The live Gateway; absent when it is off' }))
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
    const live = fastify.discord.gateway?.status()
    if (live?.enabled === true) {
      const connected = live.connections.filter((c) => c.status === 'connected').length
      Object.assign(report, { gateway: { leader: live.leader, connections: live.connections.length, connected, resumes: live.connections.reduce((n, c) => n + c.resumes, 0) } })
    }
    return reply.status(report.status === 'unhealthy' ? 503 : 200).send(report)
  })
}

export default statusRoutes
