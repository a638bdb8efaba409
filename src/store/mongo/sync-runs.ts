import { randomUUID } from 'node:crypto'
import type { Filter } from 'mongodb'
import {
  auditEntryFields,
  normalisePage,
  runListLimit,
  summariseResults,
  summariseRun,
  type AuditEntryRecord,
  type CreateAuditEntryInput,
  type CreateSyncRunInput,
  type ListAuditQuery,
  type ListSyncRunsQuery,
  type Page,
  type SyncRunRecord,
  type SyncRunSummaryRecord,
  type SyncRunSummaryResults,
  type SyncRunStore,
  type UpdateSyncRunInput
} from '../port/index.js'
import { newSyncRunFields } from '../records.js'
import type { MongoContext } from './context.js'
import { isDuplicateKeyError } from './errors.js'
import { definedOnly, toAuditRecord, toSyncResultsDoc, toSyncRunRecord, type AuditDoc, type SyncRunDoc } from './documents.js'

const FINISHED_RUN_STATUSES: Array<SyncRunRecord['status']> = ['completed', 'failed', 'blocked']
const VERSION_ID = 'sync_runs'
const ACTIVE_RUN_STATUSES: Array<SyncRunRecord['status']> = ['pending', 'running']

const EMPTY_RESULTS = toSyncResultsDoc(undefined)
const SUMMARY_FIELDS = ['users_processed', 'users_synced', 'users_failed', 'roles_added', 'roles_removed', 'guilds_processed', 'errors_count', 'guilds_count'] as const

/** The stored summary when every count is there, else null (read the results instead). */
function completeSummary (s: Partial<SyncRunSummaryResults> | undefined): SyncRunSummaryResults | null {
  if (s === undefined || s === null) return null
  for (const k of SUMMARY_FIELDS) if (typeof s[k] !== 'number') return null
  const c = s as SyncRunSummaryResults
  return { users_processed: c.users_processed, users_synced: c.users_synced, users_failed: c.users_failed, roles_added: c.roles_added, roles_removed: c.roles_removed, guilds_processed: c.guilds_processed, errors_count: c.errors_count, guilds_count: c.guilds_count }
}

/** Sync runs (the sync_status collection) and the audit log of their role changes (audit_log). */
export class MongoSyncRuns implements SyncRunStore {
  readonly #ctx: MongoContext

  constructor (ctx: MongoContext) {
    this.#ctx = ctx
  }

