import { randomUUID } from 'node:crypto'
import type { Filter } from 'mongodb'
import { secretContext } from '../crypto.js'
import {
  DEFAULT_GUILD_SETTINGS,
  pickKnown,
  type CreateGuildConfigInput,
  type GuildConfigRecord,
  type GuildConfigStore,
  type GuildName,
  type NameLookup,
  type UpdateGuildConfigInput
} from '../port/index.js'
import { newGuildFields } from '../records.js'
import type { MongoContext } from './context.js'
import { GUILD_PUBLIC_PROJECTION, definedOnly, toGuildRecord, type GuildDoc, type PublicGuildDoc } from './documents.js'

/** Guild configurations and their sealed bot tokens (the guild_configs collection). */
export class MongoGuilds implements GuildConfigStore, Pick<NameLookup, 'listGuildNames'> {
  readonly #ctx: MongoContext

  constructor (ctx: MongoContext) {
    this.#ctx = ctx
  }

  #sealBotToken (guildId: string, token: string | null): Pick<GuildDoc, 'bot_token' | 'has_bot_token'> {
    if (token === null) return { bot_token: null, has_bot_token: false }
    return { bot_token: this.#ctx.secrets.seal(token, secretContext.botToken(guildId)), has_bot_token: true }
  }

  async createGuild (input: CreateGuildConfigInput): Promise<GuildConfigRecord> {
    return this.#ctx.run('createGuild', 'guild config', async () => {
      const now = new Date()
      const doc: GuildDoc = {
        _id: randomUUID(),
        ...newGuildFields(input),
        ...this.#sealBotToken(input.guild_id, input.bot_token ?? null),
        created_at: now,
        updated_at: now
      }
      await this.#ctx.c.guilds.insertOne(doc)
      return toGuildRecord(doc)
    })
  }

  async getGuild (guildId: string): Promise<GuildConfigRecord | null> {
    return this.#ctx.run('getGuild', 'guild config', async () => {
      const doc = await this.#ctx.c.guilds.findOne({ guild_id: guildId }, { projection: GUILD_PUBLIC_PROJECTION })
      return doc ? toGuildRecord(doc as PublicGuildDoc) : null
    })
  }

  async listGuildNames (): Promise<GuildName[]> {
    return this.#ctx.run('listGuildNames', 'guild config', async () => {
      const docs = await this.#ctx.c.guilds.find({}).project<GuildName>({ _id: 0, guild_id: 1, guild_name: 1 }).toArray()
      return docs.map((d) => ({ guild_id: d.guild_id, guild_name: d.guild_name }))
    })
  }

  async listGuilds (query: { enabled?: boolean } = {}): Promise<GuildConfigRecord[]> {
    return this.#ctx.run('listGuilds', 'guild config', async () => {
      const filter: Filter<GuildDoc> = {}
      if (query.enabled !== undefined) filter.enabled = query.enabled
      const docs = await this.#ctx.c.guilds.find(filter)
        .sort({ guild_name: 1, guild_id: 1 })
        .project<PublicGuildDoc>(GUILD_PUBLIC_PROJECTION)
        .toArray()
      return docs.map(toGuildRecord)
    })
  }

  async updateGuild (guildId: string, patch: UpdateGuildConfigInput): Promise<GuildConfigRecord | null> {
    return this.#ctx.run('updateGuild', 'guild config', async () => {
      const p = definedOnly(patch)
      const set: Record<string, unknown> = {}
      if (p.guild_name !== undefined) set.guild_name = p.guild_name
      if (p.enabled !== undefined) set.enabled = p.enabled
      // Dotted paths merge into the stored settings on the server, so concurrent
      // updates of different settings do not overwrite each other.
      for (const [k, v] of Object.entries(pickKnown(DEFAULT_GUILD_SETTINGS, p.settings))) set[`settings.${k}`] = v
      if (p.bot_token !== undefined) Object.assign(set, this.#sealBotToken(guildId, p.bot_token))
      if (p.bot_permissions !== undefined) set.bot_permissions = p.bot_permissions
      if (p.bot_user_id !== undefined) set.bot_user_id = p.bot_user_id
      if (p.owner_id !== undefined) set.owner_id = p.owner_id
      if (p.health_status !== undefined) set.health_status = p.health_status
      if (p.last_health_check !== undefined) set.last_health_check = p.last_health_check
      if (p.last_error !== undefined) set.last_error = p.last_error
      set.updated_at = new Date()
      const doc = await this.#ctx.c.guilds.findOneAndUpdate(
        { guild_id: guildId },
        { $set: set },
        { returnDocument: 'after', projection: GUILD_PUBLIC_PROJECTION }
      )
      return doc ? toGuildRecord(doc as PublicGuildDoc) : null
    })
  }

  async deleteGuild (guildId: string): Promise<{ deleted: boolean, mappings_deleted: number }> {
    return this.#ctx.run('deleteGuild', 'guild config', async () => {
      if (await this.#ctx.supportsTransactions()) {
        // Replica set / sharded cluster: guild and mappings go together or not at all,
        // and no reader sees the guild without its mappings or the reverse.
        return this.#ctx.inTransaction(async (session) => {
          const m = await this.#ctx.c.mappings.deleteMany({ guild_id: guildId }, { session })
          const g = await this.#ctx.c.guilds.deleteOne({ guild_id: guildId }, { session })
          return { deleted: g.deletedCount === 1, mappings_deleted: m.deletedCount }
        })
      }
      // Standalone server: no transactions. Mappings go first, so a crash between the
      // steps leaves a guild without mappings (harmless, the guild still shows and can be
      // deleted again) rather than mappings pointing at no guild. The final sweep removes
      // a mapping that a concurrent createMapping inserted after passing its guild check;
      // an insert landing after the sweep can still orphan one mapping (documented limit).
      const first = await this.#ctx.c.mappings.deleteMany({ guild_id: guildId })
      const g = await this.#ctx.c.guilds.deleteOne({ guild_id: guildId })
      const sweep = await this.#ctx.c.mappings.deleteMany({ guild_id: guildId })
      return { deleted: g.deletedCount === 1, mappings_deleted: first.deletedCount + sweep.deletedCount }
    })
  }

  async getBotToken (guildId: string): Promise<string | null> {
    return this.#ctx.run('getBotToken', 'guild config', async () => {
      const doc = await this.#ctx.c.guilds.findOne({ guild_id: guildId }, { projection: { bot_token: 1 } })
      if (!doc || typeof doc.bot_token !== 'string') return null
      return this.#ctx.secrets.open(doc.bot_token, secretContext.botToken(guildId))
    })
  }
}
