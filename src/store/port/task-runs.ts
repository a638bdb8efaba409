/** Scheduled tasks whose runs are recorded. */
export type TaskName = 'token_refresh'
export type TaskRunStatus = 'completed' | 'skipped' | 'failed'

/** One failure inside a task run: a stable code and a client-safe message, never a token or secret. */
export interface TaskRunError {
  discord_user_id?: string | null
  guild_id?: string | null
  code: string
  message: string
}

/** One run of a scheduled task, kept so any instance (and an admin) can see what the last runs did. */
export interface TaskRunRecord {
  id: string
  task: TaskName
  status: TaskRunStatus
  /** Why the run was skipped or failed; null when it completed. */
  reason: string | null
  started_at: Date
  finished_at: Date
  duration_ms: number
  /** The task's counters by name (token_refresh: candidates, refreshed, reauth_required, failed, skipped). */
  counts: Record<string, number>
  errors: TaskRunError[]
}

export type CreateTaskRunInput = Omit<TaskRunRecord, 'id'>

export interface ListTaskRunsQuery {
  task: TaskName
  /** Newest first; default 20, at most MAX_PAGE_SIZE. */
  limit?: number
}

/** Both adapters store exactly these fields of an error, so nothing else a caller put there is persisted. */
export function taskRunErrorFields (e: TaskRunError): TaskRunError {
  const out: TaskRunError = { code: String(e.code), message: String(e.message) }
  if (e.discord_user_id !== undefined) out.discord_user_id = e.discord_user_id
  if (e.guild_id !== undefined) out.guild_id = e.guild_id
  return out
}

/** Counters as both adapters store them: finite numbers only. */
export function taskRunCounts (counts: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {}
  for (const [k, v] of Object.entries(counts)) if (typeof v === 'number' && Number.isFinite(v)) out[k] = v
  return out
}

/** Recorded runs of scheduled tasks (the `discord_task_runs` aggregate). */
export interface TaskRunStore {
  recordTaskRun (input: CreateTaskRunInput): Promise<TaskRunRecord>
  /** Runs of one task, newest first (started_at desc, id desc). */
  listTaskRuns (query: ListTaskRunsQuery): Promise<TaskRunRecord[]>
  /** Deletes runs of `task` that started before `before`; returns how many. */
  pruneTaskRuns (task: TaskName, before: Date): Promise<number>
}
