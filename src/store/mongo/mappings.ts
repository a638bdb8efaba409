import { randomUUID } from 'node:crypto'
import type { ClientSession, Filter } from 'mongodb'
import { NotFoundError, StoreUnavailableError } from '../../errors.js'
import {
  DEFAULT_MAPPING_CONDITIONS,
  pickKnown,
  type CreateRoleMappingInput,
  type ListRoleMappingsQuery,
  type ListRoleMappingsPage,
  type RoleMappingBatch,
  type RoleMappingBatchResult,
  type RoleMappingRecord,
  type RoleMappingStore,
  type UpdateRoleMappingInput
} from '../port/index.js'
import { newMappingFields } from '../records.js'
import { withSession, type MongoContext } from './context.js'
import { definedOnly, toMappingRecord, type MappingDoc } from './documents.js'
import { conflictError, toStoreError } from './errors.js'
import { INDEXES } from './indexes.js'

const MAPPING_UNIQUE_FIELDS = Object.keys((INDEXES.mappings.find((i) => i.unique === true) ?? { key: {} }).key)

/** Group-to-role mappings (the role_mappings collection). */
export class MongoMappings implements RoleMappingStore {
  readonly #ctx: MongoContext

  constructor (ctx: MongoContext) {
    this.#ctx = ctx
  }

