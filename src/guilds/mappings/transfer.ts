import type { CreateRoleMappingInput, GuildSettings, MappingConditions, RoleMappingBatch, RoleMappingRecord, UpdateRoleMappingInput } from '../../store/port/index.js'
import { storedSettings } from '../../store/records.js'
import { presentSettings } from '../../schemas/guilds.js'
import {
  MAPPING_DOCUMENT_VERSION,
  type ImportReportType,
  type InvalidEntryType,
  type MappingDocumentEntryType,
  type MappingExportType
} from '../../schemas/role-mappings.js'
import { checkRoleAssignable, computeBasePermissions, type BotGuildFacts } from '../permissions.js'
import { conditionsFromInput, conditionsProblem, resolveAlias } from './rules.js'

/*
 * Bulk export/import of a guild's mappings (and its settings: see MappingService.importGuild,
 * which checks them as a guild save does). The document is declarative: each entry is a
 * complete mapping, identified by its (group_id, discord_role_id) pair (the store's unique
 * key within a guild), and any field an entry leaves out takes its default. So exporting
 * and importing the result changes nothing, whatever the mode.
 *
 * Planning is pure: given the stored mappings and the bot's view of the guild, it yields
 * the report and the batch the store applies all-or-nothing. Nothing is written unless
 * every entry is valid.
 */

export type ImportMode = 'merge' | 'replace'

/** Builds the export document (no ids, no counters: they belong to this installation), with the guild's settings. */
export function buildExport (guildId: string, mappings: readonly RoleMappingRecord[], now: Date, settings: GuildSettings = storedSettings(undefined)): MappingExportType {
  return {
    version: MAPPING_DOCUMENT_VERSION,
    guild_id: guildId,
    exported_at: now.toISOString(),
    mappings: mappings.map((m) => ({
      group_id: m.group_id,
      group_name: m.group_name,
      discord_role_id: m.discord_role_id,
      discord_role_name: m.discord_role_name,
      conditions: m.conditions,
      priority: m.priority,
      exclusive_set: m.exclusive_set,
      enabled: m.enabled
    })),
    settings: presentSettings(settings)
  }
}

/** The desired state of one mapping, as an entry describes it: the record's fields an export carries. */
type DesiredMapping = Pick<RoleMappingRecord, 'group_id' | 'group_name' | 'discord_role_id' | 'discord_role_name' | 'conditions' | 'priority' | 'exclusive_set' | 'enabled'>

const keyOf = (groupId: string, roleId: string): string => `${groupId}\u0000${roleId}`

function sameConditions (a: MappingConditions, b: MappingConditions): boolean {
  return a.require_all === b.require_all &&
    a.character_count_min === b.character_count_min &&
    a.character_count_max === b.character_count_max &&
    a.required_permissions.length === b.required_permissions.length &&
    a.required_permissions.every((p, i) => p === b.required_permissions[i]) &&
    a.excluded_groups.length === b.excluded_groups.length &&
    a.excluded_groups.every((g, i) => g === b.excluded_groups[i])
}

/** The fields of `desired` that differ from `stored`, as a store patch (empty when nothing changes). */
function diff (stored: RoleMappingRecord, desired: DesiredMapping): UpdateRoleMappingInput {
  const patch: UpdateRoleMappingInput = {}
  if (stored.group_name !== desired.group_name) patch.group_name = desired.group_name
  if (stored.discord_role_name !== desired.discord_role_name) patch.discord_role_name = desired.discord_role_name
  if (!sameConditions(stored.conditions, desired.conditions)) patch.conditions = desired.conditions
  if (stored.priority !== desired.priority) patch.priority = desired.priority
  if (stored.exclusive_set !== desired.exclusive_set) patch.exclusive_set = desired.exclusive_set
  if (stored.enabled !== desired.enabled) patch.enabled = desired.enabled
  return patch
}

export interface ImportPlanInput {
  guildId: string
  mode: ImportMode
  dryRun: boolean
  entries: readonly MappingDocumentEntryType[]
  existing: readonly RoleMappingRecord[]
  /** The bot's current view of the guild; every entry's role is checked against it. */
  facts: BotGuildFacts
  /** The importing user, recorded as `created_by` on new mappings. */
  createdBy: string | null
}

