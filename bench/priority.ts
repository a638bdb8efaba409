import { setPriority } from 'node:os'

/**
 * Time-scaled benchmarks on a shared machine: at load averages of 15-20 on 2 cores the scheduler
 * parks a process for 100 ms and more; a simulator then stamps a whole backlog of requests with one
 * arrival time (a burst no client sent), and at time scale 100 every late timer of the engine costs
 * whole simulated seconds. Raising the bench and its simulator to nice -10 keeps them ahead of the
 * machine's other work; `--no-renice` keeps normal priority.
 */
export class BenchPriority {
  readonly enabled = !process.argv.includes('--no-renice')
  #state = 'no'

  /** Raises this process (no pid) or a child to nice -10, when enabled and permitted. */
  raise (pid?: number): void {
    if (!this.enabled) return
    try {
      if (pid === undefined) setPriority(-10)
      else setPriority(pid, -10)
      this.#state = 'yes (-10, bench and simulator)'
    } catch {
      this.#state = 'not permitted'
    }
  }

  /** For the benchmark's header line. */
  toString (): string { return this.#state }
}
