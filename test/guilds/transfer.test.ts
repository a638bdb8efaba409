import { describe, expect, it } from 'vitest'
import { buildExport, planImport, type ImportPlanInput } from '../../src/guilds/mappings/transfer.js'
import type { BotGuildFacts } from '../../src/guilds/permissions.js'
import { DEFAULT_MAPPING_CONDITIONS, type RoleMappingRecord } from '../../src/store/port/index.js'
import type { MappingDocumentEntryType } from '../../src/schemas/role-mappings.js'
import { presentSettings } from '../../src/schemas/guilds.js'
import { storedSettings } from '../../src/store/records.js'

const GUILD = '123456789012345678'
const BOT_ROLE = '400000000000000001'
const PILOT = '400000000000000002'
const MEMBER = '400000000000000003'
const HIGH = '400000000000000004'
const MANAGED = '400000000000000005'

const facts: BotGuildFacts = {
  guild_id: GUILD,
  owner_id: '300000000000000001',
  bot_user_id: '200000000000000001',
  member_role_ids: [BOT_ROLE],
  roles: [
    { id: GUILD, name: '@everyone', position: 0, permissions: '0', managed: false },
    { id: BOT_ROLE, name: 'Bot', position: 10, permissions: (1n << 28n).toString(), managed: false },
    { id: PILOT, name: 'EVE Pilot', position: 3, permissions: '0', managed: false },
    { id: MEMBER, name: 'Member', position: 2, permissions: '0', managed: false },
    { id: HIGH, name: 'Admins', position: 11, permissions: '0', managed: false },
    { id: MANAGED, name: 'Booster', position: 1, permissions: '0', managed: true }
  ]
}

function record (id: string, groupId: string, roleId: string, extra: Partial<RoleMappingRecord> = {}): RoleMappingRecord {
  const at = new Date('2024-01-10T09:15:00Z')
  return {
    id,
    guild_id: GUILD,
    group_id: groupId,
    group_name: null,
    discord_role_id: roleId,
    discord_role_name: facts.roles.find((r) => r.id === roleId)?.name ?? null,
    conditions: { ...DEFAULT_MAPPING_CONDITIONS, required_permissions: [], excluded_groups: [] },
    priority: 1,
    exclusive_set: null,
    enabled: true,
    created_by: 'admin-1',
    last_sync: null,
    sync_count: 3,
    created_at: at,
    updated_at: at,
    ...extra
  }
}

function plan (entries: MappingDocumentEntryType[], existing: RoleMappingRecord[], over: Partial<ImportPlanInput> = {}) {
  return planImport({ guildId: GUILD, mode: 'merge', dryRun: false, entries, existing, facts, createdBy: 'admin-2', ...over })
}

describe('buildExport', () => {
  it('writes version 1, the guild, each mapping without ids or counters, and the guild settings', () => {
    const doc = buildExport(GUILD, [record('m1', 'pilots', PILOT, { priority: 2, group_name: 'EVE Players' })], new Date('2024-01-15T10:30:00Z'))
    expect(doc).toEqual({
      version: 1,
      guild_id: GUILD,
      exported_at: '2024-01-15T10:30:00.000Z',
      mappings: [{
        group_id: 'pilots',
        group_name: 'EVE Players',
        discord_role_id: PILOT,
        discord_role_name: 'EVE Pilot',
        conditions: DEFAULT_MAPPING_CONDITIONS,
        priority: 2,
        exclusive_set: null,
        enabled: true
      }],
      // No settings given: the defaults a new guild gets.
      settings: presentSettings(storedSettings(undefined))
    })
    expect(JSON.stringify(doc)).not.toMatch(/"id"|sync_count|created_by/)
  })
})

