import type { FastifyError, FastifyInstance } from 'fastify'
import type { SimContext } from '../context.js'
import { INTERNAL_ERRORS_KEPT } from '../retention.js'
import { Errors, HttpError } from './errors.js'

/*
 * How the API answers what no handler answered: unknown paths and methods, thrown error answers,
 * body-parser failures, and unexpected exceptions (500, kept for tests in sim.internalErrors: the first
 * INTERNAL_ERRORS_KEPT, enough to show the cause without growing while a broken route keeps failing).
 */

const patterns = new Map<string, RegExp>()

/** '/guilds/:guild_id/members' -> /^\/guilds\/[^/]+\/members$/ */
function templatePattern (template: string): RegExp {
  let re = patterns.get(template)
  if (re === undefined) {
    const body = template.split('/').map((seg) => (seg.startsWith(':') ? '[^/]+' : seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))).join('\\/')
    re = new RegExp(`^${body}$`)
    patterns.set(template, re)
  }
  return re
}

/** Installs the not-found and error handlers of one API plugin instance (`app.prefix` is its API prefix). */
export function installErrorHandlers (sim: SimContext, app: FastifyInstance): void {
  const prefix = app.prefix

  // A known path with another method is a 405 (opcodes-and-status-codes.mdx "405 (METHOD NOT ALLOWED)"),
  // anything else a 404; both in Discord's `{ message, code: 0 }` shape.
  app.setNotFoundHandler(async (request, reply) => {
    const url = request.raw.url ?? request.url
    const path = (url.split('?')[0] ?? '').slice(prefix.length)
    const known = [...sim.routes.keys()].some((key) => templatePattern(key.slice(key.indexOf(' ') + 1)).test(path))
    if (known) reply.code(405).send(Errors.methodNotAllowed().body)
    else reply.code(404).send(Errors.notFound().body)
  })

  app.setErrorHandler(async (error: FastifyError | HttpError, request, reply) => {
    const spec = sim.requestCtx.get(request)?.spec ?? null
    if (error instanceof HttpError) {
      return reply.code(error.status).headers(error.headers).send(error.body)
    }
    const code = (error as FastifyError).code
    if (code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' || code === 'FST_ERR_CTP_INVALID_TYPE') {
      if (spec?.oauth === true) {
        return reply.code(400).header('cache-control', 'no-store').send({ error: 'invalid_request', error_description: 'Content-Type must be application/x-www-form-urlencoded' })
      }
      return reply.code(400).send({
        message: 'Invalid Form Body',
        code: 50035,
        errors: { _errors: [{ code: 'CONTENT_TYPE_INVALID', message: 'Expected "Content-Type" header to be one of {\'application/json\', \'application/x-www-form-urlencoded\', \'multipart/form-data\'}.' }] }
      })
    }
    if (code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      return reply.code(413).send({ message: 'Request entity too large', code: 40005 })
    }
    if (sim.internalErrors.length < INTERNAL_ERRORS_KEPT) sim.internalErrors.push(error as Error)
    return reply.code(500).send({ message: '500: Internal Server Error', code: 0 })
  })
}
