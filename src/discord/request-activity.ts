import type { DiscordRestClient } from './client.js'

/*
 * Discord requests and 429 answers per minute over the last hour, for the admin UI's chart.
 * A fixed ring of one slot per minute, one for all requests and one per guild (the guild's own
 * `/guilds/{id}/...` requests; at most 1000 guilds, the one heard from longest ago forgotten):
 * memory does not grow with traffic or uptime, and a slot is reset when its minute comes round again. Counts are this process's only (each instance
 * has its own client); Prometheus (`metrics`) is the place for fleet-wide history.
 */

/** One minute of the series: its start (epoch ms), requests answered, and how many were 429. */
export interface RequestMinute {
  minute: number
  requests: number
  rate_limited: number
}

const MINUTE_MS = 60_000
/** Guilds with a series of their own; past this the guild heard from longest ago is forgotten. */
const MAX_GUILDS = 1000

/** One fixed ring of per-minute counts. */
class MinuteRing {
  /** The minute (epoch minutes) each slot counts, -1 when unused. */
  readonly #minuteOf: Float64Array
  readonly #requests: Uint32Array
  readonly #limited: Uint32Array

  constructor (readonly size: number) {
    this.#minuteOf = new Float64Array(size).fill(-1)
    this.#requests = new Uint32Array(size)
    this.#limited = new Uint32Array(size)
  }

  record (m: number, rateLimited: boolean): void {
    const i = m % this.size
    if (this.#minuteOf[i] !== m) {
      this.#minuteOf[i] = m
      this.#requests[i] = 0
      this.#limited[i] = 0
    }
    this.#requests[i] = (this.#requests[i] ?? 0) + 1
    if (rateLimited) this.#limited[i] = (this.#limited[i] ?? 0) + 1
  }

  series (current: number): RequestMinute[] {
    const out: RequestMinute[] = []
    for (let m = current - this.size + 1; m <= current; m++) {
      const i = ((m % this.size) + this.size) % this.size
      const used = this.#minuteOf[i] === m
      out.push({ minute: m * MINUTE_MS, requests: used ? this.#requests[i] ?? 0 : 0, rate_limited: used ? this.#limited[i] ?? 0 : 0 })
    }
    return out
  }
}

export class RequestActivity {
  readonly #size: number
  readonly #now: () => number
  readonly #maxGuilds: number
  readonly #all: MinuteRing
  /** Insertion order is recency: a guild is moved to the end each time it is recorded. */
  readonly #guilds = new Map<string, MinuteRing>()

  /**
   * @param minutes how many minutes are kept (60 by default).
   * @param maxGuilds guilds with a series of their own (1000 by default, about 1 KB each).
   */
  constructor (o: { minutes?: number, maxGuilds?: number, now?: () => number } = {}) {
    this.#size = Math.max(1, Math.floor(o.minutes ?? 60))
    this.#maxGuilds = Math.max(1, Math.floor(o.maxGuilds ?? MAX_GUILDS))
    this.#now = o.now ?? Date.now
    this.#all = new MinuteRing(this.#size)
  }

  /** Counts one answer from Discord (`rateLimited` when it was a 429), also under its guild when it had one. */
  record (rateLimited: boolean, guildId: string | null = null): void {
    const m = Math.floor(this.#now() / MINUTE_MS)
    this.#all.record(m, rateLimited)
    if (guildId === null) return
    let ring = this.#guilds.get(guildId)
    if (ring === undefined) {
      ring = new MinuteRing(this.#size)
      if (this.#guilds.size >= this.#maxGuilds) this.#guilds.delete(this.#guilds.keys().next().value as string)
    } else {
      this.#guilds.delete(guildId)
    }
    this.#guilds.set(guildId, ring)
    ring.record(m, rateLimited)
  }

  /**
   * The kept minutes, oldest first, ending with the current one; minutes without traffic read 0.
   * With a guild id: only that guild's requests (`/guilds/{id}/...`); without: every request.
   */
  series (guildId?: string): RequestMinute[] {
    const current = Math.floor(this.#now() / MINUTE_MS)
    const ring = guildId === undefined ? this.#all : this.#guilds.get(guildId)
    return (ring ?? new MinuteRing(this.#size)).series(current)
  }

  /** Counts the client's answers (every attempt, retries included) until the returned function is called. */
  observe (client: DiscordRestClient): () => void {
    const onResponse = (e: { status: number, guildId: string | null }): void => { this.record(e.status === 429, e.guildId) }
    client.on('response', onResponse)
    return () => { client.off('response', onResponse) }
  }
}
