/*
 * The BullMQ backend (jobs.backend `bullmq`): background work becomes jobs in one queue on the
 * plugin's Redis, so any number of processes share it.
 *
 * - One pending job per target through job ids (`guild-<id>`, `user-<id>`, `unlink-<run id>`):
 *   adding a job whose id is waiting, delayed or running is a no-op. Finished jobs are removed at
 *   once so the id is free for the next one (their outcome is in the run records and metrics).
 * - Failures are retried (`jobs.attempts`) with exponential backoff from `jobs.backoff`; errors
 *   that cannot get better by waiting (a 4xx: guild disabled, user not linked) are not.
 * - A worker renews the lock of each job it runs; a worker that dies stops renewing, and the
 *   stalled-job check of the others puts the job back in the queue. The run record the dead
 *   worker left holds its guild (even once its lock lapsed) until its heartbeat is stale; the
 *   guild-sync job retries (backoff) until then, sweeps it (failed, `stale`) and the guild converges.
 * - The periodic tasks are Job Schedulers (`upsertJobScheduler`, one per task, upserted by every
 *   process with the same options: idempotent), so each interval produces one job cluster-wide.
 *
 * BullMQ requires `maxRetriesPerRequest: null` (its blocking commands wait indefinitely), so it
 * gets a connection of its own, duplicated from the plugin's, and only that one is closed here.
 */
import type { FastifyBaseLogger, FastifyInstance } from 'fastify'
import type { ConnectionOptions, Job, Queue, Worker } from 'bullmq'
import type { Redis as IORedis } from 'ioredis'
import type { ResolvedOptions } from '../options/index.js'
import type { RedisConnection } from '../util/driver-types.js'
import { importOptional } from '../util/optional-import.js'
import { withTimeout } from '../util/timeout.js'
import { logFailure, type JobBackend, type JobLogs, type JobName, type JobQueueStats, type JobTasks } from './backend.js'
import { JobMetrics } from './metrics.js'
import type { Registry } from 'prom-client'

/** The queue's name under the prefix (BullMQ keys: `<redisKeyPrefix>bull:jobs:*`). */
export const QUEUE_NAME = 'jobs'

type BullMQ = typeof import('bullmq')

/** The queue half of the backend: every role enqueues through it (opened before the tasks exist). */
export interface BullQueue {
  readonly queue: Queue
  readonly bull: BullMQ
  readonly connection: IORedis
  /** Queues a scheduled sync of one guild, unless one is already pending for it. */
  syncGuild: (guildId: string) => Promise<void>
  /** Closes the queue and its connection (the worker, if any, is closed before: startBullJobs). */
  close: () => Promise<void>
}

/** BullMQ's key prefix for this plugin instance: under the plugin's own Redis prefix. */
export function bullPrefix (redisKeyPrefix: string): string {
  return `${redisKeyPrefix}bull`
}

/** Opens the queue on a duplicate of the plugin's Redis connection (loads bullmq, an optional peer). */
export async function openBullQueue (opts: ResolvedOptions, redis: RedisConnection, log: FastifyBaseLogger): Promise<BullQueue> {
  const bull = await importOptional('bullmq', 'jobs.backend "bullmq"', async () => await import('bullmq'))
  // No command timeout and no retry limit: BullMQ's blocking reads wait on purpose, and a command
  // issued while Redis reconnects must wait for it rather than lose a job. No key prefix either:
  // BullMQ keeps its own (`prefix`) and refuses a connection with one.
  const connection = (redis as unknown as IORedis).duplicate({ maxRetriesPerRequest: null, enableOfflineQueue: true, commandTimeout: undefined, keyPrefix: undefined, lazyConnect: false })
  connection.on('error', (err: Error) => log.warn({ err: { message: err.message } }, 'redis connection error (jobs)'))
  const j = opts.jobs
  const queue = new bull.Queue(QUEUE_NAME, {
    connection: asBullConnection(connection),
    prefix: bullPrefix(opts.redisKeyPrefix),
    defaultJobOptions: { attempts: j.attempts, backoff: { type: 'exponential', delay: j.backoffMs }, removeOnComplete: true, removeOnFail: true }
  })
  queue.on('error', (err: Error) => log.warn({ err: { message: err.message } }, 'job queue error'))
  return {
    queue,
    bull,
    connection,
    syncGuild: async (guildId) => { await queue.add('guild-sync', { guildId, initiatedBy: 'system' }, { jobId: `guild-${guildId}` }) },
    close: async () => {
      await queue.close()
      await connection.quit().catch(() => connection.disconnect())
    }
  }
}

