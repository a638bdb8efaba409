/*
 * Shared by bench/rest.bench.ts (the parent) and bench/rest-worker.ts (the child processes):
 * the messages they exchange. The window measures come from the simulator's package
 * (src/testing/ratelimit/windows.ts), the same ones the client tests judge with.
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
  /** Worker 0 only: block the event loop this long every 1.5 s during the run (0: never). */
  stallMs: number
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
  /** Redis fallbacks during the run ('store' events with state 'fallback'): in-process limits only meanwhile. */
  fallbacks: number
  elapsedMs: number
  /** Epoch ms (performance.timeOrigin + now) of every attempt as the client put it on the wire. */
  sentAt: number[]
  /** Worst event-loop delay of the worker during the run. */
  lagMaxMs: number
}

export type ToWorker = { type: 'job', job: WorkerJob } | { type: 'go' }
export type FromWorker = { type: 'ready' } | { type: 'done', result: WorkerResult } | { type: 'error', message: string }
