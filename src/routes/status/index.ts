import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { readStoreUsage } from '../../health/store-usage.js'
import { HealthResponse, presentStoreUsage } from '../../schemas/status.js'

/** The most an admin's status read waits for the store's figures before answering without them. */
const STORE_USAGE_TIMEOUT_MS = 2000

/**
 * GET /status: public module health. 200 when healthy or degraded, 503 when unhealthy (for load
 * balancers). An admin session also gets `store`: its size and rows per table (issue 18), so
 * growth is visible, and the job backend with its queue's depth; an invalid or expired session reads it as anonymous, as a load balancer does.
 */
const statusRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  const { auth, store, jobs } = fastify.discord
  fastify.get('/status', {
    preValidation: auth.sessionIfValid,
    schema: {
      tags: ['discord'],
      summary: 'Discord module status (store size and rows per table for admins)',
      response: { 200: HealthResponse, 503: HealthResponse }
    }
  }, async (request, reply) => {
    const report = await fastify.discord.health()
    const live = fastify.discord.gateway?.status()
    if (live?.enabled === true) {
      const connected = live.connections.filter((c) => c.status === 'connected').length
      Object.assign(report, { gateway: { leader: live.leader, connections: live.connections.length, connected, resumes: live.connections.reduce((n, c) => n + c.resumes, 0) } })
    }
    const status = report.status === 'unhealthy' ? 503 : 200
    const user = request.discordAuth
    if (user == null || !(await auth.isAdmin(user, request))) return reply.status(status).send(report)
    const stats = report.checks.store === 'ok'
      ? await readStoreUsage(store, STORE_USAGE_TIMEOUT_MS, (err) => request.log.warn({ err: { message: (err as Error)?.message } }, 'store stats failed'))
      : null
    const queue = await jobs.stats().catch((err: unknown) => {
      request.log.warn({ err: { message: (err as Error)?.message } }, 'job queue stats failed')
      return null
    })
    // Row counts of a deployment are not for shared caches.
    return reply.status(status).header('cache-control', 'private, no-store').send({ ...report, store: presentStoreUsage(store.kind, stats), jobs: { backend: jobs.backend, role: jobs.role, queue } })
  })
}

export default statusRoutes
