/*
 * Fault injection: server errors, latency and connection resets, deterministic for a
 * given seed so a failing test can be replayed. Every decision draws from one seeded
 * PRNG in request-arrival order; with concurrent requests that order is the arrival
 * order at the server.
 *
 * Faults happen in front of the API (as a load balancer or a failing node would): a
 * faulted request does not consume rate-limit budget, and a 5xx from here carries no
 * X-RateLimit-* headers (the docs call those headers optional, "for most API requests").
 */

export interface FaultOptions {
  /** Probability (0..1) that a request is answered with a 5xx. */
  errorRate?: number
  /** Statuses to choose from for injected errors (default [500, 502, 503]). */
  errorStatuses?: number[]
  /** Added latency in real ms: a fixed value or a [min, max] range drawn per request. */
  latencyMs?: number | [number, number]
  /** Probability (0..1) that the connection is destroyed without any response. */
  resetRate?: number
  /** PRNG seed (default 1). Setting faults again restarts the sequence. */
  seed?: number
  /** Limit faults to these route templates ('PATCH /guilds/:guild_id/members/:user_id'); all API routes when absent. */
  routes?: string[]
}

/**
 * A fault scripted for the next matching request(s), independent of the rates.
 * - `error`: a 5xx in front of the API (no rate-limit headers, no budget used);
 * - `reset`: the connection is reset without an answer;
 * - `malformed`: the API handles the request as usual (state changes, budget, headers), then its
 *   2xx body is replaced: cut in half (invalid JSON, as a truncated answer), or `body` when given
 *   (for a wrong shape). A 204 keeps its empty body.
 */
export interface ScriptedFault {
  kind: 'error' | 'reset' | 'malformed'
  /** For kind 'error' (default 500). */
  status?: number
  /** For kind 'malformed': the body to send instead of the real one (default: the real one cut in half). */
  body?: string
  route?: string
  /** How many matching requests get it (default 1). */
  times?: number
}

export interface FaultDecision {
  latencyMs: number
  reset: boolean
  errorStatus: number | null
  /** Replace the 2xx body: with this text, or with the real body cut in half when null; undefined: no change. */
  malformedBody?: string | null
}

/** mulberry32: small, fast, good enough for test scheduling, and reproducible. */
export function mulberry32 (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

function checkRate (name: string, v: number | undefined): void {
  if (v !== undefined && !(v >= 0 && v <= 1)) throw new RangeError(`${name} must be between 0 and 1, got ${v}`)
}

type PendingFault = Required<Omit<ScriptedFault, 'route' | 'status' | 'body'>> & { route?: string, status: number, body?: string }

export class FaultInjector {
  #options: FaultOptions = {}
  #random: () => number = mulberry32(1)
  readonly #scripted: PendingFault[] = []

  constructor (options: FaultOptions = {}) {
    this.set(options)
  }

  get options (): FaultOptions {
    return { ...this.#options }
  }

  set (options: FaultOptions): void {
    checkRate('errorRate', options.errorRate)
    checkRate('resetRate', options.resetRate)
    const latency = options.latencyMs
    if (latency !== undefined) {
      const [min, max] = Array.isArray(latency) ? latency : [latency, latency]
      if (!(min >= 0 && max >= min)) throw new RangeError('latencyMs must be >= 0 (or a [min, max] range with min <= max)')
    }
    for (const status of options.errorStatuses ?? []) {
      if (!(Number.isInteger(status) && status >= 500 && status <= 599)) throw new RangeError(`errorStatuses must be 5xx, got ${status}`)
    }
    this.#options = { ...options }
    this.#random = mulberry32(options.seed ?? 1)
  }

  script (fault: ScriptedFault): void {
    if (!['error', 'reset', 'malformed'].includes(fault.kind)) throw new RangeError(`fault kind must be error, reset or malformed, got ${String(fault.kind)}`)
    this.#scripted.push({
      kind: fault.kind,
      status: fault.status ?? 500,
      times: fault.times ?? 1,
      ...(fault.route !== undefined ? { route: fault.route } : {}),
      ...(fault.body !== undefined ? { body: fault.body } : {})
    })
  }

  clear (): void {
    this.set({})
    this.#scripted.length = 0
  }

  decide (route: string): FaultDecision {
    const scripted = this.#scripted.findIndex((f) => f.route === undefined || f.route === route)
    if (scripted !== -1) {
      const f = this.#scripted[scripted] as PendingFault
      if (--f.times <= 0) this.#scripted.splice(scripted, 1)
      return {
        latencyMs: 0,
        reset: f.kind === 'reset',
        errorStatus: f.kind === 'error' ? f.status : null,
        ...(f.kind === 'malformed' ? { malformedBody: f.body ?? null } : {})
      }
    }
    const o = this.#options
    if (o.routes !== undefined && !o.routes.includes(route)) return { latencyMs: 0, reset: false, errorStatus: null }
    let latencyMs = 0
    if (o.latencyMs !== undefined) {
      const [min, max] = Array.isArray(o.latencyMs) ? o.latencyMs : [o.latencyMs, o.latencyMs]
      latencyMs = min + (max - min) * this.#random()
    }
    // Always draw both numbers so one rate does not shift the other's sequence.
    const resetDraw = this.#random()
    const errorDraw = this.#random()
    const reset = (o.resetRate ?? 0) > resetDraw
    let errorStatus: number | null = null
    if (!reset && (o.errorRate ?? 0) > errorDraw) {
      const statuses = o.errorStatuses !== undefined && o.errorStatuses.length > 0 ? o.errorStatuses : [500, 502, 503]
      errorStatus = statuses[Math.floor(this.#random() * statuses.length)] as number
    }
    return { latencyMs, reset, errorStatus }
  }
}
