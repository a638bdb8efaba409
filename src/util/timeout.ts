/**
 * Races `promise` against a budget of time this process could have spent reading the answer.
 *
 * A stall of this process (GC, a long synchronous task, CPU starvation) is not a failure of the
 * thing being waited on: treating it as one makes every stalled instance fall back at once (e.g.
 * to in-process rate limits or locks). So when the timer fires, the rejection waits one turn of
 * the event loop (`setImmediate`, after the I/O poll) so an answer already in the socket wins; and
 * if the timer fired late by half the budget or more, the other side gets one more full budget.
 * The timer is unref'd (never keeps a process alive), and a promise that loses the race is never
 * left unhandled.
 */
export async function withTimeout<T> (promise: Promise<T>, budgetMs: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  let immediate: NodeJS.Immediate | undefined
  const timeout = new Promise<never>((_resolve, reject) => {
    const arm = (extended: boolean): void => {
      const due = performance.now() + budgetMs
      timer = setTimeout(() => {
        immediate = setImmediate(() => {
          if (!extended && performance.now() - due >= budgetMs / 2) arm(true)
          else reject(onTimeout())
        })
      }, budgetMs)
      timer.unref()
    }
    arm(false)
  })
  try {
    return await Promise.race([promise, timeout])
  } finally {
    clearTimeout(timer)
    clearImmediate(immediate)
    promise.catch(() => {})
  }
}
