/*
 * Time for the simulator. Discord's windows (a 10 s bucket, the 1 s global window,
 * the 10 minute invalid-request window, token lifetimes) are configured in Discord
 * time and divided by `timeScale` to get the real duration, so a benchmark can run
 * ten times faster while every ratio (requests per window) stays the same.
 * Headers and bodies always report REAL seconds: a client that honours them behaves
 * correctly without knowing it is being time-scaled.
 */
export class SimClock {
  readonly timeScale: number
  readonly #origin = performance.now()

  constructor (timeScale = 1) {
    if (!(Number.isFinite(timeScale) && timeScale > 0)) {
      throw new RangeError(`timeScale must be a positive number, got ${String(timeScale)}`)
    }
    this.timeScale = timeScale
  }

  /** Monotonic real milliseconds since the simulator started (what `RecordedRequest.at` uses). */
  now (): number {
    return performance.now() - this.#origin
  }

  /**
   * Epoch milliseconds of `now() === 0`, to put arrival times next to timestamps taken in other
   * processes (`performance.timeOrigin + performance.now()` there). Fractional: both operands are.
   */
  get originEpochMs (): number {
    return performance.timeOrigin + this.#origin
  }

  /** Wall-clock epoch milliseconds (for X-RateLimit-Reset and timestamps in payloads). */
  epochMs (): number {
    return Date.now()
  }

  /** Real milliseconds that a Discord-time duration lasts under this time scale. */
  real (discordMs: number): number {
    return discordMs / this.timeScale
  }
}

/** Seconds with at most millisecond precision, as Discord's headers carry them ("64.57", "1470173023.123"). */
export function seconds (ms: number): number {
  return Math.round(ms) / 1000
}
