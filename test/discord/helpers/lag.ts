import { monitorEventLoopDelay } from 'node:perf_hooks'

/**
 * Runs a timing-sensitive scenario and checks it, but only judges a run whose worst
 * event-loop delay stayed below `maxLagMs`. The simulator lives in the test process,
 * so on a starved machine a request granted on time can reach it late, after the next
 * batch: that measures the machine, not the client. Such runs are repeated (up to
 * `attempts`); the last run is judged whatever its lag, and a failure reports the lag.
 */
export async function withLowLag<T> (maxLagMs: number, scenario: () => Promise<T>, check: (result: T, lagMs: number) => void | Promise<void>, attempts = 4): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const histogram = monitorEventLoopDelay({ resolution: 5 })
    histogram.enable()
    let result: T
    try {
      result = await scenario()
    } finally {
      histogram.disable()
    }
    const lagMs = histogram.max / 1e6
    if (lagMs <= maxLagMs || attempt >= attempts) {
      await check(result, lagMs)
      return
    }
  }
}
