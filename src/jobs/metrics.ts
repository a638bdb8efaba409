/*
 * Job metrics (jobs.backend `bullmq`), on the plugin's registry beside the sync metrics: the
 * queue's depth per state (read from Redis at scrape time, so every process reports the shared
 * queue) and, in worker processes, how long each finished job waited for a worker and ran.
 */
import type { Counter, Gauge, Histogram, Registry } from 'prom-client'
import { promClient } from '../util/prom-client.js'
import type { Job } from 'bullmq'
import type { JobQueueStats } from './backend.js'

const STATES = ['waiting', 'active', 'delayed', 'failed'] as const

export class JobMetrics {
  readonly #wait: Histogram<'name'>
  readonly #run: Histogram<'name' | 'outcome'>
  readonly #finished: Counter<'name' | 'outcome'>
  readonly #oldest: Gauge

  /** `stats` reads the queue (bounded in time); a failed read leaves the gauges at their last values. */
  constructor (options: { registry: Registry, prefix: string, stats: () => Promise<JobQueueStats | null> }) {
    const registers = [options.registry]
    const p = options.prefix
    const buckets = [0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600]
    this.#wait = new promClient.Histogram({ name: `${p}job_wait_seconds`, help: 'Time a job waited in the queue before a worker took it (its latency), by job name', labelNames: ['name'], buckets, registers })
    this.#run = new promClient.Histogram({ name: `${p}job_run_seconds`, help: 'Time a worker spent on one attempt of a job, by job name and outcome', labelNames: ['name', 'outcome'], buckets, registers })
    this.#finished = new promClient.Counter({ name: `${p}jobs_total`, help: 'Job attempts finished in this process, by job name and outcome (completed, retried, failed)', labelNames: ['name', 'outcome'], registers })
    const depth = new promClient.Gauge({
      name: `${p}job_queue_depth`,
      help: 'Jobs in the shared queue by state (waiting, active, delayed, failed), read from Redis at scrape time',
      labelNames: ['state'],
      registers,
      async collect () {
        const s = await options.stats().catch(() => null)
        if (s === null) return
        for (const state of STATES) depth.set({ state }, s[state])
      }
    })
    this.#oldest = new promClient.Gauge({
      name: `${p}job_oldest_waiting_seconds`,
      help: 'Age of the oldest job waiting for a worker (0 when none waits)',
      registers,
      async collect () {
        const s = await options.stats().catch(() => null)
        if (s !== null) this.set((s.oldest_waiting_ms ?? 0) / 1000)
      }
    })
  }

  /** One attempt ended (`retried`: it failed and will run again). */
  finished (job: Job, outcome: 'completed' | 'retried' | 'failed'): void {
    const name = job.name
    this.#finished.inc({ name, outcome })
    if (job.processedOn === undefined) return
    this.#run.observe({ name, outcome }, Math.max(0, (job.finishedOn ?? Date.now()) - job.processedOn) / 1000)
    // The wait of the first attempt only: a retry's wait is its backoff, not the queue's latency.
    if (job.attemptsMade <= 1) this.#wait.observe({ name }, Math.max(0, job.processedOn - job.timestamp) / 1000)
  }
}