  #newMappingDoc (input: CreateRoleMappingInput, now: Date): MappingDoc {
    return {
      _id: randomUUID(),
      ...newMappingFields(input),
      created_at: now,
      updated_at: now
    }
  }

  /** Top-level `$set` for a mapping patch; conditions as dotted paths so they merge. */
  #mappingSet (patch: UpdateRoleMappingInput, now: Date): Record<string, unknown> {
    const p = definedOnly(patch)
    const set: Record<string, unknown> = {}
    if (p.group_id !== undefined) set.group_id = p.group_id
    if (p.group_name !== undefined) set.group_name = p.group_name
    if (p.discord_role_id !== undefined) set.discord_role_id = p.discord_role_id
    if (p.discord_role_name !== undefined) set.discord_role_name = p.discord_role_name
    for (const [k, v] of Object.entries(pickKnown(DEFAULT_MAPPING_CONDITIONS, p.conditions))) set[`conditions.${k}`] = v
    if (p.priority !== undefined) set.priority = p.priority
    if (p.exclusive_set !== undefined) set.exclusive_set = p.exclusive_set
    if (p.enabled !== undefined) set.enabled = p.enabled
    set.updated_at = now
    return set
  }

  async #requireGuild (guildId: string, session?: ClientSession): Promise<void> {
    const g = await this.#ctx.c.guilds.findOne({ guild_id: guildId }, withSession({ projection: { _id: 1 } }, session))
    if (!g) throw new NotFoundError(`Guild ${guildId} is not configured`)
  }

  async createMapping (input: CreateRoleMappingInput): Promise<RoleMappingRecord> {
    return this.#ctx.run('createMapping', 'role mapping', async () => {
      // Check-then-insert: a guild deleted in between can orphan this mapping on a
      // standalone server; deleteGuild's final sweep narrows that window.
      await this.#requireGuild(input.guild_id)
      const doc = this.#newMappingDoc(input, new Date())
      await this.#ctx.c.mappings.insertOne(doc)
      return toMappingRecord(doc)
    })
  }

  async getMapping (id: string): Promise<RoleMappingRecord | null> {
    return this.#ctx.run('getMapping', 'role mapping', async () => {
      const doc = await this.#ctx.c.mappings.findOne({ _id: id })
      return doc ? toMappingRecord(doc) : null
    })
  }

  #mappingFilter (query: ListRoleMappingsQuery): Filter<MappingDoc> {
    const filter: Filter<MappingDoc> = {}
    if (query.guild_id !== undefined) filter.guild_id = query.guild_id
    if (query.enabled !== undefined) filter.enabled = query.enabled
    return filter
  }

  async listMappings (query: ListRoleMappingsPage = {}): Promise<RoleMappingRecord[]> {
    return this.#ctx.run('listMappings', 'role mapping', async () => {
      const filter = this.#mappingFilter(query)
      const a = query.after
      // Strictly after the cursor in (guild_id, priority, _id) order, the sort below.
      if (a !== undefined) {
        filter.$or = [
          { guild_id: { $gt: a.guild_id } },
          { guild_id: a.guild_id, priority: { $gt: a.priority } },
          { guild_id: a.guild_id, priority: a.priority, _id: { $gt: a.id } }
        ]
      }
      let cursor = this.#ctx.c.mappings.find(filter).sort({ guild_id: 1, priority: 1, _id: 1 })
      if (query.limit !== undefined) cursor = cursor.limit(Math.max(1, Math.floor(query.limit)))
      const docs = await cursor.toArray()
      return docs.map(toMappingRecord)
    })
  }

  async updateMapping (id: string, patch: UpdateRoleMappingInput): Promise<RoleMappingRecord | null> {
    return this.#ctx.run('updateMapping', 'role mapping', async () => {
      const doc = await this.#ctx.c.mappings.findOneAndUpdate(
        { _id: id },
        { $set: this.#mappingSet(patch, new Date()) },
        { returnDocument: 'after' }
      )
      return doc ? toMappingRecord(doc) : null
    })
  }

  async deleteMapping (id: string): Promise<boolean> {
    return this.#ctx.run('deleteMapping', 'role mapping', async () => {
      const res = await this.#ctx.c.mappings.deleteOne({ _id: id })
      return res.deletedCount === 1
    })
  }

  /*
   * applyMappingBatch guarantees, per path:
   *
   * - Replica set or sharded cluster (transactions): validation and every write run in
   *   one snapshot transaction. Atomic for all readers and writers; a concurrent write
   *   to the same documents aborts the transaction (the driver retries transient
   *   conflicts), and a crash leaves nothing behind.
   *
   * - Standalone server (and the in-process test double): MongoDB has no
   *   multi-document atomicity there. The batch is validated in full first (guild,
   *   every id belongs to it, the final set of mappings is unique), which rejects every
   *   error a single writer can cause before anything is written. Writes then record
   *   their pre-images, and any failure undoes them in reverse order (remove created,
   *   restore updated, re-insert deleted with their original ids). So for a single
   *   writer the result is all-or-nothing once the call returns or throws. Not
   *   guaranteed: readers may observe the intermediate state while the batch runs; a
   *   process crash mid-batch leaves it partly applied; a concurrent writer can make the
   *   undo itself fail, which is reported as StoreUnavailableError rather than hidden.
   */
  async applyMappingBatch (guildId: string, batch: RoleMappingBatch): Promise<RoleMappingBatchResult> {
    return this.#ctx.run('applyMappingBatch', 'role mapping', async () => {
      if (await this.#ctx.supportsTransactions()) {
        return this.#ctx.inTransaction((session) => this.#applyBatch(guildId, batch, session, undefined))
      }
      const undo: Array<() => Promise<unknown>> = []
      try {
        return await this.#applyBatch(guildId, batch, undefined, undo)
      } catch (err) {
        try {
          for (const step of undo.reverse()) await step()
        } catch (undoErr) {
          throw new StoreUnavailableError('role mapping batch failed and could not be fully rolled back', {
            cause: toStoreError(undoErr, 'applyMappingBatch rollback', 'role mapping')
          })
        }
        throw err
      }
    })
  }

  async #applyBatch (
    guildId: string,
    batch: RoleMappingBatch,
    session: ClientSession | undefined,
    undo: Array<() => Promise<unknown>> | undefined
  ): Promise<RoleMappingBatchResult> {
    const mappings = this.#ctx.c.mappings
    await this.#requireGuild(guildId, session)
    const existing = await mappings.find({ guild_id: guildId }, withSession({}, session)).toArray()

    // Plan: the guild's mappings as they will be after the batch, to prove uniqueness up front.
    const final = new Map(existing.map((d) => [d._id, d]))
    const missing = (id: string): Error => new NotFoundError(`Role mapping ${id} not found in guild ${guildId}`)
    const deleteIds = [...new Set(batch.delete)]
    for (const id of deleteIds) {
      if (!final.delete(id)) throw missing(id)
    }
    const now = new Date()
    const updates = batch.update.map(({ id, patch }) => {
      const current = final.get(id)
      if (!current) throw missing(id)
      const p = definedOnly(patch)
      final.set(id, {
        ...current,
        group_id: p.group_id ?? current.group_id,
        discord_role_id: p.discord_role_id ?? current.discord_role_id
      })
      return { id, set: this.#mappingSet(patch, now) }
    })
    const creates = batch.create.map((input) => {
      if (input.guild_id !== guildId) throw new NotFoundError(`Guild ${input.guild_id} is not the guild of this batch (${guildId})`)
      const doc = this.#newMappingDoc(input, now)
      final.set(doc._id, doc)
      return doc
    })
    const seen = new Set<string>()
    for (const d of final.values()) {
      const key = JSON.stringify([d.group_id, d.discord_role_id])
      if (seen.has(key)) throw conflictError('role mapping', MAPPING_UNIQUE_FIELDS)
      seen.add(key)
    }

    // Apply: deletes first so a batch may replace a mapping with one on the same key.
    for (const id of deleteIds) {
      const before = await mappings.findOneAndDelete({ _id: id, guild_id: guildId }, withSession({}, session))
      if (!before) throw missing(id)
      undo?.push(() => mappings.insertOne(before))
    }
    for (const u of updates) {
      const before = await mappings.findOneAndUpdate(
        { _id: u.id, guild_id: guildId },
        { $set: u.set },
        withSession({ returnDocument: 'before' as const }, session)
      )
      if (!before) throw missing(u.id)
      undo?.push(() => mappings.replaceOne({ _id: u.id }, before))
    }
    for (const doc of creates) {
      await mappings.insertOne(doc, withSession({}, session))
      undo?.push(() => mappings.deleteOne({ _id: doc._id }))
    }

    const updatedIds = [...new Set(updates.map((u) => u.id))]
    const updatedDocs = updatedIds.length === 0
      ? []
      : await mappings.find({ _id: { $in: updatedIds } }, withSession({}, session)).toArray()
    const byId = new Map(updatedDocs.map((d) => [d._id, d]))
    return {
      created: creates.map(toMappingRecord),
      updated: updatedIds.flatMap((id) => {
        const d = byId.get(id)
        return d ? [toMappingRecord(d)] : []
      }),
      deleted: deleteIds
    }
  }

  async recordMappingSync (ids: string[], at: Date): Promise<void> {
    await this.#ctx.run('recordMappingSync', 'role mapping', async () => {
      if (ids.length === 0) return
      await this.#ctx.c.mappings.updateMany({ _id: { $in: ids } }, { $inc: { sync_count: 1 }, $set: { last_sync: at } })
    })
  }

  async countMappings (query: ListRoleMappingsQuery = {}): Promise<number> {
    return this.#ctx.run('countMappings', 'role mapping', async () => this.#ctx.c.mappings.countDocuments(this.#mappingFilter(query)))
  }
}