describe('planImport', () => {
  it('re-importing an export changes nothing in either mode', () => {
    const existing = [record('m1', 'pilots', PILOT), record('m2', 'members', MEMBER, { enabled: false, priority: 4 })]
    const doc = buildExport(GUILD, existing, new Date())
    for (const mode of ['merge', 'replace'] as const) {
      const p = plan(doc.mappings, existing, { mode })
      expect(p.valid).toBe(true)
      expect(p.batch).toEqual({ create: [], update: [], delete: [] })
      expect(p.report.unchanged.map((e) => e.mapping_id)).toEqual(['m1', 'm2'])
    }
  })

  it('merge creates new pairs, updates changed ones and keeps the rest', () => {
    const existing = [record('m1', 'pilots', PILOT), record('m2', 'members', MEMBER)]
    const p = plan([
      { group_id: 'pilots', discord_role_id: PILOT, priority: 5 },
      { group_id: 'fc', discord_role_id: PILOT, is_active: false, discord_role_name: 'stale name' }
    ], existing)
    expect(p.valid).toBe(true)
    expect(p.batch.update).toEqual([{ id: 'm1', patch: { priority: 5 } }])
    expect(p.batch.create).toEqual([{
      guild_id: GUILD,
      group_id: 'fc',
      group_name: null,
      discord_role_id: PILOT,
      discord_role_name: 'EVE Pilot', // Discord's current name wins over a stale document
      conditions: DEFAULT_MAPPING_CONDITIONS,
      priority: 1,
      exclusive_set: null,
      enabled: false,
      created_by: 'admin-2'
    }])
    expect(p.batch.delete).toEqual([])
    expect(p.report.created).toEqual([{ mapping_id: null, group_id: 'fc', discord_role_id: PILOT }])
    expect(p.report.updated).toEqual([{ mapping_id: 'm1', group_id: 'pilots', discord_role_id: PILOT }])
    expect(p.report.deleted).toEqual([])
  })

  it('an entry is a whole mapping: omitted fields return to their defaults', () => {
    const existing = [record('m1', 'pilots', PILOT, { priority: 3, exclusive_set: 'rank', conditions: { ...DEFAULT_MAPPING_CONDITIONS, character_count_min: 2 } })]
    const p = plan([{ group_id: 'pilots', discord_role_id: PILOT }], existing)
    expect(p.batch.update).toEqual([{ id: 'm1', patch: { priority: 1, exclusive_set: null, conditions: DEFAULT_MAPPING_CONDITIONS } }])
  })

  it('replace also deletes stored mappings the document does not name', () => {
    const existing = [record('m1', 'pilots', PILOT), record('m2', 'members', MEMBER)]
    const p = plan([{ group_id: 'pilots', discord_role_id: PILOT }], existing, { mode: 'replace' })
    expect(p.batch.delete).toEqual(['m2'])
    expect(p.report.deleted).toEqual([{ mapping_id: 'm2', group_id: 'members', discord_role_id: MEMBER }])
  })

  it('collects every invalid entry with its index and reason, and marks the plan invalid', () => {
    const p = plan([
      { group_id: 'a', discord_role_id: PILOT },
      { group_id: 'b', discord_role_id: '499999999999999999' },
      { group_id: 'c', discord_role_id: GUILD },
      { group_id: 'd', discord_role_id: MANAGED },
      { group_id: 'e', discord_role_id: HIGH },
      { group_id: 'f', discord_role_id: MEMBER, conditions: { character_count_min: 3, character_count_max: 1 } },
      { group_id: 'a', discord_role_id: PILOT },
      { group_id: 'g', discord_role_id: MEMBER, enabled: true, is_active: false }
    ], [])
    expect(p.valid).toBe(false)
    expect(p.report.invalid.map((i) => [i.index, i.reason])).toEqual([
      [1, 'role_not_found'],
      [2, 'everyone_role'],
      [3, 'managed_role'],
      [4, 'role_not_below_bot'],
      [5, 'invalid_conditions'],
      [6, 'duplicate_entry'],
      [7, 'conflicting_fields']
    ])
    expect(p.report.invalid[3]?.message).toMatch(/Admins.*not below the bot's highest role/)
  })

  it('replace never deletes a pair that an invalid entry names (a typo must not lose data)', () => {
    const existing = [record('m1', 'pilots', PILOT), record('m2', 'members', MEMBER)]
    const p = plan([{ group_id: 'members', discord_role_id: MEMBER, conditions: { character_count_min: 9, character_count_max: 1 } }], existing, { mode: 'replace' })
    expect(p.valid).toBe(false)
    expect(p.batch.delete).toEqual(['m1'])
  })

  it('a bot without Manage Roles makes every entry invalid', () => {
    const weak: BotGuildFacts = { ...facts, roles: facts.roles.map((r) => r.id === BOT_ROLE ? { ...r, permissions: '0' } : r) }
    const p = plan([{ group_id: 'a', discord_role_id: PILOT }], [], { facts: weak })
    expect(p.report.invalid).toEqual([expect.objectContaining({ index: 0, reason: 'missing_manage_roles' })])
  })

  it('carries the mode and dry_run flags into the report, never applied', () => {
    const p = plan([], [], { mode: 'replace', dryRun: true })
    expect(p.report).toMatchObject({ guild_id: GUILD, mode: 'replace', dry_run: true, applied: false })
  })
})
