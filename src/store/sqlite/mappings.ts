import { randomUUID } from 'node:crypto'
import { NotFoundError } from '../../errors.js'
import {
  DEFAULT_MAPPING_CONDITIONS,
  mergeKnown,
  type CreateRoleMappingInput,
  type MappingConditions,
  type ListRoleMappingsQuery,
  type ListRoleMappingsPage,
  type RoleMappingBatch,
  type RoleMappingBatchResult,
  type RoleMappingRecord,
  type RoleMappingStore,
  type UpdateRoleMappingInput
} from '../port/index.js'
import { newMappingFields } from '../records.js'
import type { Params, SqliteContext } from './context.js'
import { bit, ms, msOrNull, toMapping, toMappingParsed, type MappingRow } from './rows.js'
import { MAPPING_JSON } from './json-rows.js'

/** Group-to-role mappings (discord_role_mappings); the guild foreign key keeps them attached to a configured guild. */
export class SqliteMappings implements RoleMappingStore {
  readonly #ctx: SqliteContext

  constructor (ctx: SqliteContext) {
    this.#ctx = ctx
  }

  #mappingRow (id: string): MappingRow | undefined {
    return this.#ctx.get<MappingRow>('SELECT * FROM discord_role_mappings WHERE id = ?', [id])
  }

  #requireGuild (guildId: string): void {
    if (this.#ctx.get('SELECT 1 AS x FROM discord_guild_configs WHERE guild_id = ?', [guildId]) === undefined) {
      throw new NotFoundError(`guild ${guildId} is not configured`)
    }
  }

  #insertMapping (input: CreateRoleMappingInput): RoleMappingRecord {
    this.#requireGuild(input.guild_id)
    const id = randomUUID()
    const now = Date.now()
    const mapping = newMappingFields(input)
    this.#ctx.exec(`INSERT INTO discord_role_mappings (id, guild_id, group_id, group_name, discord_role_id, discord_role_name,
        conditions, priority, exclusive_set, enabled, created_by, last_sync, sync_count, created_at, updated_at)
      VALUES (@id, @guild_id, @group_id, @group_name, @discord_role_id, @discord_role_name,
        @conditions, @priority, @exclusive_set, @enabled, @created_by, @last_sync, @sync_count, @now, @now)`, {
      id,
      ...mapping,
      conditions: JSON.stringify(mapping.conditions),
      enabled: bit(mapping.enabled),
      last_sync: msOrNull(mapping.last_sync),
      now
    })
    return toMapping(this.#mappingRow(id) as MappingRow)
  }

  #patchMapping (row: MappingRow, patch: UpdateRoleMappingInput): RoleMappingRecord {
    const cur = toMapping(row)
    const keep = <K extends keyof UpdateRoleMappingInput & keyof RoleMappingRecord>(k: K): unknown =>
      patch[k] !== undefined ? patch[k] : cur[k]
    this.#ctx.exec(`UPDATE discord_role_mappings SET group_id = @group_id, group_name = @group_name, discord_role_id = @discord_role_id,
        discord_role_name = @discord_role_name, conditions = @conditions, priority = @priority, exclusive_set = @exclusive_set,
        enabled = @enabled, updated_at = @now
      WHERE id = @id`, {
      id: row.id,
      group_id: keep('group_id'),
      group_name: keep('group_name'),
      discord_role_id: keep('discord_role_id'),
      discord_role_name: keep('discord_role_name'),
      conditions: JSON.stringify(mergeKnown(DEFAULT_MAPPING_CONDITIONS, cur.conditions, patch.conditions)),
      priority: keep('priority'),
      exclusive_set: keep('exclusive_set'),
      enabled: bit(patch.enabled ?? cur.enabled),
      now: Date.now()
    })
    return toMapping(this.#mappingRow(row.id) as MappingRow)
  }

  async createMapping (input: CreateRoleMappingInput): Promise<RoleMappingRecord> {
    return this.#ctx.tx(() => this.#insertMapping(input))
  }

  async getMapping (id: string): Promise<RoleMappingRecord | null> {
    return this.#ctx.run(() => {
      const row = this.#mappingRow(id)
      return row === undefined ? null : toMapping(row)
    })
  }

  #mappingFilter (query: ListRoleMappingsQuery): { clause: string, params: Params } {
    const where: string[] = []
    const params: Params = {}
    if (query.guild_id !== undefined) { where.push('guild_id = @guild_id'); params.guild_id = query.guild_id }
    if (query.enabled !== undefined) { where.push('enabled = @enabled'); params.enabled = bit(query.enabled) }
    return { clause: where.length > 0 ? `WHERE ${where.join(' AND ')}` : '', params }
  }

  async listMappings (query: ListRoleMappingsPage = {}): Promise<RoleMappingRecord[]> {
    const { clause, params } = this.#mappingFilter(query)
    let where = clause
    if (query.after !== undefined) {
      // Row-value comparison: the keyset of the ORDER BY, served by the (guild_id, priority) index.
      where = `${clause === '' ? 'WHERE' : `${clause} AND`} (guild_id, priority, id) > (@after_guild, @after_priority, @after_id)`
      Object.assign(params, { after_guild: query.after.guild_id, after_priority: query.after.priority, after_id: query.after.id })
    }
    // Bound, not written into the text: each text is a statement kept for the connection's life.
    const limit = query.limit === undefined ? '' : ' LIMIT @limit'
    if (query.limit !== undefined) params.limit = Math.max(1, Math.floor(query.limit))
    return this.#ctx.run(() => this.#ctx.allJson<Omit<MappingRow, 'conditions'> & { conditions: Partial<MappingConditions> }>(
      `SELECT ${MAPPING_JSON} FROM discord_role_mappings ${where} ORDER BY guild_id, priority, id${limit}`, params
    ).map((r) => toMappingParsed(r, r.conditions)))
  }

  async updateMapping (id: string, patch: UpdateRoleMappingInput): Promise<RoleMappingRecord | null> {
    return this.#ctx.tx(() => {
      const row = this.#mappingRow(id)
      return row === undefined ? null : this.#patchMapping(row, patch)
    })
  }

  async deleteMapping (id: string): Promise<boolean> {
    return this.#ctx.run(() => this.#ctx.exec('DELETE FROM discord_role_mappings WHERE id = ?', [id]) > 0)
  }

  async applyMappingBatch (guildId: string, batch: RoleMappingBatch): Promise<RoleMappingBatchResult> {
    return this.#ctx.tx(() => {
      this.#requireGuild(guildId)
      const owned = (id: string): MappingRow => {
        const row = this.#mappingRow(id)
        if (row === undefined || row.guild_id !== guildId) throw new NotFoundError(`role mapping ${id} does not exist in guild ${guildId}`)
        return row
      }
      // Everything is checked before anything is written, so a refusal names the
      // first offending item rather than a side effect of an earlier step.
      for (const c of batch.create) {
        if (c.guild_id !== guildId) throw new NotFoundError(`role mapping for guild ${c.guild_id} does not belong to guild ${guildId}`)
      }
      for (const u of batch.update) owned(u.id)
      for (const id of batch.delete) owned(id)

      // Deletes first, then updates, then creates: an import that replaces a mapping
      // (delete + create of the same triple) must not collide with the row it removes.
      const deleted: string[] = []
      for (const id of batch.delete) {
        if (this.#ctx.exec('DELETE FROM discord_role_mappings WHERE id = ?', [id]) > 0) deleted.push(id)
      }
      const updated = batch.update.map((u) => this.#patchMapping(owned(u.id), u.patch))
      const created = batch.create.map((c) => this.#insertMapping(c))
      return { created, updated, deleted }
    })
  }

  async recordMappingSync (ids: string[], at: Date): Promise<void> {
    const when = ms(at)
    this.#ctx.tx(() => {
      for (const id of ids) {
        this.#ctx.exec('UPDATE discord_role_mappings SET sync_count = sync_count + 1, last_sync = ? WHERE id = ?', [when, id])
      }
    })
  }

  async countMappings (query: ListRoleMappingsQuery = {}): Promise<number> {
    const { clause, params } = this.#mappingFilter(query)
    return this.#ctx.run(() => (this.#ctx.get<{ n: number }>(`SELECT COUNT(*) AS n FROM discord_role_mappings ${clause}`, params) as { n: number }).n)
  }
}