/**
 * The connection as BullMQ's types name it: bullmq 5 types ioredis 5, the plugin uses ioredis 6;
 * BullMQ recognises a client by its methods (connect, disconnect, duplicate), which both have.
 */
function asBullConnection (connection: IORedis): ConnectionOptions {
  return connection as unknown as ConnectionOptions
}

/** Periodic tasks: name → interval, null when the task is off in this configuration. */
function schedules (opts: ResolvedOptions, tasks: JobTasks): Array<[JobName, number | null]> {
  return [
    ['role-sync', tasks.roleSync === null ? null : opts.sync.schedulerTickMs],
    ['token-refresh', tasks.tokenRefresh === null ? null : opts.tokenRefresh.intervalMs],
    ['guild-health', tasks.guildHealth === null ? null : opts.healthCheck.intervalMs],
    ['sync-cleanup', tasks.cleanup === null ? null : opts.sync.cleanupIntervalMs],
    ['state-cleanup', opts.stateExpiryMs]
  ]
}

/** A failure that waiting cannot fix (a 4xx: not found, not linked, guild disabled; no provider). */
function permanent (err: unknown): boolean {
  const e = err as { statusCode?: unknown, code?: unknown } | null
  if (e?.code === 'FST_DISCORD_SYNC_NOT_CONFIGURED') return true
  return typeof e?.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500
}

/** What one job does, by name. Resolves with a small summary; throws to have the job retried. */
function jobRunner (tasks: JobTasks): (name: JobName, data: Record<string, string>) => Promise<unknown> {
  const { engine } = tasks
  const guildSync = async (guildId: string, initiatedBy: string): Promise<unknown> => {
    // Null while another run holds the guild: a live one (retry later), or a dead worker's run,
    // which startGuild sweeps (and then starts) once its heartbeat is stale.
    const started = await engine.startGuild(guildId, initiatedBy)
    if (started === null) throw new Error(`guild ${guildId} is locked by another run`)
    const final = await started.done
    if (final.status === 'failed') throw new Error(`sync run ${final.id} of guild ${guildId} failed`)
    return { run_id: final.id, status: final.status }
  }
  return async (name, data) => {
    switch (name) {
      case 'guild-sync': return await guildSync(data.guildId as string, data.initiatedBy ?? 'system')
      case 'user-sync': {
        const r = await engine.syncUser(data.userId as string, data.why ?? 'job')
        return { successful_guilds: r.successful_guilds, failed_guilds: r.failed_guilds }
      }
      case 'unlink-removal': return { status: (await engine.runUnlinkRemoval(data.runId as string))?.status ?? null }
      case 'remove-managed-roles': {
        const started = await engine.removeManagedRoles(data.discordUserId as string, data.initiatedBy as string)
        return { run_id: started.run.id, status: (await started.done).status }
      }
      case 'role-sync': {
        const tick = await tasks.roleSync?.tick()
        return tick === undefined ? null : { queued: tick.queued.length, resumed: tick.resumed, swept: tick.swept }
      }
      case 'token-refresh': return { status: (await tasks.tokenRefresh?.run())?.status ?? null }
      case 'guild-health': await tasks.guildHealth?.run(); return null
      case 'sync-cleanup': await tasks.cleanup?.run(); return null
      case 'state-cleanup': return { purged: await tasks.stateCleanup.run() }
    }
  }
}

/**
 * The whole backend on an open queue: Job Schedulers upserted once the server is ready, a Worker
 * unless the role is `api`, the enqueue entry points, and the closing order (stop taking jobs,
 * let the engine cancel what runs, then close the worker; the queue and our connection close after).
 */
