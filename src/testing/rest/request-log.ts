import type { RecordedRequest } from './request.js'

/*
 * The request log behind `sim.requests`: a ring buffer of the last `limit` requests (the oldest is
 * overwritten first, so a simulator left running keeps a fixed amount), next to counters per
 * (method, route template, status) that count every request ever answered and are never dropped.
 * A ring rather than an array trimmed with shift: trimming the front of a 100,000-entry array
 * costs a copy of the whole array per request, the ring costs nothing per request.
 */

/** How many requests the simulator answered for one (method, route template, status). */
export interface RequestCount {
  method: string
  /** Route template ('GET /guilds/:guild_id/members/:user_id'), or null for a path no route matches. */
  route: string | null
  /** HTTP status answered (0: the connection was reset without an answer). */
  status: number
  count: number
}

export class RequestLog {
  readonly limit: number
  #ring: RecordedRequest[] = []
  /** Index of the oldest entry once the ring is full (0 while it fills). */
  #start = 0
  #dropped = 0
  /** Oldest-first copy handed out by entries(); rebuilt only after the log changed. */
  #view: readonly RecordedRequest[] | null = null
  readonly #counts = new Map<string, RequestCount>()

  constructor (limit: number) {
    this.limit = limit
  }

  add (request: RecordedRequest): void {
    this.#tally(request)
    this.#view = null
    if (this.limit === 0) {
      this.#dropped++
    } else if (this.#ring.length < this.limit) {
      this.#ring.push(request)
    } else {
      this.#ring[this.#start] = request
      this.#start = (this.#start + 1) % this.#ring.length
      this.#dropped++
    }
  }

  /** The retained requests, oldest first (a frozen snapshot; cheap to read again until the next request). */
  entries (): readonly RecordedRequest[] {
    if (this.#view === null) {
      const ring = this.#ring
      this.#view = Object.freeze(this.#start === 0 ? ring.slice() : ring.slice(this.#start).concat(ring.slice(0, this.#start)))
    }
    return this.#view
  }

  /** Forgets the retained requests; the counters and the dropped count keep their values. */
  clear (): void {
    this.#ring = []
    this.#start = 0
    this.#view = null
  }

  /** Requests that left the log because it was full (not those removed by clear()). */
  get dropped (): number {
    return this.#dropped
  }

  /** Every request answered so far, per (method, route template, status), in order of first occurrence. */
  counts (): RequestCount[] {
    return [...this.#counts.values()].map((c) => ({ ...c }))
  }

  #tally (request: RecordedRequest): void {
    // Route templates and statuses are finite, so this map stays small whatever the traffic.
    // Unmatched paths share one key per method and status: their raw paths would make it unbounded.
    const key = `${request.method} ${request.route ?? ''} ${request.status}`
    const count = this.#counts.get(key)
    if (count !== undefined) count.count++
    else this.#counts.set(key, { method: request.method, route: request.route, status: request.status, count: 1 })
  }
}
