import { beforeEach, describe, expect, it } from 'vitest'
import type { DiscordStore } from '../../../src/store/port/index.js'
import { snowflake, type ContractFixture } from './fixture.js'

/** The narrow name reads of the read routes: the same names the full records carry, nothing else. */
export function nameLookupContract (fx: ContractFixture): void {
  let store: DiscordStore
  beforeEach(() => {
    store = fx.store
  })

  describe('name lookups', () => {
    it('lists the names of the linked accounts among some Discord ids, and only those fields', async () => {
      const a = await store.createUser(fx.userInput({ username: 'alpha', global_name: 'Alpha', avatar: 'a1b2', tokens: fx.tokens() }))
      const b = await store.createUser(fx.userInput({ username: 'beta', is_active: false }))
      await store.createUser(fx.userInput({ username: 'gamma' }))
      const names = await store.listAccountNames?.([a.discord_user_id, snowflake(), b.discord_user_id, a.discord_user_id])
      expect(names?.sort((x, y) => x.username.localeCompare(y.username))).toEqual([
        { discord_user_id: a.discord_user_id, username: 'alpha', global_name: 'Alpha', avatar: 'a1b2' },
        { discord_user_id: b.discord_user_id, username: 'beta', global_name: null, avatar: null }
      ])
      expect(await store.listAccountNames?.([])).toEqual([])
    })

    it('follows renames and unlinks', async () => {
      const a = await store.createUser(fx.userInput({ username: 'before' }))
      await store.updateUser(a.discord_user_id, { username: 'after', global_name: 'After' })
      expect(await store.listAccountNames?.([a.discord_user_id])).toEqual([{ discord_user_id: a.discord_user_id, username: 'after', global_name: 'After', avatar: null }])
      await store.deleteUser(a.discord_user_id)
      expect(await store.listAccountNames?.([a.discord_user_id])).toEqual([])
    })

    it('looks up more Discord ids than one SQL statement binds', async () => {
      const made: string[] = []
      for (let i = 0; i < 5; i++) made.push((await store.createUser(fx.userInput())).discord_user_id)
      const names = await store.listAccountNames?.([...Array.from({ length: 1200 }, () => snowflake()), ...made])
      expect(names?.map((n) => n.discord_user_id).sort()).toEqual([...made].sort())
    })

    it('lists every guild config\'s id and name, renames included', async () => {
      expect(await store.listGuildNames?.()).toEqual([])
      const g1 = await fx.guild('One', 'MTEx.secret.token')
      const g2 = await fx.guild('Two')
      await store.updateGuild(g2, { guild_name: 'Deux', enabled: false })
      const names = await store.listGuildNames?.()
      expect(names?.sort((x, y) => x.guild_name.localeCompare(y.guild_name))).toEqual([{ guild_id: g2, guild_name: 'Deux' }, { guild_id: g1, guild_name: 'One' }])
    })
  })
}
