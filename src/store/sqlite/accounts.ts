import { randomUUID } from 'node:crypto'
import { secretContext } from '../crypto.js'
import {
  MAX_PAGE_SIZE,
  normalisePage,
  type CreateDiscordUserInput,
  type DiscordGuildSummary,
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
import type { Params, SqliteContext } from './context.js'
import { bit, dateOrNull, ms, msOrNull, toUser, toUserParsed, userSelect, type StoredGuildSummary, type TokenRow, type UserRow } from './rows.js'
import { USER_JSON } from './json-rows.js'
import { chunks, inList } from './in-list.js'

type UserJsonRow = Omit<UserRow, 'scopes' | 'guilds'> & { scopes: string[], guilds: StoredGuildSummary[] }

/** Linked Discord accounts and their sealed tokens (discord_users, mirrored guild list in discord_user_guilds). */
export class SqliteAccounts implements LinkedAccountStore, Pick<NameLookup, 'listAccountNames'> {
  readonly #ctx: SqliteContext

  constructor (ctx: SqliteContext) {
    this.#ctx = ctx
  }

  #userRow (discordUserId: string): UserRow | undefined {
    return this.#ctx.get<UserRow>(`SELECT ${userSelect('u')} FROM discord_users u WHERE u.discord_user_id = ?`, [discordUserId])
  }

  #sealTokens (discordUserId: string, tokens: OAuthTokens | null | undefined): { access_token: string | null, refresh_token: string | null, token_expires_at: number | null } {
    if (tokens == null) return { access_token: null, refresh_token: null, token_expires_at: null }
    return {
      access_token: this.#ctx.secrets.seal(tokens.access_token, secretContext.accessToken(discordUserId)),
      refresh_token: tokens.refresh_token == null ? null : this.#ctx.secrets.seal(tokens.refresh_token, secretContext.refreshToken(discordUserId)),
      token_expires_at: msOrNull(tokens.expires_at)
    }
  }

  #replaceUserGuilds (discordUserId: string, guilds: DiscordGuildSummary[]): void {
    this.#ctx.exec('DELETE FROM discord_user_guilds WHERE discord_user_id = ?', [discordUserId])
    for (const g of guilds) {
      // A guild listed twice by the caller is still one membership.
      this.#ctx.exec('INSERT OR IGNORE INTO discord_user_guilds (discord_user_id, guild_id) VALUES (?, ?)', [discordUserId, g.id])
    }
  }

  async createUser (input: CreateDiscordUserInput): Promise<DiscordUserRecord> {
    return this.#ctx.tx(() => {
      const now = Date.now()
      const user = newUserFields(input)
      this.#ctx.exec(`INSERT INTO discord_users (id, user_id, discord_user_id, username, discriminator, global_name, avatar,
          access_token, refresh_token, token_expires_at, scopes, guilds, needs_reauth, last_sync, is_active, created_at, updated_at)
        VALUES (@id, @user_id, @discord_user_id, @username, @discriminator, @global_name, @avatar,
          @access_token, @refresh_token, @token_expires_at, @scopes, @guilds, @needs_reauth, @last_sync, @is_active, @now, @now)`, {
        id: randomUUID(),
        user_id: user.user_id,
        discord_user_id: user.discord_user_id,
        username: user.username,
        discriminator: user.discriminator,
        global_name: user.global_name,
        avatar: user.avatar,
        ...this.#sealTokens(input.discord_user_id, input.tokens),
        scopes: JSON.stringify(input.tokens?.scopes ?? []),
        guilds: JSON.stringify(user.guilds),
        needs_reauth: bit(user.needs_reauth),
        last_sync: msOrNull(user.last_sync),
        is_active: bit(user.is_active),
        now
      })
      this.#replaceUserGuilds(input.discord_user_id, user.guilds)
      return toUser(this.#userRow(input.discord_user_id) as UserRow)
    })
  }

  async getUserByDiscordId (discordUserId: string): Promise<DiscordUserRecord | null> {
    return this.#ctx.run(() => {
      const row = this.#userRow(discordUserId)
      return row === undefined ? null : toUser(row)
    })
  }

  async listUsersByUserId (userId: string): Promise<DiscordUserRecord[]> {
    // As JSON rows: GET /auth/status reads this on every request of a signed-in browser.
    return this.#ctx.run(() => this.#ctx.allJson<UserJsonRow>(
      `SELECT ${USER_JSON} FROM discord_users u WHERE u.user_id = ? ORDER BY u.created_at, u.id`, [userId]
    ).map((r) => toUserParsed(r, r.scopes, r.guilds)))
  }

  async listUsersByDiscordIds (discordUserIds: readonly string[]): Promise<DiscordUserRecord[]> {
    const ids = [...new Set(discordUserIds)]
    return this.#ctx.run(() => {
      const out: DiscordUserRecord[] = []
      for (const chunk of chunks(ids)) {
        const { placeholders, values } = inList(chunk)
        const rows = this.#ctx.all<UserRow>(`SELECT ${userSelect('u')} FROM discord_users u WHERE u.discord_user_id IN (${placeholders})`, values)
        for (const row of rows) out.push(toUser(row))
      }
      return out
    })
  }

  async listAccountNames (discordUserIds: readonly string[]): Promise<AccountNames[]> {
    const ids = [...new Set(discordUserIds)]
    return this.#ctx.run(() => {
      const out: AccountNames[] = []
      // Four columns by the unique index: no guild list or scopes to read and parse per row.
      for (const chunk of chunks(ids)) {
        const { placeholders, values } = inList(chunk)
        out.push(...this.#ctx.all<AccountNames>(`SELECT discord_user_id, username, global_name, avatar FROM discord_users WHERE discord_user_id IN (${placeholders})`, values))
      }
      return out
    })
  }

  async listUsers (query: ListDiscordUsersQuery = {}): Promise<Page<DiscordUserRecord>> {
    const { page, page_size, offset } = normalisePage(query)
    const where: string[] = []
    const params: Params = {}
    if (query.is_active !== undefined) { where.push('u.is_active = @is_active'); params.is_active = bit(query.is_active) }
    if (query.user_id !== undefined) { where.push('u.user_id = @user_id'); params.user_id = query.user_id }
    let from = 'discord_users u'
    if (query.guild_id !== undefined) {
      from = 'discord_user_guilds g JOIN discord_users u ON u.discord_user_id = g.discord_user_id'
      where.push('g.guild_id = @guild_id')
      params.guild_id = query.guild_id
    }
    const clause = where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''
    // One read transaction, so the page and the total come from the same snapshot.
    return this.#ctx.tx(() => {
      const total = (this.#ctx.get<{ n: number }>(`SELECT COUNT(*) AS n FROM ${from} ${clause}`, params) as { n: number }).n
      const items = this.#ctx.allJson<UserJsonRow>(
        `SELECT ${USER_JSON} FROM ${from} ${clause} ORDER BY u.created_at, u.id LIMIT @limit OFFSET @offset`,
        { ...params, limit: page_size, offset }
      ).map((r) => toUserParsed(r, r.scopes, r.guilds))
      return { items, total, page, page_size }
    })
  }

  async searchUsers (query: SearchUsersQuery): Promise<DiscordUserRecord[]> {
    const where: string[] = []
    const params: Params = { limit: Math.max(1, Math.min(query.limit, MAX_PAGE_SIZE)) }
    if (query.after != null) {
      where.push('(u.created_at > @after_at OR (u.created_at = @after_at AND u.id > @after_id))')
      params.after_at = ms(query.after.created_at)
      params.after_id = query.after.id
    }
    if (query.needs_reauth !== undefined) { where.push('u.needs_reauth = @needs_reauth'); params.needs_reauth = bit(query.needs_reauth) }
    if (query.search !== undefined && query.search !== '') {
      // LIKE with every wildcard escaped: the search is text, never a pattern.
      where.push("(u.discord_user_id = @q OR u.user_id = @q OR lower(u.username) LIKE @like ESCAPE '\\' OR lower(coalesce(u.global_name, '')) LIKE @like ESCAPE '\\')")
      params.q = query.search
      params.like = `%${query.search.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`
    }
    const clause = where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''
    return this.#ctx.run(() => this.#ctx.all<UserRow>(
      `SELECT ${userSelect('u')} FROM discord_users u ${clause} ORDER BY u.created_at, u.id LIMIT @limit`, params
    ).map(toUser))
  }

  async updateUser (discordUserId: string, patch: UpdateDiscordUserInput): Promise<DiscordUserRecord | null> {
    return this.#ctx.tx(() => {
      const row = this.#userRow(discordUserId)
      if (row === undefined) return null
      const cur = toUser(row)
      const guilds = patch.guilds ?? cur.guilds
      this.#ctx.exec(`UPDATE discord_users SET username = @username, discriminator = @discriminator, global_name = @global_name,
          avatar = @avatar, guilds = @guilds, is_active = @is_active, needs_reauth = @needs_reauth, last_sync = @last_sync,
          updated_at = @now
        WHERE discord_user_id = @discord_user_id`, {
        discord_user_id: discordUserId,
        username: patch.username ?? cur.username,
        discriminator: patch.discriminator !== undefined ? patch.discriminator : cur.discriminator,
        global_name: patch.global_name !== undefined ? patch.global_name : cur.global_name,
        avatar: patch.avatar !== undefined ? patch.avatar : cur.avatar,
        guilds: JSON.stringify(guilds),
        is_active: bit(patch.is_active ?? cur.is_active),
        needs_reauth: bit(patch.needs_reauth ?? cur.needs_reauth),
        last_sync: patch.last_sync !== undefined ? msOrNull(patch.last_sync) : row.last_sync,
        now: Date.now()
      })
      if (patch.guilds !== undefined) this.#replaceUserGuilds(discordUserId, guilds)
      return toUser(this.#userRow(discordUserId) as UserRow)
    })
  }

  async deleteUser (discordUserId: string): Promise<boolean> {
    // discord_user_guilds rows go with it through ON DELETE CASCADE.
    return this.#ctx.run(() => this.#ctx.exec('DELETE FROM discord_users WHERE discord_user_id = ?', [discordUserId]) > 0)
  }

  async setUserTokens (discordUserId: string, tokens: OAuthTokens | null): Promise<boolean> {
    return this.#ctx.run(() => {
      const sealed = this.#sealTokens(discordUserId, tokens)
      // Clearing tokens leaves needs_reauth alone: a "must authorise again" flag set
      // alongside the removal must survive it.
      const sql = tokens === null
        ? `UPDATE discord_users SET access_token = NULL, refresh_token = NULL, token_expires_at = NULL, scopes = '[]',
             updated_at = @now WHERE discord_user_id = @discord_user_id`
        : `UPDATE discord_users SET access_token = @access_token, refresh_token = @refresh_token,
             token_expires_at = @token_expires_at, scopes = @scopes, needs_reauth = 0, updated_at = @now
           WHERE discord_user_id = @discord_user_id`
      const params: Params = tokens === null
        ? { discord_user_id: discordUserId, now: Date.now() }
        : { discord_user_id: discordUserId, ...sealed, scopes: JSON.stringify(tokens.scopes), now: Date.now() }
      return this.#ctx.exec(sql, params) > 0
    })
  }

  async getUserTokens (discordUserId: string): Promise<OAuthTokens | null> {
    return this.#ctx.run(() => {
      const row = this.#ctx.get<TokenRow>(
        'SELECT access_token, refresh_token, token_expires_at, scopes FROM discord_users WHERE discord_user_id = ?', [discordUserId]
      )
      if (row === undefined || row.access_token === null) return null
      return {
        access_token: this.#ctx.secrets.open(row.access_token, secretContext.accessToken(discordUserId)),
        refresh_token: row.refresh_token === null ? null : this.#ctx.secrets.open(row.refresh_token, secretContext.refreshToken(discordUserId)),
        expires_at: dateOrNull(row.token_expires_at),
        scopes: JSON.parse(row.scopes) as string[]
      }
    })
  }

  async listUsersWithTokensExpiringBefore (before: Date, limit: number): Promise<DiscordUserRecord[]> {
    const n = Math.max(0, Math.min(Math.trunc(limit), 10_000))
    // INDEXED BY: without ANALYZE statistics the planner prefers the is_active index and
    // sorts; naming the partial index also makes SQLite refuse the query outright if a
    // later edit drifts from the index's WHERE clause, instead of silently scanning.
    return this.#ctx.run(() => this.#ctx.all<UserRow>(
      `SELECT ${userSelect('u')} FROM discord_users u INDEXED BY discord_users_refresh_due
       WHERE u.refresh_token IS NOT NULL AND u.needs_reauth = 0 AND u.is_active = 1 AND u.token_expires_at < ?
       ORDER BY u.token_expires_at, u.id LIMIT ?`, [ms(before), n]
    ).map(toUser))
  }

  async countUsers (query: { is_active?: boolean } = {}): Promise<number> {
    return this.#ctx.run(() => {
      const row = query.is_active === undefined
        ? this.#ctx.get<{ n: number }>('SELECT COUNT(*) AS n FROM discord_users')
        : this.#ctx.get<{ n: number }>('SELECT COUNT(*) AS n FROM discord_users WHERE is_active = ?', [bit(query.is_active)])
      return (row as { n: number }).n
    })
  }
}