  async createSyncRun (input: CreateSyncRunInput): Promise<SyncRunRecord> {
    return this.#ctx.run('createSyncRun', 'sync run', async () => {
      const results = toSyncResultsDoc(undefined)
      const doc: SyncRunDoc = {
        _id: randomUUID(),
        ...newSyncRunFields(input),
        results,
        summary: summariseResults(results),
        created_at: new Date()
      }
      await this.#ctx.c.syncRuns.insertOne(doc)
      await this.#bump()
      return toSyncRunRecord(doc)
    })
  }

  async getSyncRun (id: string): Promise<SyncRunRecord | null> {
    return this.#ctx.run('getSyncRun', 'sync run', async () => {
      const doc = await this.#ctx.c.syncRuns.findOne({ _id: id })
      return doc ? toSyncRunRecord(doc) : null
    })
  }

  async updateSyncRun (id: string, patch: UpdateSyncRunInput): Promise<SyncRunRecord | null> {
    return this.#ctx.run('updateSyncRun', 'sync run', async () => {
      const p = definedOnly(patch)
      const set: Partial<SyncRunDoc> = {}
      if (p.status !== undefined) set.status = p.status
      if (p.started_at !== undefined) set.started_at = p.started_at
      if (p.completed_at !== undefined) set.completed_at = p.completed_at
      if (p.duration !== undefined) set.duration = p.duration
      if (p.heartbeat_at !== undefined) set.heartbeat_at = p.heartbeat_at
      if (p.results !== undefined) {
        set.results = toSyncResultsDoc(p.results)
        set.summary = summariseResults(set.results)
      }
      // An empty $set is an error to the server; an empty patch is a read.
      const doc = Object.keys(set).length === 0
        ? await this.#ctx.c.syncRuns.findOne({ _id: id })
        : await this.#ctx.c.syncRuns.findOneAndUpdate({ _id: id }, { $set: set }, { returnDocument: 'after' })
      // A running run's heartbeat (no status) leaves the finished runs as they were.
      if (doc !== null && (p.status !== undefined || FINISHED_RUN_STATUSES.includes(doc.status))) await this.#bump()
      return doc ? toSyncRunRecord(doc) : null
    })
  }

  #runFilter (query: ListSyncRunsQuery): Filter<SyncRunDoc> {
    const filter: Filter<SyncRunDoc> = {}
    if (query.sync_type !== undefined) filter.sync_type = query.sync_type
    if (query.status !== undefined) filter.status = query.status
    if (query.target_id !== undefined) filter.target_id = query.target_id
    if (query.before !== undefined) {
      const { created_at: at, id } = query.before
      filter.$or = [{ created_at: { $lt: at } }, { created_at: at, _id: { $lt: id } }]
    }
    return filter
  }

  async listSyncRunSummaries (query: ListSyncRunsQuery = {}): Promise<SyncRunSummaryRecord[]> {
    return this.#ctx.run('listSyncRunSummaries', 'sync run', async () => {
      const docs = await this.#ctx.c.syncRuns.find(this.#runFilter(query))
        .sort({ created_at: -1, _id: -1 })
        .limit(runListLimit(query.limit))
        .project<Omit<SyncRunDoc, 'results'>>({ results: 0 })
        .toArray()
      // Runs stored before `summary` existed (or failed stale since, which left it partial) are read whole, once.
      const missing = docs.filter((d) => completeSummary(d.summary) === null).map((d) => d._id)
      const whole = new Map<string, SyncRunSummaryRecord>()
      if (missing.length > 0) {
        for (const d of await this.#ctx.c.syncRuns.find({ _id: { $in: missing } }).toArray()) whole.set(d._id, summariseRun(toSyncRunRecord(d)))
      }
      return docs.flatMap((d) => {
        const summary = completeSummary(d.summary)
        if (summary === null) {
          const w = whole.get(d._id)
          return w === undefined ? [] : [w] // deleted in between
        }
        const { results: _results, ...rest } = toSyncRunRecord({ ...d, results: EMPTY_RESULTS })
        return [{ ...rest, results: summary }]
      })
    })
  }

  async listSyncRuns (query: ListSyncRunsQuery = {}): Promise<SyncRunRecord[]> {
    return this.#ctx.run('listSyncRuns', 'sync run', async () => {
      const docs = await this.#ctx.c.syncRuns.find(this.#runFilter(query))
        .sort({ created_at: -1, _id: -1 })
        .limit(runListLimit(query.limit))
        .toArray()
      return docs.map(toSyncRunRecord)
    })
  }

  async failStaleSyncRuns (before: Date, reason: string): Promise<number> {
    return this.#ctx.run('failStaleSyncRuns', 'sync run', async () => {
      const now = new Date()
      // "Last sign of life" is the heartbeat, else the start, else (never started) creation.
      const res = await this.#ctx.c.syncRuns.updateMany(
        {
          status: { $in: ACTIVE_RUN_STATUSES },
          $or: [
            { heartbeat_at: { $lt: before } },
            { heartbeat_at: null, started_at: { $lt: before } },
            { heartbeat_at: null, started_at: null, created_at: { $lt: before } }
          ]
        },
        {
          $set: { status: 'failed', completed_at: now },
          $push: { 'results.errors': { error: reason, occurred_at: now } },
          $inc: { 'summary.errors_count': 1 }
        }
      )
      if (res.modifiedCount > 0) await this.#bump()
      return res.modifiedCount
    })
  }

  async pruneSyncRuns (before: Date): Promise<number> {
    return this.#ctx.run('pruneSyncRuns', 'sync run', async () => {
      const res = await this.#ctx.c.syncRuns.deleteMany({ status: { $in: FINISHED_RUN_STATUSES }, created_at: { $lt: before } })
      if (res.deletedCount > 0) await this.#bump()
      return res.deletedCount
    })
  }

  async syncRunsVersion (): Promise<number> {
    return this.#ctx.run('syncRunsVersion', 'sync run', async () => {
      const doc = await this.#ctx.c.syncRunsVersion.findOne({ _id: VERSION_ID })
      return doc?.version ?? 0
    })
  }

  /**
   * Raised after the run's own write (MongoDB has no transaction on a standalone server): a
   * reader that sees the new version also sees the change; one that reads in between sees the
   * old version and recomputes on its next read.
   */
  async #bump (): Promise<void> {
    const c = this.#ctx.c.syncRunsVersion
    if ((await c.updateOne({ _id: VERSION_ID }, { $inc: { version: 1 } })).matchedCount === 1) return
    try {
      await c.insertOne({ _id: VERSION_ID, version: 1 })
    } catch (err) {
      // Another instance created it first: count this change on top of theirs.
      if (!isDuplicateKeyError(err)) throw err
      await c.updateOne({ _id: VERSION_ID }, { $inc: { version: 1 } })
    }
  }

  // ------------------------------------------------------------ audit log

  async appendAudit (entries: CreateAuditEntryInput[]): Promise<number> {
    return this.#ctx.run('appendAudit', 'audit entry', async () => {
      // The driver rejects an empty insertMany.
      if (entries.length === 0) return 0
      const now = new Date()
      const docs: AuditDoc[] = entries.map((e) => ({
        _id: randomUUID(),
        ...auditEntryFields(e),
        created_at: e.created_at ?? now
      }))
      const res = await this.#ctx.c.audit.insertMany(docs, { ordered: true })
      return res.insertedCount
    })
  }

  async listAudit (query: ListAuditQuery = {}): Promise<Page<AuditEntryRecord>> {
    return this.#ctx.run('listAudit', 'audit entry', async () => {
      const { page, page_size, offset } = normalisePage(query)
      const filter = auditFilter(query)
      const sort: Record<string, 1 | -1> = query.order === 'member'
        ? { user_id: 1, discord_user_id: 1, role_name: 1, role_id: 1, created_at: 1, _id: 1 }
        : { created_at: -1, _id: -1 }
      const [docs, total] = await Promise.all([
        this.#ctx.c.audit.find(filter).sort(sort).skip(offset).limit(page_size).toArray(),
        this.#ctx.c.audit.countDocuments(filter)
      ])
      return { items: docs.map(toAuditRecord), total, page, page_size }
    })
  }

  async pruneAudit (before: Date): Promise<number> {
    return this.#ctx.run('pruneAudit', 'audit entry', async () => {
      const res = await this.#ctx.c.audit.deleteMany({ created_at: { $lt: before } })
      return res.deletedCount
    })
  }
}

