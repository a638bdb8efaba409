import { randomUUID } from 'node:crypto'
import type { Filter } from 'mongodb'
import { secretContext } from '../crypto.js'
import {
  MAX_PAGE_SIZE,
  normalisePage,
  type CreateDiscordUserInput,
  type DiscordUserRecord,
  type LinkedAccountStore,
  type ListDiscordUsersQuery,
  type OAuthTokens,
  type Page,
  type SearchUsersQuery,
  type AccountNames,
  type NameLookup,
  type UpdateDiscordUserInput
} from '../port/index.js'
import { newUserFields } from '../records.js'
import type { MongoContext } from './context.js'
import { USER_PUBLIC_PROJECTION, definedOnly, toGuildSummaryDoc, toUserRecord, type PublicUserDoc, type UserDoc } from './documents.js'

/** Linked Discord accounts and their sealed tokens (the users collection). */
export class MongoAccounts implements Pick<NameLookup, 'listAccountNames'>, LinkedAccountStore {
  readonly #ctx: MongoContext

  constructor (ctx: MongoContext) {
    this.#ctx = ctx
  }

  #sealTokens (discordUserId: string, tokens: OAuthTokens | null | undefined): Pick<UserDoc, 'access_token' | 'refresh_token' | 'has_tokens' | 'token_expires_at' | 'scopes'> {
    if (tokens === null || tokens === undefined) {
      return { access_token: null, refresh_token: null, has_tokens: false, token_expires_at: null, scopes: [] }
    }
    const refresh = tokens.refresh_token ?? null
    return {
      access_token: this.#ctx.secrets.seal(tokens.access_token, secretContext.accessToken(discordUserId)),
      refresh_token: refresh === null ? null : this.#ctx.secrets.seal(refresh, secretContext.refreshToken(discordUserId)),
      has_tokens: refresh !== null,
      token_expires_at: tokens.expires_at ?? null,
      scopes: [...tokens.scopes]
    }
  }

  async createUser (input: CreateDiscordUserInput): Promise<DiscordUserRecord> {
    return this.#ctx.run('createUser', 'Discord user', async () => {
      const now = new Date()
      const user = newUserFields(input)
      const doc: UserDoc = {
        _id: randomUUID(),
        ...user,
        guilds: user.guilds.map(toGuildSummaryDoc),
        ...this.#sealTokens(input.discord_user_id, input.tokens),
        created_at: now,
        updated_at: now
      }
      await this.#ctx.c.users.insertOne(doc)
      return toUserRecord(doc)
    })
  }

  async getUserByDiscordId (discordUserId: string): Promise<DiscordUserRecord | null> {
    return this.#ctx.run('getUserByDiscordId', 'Discord user', async () => {
      const doc = await this.#ctx.c.users.findOne({ discord_user_id: discordUserId }, { projection: USER_PUBLIC_PROJECTION })
      return doc ? toUserRecord(doc as PublicUserDoc) : null
    })
  }

  async listUsersByUserId (userId: string): Promise<DiscordUserRecord[]> {
    return this.#ctx.run('listUsersByUserId', 'Discord user', async () => {
      const docs = await this.#ctx.c.users.find({ user_id: userId })
        .sort({ created_at: 1, _id: 1 })
        .project<PublicUserDoc>(USER_PUBLIC_PROJECTION)
        .toArray()
      return docs.map(toUserRecord)
    })
  }

  async listUsersByDiscordIds (discordUserIds: readonly string[]): Promise<DiscordUserRecord[]> {
    return this.#ctx.run('listUsersByDiscordIds', 'Discord user', async () => {
      const ids = [...new Set(discordUserIds)]
      if (ids.length === 0) return []
      // discord_user_id is uniquely indexed, so $in is an index lookup per id.
      const docs = await this.#ctx.c.users.find({ discord_user_id: { $in: ids } })
        .project<PublicUserDoc>(USER_PUBLIC_PROJECTION)
        .toArray()
      return docs.map(toUserRecord)
    })
  }

  async listAccountNames (discordUserIds: readonly string[]): Promise<AccountNames[]> {
    return this.#ctx.run('listAccountNames', 'Discord user', async () => {
      const ids = [...new Set(discordUserIds)]
      if (ids.length === 0) return []
      const docs = await this.#ctx.c.users.find({ discord_user_id: { $in: ids } })
        .project<Pick<UserDoc, 'discord_user_id' | 'username' | 'global_name' | 'avatar'>>({ _id: 0, discord_user_id: 1, username: 1, global_name: 1, avatar: 1 })
        .toArray()
      return docs.map((d) => ({ discord_user_id: d.discord_user_id, username: d.username, global_name: d.global_name ?? null, avatar: d.avatar ?? null }))
    })
  }

  async listUsers (query: ListDiscordUsersQuery = {}): Promise<Page<DiscordUserRecord>> {
    return this.#ctx.run('listUsers', 'Discord user', async () => {
      const { page, page_size, offset } = normalisePage(query)
      const filter: Filter<UserDoc> = {}
      if (query.is_active !== undefined) filter.is_active = query.is_active
      if (query.user_id !== undefined) filter.user_id = query.user_id
      if (query.guild_id !== undefined) filter['guilds.id'] = query.guild_id
      const [docs, total] = await Promise.all([
        this.#ctx.c.users.find(filter)
          .sort({ created_at: 1, _id: 1 })
          .skip(offset)
          .limit(page_size)
          .project<PublicUserDoc>(USER_PUBLIC_PROJECTION)
          .toArray(),
        this.#ctx.c.users.countDocuments(filter)
      ])
      return { items: docs.map(toUserRecord), total, page, page_size }
    })
  }

  async searchUsers (query: SearchUsersQuery): Promise<DiscordUserRecord[]> {
    return this.#ctx.run('searchUsers', 'Discord user', async () => {
      const and: Array<Filter<UserDoc>> = []
      if (query.after != null) {
        const at = query.after.created_at
        and.push({ $or: [{ created_at: { $gt: at } }, { created_at: at, _id: { $gt: query.after.id } }] })
      }
      if (query.needs_reauth !== undefined) and.push({ needs_reauth: query.needs_reauth })
      if (query.search !== undefined && query.search !== '') {
        // Every regex character escaped: the search is text, never a pattern.
        const part = new RegExp(query.search.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), 'i')
        and.push({ $or: [{ discord_user_id: query.search }, { user_id: query.search }, { username: part }, { global_name: part }] })
      }
      const docs = await this.#ctx.c.users.find(and.length > 0 ? { $and: and } : {})
        .sort({ created_at: 1, _id: 1 })
        .limit(Math.max(1, Math.min(query.limit, MAX_PAGE_SIZE)))
        .project<PublicUserDoc>(USER_PUBLIC_PROJECTION)
        .toArray()
      return docs.map(toUserRecord)
    })
  }

  async updateUser (discordUserId: string, patch: UpdateDiscordUserInput): Promise<DiscordUserRecord | null> {
    return this.#ctx.run('updateUser', 'Discord user', async () => {
      const p = definedOnly(patch)
      const set: Partial<UserDoc> = {}
      if (p.username !== undefined) set.username = p.username
      if (p.discriminator !== undefined) set.discriminator = p.discriminator
      if (p.global_name !== undefined) set.global_name = p.global_name
      if (p.avatar !== undefined) set.avatar = p.avatar
      if (p.guilds !== undefined) set.guilds = p.guilds.map(toGuildSummaryDoc)
      if (p.is_active !== undefined) set.is_active = p.is_active
      if (p.needs_reauth !== undefined) set.needs_reauth = p.needs_reauth
      if (p.last_sync !== undefined) set.last_sync = p.last_sync
      set.updated_at = new Date()
      const doc = await this.#ctx.c.users.findOneAndUpdate(
        { discord_user_id: discordUserId },
        { $set: set },
        { returnDocument: 'after', projection: USER_PUBLIC_PROJECTION }
      )
      return doc ? toUserRecord(doc as PublicUserDoc) : null
    })
  }

  async deleteUser (discordUserId: string): Promise<boolean> {
    return this.#ctx.run('deleteUser', 'Discord user', async () => {
      const res = await this.#ctx.c.users.deleteOne({ discord_user_id: discordUserId })
      return res.deletedCount === 1
    })
  }

  async setUserTokens (discordUserId: string, tokens: OAuthTokens | null): Promise<boolean> {
    return this.#ctx.run('setUserTokens', 'Discord user', async () => {
      const res = await this.#ctx.c.users.updateOne(
        { discord_user_id: discordUserId },
        // New tokens end a "must authorise again" state; clearing tokens must not, so a
        // needs_reauth flag set alongside the removal survives it (same as SQLite).
        { $set: { ...this.#sealTokens(discordUserId, tokens), ...(tokens === null ? {} : { needs_reauth: false }), updated_at: new Date() } }
      )
      return res.matchedCount === 1
    })
  }

  async getUserTokens (discordUserId: string): Promise<OAuthTokens | null> {
    return this.#ctx.run('getUserTokens', 'Discord user', async () => {
      const doc = await this.#ctx.c.users.findOne(
        { discord_user_id: discordUserId },
        { projection: { access_token: 1, refresh_token: 1, token_expires_at: 1, scopes: 1 } }
      )
      if (!doc || typeof doc.access_token !== 'string') return null
      return {
        access_token: this.#ctx.secrets.open(doc.access_token, secretContext.accessToken(discordUserId)),
        refresh_token: typeof doc.refresh_token === 'string'
          ? this.#ctx.secrets.open(doc.refresh_token, secretContext.refreshToken(discordUserId))
          : null,
        expires_at: doc.token_expires_at ?? null,
        scopes: [...(doc.scopes ?? [])]
      }
    })
  }

  async listUsersWithTokensExpiringBefore (before: Date, limit: number): Promise<DiscordUserRecord[]> {
    return this.#ctx.run('listUsersWithTokensExpiringBefore', 'Discord user', async () => {
      const n = Math.floor(limit)
      // limit(0) means "no limit" to MongoDB; a caller asking for none must get none.
      if (!(n > 0)) return []
      const docs = await this.#ctx.c.users.find({
        is_active: true,
        has_tokens: true,
        needs_reauth: false,
        token_expires_at: { $lt: before }
      })
        .sort({ token_expires_at: 1, _id: 1 })
        .limit(n)
        .project<PublicUserDoc>(USER_PUBLIC_PROJECTION)
        .toArray()
      return docs.map(toUserRecord)
    })
  }

  async countUsers (query: { is_active?: boolean } = {}): Promise<number> {
    return this.#ctx.run('countUsers', 'Discord user', async () => {
      const filter: Filter<UserDoc> = {}
      if (query.is_active !== undefined) filter.is_active = query.is_active
      return this.#ctx.c.users.countDocuments(filter)
    })
  }
}
