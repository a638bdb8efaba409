/**
 * Serialises the requests of one bucket inside this process (FIFO), the
 * in-process half of "requests in one bucket are serialised" (the store's
 * bucket lock is the cross-process half). One queue per key; a queue that
 * drains is removed, so idle guilds cost nothing.
 */
interface Waiter {
  resolve: () => void
  reject: (reason: unknown) => void
  signal?: AbortSignal | undefined
  onAbort?: () => void
}

class AsyncQueue {
  #busy = false
  readonly #waiters: Waiter[] = []

  get idle (): boolean {
    return !this.#busy && this.#waiters.length === 0
  }

  get size (): number {
    return this.#waiters.length + (this.#busy ? 1 : 0)
  }

  wait (signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted()
    if (!this.#busy) {
      this.#busy = true
      return Promise.resolve()
    }
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = { resolve, reject, signal }
      if (signal !== undefined) {
        waiter.onAbort = () => {
          const i = this.#waiters.indexOf(waiter)
          if (i >= 0) this.#waiters.splice(i, 1)
          reject(signal.reason)
        }
        signal.addEventListener('abort', waiter.onAbort, { once: true })
      }
      this.#waiters.push(waiter)
    })
  }

  shift (): void {
    const next = this.#waiters.shift()
    if (next === undefined) {
      this.#busy = false
      return
    }
    if (next.onAbort !== undefined) next.signal?.removeEventListener('abort', next.onAbort)
    next.resolve()
  }
}

export class BucketQueues {
  readonly #queues = new Map<string, AsyncQueue>()

  /** Runs `task` once every earlier task queued under `key` has finished. */
  async run<T> (key: string, task: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    let queue = this.#queues.get(key)
    if (queue === undefined) {
      queue = new AsyncQueue()
      this.#queues.set(key, queue)
    }
    try {
      await queue.wait(signal)
    } catch (err) {
      if (queue.idle) this.#queues.delete(key)
      throw err
    }
    try {
      return await task()
    } finally {
      queue.shift()
      if (queue.idle) this.#queues.delete(key)
    }
  }

  /** Tasks queued or running under `key`. */
  size (key: string): number {
    return this.#queues.get(key)?.size ?? 0
  }

  /** Number of queues with pending or running work (for tests and diagnostics). */
  get activeQueues (): number {
    return this.#queues.size
  }
}
