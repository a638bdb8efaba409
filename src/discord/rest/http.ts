import type { Dispatcher } from 'undici'
import { describeFailure } from '../errors/discord-api-error.js'
import { DiscordNetworkError } from '../errors/network-error.js'
import { DiscordTimeoutError } from '../errors/timeout-error.js'
import type { ResolvedRestOptions } from '../options.js'
import type { RouteInfo } from '../route.js'
import type { InternalRequest } from '../types.js'
import { encodeAuditLogReason } from '../util.js'
import type { RawResponse } from './outcome.js'

/**
 * The wire: builds one HTTP request (headers, body, query) and sends it through undici,
 * within `timeoutMs`. Knows nothing of rate limits or retries; a timeout or a failed
 * connection comes back as a typed error for the transport to retry.
 */
export class HttpSender {
  /** The caller's dispatcher, or our Agent once the first request has created it. */
  #dispatcher: Dispatcher | null
  /** Our Agent while undici loads (first request only); null when the caller passed a dispatcher. */
  #agent: Promise<Dispatcher> | null = null
  readonly #agentOptions: { connections: number, keepAliveTimeout: number }
  readonly #origin: string
  readonly #basePath: string
  readonly #userAgent: string
  readonly #timeoutMs: number

  constructor (opts: ResolvedRestOptions) {
    const base = new URL(opts.baseUrl)
    this.#origin = base.origin
    this.#basePath = base.pathname.replace(/\/+$/, '')
    this.#userAgent = opts.userAgent
    this.#timeoutMs = opts.timeoutMs
    this.#dispatcher = opts.dispatcher ?? null
    this.#agentOptions = { connections: opts.connections, keepAliveTimeout: opts.keepAliveTimeoutMs }
  }

  /*
   * undici is loaded by the first request, not at start-up (issue 16, part 4): it is 8–9 MB and
   * ~150 ms of a process that may serve reads for a long time before it calls Discord.
   */
  async #ownAgent (): Promise<Dispatcher> {
    this.#agent ??= import('undici').then(({ Agent }) => {
      const agent = new Agent(this.#agentOptions)
      this.#dispatcher = agent
      return agent
    }).catch((err: unknown) => { this.#agent = null; throw err })
    return await this.#agent
  }

  /** Closes the undici Agent if this sender created it; a dispatcher the caller passed in is theirs to close. */
  async close (): Promise<void> {
    const agent = await this.#agent?.catch(() => null)
    await agent?.close()
  }

  /** Sends one HTTP request and reads the whole body, within `timeoutMs`. */
  async send (request: InternalRequest, route: RouteInfo): Promise<RawResponse> {
    const headers: Record<string, string> = { 'user-agent': this.#userAgent }
    const authorization = request.credential.authorization()
    if (authorization !== undefined) headers.authorization = authorization
    let body: string | undefined
    if (request.form !== undefined) {
      headers['content-type'] = 'application/x-www-form-urlencoded'
      body = new URLSearchParams(request.form).toString()
    } else if (request.body !== undefined) {
      headers['content-type'] = 'application/json'
      body = JSON.stringify(request.body)
    }
    const reason = encodeAuditLogReason(request.reason)
    if (reason !== undefined && request.method !== 'GET') headers['x-audit-log-reason'] = reason
    let path = `${this.#basePath}${request.path}`
    if (request.query !== undefined) {
      const params = new URLSearchParams()
      for (const [key, value] of Object.entries(request.query)) if (value !== undefined) params.set(key, String(value))
      const qs = params.toString()
      if (qs.length > 0) path += `?${qs}`
    }
    // Before the clock starts: loading undici (first request only) is not Discord's answer time.
    const dispatcher = this.#dispatcher ?? await this.#ownAgent()
    const timeout = AbortSignal.timeout(this.#timeoutMs)
    const signal = request.signal === undefined ? timeout : AbortSignal.any([request.signal, timeout])
    try {
      const res = await dispatcher.request({ origin: this.#origin, path, method: request.method, headers, body: body ?? null, signal })
      const text = await res.body.text()
      return { status: res.statusCode, headers: res.headers, text }
    } catch (err) {
      if (request.signal?.aborted === true) throw request.signal.reason
      if (timeout.aborted) {
        throw new DiscordTimeoutError({
          method: request.method,
          route: route.template,
          timeoutMs: this.#timeoutMs,
          message: describeFailure(`No complete answer from Discord within ${this.#timeoutMs} ms`, request.method, route.template)
        })
      }
      const e = err as { code?: unknown, message?: unknown }
      const networkCode = typeof e.code === 'string' ? e.code : undefined
      throw new DiscordNetworkError({
        method: request.method,
        route: route.template,
        networkCode,
        message: describeFailure(`Connection to Discord failed${networkCode === undefined ? '' : ` (${networkCode})`}: ${typeof e.message === 'string' ? e.message : 'unknown error'}`, request.method, route.template)
      })
    }
  }
}
