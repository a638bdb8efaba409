/*
 * Counting requests per window, the way tests and benchmarks judge "at most N per window at
 * the simulator": pass the `at` of `sim.requests` (or any timestamps on one clock).
 */

/**
 * Largest count in one window as the simulator (and Discord's headers) define windows: a window
 * opens at the first request after the previous one ended and lasts `windowMs`. This is what the
 * simulator's limiter enforces, so it is the judge for "never more than the limit per window".
 */
export function maxInSimulatorWindows (times: readonly number[], windowMs: number): number {
  const sorted = [...times].sort((a, b) => a - b)
  let best = 0
  let start = Number.NEGATIVE_INFINITY
  let count = 0
  for (const t of sorted) {
    if (t >= start + windowMs) {
      start = t
      count = 0
    }
    count++
    best = Math.max(best, count)
  }
  return best
}

/**
 * Largest number of timestamps inside any half-open interval `[t, t + windowMs)`: the strictest
 * reading of "N per window" (what a client's sliding-window limiter guarantees at send time).
 */
export function maxInSlidingWindow (times: readonly number[], windowMs: number): number {
  const sorted = [...times].sort((a, b) => a - b)
  let best = 0
  let j = 0
  for (let i = 0; i < sorted.length; i++) {
    while (j < sorted.length && (sorted[j] as number) < (sorted[i] as number) + windowMs) j++
    best = Math.max(best, j - i)
  }
  return best
}
