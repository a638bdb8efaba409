/*
 * The local backend (the default, for one machine): scheduled tasks are interval jobs on
 * @fastify/schedule (toad-scheduler) in this process, and background work (a sync after linking,
 * an unlink's role removal) starts at once, in this process. Several instances sharing a store
 * still agree through the store's leases and the Redis locks each task takes.
 */
import type { FastifyBaseLogger, FastifyInstance } from 'fastify'
import fastifySchedule from '@fastify/schedule'
import { AsyncTask, SimpleIntervalJob, type ToadScheduler } from 'toad-scheduler'
import { HEALTH_CHECK_JOB_ID } from '../health/guild-health.js'
import type { ResolvedOptions } from '../options/index.js'
import { SYNC_CLEANUP_JOB_ID } from '../tasks/cleanup.js'
import { ROLE_SYNC_JOB_ID } from '../tasks/role-sync.js'
import { STATE_CLEANUP_JOB_ID } from '../tasks/state-cleanup.js'
import { TOKEN_REFRESH_JOB_ID } from '../tasks/token-refresh.js'
import { logFailure, type JobBackend, type JobLogs, type JobTasks } from './backend.js'

const ownSchedulers = new WeakMap<FastifyInstance, ToadScheduler>()

/**
 * The scheduler jobs run on: the host's when it registered @fastify/schedule before us, otherwise
 * our own, registered in an encapsulated child so the host gets no `scheduler` decorator it did
 * not ask for (and @fastify/schedule stops it on close).
 */
export async function resolveScheduler (fastify: FastifyInstance): Promise<{ scheduler: ToadScheduler, own: boolean }> {
  const host = (fastify as unknown as { scheduler?: ToadScheduler }).scheduler
  if (fastify.hasDecorator('scheduler') && host !== undefined) return { scheduler: host, own: false }
  // Every task of one plugin instance shares one scheduler.
  const known = ownSchedulers.get(fastify)
  if (known !== undefined) return { scheduler: known, own: true }
  let own: ToadScheduler | null = null
  await fastify.register(async (child) => {
    await child.register(fastifySchedule)
    own = (child as unknown as { scheduler: ToadScheduler }).scheduler
  })
  ownSchedulers.set(fastify, own as unknown as ToadScheduler)
  return { scheduler: own as unknown as ToadScheduler, own: true }
}

/**
 * Adds an interval job once the server is ready (not during registration: a run must not start
 * before the store is initialised or while plugins still load), and removes it before the server
 * closes: a host-owned scheduler outlives us (our own is stopped by @fastify/schedule). The timer
 * is unref'd so it never keeps a process alive, and overlapping runs are prevented.
 */
export function scheduleOnReady (fastify: FastifyInstance, scheduler: ToadScheduler, id: string, intervalMs: number, run: () => Promise<unknown>, onError: (err: Error) => void): void {
  fastify.addHook('onReady', async () => {
    if (scheduler.existsById(id)) return
    scheduler.addSimpleIntervalJob(new SimpleIntervalJob(
      { milliseconds: intervalMs },
      new AsyncTask(id, async () => { await run() }, onError),
      { id, preventOverrun: true, unref: true }
    ))
  })
  fastify.addHook('preClose', async () => { if (scheduler.existsById(id)) scheduler.removeById(id) })
}

/** Interval jobs on the host's @fastify/schedule, or our own; each starts on ready and is removed before close. */
async function schedule (fastify: FastifyInstance, opts: ResolvedOptions, tasks: JobTasks, logs: JobLogs): Promise<void> {
  const { tokenRefresh, guildHealth, roleSync, cleanup, stateCleanup } = tasks
  const { scheduler } = await resolveScheduler(fastify)
  const job = (id: string, everyMs: number, run: () => Promise<unknown>, log: FastifyBaseLogger, what: string): void =>
    scheduleOnReady(fastify, scheduler, id, everyMs, run, (err) => log.error({ err: { message: err.message } }, `${what} job failed`))
  if (tokenRefresh !== null) job(TOKEN_REFRESH_JOB_ID, opts.tokenRefresh.intervalMs, () => tokenRefresh.run(), logs.oauthLog, 'token refresh')
  if (guildHealth !== null) job(HEALTH_CHECK_JOB_ID, opts.healthCheck.intervalMs, () => guildHealth.run(), logs.botLog, 'guild health')
  if (roleSync !== null) job(ROLE_SYNC_JOB_ID, opts.sync.schedulerTickMs, () => roleSync.tick(), logs.syncLog, 'role sync')
  if (cleanup !== null) job(SYNC_CLEANUP_JOB_ID, opts.sync.cleanupIntervalMs, () => cleanup.run(), logs.syncLog, 'sync cleanup')
  // Every state lifetime: the table holds at most about two lifetimes' worth of starts.
  job(STATE_CLEANUP_JOB_ID, opts.stateExpiryMs, () => stateCleanup.run(), logs.oauthLog, 'OAuth state cleanup')
}

/** The local backend: schedules the tasks on this process's scheduler and runs background work here. */
export async function createLocalJobs (fastify: FastifyInstance, opts: ResolvedOptions, tasks: JobTasks, logs: JobLogs): Promise<JobBackend> {
  await schedule(fastify, opts, tasks, logs)
  const { engine } = tasks
  const failedToStart = (runId: string | null): ((err: unknown) => void) =>
    logFailure(logs.syncLog, 'the unlink role removal', { run_id: runId })
  return {
    backend: 'local',
    role: 'all',
    works: true,
    syncUser: (userId, why) => { engine.syncUserSoon(userId, why) },
    runUnlinkRemoval: (runId) => { engine.runUnlinkRemoval(runId).catch(failedToStart(runId)) },
    removeManagedRoles: (discordUserId, initiatedBy) => {
      engine.removeManagedRoles(discordUserId, initiatedBy).then((r) => r.done).catch(failedToStart(null))
    },
    stats: async () => null
  }
}
