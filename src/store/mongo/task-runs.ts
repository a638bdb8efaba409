import { randomUUID } from 'node:crypto'
import { runListLimit, type CreateTaskRunInput, type ListTaskRunsQuery, type TaskName, type TaskRunRecord, type TaskRunStore } from '../port/index.js'
import { newTaskRunFields } from '../records.js'
import type { MongoContext } from './context.js'
import { toTaskRunRecord, type TaskRunDoc } from './documents.js'

/** Recorded runs of scheduled tasks (the task_runs collection). */
export class MongoTaskRuns implements TaskRunStore {
  readonly #ctx: MongoContext

  constructor (ctx: MongoContext) {
    this.#ctx = ctx
  }

  async recordTaskRun (input: CreateTaskRunInput): Promise<TaskRunRecord> {
    return this.#ctx.run('recordTaskRun', 'task run', async () => {
      const doc: TaskRunDoc = {
        _id: randomUUID(),
        ...newTaskRunFields(input)
      }
      await this.#ctx.c.taskRuns.insertOne(doc)
      return toTaskRunRecord(doc)
    })
  }

  async listTaskRuns (query: ListTaskRunsQuery): Promise<TaskRunRecord[]> {
    return this.#ctx.run('listTaskRuns', 'task run', async () => {
      const docs = await this.#ctx.c.taskRuns.find({ task: query.task })
        .sort({ started_at: -1, _id: -1 })
        .limit(runListLimit(query.limit))
        .toArray()
      return docs.map(toTaskRunRecord)
    })
  }

  async pruneTaskRuns (task: TaskName, before: Date): Promise<number> {
    return this.#ctx.run('pruneTaskRuns', 'task run', async () => {
      const res = await this.#ctx.c.taskRuns.deleteMany({ task, started_at: { $lt: before } })
      return res.deletedCount
    })
  }
}
