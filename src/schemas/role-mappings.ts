import { Type, type Static } from '@sinclair/typebox'
import { ErrorResponse, Snowflake } from './common.js'
import { IsoDateTime, iso, Label, Nullable } from './http.js'
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, type RoleMappingRecord } from '../store/port/index.js'
import { MappingCursorParam } from './mapping-cursor.js'
import { GuildSettings, GuildSettingsInput } from './guilds.js'

/*
 * Group → Discord role mappings (the seed's `discord_role_mappings`). Requests accept the
 * seed's `is_active` (its curl example) and `enabled` (its stored document); responses
 * carry both. Conditions are partial on input (missing keys take the defaults) and
 * complete on output.
 */

export const GroupId = Label(200, 'Host group id (the seed\'s go-falcon group id)')

const CharacterCount = Nullable(Type.Integer({ minimum: 0, maximum: 1_000_000 }))

export const ConditionsInput = Type.Object({
  require_all: Type.Optional(Type.Boolean({ description: 'Default false' })),
  character_count_min: Type.Optional(CharacterCount),
  character_count_max: Type.Optional(CharacterCount),
  required_permissions: Type.Optional(Type.Array(Label(200, 'Host permission'), { maxItems: 50, uniqueItems: true })),
  excluded_groups: Type.Optional(Type.Array(GroupId, { maxItems: 100, uniqueItems: true }))
}, { additionalProperties: false })
export type ConditionsInputBody = Static<typeof ConditionsInput>

export const Conditions = Type.Object({
  require_all: Type.Boolean(),
  character_count_min: Nullable(Type.Integer()),
  character_count_max: Nullable(Type.Integer()),
  required_permissions: Type.Array(Type.String()),
  excluded_groups: Type.Array(Type.String())
})

/** Fields a mapping accepts, shared by create, update and import entries. */
const mappingFields = {
  group_name: Type.Optional(Nullable(Label(200, 'Display name of the group'))),
  discord_role_name: Type.Optional(Nullable(Label(100, 'Informational: the role\'s current name in Discord is stored'))),
  conditions: Type.Optional(ConditionsInput),
  priority: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, description: '1 is first. Default 1' })),
  exclusive_set: Type.Optional(Nullable(Label(100, 'Mappings in one set grant at most one role per user (best priority)'))),
  enabled: Type.Optional(Type.Boolean({ description: 'Default true' })),
  is_active: Type.Optional(Type.Boolean({ description: 'Alias of `enabled` (the seed\'s request name)' }))
}

export const CreateMappingBody = Type.Object({
  group_id: GroupId,
  discord_role_id: Snowflake,
  ...mappingFields
}, { additionalProperties: false })
export type CreateMappingBodyType = Static<typeof CreateMappingBody>

export const UpdateMappingBody = Type.Object({
  group_id: Type.Optional(GroupId),
  discord_role_id: Type.Optional(Snowflake),
  ...mappingFields
}, { additionalProperties: false, minProperties: 1 })
export type UpdateMappingBodyType = Static<typeof UpdateMappingBody>

export const MappingParams = Type.Object({
  mapping_id: Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_-]+$' })
}, { additionalProperties: false })

const MappingPageFields = {
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_PAGE_SIZE, default: DEFAULT_PAGE_SIZE, description: `Mappings per page, in (guild, priority, id) order (at most ${MAX_PAGE_SIZE})` })),
  after: Type.Optional(MappingCursorParam)
}

export const MappingListQuery = Type.Object({
  guild_id: Type.Optional(Snowflake),
  enabled: Type.Optional(Type.Boolean()),
  ...MappingPageFields
}, { additionalProperties: false })

export const GuildMappingListQuery = Type.Object({
  enabled: Type.Optional(Type.Boolean()),
  ...MappingPageFields
}, { additionalProperties: false })

export const RoleMapping = Type.Object({
  id: Type.String(),
  guild_id: Type.String(),
  group_id: Type.String(),
  group_name: Nullable(Type.String()),
  discord_role_id: Type.String(),
  discord_role_name: Nullable(Type.String()),
  conditions: Conditions,
  priority: Type.Integer(),
  exclusive_set: Nullable(Type.String()),
  enabled: Type.Boolean(),
  is_active: Type.Boolean({ description: 'Same value as `enabled`' }),
  created_by: Nullable(Type.String()),
  last_sync: Nullable(IsoDateTime),
  sync_count: Type.Integer(),
  created_at: IsoDateTime,
  updated_at: IsoDateTime
})
export type RoleMappingDto = Static<typeof RoleMapping>

export const RoleMappingList = Type.Object({
  mappings: Type.Array(RoleMapping),
  total: Type.Integer({ description: 'Mappings matching the filter, on every page' }),
  next_cursor: Nullable(Type.String({ description: 'Pass as `after` for the next page; null on the last page' }))
})

export const DeletedMapping = Type.Object({
  id: Type.String(),
  deleted: Type.Literal(true)
})

