import { randomUUID } from 'node:crypto'
import { beforeEach, describe, expect, it } from 'vitest'
import { DEFAULT_GUILD_SETTINGS } from '../../../src/store/port/index.js'
import type { DiscordStore } from '../../../src/store/port/index.js'
import { expectConflict, later, snowflake, type ContractFixture } from './fixture.js'

/** Guild configurations and their write-only bot tokens. */
export function guildsContract (fx: ContractFixture): void {
  let store: DiscordStore
  beforeEach(() => {
    store = fx.store
  })
  const { guild, mappingInput } = fx

  // ------------------------------------------------------------ guilds

  describe('discord_guild_configs', () => {
    it('creates a guild with default settings and reads it back', async () => {
      const g = await store.createGuild({ guild_id: snowflake(), guild_name: 'Home' })
      expect(g).toMatchObject({
        guild_name: 'Home',
        enabled: true,
        settings: { ...DEFAULT_GUILD_SETTINGS },
        has_bot_token: false,
        bot_permissions: null,
        bot_user_id: null,
        owner_id: null,
        health_status: 'unknown',
        last_health_check: null,
        last_error: null
      })
      expect(typeof g.id).toBe('string')
      expect(g.created_at).toBeInstanceOf(Date)
      expect(await store.getGuild(g.guild_id)).toEqual(g)
      expect(await store.getGuild('does-not-exist')).toBeNull()
    })

    it('merges partial settings over the defaults and stores every field', async () => {
      const checked = new Date('2025-02-02T02:02:02.000Z')
      const g = await store.createGuild({
        guild_id: snowflake(),
        guild_name: 'Configured',
        enabled: false,
        settings: { sync_interval: '1h', audit_channel_id: '555' },
        bot_permissions: '268435456',
        bot_user_id: '999',
        owner_id: 'host-owner',
        health_status: 'degraded',
        last_health_check: checked,
        last_error: 'missing Manage Roles'
      })
      expect(g.settings).toEqual({ ...DEFAULT_GUILD_SETTINGS, sync_interval: '1h', audit_channel_id: '555' })
      expect(g).toMatchObject({ enabled: false, bot_permissions: '268435456', bot_user_id: '999', owner_id: 'host-owner', health_status: 'degraded', last_error: 'missing Manage Roles' })
      expect(g.last_health_check).toEqual(checked)
      expect(await store.getGuild(g.guild_id)).toEqual(g)
    })

    it('updates fields and merges settings over the stored ones', async () => {
      const g = await store.createGuild({ guild_id: snowflake(), guild_name: 'Before', settings: { sync_interval: '5m' } })
      later()
      const checked = new Date('2025-05-05T05:05:05.000Z')
      const u = await store.updateGuild(g.guild_id, {
        guild_name: 'After',
        settings: { auto_sync: false },
        health_status: 'healthy',
        last_health_check: checked,
        last_error: null
      })
      expect(u).toMatchObject({ id: g.id, guild_name: 'After', health_status: 'healthy' })
      expect(u?.settings).toEqual({ ...DEFAULT_GUILD_SETTINGS, sync_interval: '5m', auto_sync: false })
      expect(u?.last_health_check).toEqual(checked)
      expect(u?.created_at).toEqual(g.created_at)
      expect(u?.updated_at.getTime()).toBeGreaterThan(g.updated_at.getTime())
      expect(await store.getGuild(g.guild_id)).toEqual(u)
      expect(await store.updateGuild('does-not-exist', { guild_name: 'x' })).toBeNull()
    })

    it('keeps a stored setting a patch leaves undefined, and stores no key it does not know', async () => {
      // Callers build patches from optional fields: an undefined value means "not given", never "reset".
      const g = await store.createGuild({ guild_id: snowflake(), guild_name: 'Merge', settings: { auto_sync: false, colour: 'red' } as Partial<typeof DEFAULT_GUILD_SETTINGS> })
      expect(g.settings).toEqual({ ...DEFAULT_GUILD_SETTINGS, auto_sync: false })
      const u = await store.updateGuild(g.guild_id, { settings: { auto_sync: undefined, sync_interval: '5m', shape: 'round' } as Partial<typeof DEFAULT_GUILD_SETTINGS> })
      expect(u?.settings).toEqual({ ...DEFAULT_GUILD_SETTINGS, auto_sync: false, sync_interval: '5m' })
      expect(await store.getGuild(g.guild_id)).toEqual(u)
      const dump = JSON.stringify(await store.listGuilds())
      for (const unknown of ['colour', 'shape']) expect(dump).not.toContain(unknown)
    })

    it('lists guilds by name then guild_id, optionally by enabled', async () => {
      const ids = [snowflake(), snowflake(), snowflake(), snowflake()]
      await store.createGuild({ guild_id: ids[3] as string, guild_name: 'Bravo' })
      await store.createGuild({ guild_id: ids[1] as string, guild_name: 'Alpha', enabled: false })
      await store.createGuild({ guild_id: ids[0] as string, guild_name: 'Alpha' })
      await store.createGuild({ guild_id: ids[2] as string, guild_name: 'Charlie' })
      const all = await store.listGuilds()
      expect(all.map((g) => g.guild_id)).toEqual([ids[0], ids[1], ids[3], ids[2]])
      expect((await store.listGuilds({ enabled: true })).map((g) => g.guild_id)).toEqual([ids[0], ids[3], ids[2]])
      expect((await store.listGuilds({ enabled: false })).map((g) => g.guild_id)).toEqual([ids[1]])
    })

    it('rejects a duplicate guild_id with a conflict and keeps the original', async () => {
      const token = `bot-${randomUUID()}`
      const g = await store.createGuild({ guild_id: snowflake(), guild_name: 'First', bot_token: token })
      const other = `bot-${randomUUID()}`
      await expectConflict(store.createGuild({ guild_id: g.guild_id, guild_name: 'Second', bot_token: other }), [token, other])
      expect(await store.getGuild(g.guild_id)).toEqual(g)
      expect(await store.getBotToken(g.guild_id)).toBe(token)
      expect((await store.listGuilds()).length).toBe(1)
    })

    it('deletes a guild with its mappings and reports how many went with it', async () => {
      const gone = await guild('Gone')
      const kept = await guild('Kept')
      await store.createMapping(mappingInput(gone))
      await store.createMapping(mappingInput(gone))
      await store.createMapping(mappingInput(gone))
      const survivor = await store.createMapping(mappingInput(kept))
      expect(await store.deleteGuild(gone)).toEqual({ deleted: true, mappings_deleted: 3 })
      expect(await store.getGuild(gone)).toBeNull()
      expect(await store.listMappings({ guild_id: gone })).toEqual([])
      expect(await store.listMappings()).toEqual([survivor])
      expect(await store.deleteGuild(gone)).toEqual({ deleted: false, mappings_deleted: 0 })
      // A guild re-created under the same id starts with no mappings.
      await store.createGuild({ guild_id: gone, guild_name: 'Back' })
      expect(await store.countMappings({ guild_id: gone })).toBe(0)
    })
  })

  // ------------------------------------------------------------ bot token

  describe('bot tokens', () => {
    it('seals on create, replaces on update, keeps when omitted, removes with null', async () => {
      const t1 = `MTk4.bot-one-${randomUUID()}`
      const t2 = `MTk4.bot-two-${randomUUID()}`
      const g = await store.createGuild({ guild_id: snowflake(), guild_name: 'Botted', bot_token: t1 })
      expect(g.has_bot_token).toBe(true)
      expect(await store.getBotToken(g.guild_id)).toBe(t1)

      const u1 = await store.updateGuild(g.guild_id, { bot_token: t2 })
      expect(u1?.has_bot_token).toBe(true)
      expect(await store.getBotToken(g.guild_id)).toBe(t2)

      const u2 = await store.updateGuild(g.guild_id, { guild_name: 'Renamed' })
      expect(u2?.has_bot_token).toBe(true)
      expect(await store.getBotToken(g.guild_id)).toBe(t2)

      const u3 = await store.updateGuild(g.guild_id, { bot_token: null })
      expect(u3?.has_bot_token).toBe(false)
      expect(await store.getBotToken(g.guild_id)).toBeNull()
      expect(await store.getBotToken('does-not-exist')).toBeNull()
    })
  })
}
