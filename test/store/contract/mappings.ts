import { beforeEach, describe, expect, it } from 'vitest'
import { DEFAULT_MAPPING_CONDITIONS } from '../../../src/store/port/index.js'
import type { DiscordStore, RoleMappingRecord } from '../../../src/store/port/index.js'
import { expectConflict, expectNotFound, later, type ContractFixture } from './fixture.js'

/** Role mappings, including the all-or-nothing batch. */
export function roleMappingsContract (fx: ContractFixture): void {
  let store: DiscordStore
  beforeEach(() => {
    store = fx.store
  })
  const { guild, mappingInput } = fx

  // ------------------------------------------------------------ mappings

  describe('discord_role_mappings', () => {
    it('creates a mapping with defaults and reads it back', async () => {
      const gid = await guild()
      const m = await store.createMapping({ guild_id: gid, group_id: 'grp', discord_role_id: '77' })
      expect(m).toMatchObject({
        guild_id: gid,
        group_id: 'grp',
        group_name: null,
        discord_role_id: '77',
        discord_role_name: null,
        conditions: { ...DEFAULT_MAPPING_CONDITIONS },
        priority: 1,
        exclusive_set: null,
        enabled: true,
        created_by: null,
        last_sync: null,
        sync_count: 0
      })
      expect(m.created_at).toBeInstanceOf(Date)
      expect(await store.getMapping(m.id)).toEqual(m)
      expect(await store.getMapping('does-not-exist')).toBeNull()
    })

    it('stores every field and merges partial conditions over the defaults', async () => {
      const gid = await guild()
      const m = await store.createMapping({
        guild_id: gid,
        group_id: 'pilots',
        group_name: 'EVE Pilots',
        discord_role_id: '88',
        discord_role_name: 'Pilot',
        conditions: { character_count_min: 1, required_permissions: ['fly'] },
        priority: 3,
        exclusive_set: 'rank',
        enabled: false,
        created_by: 'host-admin'
      })
      expect(m).toMatchObject({ group_name: 'EVE Pilots', discord_role_name: 'Pilot', priority: 3, exclusive_set: 'rank', enabled: false, created_by: 'host-admin' })
      expect(m.conditions).toEqual({ ...DEFAULT_MAPPING_CONDITIONS, character_count_min: 1, required_permissions: ['fly'] })
      expect(await store.getMapping(m.id)).toEqual(m)
    })

    it('refuses a mapping for an unknown guild', async () => {
      await expectNotFound(store.createMapping(mappingInput('no-such-guild')))
      expect(await store.countMappings()).toBe(0)
    })

    it('lists by guild_id, priority, id with filters, and counts the same way', async () => {
      const g1 = await guild()
      const g2 = await guild()
      const a = await store.createMapping(mappingInput(g1, { priority: 2 }))
      const b = await store.createMapping(mappingInput(g1, { priority: 1, enabled: false }))
      const c = await store.createMapping(mappingInput(g1, { priority: 2 }))
      const d = await store.createMapping(mappingInput(g2, { priority: 5 }))
      const sortKey = (m: RoleMappingRecord): string => `${m.guild_id}|${String(m.priority).padStart(6, '0')}|${m.id}`
      const expectedAll = [a, b, c, d].sort((x, y) => sortKey(x) < sortKey(y) ? -1 : 1)
      expect(await store.listMappings()).toEqual(expectedAll)
      expect((await store.listMappings({ guild_id: g1 })).map((m) => m.id)).toEqual(expectedAll.filter((m) => m.guild_id === g1).map((m) => m.id))
      expect((await store.listMappings({ guild_id: g1, enabled: true })).map((m) => m.id)).toEqual(expectedAll.filter((m) => m.guild_id === g1 && m.enabled).map((m) => m.id))
      expect((await store.listMappings({ enabled: false })).map((m) => m.id)).toEqual([b.id])
      expect(await store.countMappings()).toBe(4)
      expect(await store.countMappings({ guild_id: g1 })).toBe(3)
      expect(await store.countMappings({ guild_id: g1, enabled: true })).toBe(2)
      expect(await store.countMappings({ enabled: false })).toBe(1)
    })

    it('pages by keyset: strictly after (guild_id, priority, id), at most limit, filters kept', async () => {
      const g1 = await guild()
      const g2 = await guild()
      for (const p of [3, 1, 2, 1, 2]) await store.createMapping(mappingInput(g1, { priority: p, enabled: p !== 3 }))
      for (const p of [1, 4]) await store.createMapping(mappingInput(g2, { priority: p }))
      const all = await store.listMappings()
      const seen: RoleMappingRecord[] = []
      let after: { guild_id: string, priority: number, id: string } | undefined
      for (let i = 0; i < 10; i++) {
        const page = await store.listMappings({ limit: 2, ...(after === undefined ? {} : { after }) })
        expect(page.length).toBeLessThanOrEqual(2)
        if (page.length === 0) break
        seen.push(...page)
        const last = page.at(-1) as RoleMappingRecord
        after = { guild_id: last.guild_id, priority: last.priority, id: last.id }
      }
      expect(seen).toEqual(all)
      // Within one guild, with a filter, from the middle of equal priorities.
      const inG1 = all.filter((m) => m.guild_id === g1 && m.enabled)
      const mid = inG1[1] as RoleMappingRecord
      const rest = await store.listMappings({ guild_id: g1, enabled: true, after: { guild_id: mid.guild_id, priority: mid.priority, id: mid.id } })
      expect(rest.map((m) => m.id)).toEqual(inG1.slice(2).map((m) => m.id))
      expect((await store.listMappings({ guild_id: g1, limit: 1 })).map((m) => m.id)).toEqual([all.filter((m) => m.guild_id === g1)[0]?.id])
    })

    it('updates a mapping, merging conditions, and reports unknown ids with null', async () => {
      const gid = await guild()
      const m = await store.createMapping(mappingInput(gid, { conditions: { require_all: true } }))
      later()
      const u = await store.updateMapping(m.id, {
        group_name: 'Renamed',
        conditions: { excluded_groups: ['banned'] },
        priority: 9,
        exclusive_set: 'tier',
        enabled: false
      })
      expect(u).toMatchObject({ id: m.id, group_id: m.group_id, group_name: 'Renamed', priority: 9, exclusive_set: 'tier', enabled: false })
      expect(u?.conditions).toEqual({ ...DEFAULT_MAPPING_CONDITIONS, require_all: true, excluded_groups: ['banned'] })
      expect(u?.updated_at.getTime()).toBeGreaterThan(m.updated_at.getTime())
      expect(await store.getMapping(m.id)).toEqual(u)
      expect(await store.updateMapping('does-not-exist', { priority: 2 })).toBeNull()
    })

    it('keeps stored conditions a patch leaves undefined, and stores no key it does not know', async () => {
      const gid = await guild()
      const m = await store.createMapping(mappingInput(gid, { conditions: { require_all: true, weight: 3 } as Partial<typeof DEFAULT_MAPPING_CONDITIONS> }))
      expect(m.conditions).toEqual({ ...DEFAULT_MAPPING_CONDITIONS, require_all: true })
      const u = await store.updateMapping(m.id, { conditions: { require_all: undefined, character_count_min: 2, note: 'x' } as Partial<typeof DEFAULT_MAPPING_CONDITIONS> })
      expect(u?.conditions).toEqual({ ...DEFAULT_MAPPING_CONDITIONS, require_all: true, character_count_min: 2 })
      expect(await store.getMapping(m.id)).toEqual(u)
      const dump = JSON.stringify(await store.listMappings())
      for (const unknown of ['weight', 'note']) expect(dump).not.toContain(`"${unknown}"`)
    })

    it('deletes a mapping', async () => {
      const gid = await guild()
      const m = await store.createMapping(mappingInput(gid))
      expect(await store.deleteMapping(m.id)).toBe(true)
      expect(await store.getMapping(m.id)).toBeNull()
      expect(await store.deleteMapping(m.id)).toBe(false)
    })

    it('enforces one mapping per (guild_id, group_id, discord_role_id) on create and update', async () => {
      const g1 = await guild()
      const g2 = await guild()
      const m = await store.createMapping(mappingInput(g1, { group_id: 'grp', discord_role_id: '1', group_name: 'Original' }))
      await expectConflict(store.createMapping(mappingInput(g1, { group_id: 'grp', discord_role_id: '1', group_name: 'Dup' })))
      expect(await store.getMapping(m.id)).toEqual(m)
      expect(await store.countMappings()).toBe(1)

      // Same group with another role, and the same pair in another guild, are distinct.
      const other = await store.createMapping(mappingInput(g1, { group_id: 'grp', discord_role_id: '2' }))
      await store.createMapping(mappingInput(g2, { group_id: 'grp', discord_role_id: '1' }))

      await expectConflict(store.updateMapping(other.id, { discord_role_id: '1' }))
      expect(await store.getMapping(other.id)).toEqual(other)
    })

    it('records syncs by incrementing sync_count and setting last_sync', async () => {
      const gid = await guild()
      const a = await store.createMapping(mappingInput(gid))
      const b = await store.createMapping(mappingInput(gid))
      const c = await store.createMapping(mappingInput(gid))
      const t1 = new Date('2025-06-01T00:00:00.000Z')
      const t2 = new Date('2025-06-02T00:00:00.000Z')
      await store.recordMappingSync([a.id, b.id], t1)
      await store.recordMappingSync([a.id, 'does-not-exist'], t2)
      await store.recordMappingSync([], t2)
      const [ra, rb, rc] = await Promise.all([store.getMapping(a.id), store.getMapping(b.id), store.getMapping(c.id)])
      expect(ra?.sync_count).toBe(2)
      expect(ra?.last_sync).toEqual(t2)
      expect(rb?.sync_count).toBe(1)
      expect(rb?.last_sync).toEqual(t1)
      expect(rc?.sync_count).toBe(0)
      expect(rc?.last_sync).toBeNull()
    })

    it('applies a batch of creates, updates and deletes', async () => {
      const gid = await guild()
      const keep = await store.createMapping(mappingInput(gid, { priority: 1 }))
      const change = await store.createMapping(mappingInput(gid, { priority: 2 }))
      const drop = await store.createMapping(mappingInput(gid, { priority: 3 }))
      const result = await store.applyMappingBatch(gid, {
        create: [mappingInput(gid, { group_id: 'new-1', priority: 4 }), mappingInput(gid, { group_id: 'new-2', priority: 5 })],
        update: [{ id: change.id, patch: { priority: 7, group_name: 'Changed' } }],
        delete: [drop.id]
      })
      expect(result.created.map((m) => m.group_id)).toEqual(['new-1', 'new-2'])
      expect(result.updated.map((m) => [m.id, m.priority, m.group_name])).toEqual([[change.id, 7, 'Changed']])
      expect(result.deleted).toEqual([drop.id])
      const now = await store.listMappings({ guild_id: gid })
      expect(now.map((m) => m.id).sort()).toEqual([keep.id, change.id, ...result.created.map((m) => m.id)].sort())
      for (const m of [...result.created, ...result.updated]) expect(await store.getMapping(m.id)).toEqual(m)
    })

    it('leaves everything unchanged when the last operation of a batch conflicts', async () => {
      const gid = await guild()
      const existing = await store.createMapping(mappingInput(gid, { group_id: 'taken', discord_role_id: '10' }))
      const toChange = await store.createMapping(mappingInput(gid))
      const toDrop = await store.createMapping(mappingInput(gid))
      const before = await store.listMappings()
      await expectConflict(store.applyMappingBatch(gid, {
        create: [
          mappingInput(gid, { group_id: 'fresh' }),
          mappingInput(gid, { group_id: 'taken', discord_role_id: '10' })
        ],
        update: [{ id: toChange.id, patch: { priority: 50 } }],
        delete: [toDrop.id]
      }))
      expect(await store.listMappings()).toEqual(before)
      expect(await store.getMapping(existing.id)).toEqual(existing)
    })

    it('rejects conflicts inside one batch atomically', async () => {
      const gid = await guild()
      const before = await store.listMappings()
      await expectConflict(store.applyMappingBatch(gid, {
        create: [mappingInput(gid, { group_id: 'twin', discord_role_id: '5' }), mappingInput(gid, { group_id: 'twin', discord_role_id: '5' })],
        update: [],
        delete: []
      }))
      expect(await store.listMappings()).toEqual(before)
    })

    it('refuses a batch touching another guild or an unknown guild, changing nothing', async () => {
      const g1 = await guild()
      const g2 = await guild()
      const mine = await store.createMapping(mappingInput(g1))
      const theirs = await store.createMapping(mappingInput(g2))
      const before = await store.listMappings()

      await expectNotFound(store.applyMappingBatch(g1, { create: [mappingInput(g1)], update: [{ id: theirs.id, patch: { priority: 9 } }], delete: [] }))
      await expectNotFound(store.applyMappingBatch(g1, { create: [mappingInput(g1)], update: [], delete: [theirs.id] }))
      await expectNotFound(store.applyMappingBatch(g1, { create: [mappingInput(g1)], update: [], delete: ['does-not-exist'] }))
      await expectNotFound(store.applyMappingBatch(g1, { create: [mappingInput(g1), mappingInput(g2)], update: [], delete: [mine.id] }))
      await expectNotFound(store.applyMappingBatch('no-such-guild', { create: [mappingInput('no-such-guild')], update: [], delete: [] }))
      expect(await store.listMappings()).toEqual(before)
    })
  })
}
