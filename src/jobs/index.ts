/*
 * The job backends (see backend.ts). src/plugin.ts opens the BullMQ queue first (the role sync
 * task dispatches due guilds to it) and builds the backend once every task exists.
 */
export type { JobBackend, JobName, JobQueueStats, JobTasks, JobLogs } from './backend.js'
export { createLocalJobs, resolveScheduler, scheduleOnReady } from './local.js'
export { openBullQueue, startBullJobs, bullPrefix, queueStats, type BullQueue } from './bullmq.js'
export { JobMetrics } from './metrics.js'
