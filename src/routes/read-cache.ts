import { performance } from 'node:perf_hooks'
import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction, onSendHookHandler, preHandlerHookHandler, RouteOptions } from 'fastify'
import type { ResolvedReadCacheOptions } from '../options/index.js'

/*
 * Rendered answers of the admin list routes, reused while the store reports no change (issue 16,
 * part 3: a page of 20 rows costs a query, a JSON parse per row, presenters and a serialiser; an
 * operator's UI and scripts read the same pages again and again between syncs). A page is kept
 * with the store's change mark read before it was built: a write during the build leaves the
 * kept page with an older mark, so the next read builds again. Only routes whose answer follows
 * from their URL and the store alone take part (never one that depends on who asks), and only
 * 200 answers are kept, unless the handler marked its answer `cache-control: no-store`.
 */

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * fastify-discord-sync: answer this GET route from a kept page while the store reports no
     * change. Only for routes whose answer follows from their URL and the store alone.
     */
    discordReadCache?: boolean
  }
}

interface Kept {
  mark: string
  at: number
  body: string
  type: string
}

export class ReadCache {
  readonly #opts: ResolvedReadCacheOptions
  readonly #mark: () => string
  readonly #now: () => number
  readonly #pages = new Map<string, Kept>()
  /** Requests that missed, with the mark read before their page was built. */
  readonly #building = new WeakMap<FastifyRequest, { key: string, mark: string, at: number }>()
  #chars = 0
  readonly #stats = { hits: 0, misses: 0 }

  constructor (opts: ResolvedReadCacheOptions, mark: () => string, now: () => number = () => performance.now()) {
    this.#opts = opts
    this.#mark = mark
    this.#now = now
  }

  /** Kept pages and their size in characters; hits and misses since start. */
  stats (): { pages: number, chars: number, hits: number, misses: number } {
    return { pages: this.#pages.size, chars: this.#chars, ...this.#stats }
  }

  /**
   * An onRoute hook: a GET route whose `config.discordReadCache` is true gets this cache's
   * preHandler last (after the route's own, which may authorise the caller; the query is
   * validated by then), answering from a kept page, and its onSend last, keeping what the
   * handler rendered.
   */
  readonly onRoute = (route: RouteOptions): void => {
    if (route.method !== 'GET' || route.config?.discordReadCache !== true) return
    route.preHandler = [...hooks(route.preHandler), this.#lookup]
    route.onSend = [...hooks(route.onSend), this.#keep]
  }

  readonly #lookup: preHandlerHookHandler = (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction): void => {
    // The path with its query string as the client sent it: two spellings of one query are two pages.
    const key = request.url
    const mark = this.#mark()
    const now = this.#now()
    const kept = this.#pages.get(key)
    if (kept !== undefined && kept.mark === mark && now - kept.at <= this.#opts.maxAgeMs) {
      this.#stats.hits++
      // Most recently read last: eviction takes from the front.
      this.#pages.delete(key)
      this.#pages.set(key, kept)
      // Answered here: done() is not called, so the handler does not run.
      reply.header('content-type', kept.type).send(kept.body)
      return
    }
    this.#stats.misses++
    this.#building.set(request, { key, mark, at: now })
    done()
  }

  readonly #keep: onSendHookHandler<unknown> = (request, reply, payload, done) => {
    const building = this.#building.get(request)
    // A handler marks an answer that depends on more than the store (a run in progress here) no-store.
    if (building !== undefined && reply.statusCode === 200 && typeof payload === 'string' && !noStore(reply.getHeader('cache-control'))) {
      const type = reply.getHeader('content-type')
      if (typeof type === 'string') this.#put(building.key, { mark: building.mark, at: building.at, body: payload, type })
    }
    done(null, payload)
  }

  #put (key: string, page: Kept): void {
    const old = this.#pages.get(key)
    if (old !== undefined) {
      this.#pages.delete(key)
      this.#chars -= old.body.length
    }
    if (page.body.length > this.#opts.maxChars / 8) return
    this.#pages.set(key, page)
    this.#chars += page.body.length
    for (const [k, v] of this.#pages) {
      if (this.#pages.size <= this.#opts.maxEntries && this.#chars <= this.#opts.maxChars) break
      this.#pages.delete(k)
      this.#chars -= v.body.length
    }
  }
}

/**
 * The cache for this store, or null when it is turned off or the store cannot tell when its data
 * changed (then routes keep no hooks at all).
 */
export function readCacheFor (opts: ResolvedReadCacheOptions | null, store: { changeMark?: () => string }): ReadCache | null {
  if (opts === null || typeof store.changeMark !== 'function') return null
  const marked = store as { changeMark: () => string }
  return new ReadCache(opts, () => marked.changeMark())
}

function noStore (cacheControl: unknown): boolean {
  return typeof cacheControl === 'string' && cacheControl.includes('no-store')
}

function hooks<H> (h: H | H[] | undefined): H[] {
  return h === undefined ? [] : Array.isArray(h) ? h : [h]
}