/**
 * The audit query as a MongoDB filter. Entries written before `trigger` existed have none and
 * read as `manual` (auditEntryFields), so a `manual` filter matches them too.
 */
function auditFilter (query: ListAuditQuery): Filter<AuditDoc> {
  const and: Array<Filter<AuditDoc>> = []
  if (query.guild_id !== undefined) and.push({ guild_id: query.guild_id })
  if (query.discord_user_id !== undefined) and.push({ discord_user_id: query.discord_user_id })
  if (query.user_id !== undefined) and.push({ user_id: query.user_id })
  if (query.run_id !== undefined) and.push({ run_id: query.run_id })
  if (query.outcome !== undefined) and.push({ outcome: { $in: [...query.outcome] } })
  if (query.action !== undefined) and.push({ action: { $in: [...query.action] } })
  if (query.trigger !== undefined) {
    const triggers = { trigger: { $in: [...query.trigger] } }
    and.push(query.trigger.includes('manual') ? { $or: [triggers, { trigger: { $exists: false } }] } : triggers)
  }
  if (query.from !== undefined) and.push({ created_at: { $gte: query.from } })
  if (query.to !== undefined) and.push({ created_at: { $lt: query.to } })
  if (query.effects_only === true) {
    and.push({ outcome: { $ne: 'dry_run' } }, { $nor: [{ outcome: 'blocked', error_code: 'brake' }] })
  }
  return and.length === 0 ? {} : { $and: and }
}
