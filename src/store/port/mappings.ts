export interface MappingConditions {
  require_all: boolean
  character_count_min: number | null
  character_count_max: number | null
  required_permissions: string[]
  excluded_groups: string[]
}

export const DEFAULT_MAPPING_CONDITIONS: Readonly<MappingConditions> = Object.freeze({
  require_all: false,
  character_count_min: null,
  character_count_max: null,
  required_permissions: [],
  excluded_groups: []
})

export interface RoleMappingRecord {
  id: string
  guild_id: string
  group_id: string
  group_name: string | null
  discord_role_id: string
  discord_role_name: string | null
  conditions: MappingConditions
  /** 1 is first. */
  priority: number
  /** Mappings in the same set grant at most one role per user (the best priority). */
  exclusive_set: string | null
  enabled: boolean
  created_by: string | null
  last_sync: Date | null
  sync_count: number
  created_at: Date
  updated_at: Date
}

export interface CreateRoleMappingInput {
  guild_id: string
  group_id: string
  group_name?: string | null
  discord_role_id: string
  discord_role_name?: string | null
  conditions?: Partial<MappingConditions>
  priority?: number
  exclusive_set?: string | null
  enabled?: boolean
  created_by?: string | null
}

export interface UpdateRoleMappingInput {
  group_id?: string
  group_name?: string | null
  discord_role_id?: string
  discord_role_name?: string | null
  conditions?: Partial<MappingConditions>
  priority?: number
  exclusive_set?: string | null
  enabled?: boolean
}

export interface ListRoleMappingsQuery {
  guild_id?: string
  enabled?: boolean
}

/** Where a page of mappings resumes: strictly after this mapping in (guild_id, priority, id) order. */
export interface MappingCursor {
  guild_id: string
  priority: number
  id: string
}

/** A page of a mapping list: without `limit`, every mapping after `after` (or all of them). */
export interface ListRoleMappingsPage extends ListRoleMappingsQuery {
  after?: MappingCursor
  /** At most this many (a positive integer); the caller clamps it. */
  limit?: number
}

/**
 * A batch of mapping changes applied all-or-nothing (bulk import).
 * Creates, updates and deletes are validated by the caller; the store guarantees
 * atomicity and uniqueness.
 */
export interface RoleMappingBatch {
  create: CreateRoleMappingInput[]
  update: Array<{ id: string, patch: UpdateRoleMappingInput }>
  delete: string[]
}

export interface RoleMappingBatchResult {
  created: RoleMappingRecord[]
  updated: RoleMappingRecord[]
  deleted: string[]
}

/** Group-to-role mappings of configured guilds (the `discord_role_mappings` aggregate). */
export interface RoleMappingStore {
  /** Unique per (guild_id, group_id, discord_role_id); the guild must exist (NotFoundError otherwise). */
  createMapping (input: CreateRoleMappingInput): Promise<RoleMappingRecord>
  getMapping (id: string): Promise<RoleMappingRecord | null>
  /** Ordered by guild_id, priority, id; `after`/`limit` page through that order (keyset). */
  listMappings (query?: ListRoleMappingsPage): Promise<RoleMappingRecord[]>
  updateMapping (id: string, patch: UpdateRoleMappingInput): Promise<RoleMappingRecord | null>
  deleteMapping (id: string): Promise<boolean>
  /** All-or-nothing. On any failure nothing changes and the error is rethrown. */
  applyMappingBatch (guildId: string, batch: RoleMappingBatch): Promise<RoleMappingBatchResult>
  /** Bumps sync_count by one and sets last_sync for each id. */
  recordMappingSync (ids: string[], at: Date): Promise<void>
  countMappings (query?: ListRoleMappingsQuery): Promise<number>
}
