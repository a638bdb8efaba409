import { randomUUID } from 'node:crypto'
import { beforeEach, describe, expect, it } from 'vitest'
import { SecretBox, generateKey } from '../../../src/store/crypto.js'
import type { DiscordStore } from '../../../src/store/port/index.js'
import { rejectionOf, snowflake, type ContractFixture } from './fixture.js'

/** Secrets at rest: never in a record, never in plaintext in storage, readable across key rotation. */
export function secretsAtRestContract (fx: ContractFixture): void {
  let store: DiscordStore
  let secrets: SecretBox
  beforeEach(() => {
    store = fx.store
    secrets = fx.secrets
  })
  const { userInput, tokens, mappingInput, open, reopen } = fx
  const { harness } = fx

  // ------------------------------------------------------------ secrets

  describe('secrets at rest', () => {
    const FORBIDDEN_KEYS = ['access_token', 'refresh_token', 'bot_token']

    function assertClean (label: string, value: unknown, plaintexts: string[]): void {
      const json = JSON.stringify(value)
      expect(json, label).toBeDefined()
      for (const p of plaintexts) expect(json.includes(p), `${label} leaks a token`).toBe(false)
      expect(json.includes('dsenc:'), `${label} leaks a sealed envelope`).toBe(false)
      for (const k of FORBIDDEN_KEYS) expect(json.includes(`"${k}"`), `${label} has a ${k} field`).toBe(false)
    }

    it('never returns a token or an envelope in any record', async () => {
      const access = `ACCESS-${randomUUID()}`
      const refresh = `REFRESH-${randomUUID()}`
      const bot = `BOT-${randomUUID()}`
      const access2 = `ACCESS2-${randomUUID()}`
      const refresh2 = `REFRESH2-${randomUUID()}`
      const bot2 = `BOT2-${randomUUID()}`
      const all = [access, refresh, bot, access2, refresh2, bot2]
      const gid = snowflake()
      const soon = new Date(Date.now() + 60_000)

      const u = await store.createUser(userInput({
        user_id: 'host-secret',
        guilds: [{ id: gid, name: 'G', permissions: '0' }],
        tokens: { access_token: access, refresh_token: refresh, expires_at: soon, scopes: ['identify'] }
      }))
      assertClean('createUser', u, all)
      assertClean('getUserByDiscordId', await store.getUserByDiscordId(u.discord_user_id), all)
      assertClean('listUsersByUserId', await store.listUsersByUserId('host-secret'), all)
      assertClean('listUsersByDiscordIds', await store.listUsersByDiscordIds([u.discord_user_id]), all)
      assertClean('listUsers', await store.listUsers(), all)
      assertClean('listUsers(guild)', await store.listUsers({ guild_id: gid }), all)
      assertClean('updateUser', await store.updateUser(u.discord_user_id, { username: 'x' }), all)
      await store.setUserTokens(u.discord_user_id, { access_token: access2, refresh_token: refresh2, expires_at: soon, scopes: ['identify'] })
      assertClean('listUsersWithTokensExpiringBefore', await store.listUsersWithTokensExpiringBefore(new Date(Date.now() + 3_600_000), 10), all)

      const g = await store.createGuild({ guild_id: gid, guild_name: 'Secretive', bot_token: bot })
      assertClean('createGuild', g, all)
      assertClean('updateGuild', await store.updateGuild(gid, { bot_token: bot2 }), all)
      assertClean('getGuild', await store.getGuild(gid), all)
      assertClean('listGuilds', await store.listGuilds(), all)
      const m = await store.createMapping(mappingInput(gid))
      assertClean('createMapping', m, all)
      assertClean('listMappings', await store.listMappings(), all)
      assertClean('deleteGuild', await store.deleteGuild(gid), all)

      // The secrets themselves still come back through their dedicated readers.
      expect(await store.getUserTokens(u.discord_user_id)).toMatchObject({ access_token: access2, refresh_token: refresh2 })
    })

    it('persists no plaintext token of any kind', async () => {
      const bot = `PLAINTEXT-BOT-${randomUUID()}`
      const access = `PLAINTEXT-ACCESS-${randomUUID()}`
      const refresh = `PLAINTEXT-REFRESH-${randomUUID()}`
      const guildName = `Visible Guild ${randomUUID()}`
      const gid = snowflake()
      await store.createGuild({ guild_id: gid, guild_name: guildName, bot_token: bot })
      const u = await store.createUser(userInput({ tokens: { access_token: access, refresh_token: refresh, expires_at: new Date(Date.now() + 60_000), scopes: ['identify'] } }))
      expect(await store.getBotToken(gid)).toBe(bot)
      expect((await store.getUserTokens(u.discord_user_id))?.refresh_token).toBe(refresh)

      const dump = await harness.rawDump(store)
      // The dump must really contain the data, or the absence checks prove nothing.
      expect(dump).toContain(guildName)
      expect(dump).toContain(u.discord_user_id)
      expect(dump).toContain(`dsenc:v1:${secrets.currentKeyId}:`)
      for (const plaintext of [bot, access, refresh]) expect(dump.includes(plaintext)).toBe(false)
      // Not even the distinctive part of a value, e.g. as a fragment of a document.
      for (const plaintext of [bot, access, refresh]) expect(dump.includes(plaintext.slice(-36))).toBe(false)
    })

    it('reads values sealed with a rotated-out key and seals new values with the new key', async () => {
      const oldKey = generateKey()
      const newKey = generateKey()
      const oldBox = new SecretBox(oldKey)
      const s1 = await open(oldBox)
      const t = tokens()
      const bot = `bot-${randomUUID()}`
      const gid = snowflake()
      const u = await s1.createUser(userInput({ tokens: t }))
      await s1.createGuild({ guild_id: gid, guild_name: 'Rotating', bot_token: bot })

      const rotated = new SecretBox([newKey, oldKey])
      expect(rotated.currentKeyId).not.toBe(oldBox.currentKeyId)
      const before = await harness.rawDump(s1)
      expect(before).toContain(`dsenc:v1:${oldBox.currentKeyId}:`)
      expect(before).not.toContain(`dsenc:v1:${rotated.currentKeyId}:`)

      const s2 = await reopen(s1, rotated)
      expect(await s2.getUserTokens(u.discord_user_id)).toEqual(t)
      expect(await s2.getBotToken(gid)).toBe(bot)

      const bot2 = `bot-${randomUUID()}`
      await s2.updateGuild(gid, { bot_token: bot2 })
      const after = await harness.rawDump(s2)
      expect(after).toContain(`dsenc:v1:${rotated.currentKeyId}:`)
      expect(await s2.getBotToken(gid)).toBe(bot2)

      // A store that lost the old key cannot read old values, and says so instead of returning null.
      const s3 = await reopen(s1, new SecretBox(newKey))
      const err = await rejectionOf(s3.getUserTokens(u.discord_user_id))
      expect(err.code).toBe('FST_DISCORD_SECRET_DECRYPT')
      expect(String(err.message)).not.toContain(t.access_token)
      expect(await s3.getBotToken(gid)).toBe(bot2)
    })
  })
}