// ---------------------------------------------------------------- import / export

/** Version of the export document; an import refuses any other. */
export const MAPPING_DOCUMENT_VERSION = 1

/** One mapping in an import document: exactly what a create takes (no ids, no counters). */
export const MappingDocumentEntry = CreateMappingBody
export type MappingDocumentEntryType = CreateMappingBodyType

export const MappingExport = Type.Object({
  version: Type.Literal(MAPPING_DOCUMENT_VERSION),
  guild_id: Type.String(),
  exported_at: IsoDateTime,
  // The mapping as the API shows it, minus what belongs to this installation (ids, creator, counters, dates).
  mappings: Type.Array(Type.Pick(RoleMapping, ['group_id', 'group_name', 'discord_role_id', 'discord_role_name', 'conditions', 'priority', 'exclusive_set', 'enabled'])),
  settings: Type.Object(GuildSettings.properties, { description: 'The guild\'s settings (sync, joins, nicknames, access loss...), as GET /guilds/{guild_id} shows them' })
})
export type MappingExportType = Static<typeof MappingExport>

/** The most entries one import may carry (the body limit bounds it too). */
export const MAX_IMPORT_ENTRIES = 500

/** An export document, plus how to apply it. Sending an export back unchanged is a valid import. */
export const MappingImportBody = Type.Object({
  version: Type.Literal(MAPPING_DOCUMENT_VERSION),
  guild_id: Type.Optional(Snowflake),
  exported_at: Type.Optional(Type.String({ maxLength: 64 })),
  mode: Type.Optional(Type.Union([Type.Literal('merge'), Type.Literal('replace')], { description: 'merge (default): create and update, keep the rest; replace: also delete mappings absent from the document' })),
  dry_run: Type.Optional(Type.Boolean({ description: 'Validate and report without writing. Default false' })),
  mappings: Type.Array(MappingDocumentEntry, { maxItems: MAX_IMPORT_ENTRIES }),
  settings: Type.Optional(Type.Object(GuildSettingsInput.properties, { additionalProperties: false, description: 'Guild settings to apply with the mappings, checked as a guild save checks them (values 400, the bot\'s permissions and channels 422); absent: settings are left as they are' }))
}, { additionalProperties: false })
export type MappingImportBodyType = Static<typeof MappingImportBody>

const ReportEntry = Type.Object({
  mapping_id: Nullable(Type.String(), 'null for entries a dry run would create'),
  group_id: Type.String(),
  discord_role_id: Type.String()
})

export const InvalidEntry = Type.Object({
  index: Type.Integer({ description: 'Position in the document\'s mappings array' }),
  group_id: Type.String(),
  discord_role_id: Type.String(),
  reason: Type.String({ description: 'Stable reason: role_not_found, everyone_role, managed_role, role_not_below_bot, missing_manage_roles, invalid_conditions, duplicate_entry, conflicting_fields' }),
  message: Type.String()
})
export type InvalidEntryType = Static<typeof InvalidEntry>

export const ImportReport = Type.Object({
  guild_id: Type.String(),
  mode: Type.Union([Type.Literal('merge'), Type.Literal('replace')]),
  dry_run: Type.Boolean(),
  applied: Type.Boolean({ description: 'True when the changes were written (never for a dry run or an invalid document)' }),
  created: Type.Array(ReportEntry),
  updated: Type.Array(ReportEntry),
  deleted: Type.Array(ReportEntry),
  unchanged: Type.Array(ReportEntry),
  invalid: Type.Array(InvalidEntry),
  settings_changed: Type.Array(Type.String(), { description: 'Settings the document changes (`settings.auto_join`...); written with the mappings, or only reported by a dry run' })
})
export type ImportReportType = Static<typeof ImportReport>

/** A rejected import: the usual error shape plus the report that says which entries failed. */
export const ImportRejected = Type.Object({
  ...ErrorResponse.properties,
  report: Type.Optional(ImportReport)
})

/** Record → API shape, field by field (see presentGuild). */
export function presentMapping (m: RoleMappingRecord): RoleMappingDto {
  return {
    id: m.id,
    guild_id: m.guild_id,
    group_id: m.group_id,
    group_name: m.group_name,
    discord_role_id: m.discord_role_id,
    discord_role_name: m.discord_role_name,
    conditions: {
      require_all: m.conditions.require_all,
      character_count_min: m.conditions.character_count_min,
      character_count_max: m.conditions.character_count_max,
      required_permissions: [...m.conditions.required_permissions],
      excluded_groups: [...m.conditions.excluded_groups]
    },
    priority: m.priority,
    exclusive_set: m.exclusive_set,
    enabled: m.enabled,
    is_active: m.enabled,
    created_by: m.created_by,
    last_sync: iso(m.last_sync),
    sync_count: m.sync_count,
    created_at: m.created_at.toISOString(),
    updated_at: m.updated_at.toISOString()
  }
}