export async function startBullJobs (fastify: FastifyInstance, q: BullQueue, opts: ResolvedOptions, tasks: JobTasks, logs: JobLogs, metricsOn: { registry: Registry, prefix: string } | null): Promise<JobBackend> {
  const { queue, bull, connection } = q
  const j = opts.jobs
  const log = logs.syncLog.child({ component: 'discord_jobs' })
  const run = jobRunner(tasks)
  let worker: Worker | null = null
  const stats = async (): Promise<JobQueueStats> => await withTimeout(queueStats(queue), opts.redisCommandTimeoutMs, () => new Error('redis did not answer'))
  const metrics = metricsOn === null ? null : new JobMetrics({ ...metricsOn, stats })

  const processJob = async (job: Job): Promise<unknown> => {
    const name = job.name as JobName
    try {
      return await withTimeout(run(name, job.data as Record<string, string>), j.timeoutMs, () => new Error(`job ${name} ran longer than jobs.timeout (${j.timeoutMs} ms)`))
    } catch (err) {
      if (permanent(err)) throw new bull.UnrecoverableError((err as Error).message)
      throw err
    }
  }

  fastify.addHook('onReady', async () => {
    for (const [name, every] of schedules(opts, tasks)) {
      const done: Promise<unknown> = every === null
        ? queue.removeJobScheduler(name)
        : queue.upsertJobScheduler(name, { every }, { name, data: {}, opts: { attempts: 1, removeOnComplete: true, removeOnFail: true } })
      // Redis down at start: the server still starts (degraded); the other processes keep the schedule.
      await withTimeout(done, 5000, () => new Error('redis did not answer')).catch(logFailure(log, `registering the ${name} job scheduler`, {}))
    }
    if (j.role === 'api') return
    worker = new bull.Worker(QUEUE_NAME, processJob, {
      connection: asBullConnection(connection),
      prefix: bullPrefix(opts.redisKeyPrefix),
      concurrency: j.concurrency,
      lockDuration: j.lockDurationMs,
      stalledInterval: j.lockDurationMs,
      maxStalledCount: j.attempts
    })
    worker.on('error', (err: Error) => log.warn({ err: { message: err.message } }, 'job worker error'))
    worker.on('stalled', (jobId: string) => log.warn({ job_id: jobId }, 'job stalled (its worker stopped): queued again'))
    worker.on('completed', (job: Job) => metrics?.finished(job, 'completed'))
    worker.on('failed', (job: Job | undefined, err: Error) => {
      if (job === undefined) return
      const final = job.attemptsMade >= (job.opts.attempts ?? 1) || err instanceof bull.UnrecoverableError
      metrics?.finished(job, final ? 'failed' : 'retried')
      log.warn({ job: job.name, job_id: job.id, attempt: job.attemptsMade, final, err: { message: err.message } }, final ? 'job failed' : 'job failed: retrying')
    })
  })
  // Before the engine cancels its runs: take no new job, so a cancelled one is retried elsewhere.
  fastify.addHook('preClose', async () => { await worker?.pause(true) })
  // Added after the queue's own close (src/plugin.ts), so it runs before it: hooks close last in, first out.
  fastify.addHook('onClose', async () => { await worker?.close() })

  const add = (name: JobName, data: Record<string, string>, jobId: string, what: string): void => {
    queue.add(name, data, { jobId }).catch(logFailure(log, `queueing ${what}`, data))
  }
  const { engine } = tasks
  return {
    backend: 'bullmq',
    role: j.role,
    works: j.role !== 'api',
    syncUser: (userId, why) => {
      // As the local backend: without a provider no sync runs.
      if (engine.configured) add('user-sync', { userId, why }, `user-${userId}`, 'a user sync')
    },
    runUnlinkRemoval: (runId) => { add('unlink-removal', { runId }, `unlink-${runId}`, 'an unlink role removal') },
    removeManagedRoles: (discordUserId, initiatedBy) => {
      add('remove-managed-roles', { discordUserId, initiatedBy }, `remove-${discordUserId}`, 'a managed role removal')
    },
    stats
  }
}

/** Depth per state and the age of the oldest job waiting for a worker. */
export async function queueStats (queue: Queue, now = Date.now()): Promise<JobQueueStats> {
  const c = await queue.getJobCounts('waiting', 'prioritized', 'active', 'delayed', 'failed')
  const [oldest] = await queue.getJobs(['wait'], 0, 0, true)
  return {
    waiting: (c.waiting ?? 0) + (c.prioritized ?? 0),
    active: c.active ?? 0,
    delayed: c.delayed ?? 0,
    failed: c.failed ?? 0,
    oldest_waiting_ms: oldest === undefined ? null : Math.max(0, now - oldest.timestamp)
  }
}
