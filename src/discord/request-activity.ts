import type { DiscordRestClient } from './client.js'

/*
 * Discord requests and 429 answers per minute over the last hour, for the admin UI's chart.
 * A fixed ring of one slot per minute: memory does not grow with traffic or uptime, and a slot
 * is reset when its minute comes round again. Counts are this process's only (each instance
 * has its own client); Prometheus (`metrics`) is the place for fleet-wide history.
 */

/** One minute of the series: its start (epoch ms), requests answered, and how many were 429. */
export interface RequestMinute {
  minute: number
  requests: number
  rate_limited: number
}

const MINUTE_MS = 60_000

export class RequestActivity {
  readonly #size: number
  readonly #now: () => number
  /** The minute (epoch minutes) each slot counts, -1 when unused. */
  readonly #minuteOf: Float64Array
  readonly #requests: Uint32Array
  readonly #limited: Uint32Array

  /** @param minutes how many minutes are kept (60 by default). */
  constructor (o: { minutes?: number, now?: () => number } = {}) {
    this.#size = Math.max(1, Math.floor(o.minutes ?? 60))
    this.#now = o.now ?? Date.now
    this.#minuteOf = new Float64Array(this.#size).fill(-1)
    this.#requests = new Uint32Array(this.#size)
    this.#limited = new Uint32Array(this.#size)
  }

  /** Counts one answer from Discord (`rateLimited` when it was a 429). */
  record (rateLimited: boolean): void {
    const m = Math.floor(this.#now() / MINUTE_MS)
    const i = m % this.#size
    if (this.#minuteOf[i] !== m) {
      this.#minuteOf[i] = m
      this.#requests[i] = 0
      this.#limited[i] = 0
    }
    this.#requests[i] = (this.#requests[i] ?? 0) + 1
    if (rateLimited) this.#limited[i] = (this.#limited[i] ?? 0) + 1
  }

  /** The kept minutes, oldest first, ending with the current one; minutes without traffic read 0. */
  series (): RequestMinute[] {
    const current = Math.floor(this.#now() / MINUTE_MS)
    const out: RequestMinute[] = []
    for (let m = current - this.#size + 1; m <= current; m++) {
      const i = ((m % this.#size) + this.#size) % this.#size
      const used = this.#minuteOf[i] === m
      out.push({ minute: m * MINUTE_MS, requests: used ? this.#requests[i] ?? 0 : 0, rate_limited: used ? this.#limited[i] ?? 0 : 0 })
    }
    return out
  }

  /** Counts the client's answers (every attempt, retries included) until the returned function is called. */
  observe (client: DiscordRestClient): () => void {
    const onResponse = (e: { status: number }): void => { this.record(e.status === 429) }
    client.on('response', onResponse)
    return () => { client.off('response', onResponse) }
  }
}
