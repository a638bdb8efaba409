import { randomUUID } from 'node:crypto'
import { runListLimit, type CreateTaskRunInput, type ListTaskRunsQuery, type TaskName, type TaskRunRecord, type TaskRunStore } from '../port/index.js'
import { newTaskRunFields } from '../records.js'
import type { SqliteContext } from './context.js'
import { ms, toTaskRun, type TaskRunRow } from './rows.js'

/** Recorded runs of scheduled tasks (discord_task_runs). */
export class SqliteTaskRuns implements TaskRunStore {
  readonly #ctx: SqliteContext

  constructor (ctx: SqliteContext) {
    this.#ctx = ctx
  }

  async recordTaskRun (input: CreateTaskRunInput): Promise<TaskRunRecord> {
    const run = newTaskRunFields(input)
    const row: TaskRunRow = {
      id: randomUUID(),
      ...run,
      started_at: ms(run.started_at),
      finished_at: ms(run.finished_at),
      counts: JSON.stringify(run.counts),
      errors: JSON.stringify(run.errors)
    }
    return this.#ctx.run(() => {
      this.#ctx.exec(`INSERT INTO discord_task_runs (id, task, status, reason, started_at, finished_at, duration_ms, counts, errors)
        VALUES (@id, @task, @status, @reason, @started_at, @finished_at, @duration_ms, @counts, @errors)`, { ...row })
      return toTaskRun(row)
    })
  }

  async listTaskRuns (query: ListTaskRunsQuery): Promise<TaskRunRecord[]> {
    return this.#ctx.run(() => this.#ctx.all<TaskRunRow>(
      'SELECT * FROM discord_task_runs WHERE task = ? ORDER BY started_at DESC, id DESC LIMIT ?', [query.task, runListLimit(query.limit)]
    ).map(toTaskRun))
  }

  async pruneTaskRuns (task: TaskName, before: Date): Promise<number> {
    return this.#ctx.run(() => this.#ctx.exec('DELETE FROM discord_task_runs WHERE task = ? AND started_at < ?', [task, ms(before)]))
  }
}
