import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'

/** What the throwaway server saw. */
export interface Seen {
  at: number
  method: string
  url: string
  headers: Record<string, string | string[] | undefined>
  body: string
}

export interface LocalServer {
  app: FastifyInstance
  url: string
  seen: Seen[]
  close: () => Promise<void>
}

type Handler = (request: FastifyRequest, reply: FastifyReply, n: number) => unknown

/**
 * A tiny HTTP server on 127.0.0.1 for cases the simulator is not meant to
 * produce (invalid JSON with status 200, a specific header set). Every route
 * answers through `handler`, which also gets the 1-based count of requests so far.
 */
export async function localServer (handler: Handler): Promise<LocalServer> {
  const app = Fastify()
  const seen: Seen[] = []
  const started = performance.now()
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => done(null, body))
  app.all('/*', async (request, reply) => {
    seen.push({ at: performance.now() - started, method: request.method, url: request.url, headers: request.headers, body: typeof request.body === 'string' ? request.body : '' })
    return handler(request, reply, seen.length)
  })
  const address = await app.listen({ host: '127.0.0.1', port: 0 })
  return { app, url: `${address}/api/v10`, seen, close: () => app.close() }
}
