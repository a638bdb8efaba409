import { Type, type Static } from '@sinclair/typebox'
import { defaultsOf, duration, opt } from './define.js'
import { durationMs, fail } from './fail.js'

export const JobsSchema = Type.Object({
  backend: opt(Type.Union([Type.Literal('local'), Type.Literal('bullmq')]), {
    default: 'local',
    description: '`local`: scheduled tasks and background syncs run in this process (@fastify/schedule), for one machine. ' +
      '`bullmq`: they become BullMQ jobs on the plugin\'s Redis (needs `redis` and the `bullmq` package), so any number of ' +
      'processes share one queue: one pending sync per guild, retries with exponential backoff, a job a dead worker held is ' +
      'taken over by another (see docs/operations.md, "1 API + N workers").'
  }),
  role: opt(Type.Union([Type.Literal('all'), Type.Literal('api'), Type.Literal('worker')]), {
    default: 'all',
    description: 'With `backend` `bullmq`: `api` only enqueues (no job runs in this process), `worker` runs jobs, `all` both. ' +
      'Every role serves the routes it is asked for; route user traffic to `api` processes only. Only `all` with `local`.'
  }),
  concurrency: opt(Type.Integer({ minimum: 1, maximum: 100 }), {
    default: 4,
    description: 'With `bullmq`: jobs one worker process runs at once (guild syncs share the bot\'s rate limits whatever this is).'
  }),
  attempts: opt(Type.Integer({ minimum: 1, maximum: 50 }), {
    default: 8,
    description: 'With `bullmq`: tries a job gets (a failed or interrupted sync, a guild still locked by a dead run) before it is dropped; ' +
      'its next scheduled run starts afresh. With the default backoff, 8 tries span about 10 minutes: longer than `sync.staleAfter`, ' +
      'so a guild a dead worker left locked is synced by the same job once its run is found stale.'
  }),
  backoff: duration({
    default: '5s',
    minimumMs: 10,
    description: 'With `bullmq`: delay before the first retry of a failed job, doubled at each further attempt.'
  }),
  timeout: duration({
    default: '1h',
    minimumMs: 1_000,
    description: 'With `bullmq`: longest one job may hold a worker slot before it counts as failed (and is retried). ' +
      'A guild sync is bounded by `sync.guildTimeout` itself; keep this above it.'
  }),
  lockDuration: duration({
    default: '30s',
    minimumMs: 1_000,
    description: 'With `bullmq`: a running job\'s lock, renewed by its worker at half this period. A worker that dies (SIGKILL, ' +
      'lost machine) stops renewing; the stalled-job check, run every `lockDuration`, hands the job to another worker.'
  })
}, { additionalProperties: false, description: 'Where background work runs: this process, or BullMQ workers sharing Redis.' })

/** Where background work runs: this process, or BullMQ workers sharing Redis. */
export type JobsOptions = Static<typeof JobsSchema>

export type JobsBackendName = 'local' | 'bullmq'
export type JobsRole = 'all' | 'api' | 'worker'

export interface ResolvedJobsOptions {
  backend: JobsBackendName
  role: JobsRole
  concurrency: number
  attempts: number
  backoffMs: number
  timeoutMs: number
  lockDurationMs: number
}

const DEFAULTS = defaultsOf(JobsSchema)

/** `hasRedis`: the `redis` option is set; BullMQ keeps its queue there. */
export function resolveJobs (j: JobsOptions | undefined, hasRedis: boolean): ResolvedJobsOptions {
  const o = j ?? {}
  const backend = o.backend ?? DEFAULTS.backend
  const role = o.role ?? DEFAULTS.role
  if (backend === 'bullmq' && !hasRedis) fail('jobs.backend', '"bullmq" keeps its queue in Redis: set the `redis` option (a redis:// URL or an ioredis instance)')
  if (backend === 'local' && role !== 'all') fail('jobs.role', `"${role}" needs jobs.backend "bullmq" (with the local backend every process runs its own work)`)
  return {
    backend,
    role,
    concurrency: o.concurrency ?? DEFAULTS.concurrency,
    attempts: o.attempts ?? DEFAULTS.attempts,
    backoffMs: durationMs(o.backoff, JobsSchema.properties.backoff, 'jobs.backoff'),
    timeoutMs: durationMs(o.timeout, JobsSchema.properties.timeout, 'jobs.timeout'),
    lockDurationMs: durationMs(o.lockDuration, JobsSchema.properties.lockDuration, 'jobs.lockDuration')
  }
}
