import type { SimClock } from '../clock.js'
import type { InvalidRequestLimit } from './config.js'

/*
 * Invalid requests (401, 403, 429 not of scope shared) counted per client IP in a sliding
 * window, as docs/rate-limits.mdx "Invalid Request Limit" describes; past the threshold the
 * IP is banned (Cloudflare answers instead of the API) until the ban period ends.
 */
/** Below this many IPs with invalid requests, growth never triggers a sweep. */
const MIN_SWEEP_SIZE = 1024

export class InvalidRequests {
  readonly #clock: SimClock
  /** Read on every use: the configuration can be replaced while the simulator runs. */
  readonly #limit: () => InvalidRequestLimit
  /** ip -> timestamps (real ms) of invalid responses, oldest first */
  readonly #invalid = new Map<string, number[]>()
  /** ip -> real ms when the ban ends */
  readonly #bans = new Map<string, number>()
  #sweepAt = MIN_SWEEP_SIZE

  constructor (clock: SimClock, limit: () => InvalidRequestLimit) {
    this.#clock = clock
    this.#limit = limit
  }

  /** Counts one invalid response from `ip`; returns true when this one starts a ban. */
  record (ip: string): boolean {
    const now = this.#clock.now()
    const { threshold, windowMs, banMs } = this.#limit()
    const list = this.#invalid.get(ip) ?? []
    const horizon = now - this.#clock.real(windowMs)
    let drop = 0
    while (drop < list.length && (list[drop] as number) <= horizon) drop++
    if (drop > 0) list.splice(0, drop)
    list.push(now)
    if (!this.#invalid.has(ip)) this.#sweepIfGrown(now)
    this.#invalid.set(ip, list)
    // "Past" the limit: the threshold-th invalid response is still answered normally, the next one bans.
    if (list.length > threshold) {
      this.#bans.set(ip, now + this.#clock.real(banMs))
      this.#invalid.delete(ip)
      return true
    }
    return false
  }

  /** Invalid responses from `ip` still inside the sliding window. */
  count (ip: string): number {
    const horizon = this.#clock.now() - this.#clock.real(this.#limit().windowMs)
    return (this.#invalid.get(ip) ?? []).filter((t) => t > horizon).length
  }

  /** Real ms left on `ip`'s ban, or 0. */
  banRemainingMs (ip: string): number {
    const until = this.#bans.get(ip)
    if (until === undefined) return 0
    const left = until - this.#clock.now()
    if (left <= 0) {
      this.#bans.delete(ip)
      return 0
    }
    return left
  }

  /** IPs with invalid requests or a ban on record (including ended ones not yet swept). */
  get trackedIps (): number {
    return this.#invalid.size + this.#bans.size
  }

  liftBans (): void {
    this.#bans.clear()
    this.#invalid.clear()
  }

  /** Drops ended bans and invalid responses that left the window. */
  sweep (now: number): void {
    for (const [ip, until] of this.#bans) if (now >= until) this.#bans.delete(ip)
    const horizon = now - this.#clock.real(this.#limit().windowMs)
    for (const [ip, list] of this.#invalid) {
      const kept = list.filter((t) => t > horizon)
      if (kept.length === 0) this.#invalid.delete(ip)
      else this.#invalid.set(ip, kept)
    }
  }

  /** Many IPs between timed sweeps (X-Forwarded-For with trustProxy) would pile up: sweep when they doubled. */
  #sweepIfGrown (now: number): void {
    if (this.trackedIps < this.#sweepAt) return
    this.sweep(now)
    this.#sweepAt = Math.max(MIN_SWEEP_SIZE, 2 * this.trackedIps)
  }
}
