/*
 * Shared by bench/rest.bench.ts (the parent) and bench/rest-worker.ts (the child processes):
 * the messages they exchange and the window measures the parent judges arrivals with.
 */

/** What the parent sends a worker once it has said it is ready. */
export interface WorkerJob {
  baseUrl: string
  token: string
  /** null: in-process limits only (no Redis). */
  redisUrl: string | null
  redisKeyPrefix: string
  /** Client `globalWindowMs` (1000 / timeScale of the simulator). */
  globalWindowMs: number
  /** Client `offsetMs`; the client's default when absent. */
  offsetMs?: number
  /** Requests this worker sends, all issued at once. */
  count: number
  /** Every call is aborted after this many real ms. */
  maxMs: number
  guilds: Array<{ id: string, members: string[] }>
  /** Rotates the worker's starting point over the guilds and routes. */
  offset: number
}

export interface WorkerResult {
  worker: number
  backend: 'memory' | 'redis'
  /** Attempts the client put on the wire (`request` events). */
  attempts: number
  ok: number
  failed: number
  firstError: string | null
  rateLimited: { user: number, global: number, shared: number }
  elapsedMs: number
  /** Epoch ms (performance.timeOrigin + now) of every attempt as the client put it on the wire. */
  sentAt: number[]
  /** Worst event-loop delay of the worker during the run. */
  lagMaxMs: number
}

export type ToWorker = { type: 'job', job: WorkerJob } | { type: 'go' }
export type FromWorker = { type: 'ready' } | { type: 'done', result: WorkerResult } | { type: 'error', message: string }

/**
 * Largest number of timestamps inside any half-open interval [t, t + windowMs): a sliding
 * window, the strictest reading of "N per second".
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

/**
 * Largest count in one window as the simulator defines its windows: a window opens at the
 * first request after the previous one ended and lasts windowMs.
 */
export function maxInSimWindow (times: readonly number[], windowMs: number): number {
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
