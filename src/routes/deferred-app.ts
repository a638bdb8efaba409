import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest, FastifyServerOptions, RouteHandlerMethod } from 'fastify'

/*
 * Pages and files built on their first request instead of at start-up (issue 16, part 4).
 *
 * The admin UI (@fastify/static, glob, one route per file) and the API reference
 * (@fastify/swagger-ui, yaml, @fastify/static again) were a quarter of the standalone server's
 * start, paid by every process, including workers and API processes nobody opens a browser on.
 * Their paths are now answered by a catch-all route here; the first request builds a Fastify
 * instance of our own that never listens, with the real plugin registered at the very same
 * paths and router options, and each request is handed to it (inject). Its answer is sent as
 * this route's: status, headers and body unchanged, through this context's hooks and the
 * host's (onSend, logging, shutdown). What the inner instance does not route, and the errors it
 * raises, come back out: a 404 goes to this context's not-found handler and an error to its
 * error handler, as when the plugin's routes were registered here. A failed build is not kept:
 * the next request tries again.
 */

/** A Fastify instance of our own, built on first use, closed with the outer one. */
export interface LazyApp {
  get: () => Promise<FastifyInstance>
  close: () => Promise<void>
}

type Outcome = { notFound: true } | { error: FastifyError }

/** Request header that ties an injected request to the outcome its handlers record (never leaves the process). */
const TICKET = 'x-fastify-discord-sync-deferred'
/** Connection-level headers of the inner answer: the outer server writes its own. */
const NOT_FORWARDED = new Set(['connection', 'keep-alive', 'transfer-encoding', 'date'])

/**
 * A lazily built Fastify instance. `build` registers what it serves; the instance gets the
 * outer instance's router options, so the same URLs match, and hands not-found and errors back.
 */
export function lazyApp (outer: FastifyInstance, build: (own: FastifyInstance) => Promise<void>): LazyApp & { outcomes: Map<string, Outcome> } {
  const outcomes = new Map<string, Outcome>()
  let loading: Promise<FastifyInstance> | null = null
  const load = async (): Promise<FastifyInstance> => {
    const { default: Fastify } = await import('fastify')
    const c = outer.initialConfig
    // useSemicolonDelimiter is a router option Fastify accepts that its types do not list yet.
    const routerOptions = { caseSensitive: c.caseSensitive, ignoreTrailingSlash: c.ignoreTrailingSlash, ignoreDuplicateSlashes: c.ignoreDuplicateSlashes, maxParamLength: c.maxParamLength, useSemicolonDelimiter: c.useSemicolonDelimiter }
    const own = Fastify({ logger: false, exposeHeadRoutes: (c as { exposeHeadRoutes?: boolean }).exposeHeadRoutes ?? true, routerOptions: routerOptions as FastifyServerOptions['routerOptions'] })
    const ticket = (request: FastifyRequest): string => String(request.headers[TICKET])
    own.setNotFoundHandler(async (request, reply) => {
      outcomes.set(ticket(request), { notFound: true })
      return await reply.code(404).send('')
    })
    own.setErrorHandler(async (err: FastifyError, request, reply) => {
      outcomes.set(ticket(request), { error: err })
      return await reply.code(500).send('')
    })
    try {
      await build(own)
      await own.ready()
    } catch (err) {
      await own.close().catch(() => {})
      throw err
    }
    return own
  }
  const close = async (): Promise<void> => {
    const own = await loading?.catch(() => null)
    await own?.close()
  }
  outer.addHook('onClose', close)
  return {
    outcomes,
    close,
    get: async () => {
      loading ??= load().catch((err: unknown) => { loading = null; throw err })
      return await loading
    }
  }
}

let tickets = 0

/**
 * Registers GET and HEAD catch-alls for `paths` (relative to this context, hidden from the
 * OpenAPI document) whose requests are answered by `app`; returns the handler, for routes that
 * forward only some of their requests.
 */
export function forwardTo (fastify: FastifyInstance, paths: string[], app: ReturnType<typeof lazyApp>): RouteHandlerMethod {
  const handler = async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    const own = await app.get()
    const ticket = String(++tickets)
    const headers: Record<string, string | string[]> = {}
    for (const [name, value] of Object.entries(request.headers)) {
      if (value !== undefined && name !== 'content-length' && name !== 'transfer-encoding') headers[name] = value
    }
    headers[TICKET] = ticket
    let res: Awaited<ReturnType<FastifyInstance['inject']>>
    let outcome: Outcome | undefined
    try {
      res = await own.inject({ method: request.method as 'GET' | 'HEAD', url: request.url, headers })
    } finally {
      outcome = app.outcomes.get(ticket)
      app.outcomes.delete(ticket)
    }
    // Headers the inner plugin's hooks set (swagger-ui's CSP) stay on a 404 or an error answer too.
    for (const [name, value] of Object.entries(res.headers)) {
      if (value === undefined || NOT_FORWARDED.has(name)) continue
      if (outcome === undefined || (name !== 'content-type' && name !== 'content-length')) reply.header(name, value)
    }
    if (outcome !== undefined && 'error' in outcome) throw outcome.error
    if (outcome !== undefined) {
      reply.callNotFound()
      return reply
    }
    reply.code(res.statusCode)
    // No body (a redirect, a 304, a HEAD): none is sent, so no content type is made up for it.
    return await (res.rawPayload.length === 0 ? reply.send() : reply.send(res.rawPayload))
  }
  // HEAD as a route of its own, as @fastify/static registers it: Fastify's automatic HEAD twin
  // would replace the inner answer's content-length with that of the (empty) body sent here.
  for (const url of paths) {
    fastify.route({ method: 'GET', url, exposeHeadRoute: false, schema: { hide: true }, handler })
    fastify.route({ method: 'HEAD', url, schema: { hide: true }, handler })
  }
  return handler as RouteHandlerMethod
}
