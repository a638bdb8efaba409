import { randomUUID } from 'node:crypto'
import { secretContext } from '../crypto.js'
import {
  DEFAULT_GUILD_SETTINGS,
  mergeKnown,
  type CreateGuildConfigInput,
  type GuildConfigRecord,
  type GuildConfigStore,
  type GuildName,
  type NameLookup,
  type UpdateGuildConfigInput
} from '../port/index.js'
import { newGuildFields } from '../records.js'
import type { SqliteContext } from './context.js'
import { GUILD_SELECT, bit, msOrNull, toGuild, type GuildRow } from './rows.js'

/** Guild configurations and their sealed bot tokens (discord_guild_configs). */
export class SqliteGuilds implements GuildConfigStore, Pick<NameLookup, 'listGuildNames'> {
  readonly #ctx: SqliteContext

  constructor (ctx: SqliteContext) {
    this.#ctx = ctx
  }

  #guildRow (guildId: string): GuildRow | undefined {
    return this.#ctx.get<GuildRow>(`SELECT ${GUILD_SELECT} FROM discord_guild_configs WHERE guild_id = ?`, [guildId])
  }

  #sealBotToken (guildId: string, token: string | null | undefined): string | null {
    return token == null ? null : this.#ctx.secrets.seal(token, secretContext.botToken(guildId))
  }

  async createGuild (input: CreateGuildConfigInput): Promise<GuildConfigRecord> {
    return this.#ctx.tx(() => {
      const now = Date.now()
      const guild = newGuildFields(input)
      this.#ctx.exec(`INSERT INTO discord_guild_configs (id, guild_id, guild_name, enabled, settings, bot_token, bot_permissions,
          bot_user_id, owner_id, health_status, last_health_check, last_error, created_at, updated_at)
        VALUES (@id, @guild_id, @guild_name, @enabled, @settings, @bot_token, @bot_permissions,
          @bot_user_id, @owner_id, @health_status, @last_health_check, @last_error, @now, @now)`, {
        id: randomUUID(),
        ...guild,
        enabled: bit(guild.enabled),
        settings: JSON.stringify(guild.settings),
        bot_token: this.#sealBotToken(input.guild_id, input.bot_token),
        last_health_check: msOrNull(guild.last_health_check),
        now
      })
      return toGuild(this.#guildRow(input.guild_id) as GuildRow)
    })
  }

  async getGuild (guildId: string): Promise<GuildConfigRecord | null> {
    return this.#ctx.run(() => {
      const row = this.#guildRow(guildId)
      return row === undefined ? null : toGuild(row)
    })
  }

  async listGuilds (query: { enabled?: boolean } = {}): Promise<GuildConfigRecord[]> {
    return this.#ctx.run(() => {
      const rows = query.enabled === undefined
        ? this.#ctx.all<GuildRow>(`SELECT ${GUILD_SELECT} FROM discord_guild_configs ORDER BY guild_name, guild_id`)
        : this.#ctx.all<GuildRow>(`SELECT ${GUILD_SELECT} FROM discord_guild_configs WHERE enabled = ? ORDER BY guild_name, guild_id`, [bit(query.enabled)])
      return rows.map(toGuild)
    })
  }

  async listGuildNames (): Promise<GuildName[]> {
    return this.#ctx.run(() => this.#ctx.all<GuildName>('SELECT guild_id, guild_name FROM discord_guild_configs'))
  }

  async updateGuild (guildId: string, patch: UpdateGuildConfigInput): Promise<GuildConfigRecord | null> {
    return this.#ctx.tx(() => {
      const row = this.#guildRow(guildId)
      if (row === undefined) return null
      const cur = toGuild(row)
      const keep = <K extends keyof UpdateGuildConfigInput & keyof GuildConfigRecord>(k: K): unknown =>
        patch[k] !== undefined ? patch[k] : cur[k]
      this.#ctx.exec(`UPDATE discord_guild_configs SET guild_name = @guild_name, enabled = @enabled, settings = @settings,
          bot_permissions = @bot_permissions, bot_user_id = @bot_user_id, owner_id = @owner_id, health_status = @health_status,
          last_health_check = @last_health_check, last_error = @last_error, updated_at = @now
        WHERE guild_id = @guild_id`, {
        guild_id: guildId,
        guild_name: keep('guild_name'),
        enabled: bit(patch.enabled ?? cur.enabled),
        settings: JSON.stringify(mergeKnown(DEFAULT_GUILD_SETTINGS, cur.settings, patch.settings)),
        bot_permissions: keep('bot_permissions'),
        bot_user_id: keep('bot_user_id'),
        owner_id: keep('owner_id'),
        health_status: keep('health_status'),
        last_health_check: patch.last_health_check !== undefined ? msOrNull(patch.last_health_check) : row.last_health_check,
        last_error: keep('last_error'),
        now: Date.now()
      })
      // undefined keeps the stored token; null removes it.
      if (patch.bot_token !== undefined) {
        this.#ctx.exec('UPDATE discord_guild_configs SET bot_token = ? WHERE guild_id = ?', [this.#sealBotToken(guildId, patch.bot_token), guildId])
      }
      return toGuild(this.#guildRow(guildId) as GuildRow)
    })
  }

  async deleteGuild (guildId: string): Promise<{ deleted: boolean, mappings_deleted: number }> {
    // Mappings are deleted explicitly (not only by the cascade) because a cascade's
    // row count is not reported, and the caller wants to know what went.
    return this.#ctx.tx(() => {
      const mappings = this.#ctx.exec('DELETE FROM discord_role_mappings WHERE guild_id = ?', [guildId])
      const deleted = this.#ctx.exec('DELETE FROM discord_guild_configs WHERE guild_id = ?', [guildId]) > 0
      return { deleted, mappings_deleted: mappings }
    })
  }

  async getBotToken (guildId: string): Promise<string | null> {
    return this.#ctx.run(() => {
      const row = this.#ctx.get<{ bot_token: string | null }>('SELECT bot_token FROM discord_guild_configs WHERE guild_id = ?', [guildId])
      if (row === undefined || row.bot_token === null) return null
      return this.#ctx.secrets.open(row.bot_token, secretContext.botToken(guildId))
    })
  }
}
