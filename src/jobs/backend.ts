/*
 * Where background work runs. The plugin hands every piece of work that does not answer a
 * request (a user's sync after linking, an unlink's role removal, the scheduled tasks) to one
 * JobBackend: `local` runs it in this process (today's scheduler), `bullmq` turns it into jobs on
 * Redis that any worker process may run. Routes and event handlers call the backend, never the
 * scheduler or the queue directly, so the choice is made once, in src/plugin.ts.
 */
import type { FastifyBaseLogger } from 'fastify'
import type { GuildHealthTask } from '../health/guild-health.js'
import type { JobsBackendName, JobsRole } from '../options/index.js'
import type { SyncEngine } from '../sync/engine.js'
import type { SyncCleanupTask } from '../tasks/cleanup.js'
import type { RoleSyncTask } from '../tasks/role-sync.js'
import type { OAuthStateCleanupTask } from '../tasks/state-cleanup.js'
import type { TokenRefreshTask } from '../tasks/token-refresh.js'

/** The kinds of job, as BullMQ job names and metric labels. */
export type JobName =
  | 'guild-sync' | 'user-sync' | 'unlink-removal' | 'remove-managed-roles'
  | 'role-sync' | 'token-refresh' | 'guild-health' | 'sync-cleanup' | 'state-cleanup'

/** The work a backend runs; a null task is off (its option disabled, or no OAuth application). */
export interface JobTasks {
  engine: SyncEngine
  tokenRefresh: TokenRefreshTask | null
  guildHealth: GuildHealthTask | null
  roleSync: RoleSyncTask | null
  cleanup: SyncCleanupTask | null
  stateCleanup: OAuthStateCleanupTask
}

export interface JobLogs { oauthLog: FastifyBaseLogger, botLog: FastifyBaseLogger, syncLog: FastifyBaseLogger }

/** The shared queue as GET /status shows it to admins (BullMQ only). */
export interface JobQueueStats {
  waiting: number
  active: number
  delayed: number
  failed: number
  /** How long the oldest job still waiting for a worker has waited; null when none waits. */
  oldest_waiting_ms: number | null
}

/** `fastify.discord.jobs`: where background work runs, and the entry points to it. */
export interface JobBackend {
  readonly backend: JobsBackendName
  readonly role: JobsRole
  /** True when this process runs jobs (every role but `api`): start-up recovery is its business. */
  readonly works: boolean
  /** A user's sync after linking (local: at once; bullmq: one pending job per user). Failures are logged. */
  syncUser (userId: string, why: string): void
  /** Executes the pending unlink removal `runId` (queued by the unlink). Failures are logged. */
  runUnlinkRemoval (runId: string): void
  /** Removes a no-longer-linked account's managed roles in every guild (an unlink that queued nothing). */
  removeManagedRoles (discordUserId: string, initiatedBy: string): void
  /** The queue's depth and its oldest waiting job; null for the local backend (nothing waits in a queue). */
  stats (): Promise<JobQueueStats | null>
}

/** Logs a failure of work started in the background by its error code (never the error's data). */
export function logFailure (log: FastifyBaseLogger, what: string, fields: Record<string, unknown>) {
  return (err: unknown): void => {
    log.warn({ ...fields, code: (err as { code?: unknown })?.code, err: { message: (err as Error)?.message } }, `${what} failed`)
  }
}
