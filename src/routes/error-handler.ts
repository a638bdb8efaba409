import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import { STATUS_CODES } from 'node:http'

/*
 * One error shape for every route of the plugin. Client errors keep their stable
 * code; schema validation becomes FST_DISCORD_VALIDATION; unexpected 5xx are logged
 * in full but answered with a generic message, because driver and network errors
 * can carry connection strings or request details that must not reach a client.
 */
export function discordErrorHandler (err: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  if (err.validation) {
    const where = err.validationContext ?? 'request'
    reply.status(400).send({
      statusCode: 400,
      code: 'FST_DISCORD_VALIDATION',
      error: STATUS_CODES[400] as string,
      message: `Invalid ${where}: ${err.message.replace(/^(body|querystring|params|headers)\s*/, '')}`
    })
    return
  }
  const statusCode = typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 600 ? err.statusCode : 500
  const ours = typeof err.code === 'string' && err.code.startsWith('FST_DISCORD_')
  if (statusCode >= 500 && !ours) {
    request.log.error({ err }, 'unexpected error in fastify-discord-sync route')
    reply.status(500).send({ statusCode: 500, code: 'FST_DISCORD_INTERNAL', error: STATUS_CODES[500] as string, message: 'Internal error' })
    return
  }
  if (statusCode >= 500) request.log.warn({ code: err.code }, err.message)
  // A 429 of ours says when to come back (seconds), as @fastify/rate-limit's own answers do.
  const retryAfter = (err as { retryAfter?: unknown }).retryAfter
  if (statusCode === 429 && typeof retryAfter === 'number') reply.header('retry-after', String(retryAfter))
  reply.status(statusCode).send({
    statusCode,
    code: typeof err.code === 'string' ? err.code : `FST_DISCORD_HTTP_${statusCode}`,
    error: STATUS_CODES[statusCode] ?? 'Error',
    message: err.message
  })
}