export interface ImportPlan {
  /** Report with `applied: false`; the caller sets it once the batch is written. */
  report: ImportReportType
  batch: RoleMappingBatch
  valid: boolean
}

/** Validates every entry and computes the changes; never stops at the first problem, so the report lists them all. */
export function planImport (input: ImportPlanInput): ImportPlan {
  const invalid: InvalidEntryType[] = []
  const desired = new Map<string, DesiredMapping>()
  const permissions = computeBasePermissions(input.facts)
  const rolesById = new Map(input.facts.roles.map((r) => [r.id, r]))

  input.entries.forEach((entry, index) => {
    const reject = (reason: string, message: string): void => {
      invalid.push({ index, group_id: entry.group_id, discord_role_id: entry.discord_role_id, reason, message })
    }
    const key = keyOf(entry.group_id, entry.discord_role_id)
    if (desired.has(key)) {
      reject('duplicate_entry', `Group "${entry.group_id}" is mapped to role ${entry.discord_role_id} more than once in the document`)
      return
    }
    const enabled = resolveAlias(entry.enabled, entry.is_active, ['enabled', 'is_active'])
    if (enabled.error !== null) {
      reject('conflicting_fields', enabled.error)
      return
    }
    const conditions = conditionsFromInput(entry.conditions)
    const problem = conditionsProblem(conditions, entry.group_id)
    if (problem !== null) {
      reject('invalid_conditions', problem)
      return
    }
    const verdict = checkRoleAssignable(input.facts, entry.discord_role_id, permissions)
    if (verdict.denial !== null) {
      reject(verdict.denial, verdict.message)
      return
    }
    desired.set(key, {
      group_id: entry.group_id,
      group_name: entry.group_name ?? null,
      discord_role_id: entry.discord_role_id,
      // Discord's current name wins over the document's: the document may be old.
      discord_role_name: rolesById.get(entry.discord_role_id)?.name ?? entry.discord_role_name ?? null,
      conditions,
      priority: entry.priority ?? 1,
      exclusive_set: entry.exclusive_set ?? null,
      enabled: enabled.value ?? true
    })
  })

  const batch: RoleMappingBatch = { create: [], update: [], delete: [] }
  const report: ImportReportType = {
    guild_id: input.guildId,
    mode: input.mode,
    dry_run: input.dryRun,
    applied: false,
    created: [],
    updated: [],
    deleted: [],
    unchanged: [],
    invalid,
    settings_changed: []
  }
  const existingByKey = new Map(input.existing.map((m) => [keyOf(m.group_id, m.discord_role_id), m]))

  for (const [key, want] of desired) {
    const stored = existingByKey.get(key)
    if (stored === undefined) {
      const create: CreateRoleMappingInput = { guild_id: input.guildId, ...want, created_by: input.createdBy }
      batch.create.push(create)
      report.created.push({ mapping_id: null, group_id: want.group_id, discord_role_id: want.discord_role_id })
      continue
    }
    const patch = diff(stored, want)
    const entry = { mapping_id: stored.id, group_id: stored.group_id, discord_role_id: stored.discord_role_id }
    if (Object.keys(patch).length === 0) {
      report.unchanged.push(entry)
    } else {
      batch.update.push({ id: stored.id, patch })
      report.updated.push(entry)
    }
  }

  if (input.mode === 'replace') {
    // An invalid entry still names a pair the admin wants kept: deleting it would turn a typo into data loss.
    const named = new Set(input.entries.map((e) => keyOf(e.group_id, e.discord_role_id)))
    for (const m of input.existing) {
      if (named.has(keyOf(m.group_id, m.discord_role_id))) continue
      batch.delete.push(m.id)
      report.deleted.push({ mapping_id: m.id, group_id: m.group_id, discord_role_id: m.discord_role_id })
    }
  }

  return { report, batch, valid: invalid.length === 0 }
}
