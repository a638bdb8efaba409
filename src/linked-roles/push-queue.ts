/*
 * The queue of role-connection pushes (Linked Roles). Guild syncs hand over thousands of linked
 * members at once; each push is a call with that user's own token, so they go out a few at a time
 * (`concurrency`), never two for the same account at once, and an account queued again before its
 * turn keeps only its newest values. Discord's rate limits are kept by the REST client each push
 * goes through (per-token buckets, 429 retry-after), so the queue only bounds how many wait there.
 */

export type PushJob<T> = (key: string, value: T) => Promise<void>

export class PushQueue<T> {
  readonly #pending = new Map<string, T>()
  readonly #inFlight = new Set<string>()
  readonly #concurrency: number
  readonly #job: PushJob<T>
  readonly #idle: Array<() => void> = []
  #workers = 0
  #closed = false

  constructor (concurrency: number, job: PushJob<T>) {
    this.#concurrency = Math.max(1, concurrency)
    this.#job = job
  }

  /** Accounts waiting (not counting those being pushed). */
  get size (): number {
    return this.#pending.size
  }

  /** Queues `value` for `key`, replacing a value still waiting for it. */
  add (key: string, value: T): void {
    if (this.#closed) return
    this.#pending.set(key, value)
    while (this.#workers < this.#concurrency && this.#next() !== undefined) {
      this.#workers++
      this.#work().catch(() => { /* the job reports its own failures */ })
    }
  }

  /** Drops what waits for `key` (its push in flight, if any, still ends). */
  drop (key: string): void {
    this.#pending.delete(key)
  }

  /** Resolves once nothing waits and nothing is in flight. */
  async drained (): Promise<void> {
    if (this.#workers === 0) return
    await new Promise<void>((resolve) => this.#idle.push(resolve))
  }

  /** Stops taking work, drops what waits and waits for the pushes in flight. */
  async close (): Promise<void> {
    this.#closed = true
    this.#pending.clear()
    await this.drained()
  }

  /** The first waiting key not in flight; at most `concurrency` keys are skipped. */
  #next (): string | undefined {
    for (const key of this.#pending.keys()) if (!this.#inFlight.has(key)) return key
    return undefined
  }

  async #work (): Promise<void> {
    try {
      for (let key = this.#next(); key !== undefined; key = this.#next()) {
        const value = this.#pending.get(key) as T
        this.#pending.delete(key)
        this.#inFlight.add(key)
        try {
          await this.#job(key, value)
        } catch {
          // The job logs and counts its failures; the queue goes on.
        } finally {
          this.#inFlight.delete(key)
        }
      }
    } finally {
      this.#workers--
      if (this.#workers === 0) for (const resolve of this.#idle.splice(0)) resolve()
    }
  }
}
