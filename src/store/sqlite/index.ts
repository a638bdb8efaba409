import { randomUUID } from 'node:crypto'
import { mkdirSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import Database from 'better-sqlite3'
import { NotFoundError, StoreConflictError, StoreUnavailableError } from '../../errors.js'
import { secretContext } from '../crypto.js'
import type { SecretBox } from '../crypto.js'
import {
  DEFAULT_GUILD_SETTINGS,
  DEFAULT_MAPPING_CONDITIONS,
  EMPTY_SYNC_RESULTS,
  MAX_PAGE_SIZE,
  auditEntryFields,
  mergeKnown,
  runListLimit,
  taskRunCounts,
  taskRunErrorFields,
  normalisePage
} from '../port/index.js'
import type {
  AuditEntryRecord,
  ConsumeOAuthStateResult,
  CreateAuditEntryInput,
  CreateDiscordUserInput,
  CreateGuildConfigInput,
  CreateOAuthStateInput,
  CreateRoleMappingInput,
  CreateSyncRunInput,
  CreateTaskRunInput,
  DiscordGuildSummary,
  DiscordStore,
  DiscordUserRecord,
  GuildConfigRecord,
  GuildSettings,
  HealthStatus,
  ListAuditQuery,
  ListDiscordUsersQuery,
  ListRoleMappingsQuery,
  ListSyncRunsQuery,
  ListTaskRunsQuery,
  MappingConditions,
  OAuthFlow,
  OAuthStateRecord,
  OAuthTokens,
  Page,
  RoleMappingBatch,
  RoleMappingBatchResult,
  RoleMappingRecord,
  SyncRunRecord,
  SyncRunResults,
  SyncRunStatus,
  SyncType,
  TaskName,
  TaskRunError,
  TaskRunRecord,
  TaskRunStatus,
  UpdateDiscordUserInput,
  UpdateGuildConfigInput,
  UpdateRoleMappingInput,
  UpdateSyncRunInput
} from '../port/index.js'
import { migrate } from './migrations.js'

export { MIGRATIONS, migrate, schemaVersion } from './migrations.js'
export type { Migration, MigrationOutcome } from './migrations.js'

export interface SqliteStoreOptions {
  /** Database file (its directory is created if missing) or ':memory:'. Ignored when `database` is given. */
  path: string
  secrets: SecretBox
  /** A handle owned by the host: used as is, never closed by the store. */
  database?: Database.Database
}

// ---------------------------------------------------------------- rows

type Bit = 0 | 1

interface UserRow {
  id: string
  user_id: string
  discord_user_id: string
  username: string
  discriminator: string | null
  global_name: string | null
  avatar: string | null
  token_expires_at: number | null
  scopes: string
  guilds: string
  has_tokens: Bit
  needs_reauth: Bit
  last_sync: number | null
  is_active: Bit
  created_at: number
  updated_at: number
}

interface TokenRow {
  access_token: string | null
  refresh_token: string | null
  token_expires_at: number | null
  scopes: string
}

interface GuildRow {
  id: string
  guild_id: string
  guild_name: string
  enabled: Bit
  settings: string
  has_bot_token: Bit
  bot_permissions: string | null
  bot_user_id: string | null
  owner_id: string | null
  health_status: HealthStatus
  last_health_check: number | null
  last_error: string | null
  created_at: number
  updated_at: number
}

interface MappingRow {
  id: string
  guild_id: string
  group_id: string
  group_name: string | null
  discord_role_id: string
  discord_role_name: string | null
  conditions: string
  priority: number
  exclusive_set: string | null
  enabled: Bit
  created_by: string | null
  last_sync: number | null
  sync_count: number
  created_at: number
  updated_at: number
}

interface SyncRunRow {
  id: string
  sync_type: SyncType
  target_id: string | null
  status: SyncRunStatus
  dry_run: Bit
  force: Bit
  started_at: number | null
  completed_at: number | null
  duration: number | null
  heartbeat_at: number | null
  results: string
  initiated_by: string
  created_at: number
}

interface TaskRunRow {
  id: string
  task: TaskName
  status: TaskRunStatus
  reason: string | null
  started_at: number
  finished_at: number
  duration_ms: number
  counts: string
  errors: string
}

interface OAuthStateRow {
  id: string
  state: string
  flow: OAuthFlow
  user_id: string | null
  redirect_url: string | null
  scopes: string
  code_verifier: string | null
  created_at: number
  expires_at: number
  used: Bit
}

type AuditRow = Omit<AuditEntryRecord, 'created_at'> & { created_at: number }

// Token columns are deliberately absent from every record projection: a record
// can then never carry a secret, whatever a caller does with it.
const USER_COLUMNS = [
  'id', 'user_id', 'discord_user_id', 'username', 'discriminator', 'global_name', 'avatar',
  'token_expires_at', 'scopes', 'guilds', 'needs_reauth', 'last_sync', 'is_active', 'created_at', 'updated_at'
]
const userSelect = (alias: string): string =>
  [...USER_COLUMNS.map((c) => `${alias}.${c}`), `(${alias}.refresh_token IS NOT NULL) AS has_tokens`].join(', ')

const GUILD_SELECT = `id, guild_id, guild_name, enabled, settings, (bot_token IS NOT NULL) AS has_bot_token,
  bot_permissions, bot_user_id, owner_id, health_status, last_health_check, last_error, created_at, updated_at`

const FINISHED_RUN_STATUSES = "('completed', 'failed', 'blocked')"

// ---------------------------------------------------------------- conversions

const bit = (b: boolean): Bit => (b ? 1 : 0)

function ms (d: Date): number {
  const t = d.getTime()
  if (Number.isNaN(t)) throw new TypeError('invalid Date passed to the SQLite store')
  return t
}
const msOrNull = (d: Date | null | undefined): number | null => (d == null ? null : ms(d))
const dateOrNull = (n: number | null): Date | null => (n === null ? null : new Date(n))

function reviveGuilds (json: string): DiscordGuildSummary[] {
  const list = JSON.parse(json) as Array<Omit<DiscordGuildSummary, 'joined_at'> & { joined_at?: string | null }>
  return list.map((g) => {
    if (g.joined_at === undefined) return g as DiscordGuildSummary
    return { ...g, joined_at: g.joined_at === null ? null : new Date(g.joined_at) }
  })
}

function reviveResults (json: string): SyncRunResults {
  const r = JSON.parse(json) as SyncRunResults
  return {
    ...EMPTY_SYNC_RESULTS,
    ...r,
    errors: (r.errors ?? []).map((e) => ({ ...e, occurred_at: new Date(e.occurred_at as unknown as string) }))
  }
}

// Stored settings/conditions are merged over today's defaults on read, so a field
// added in a later release has a value on rows written before it existed.
const reviveSettings = (json: string): GuildSettings => mergeKnown(DEFAULT_GUILD_SETTINGS, JSON.parse(json) as Partial<GuildSettings>)
const reviveConditions = (json: string): MappingConditions => mergeKnown(DEFAULT_MAPPING_CONDITIONS, JSON.parse(json) as Partial<MappingConditions>)

function toUser (r: UserRow): DiscordUserRecord {
  return {
    id: r.id,
    user_id: r.user_id,
    discord_user_id: r.discord_user_id,
    username: r.username,
    discriminator: r.discriminator,
    global_name: r.global_name,
    avatar: r.avatar,
    scopes: JSON.parse(r.scopes) as string[],
    guilds: reviveGuilds(r.guilds),
    token_expires_at: dateOrNull(r.token_expires_at),
    has_tokens: r.has_tokens === 1,
    needs_reauth: r.needs_reauth === 1,
    last_sync: dateOrNull(r.last_sync),
    is_active: r.is_active === 1,
    created_at: new Date(r.created_at),
    updated_at: new Date(r.updated_at)
  }
}

function toGuild (r: GuildRow): GuildConfigRecord {
  return {
    id: r.id,
    guild_id: r.guild_id,
    guild_name: r.guild_name,
    enabled: r.enabled === 1,
    settings: reviveSettings(r.settings),
    has_bot_token: r.has_bot_token === 1,
    bot_permissions: r.bot_permissions,
    bot_user_id: r.bot_user_id,
    owner_id: r.owner_id,
    health_status: r.health_status,
    last_health_check: dateOrNull(r.last_health_check),
    last_error: r.last_error,
    created_at: new Date(r.created_at),
    updated_at: new Date(r.updated_at)
  }
}

function toMapping (r: MappingRow): RoleMappingRecord {
  return {
    id: r.id,
    guild_id: r.guild_id,
    group_id: r.group_id,
    group_name: r.group_name,
    discord_role_id: r.discord_role_id,
    discord_role_name: r.discord_role_name,
    conditions: reviveConditions(r.conditions),
    priority: r.priority,
    exclusive_set: r.exclusive_set,
    enabled: r.enabled === 1,
    created_by: r.created_by,
    last_sync: dateOrNull(r.last_sync),
    sync_count: r.sync_count,
    created_at: new Date(r.created_at),
    updated_at: new Date(r.updated_at)
  }
}

function toSyncRun (r: SyncRunRow): SyncRunRecord {
  return {
    id: r.id,
    sync_type: r.sync_type,
    target_id: r.target_id,
    status: r.status,
    dry_run: r.dry_run === 1,
    force: r.force === 1,
    started_at: dateOrNull(r.started_at),
    completed_at: dateOrNull(r.completed_at),
    duration: r.duration,
    heartbeat_at: dateOrNull(r.heartbeat_at),
    results: reviveResults(r.results),
    initiated_by: r.initiated_by,
    created_at: new Date(r.created_at)
  }
}

function toTaskRun (r: TaskRunRow): TaskRunRecord {
  return {
    id: r.id,
    task: r.task,
    status: r.status,
    reason: r.reason,
    started_at: new Date(r.started_at),
    finished_at: new Date(r.finished_at),
    duration_ms: r.duration_ms,
    counts: taskRunCounts(JSON.parse(r.counts) as Record<string, number>),
    errors: (JSON.parse(r.errors) as TaskRunError[]).map(taskRunErrorFields)
  }
}

function toOAuthState (r: OAuthStateRow): OAuthStateRecord {
  return {
    id: r.id,
    state: r.state,
    flow: r.flow,
    user_id: r.user_id,
    redirect_url: r.redirect_url,
    scopes: JSON.parse(r.scopes) as string[],
    code_verifier: r.code_verifier,
    created_at: new Date(r.created_at),
    expires_at: new Date(r.expires_at),
    used: r.used === 1
  }
}

function toAudit (r: AuditRow): AuditEntryRecord {
  return { ...r, created_at: new Date(r.created_at) }
}

// ---------------------------------------------------------------- errors

const CONFLICT_SUBJECT: Record<string, string> = {
  discord_users: 'a Discord account link',
  discord_user_guilds: 'a Discord account guild entry',
  discord_guild_configs: 'a guild configuration',
  discord_role_mappings: 'a role mapping',
  discord_sync_status: 'a sync run',
  discord_oauth_states: 'an OAuth state',
  discord_audit_log: 'an audit entry'
}

interface SqliteErrorLike { code: string, message: string }

function isSqliteError (err: unknown): err is SqliteErrorLike {
  return err instanceof Database.SqliteError
}

/**
 * Translates driver errors into the port's errors. SQLite names the table and
 * columns of a violated constraint ("UNIQUE constraint failed: t.a, t.b") but never
 * the values, so the message can be rebuilt from it without risking a secret.
 */
function translate (err: unknown): unknown {
  if (!isSqliteError(err)) return err
  if (err.code === 'SQLITE_CONSTRAINT_UNIQUE' || err.code === 'SQLITE_CONSTRAINT_PRIMARYKEY') {
    const cols = (err.message.split(':')[1] ?? '').split(',').map((c) => c.trim()).filter(Boolean)
    const table = cols[0]?.split('.')[0] ?? ''
    const fields = cols.map((c) => c.split('.').pop()).join(', ')
    const subject = CONFLICT_SUBJECT[table] ?? 'a record'
    return new StoreConflictError(`${subject} with the same ${fields || 'key'} already exists`)
  }
  if (err.code === 'SQLITE_CONSTRAINT_FOREIGNKEY') {
    return new NotFoundError('the referenced guild configuration does not exist')
  }
  return new StoreUnavailableError(`SQLite error ${err.code}`, { cause: err })
}

// ---------------------------------------------------------------- store

type Params = Record<string, unknown>

export class SqliteStore implements DiscordStore {
  readonly kind = 'sqlite'

  readonly #path: string
  readonly #secrets: SecretBox
  readonly #hostDb: Database.Database | undefined
  #db: Database.Database | undefined
  #closed = false
  // Statement texts come from a closed set (fixed queries plus filter combinations),
  // so this cache is bounded; each text is compiled once per connection.
  readonly #statements = new Map<string, Database.Statement>()

  constructor (opts: SqliteStoreOptions) {
    this.#path = opts.path
    this.#secrets = opts.secrets
    this.#hostDb = opts.database
  }

  async init (): Promise<void> {
    if (this.#closed) throw new StoreUnavailableError('the SQLite store has been closed')
    if (this.#db === undefined) this.#db = this.#open()
    try {
      migrate(this.#db)
    } catch (err) {
      throw translate(err)
    }
  }

  async ping (): Promise<void> {
    this.#run(() => this.#stmt('SELECT 1').get())
  }

  async close (): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#statements.clear()
    if (this.#db !== undefined && this.#db !== this.#hostDb) this.#db.close()
    this.#db = undefined
  }

  /**
   * Copies WAL frames into the main file (PASSIVE: never waits for readers). Hosts
   * call it before a file-level backup; tests call it before reading the file.
   */
  checkpoint (): void {
    this.#run(() => this.#conn().pragma('wal_checkpoint(PASSIVE)'))
  }

  #open (): Database.Database {
    if (this.#hostDb !== undefined) {
      // Journal mode and durability are the host's decisions for its own handle;
      // foreign keys are not optional for us (mapping integrity depends on them).
      this.#hostDb.pragma('foreign_keys = ON')
      if (this.#hostDb.pragma('foreign_keys', { simple: true }) !== 1) {
        throw new StoreUnavailableError('foreign keys cannot be enabled on the provided SQLite handle (is a transaction open?)')
      }
      return this.#hostDb
    }
    const inMemory = this.#path === ':memory:' || this.#path === ''
    if (!inMemory) {
      const dir = dirname(resolve(this.#path))
      try {
        mkdirSync(dir, { recursive: true })
      } catch (err) {
        throw new StoreUnavailableError(`cannot create the SQLite directory ${dir} (${(err as NodeJS.ErrnoException).code ?? 'error'})`, { cause: err })
      }
    }
    let db: Database.Database
    try {
      db = new Database(this.#path)
    } catch (err) {
      throw translate(err)
    }
    try {
      // WAL lets the status routes read while a sync run writes; NORMAL is durable
      // across application crashes in WAL mode and only risks the last commits on power loss.
      db.pragma('journal_mode = WAL')
      db.pragma('synchronous = NORMAL')
      db.pragma('foreign_keys = ON')
      db.pragma('busy_timeout = 5000')
    } catch (err) {
      db.close()
      throw translate(err)
    }
    return db
  }

  #conn (): Database.Database {
    if (this.#db === undefined) {
      throw new StoreUnavailableError(this.#closed ? 'the SQLite store has been closed' : 'the SQLite store is not initialised (call init() first)')
    }
    return this.#db
  }

  #stmt (sql: string): Database.Statement {
    let s = this.#statements.get(sql)
    if (s === undefined) {
      s = this.#conn().prepare(sql)
      this.#statements.set(sql, s)
    }
    return s
  }

  #get<T> (sql: string, params: Params | unknown[] = []): T | undefined {
    return (Array.isArray(params) ? this.#stmt(sql).get(...params) : this.#stmt(sql).get(params)) as T | undefined
  }

  #all<T> (sql: string, params: Params | unknown[] = []): T[] {
    return (Array.isArray(params) ? this.#stmt(sql).all(...params) : this.#stmt(sql).all(params)) as T[]
  }

  #exec (sql: string, params: Params | unknown[] = []): number {
    return (Array.isArray(params) ? this.#stmt(sql).run(...params) : this.#stmt(sql).run(params)).changes
  }

  #run<T> (fn: () => T): T {
    try {
      return fn()
    } catch (err) {
      throw translate(err)
    }
  }

  /** Runs `fn` in a transaction (a savepoint when nested) and translates errors once. */
  #tx<T> (fn: () => T): T {
    return this.#run(() => this.#conn().transaction(fn)())
  }

  // -------------------------------------------------------------- discord_users

  #userRow (discordUserId: string): UserRow | undefined {
    return this.#get<UserRow>(`SELECT ${userSelect('u')} FROM discord_users u WHERE u.discord_user_id = ?`, [discordUserId])
  }

  #sealTokens (discordUserId: string, tokens: OAuthTokens | null | undefined): { access_token: string | null, refresh_token: string | null, token_expires_at: number | null } {
    if (tokens == null) return { access_token: null, refresh_token: null, token_expires_at: null }
    return {
      access_token: this.#secrets.seal(tokens.access_token, secretContext.accessToken(discordUserId)),
      refresh_token: tokens.refresh_token == null ? null : this.#secrets.seal(tokens.refresh_token, secretContext.refreshToken(discordUserId)),
      token_expires_at: msOrNull(tokens.expires_at)
    }
  }

  #replaceUserGuilds (discordUserId: string, guilds: DiscordGuildSummary[]): void {
    this.#exec('DELETE FROM discord_user_guilds WHERE discord_user_id = ?', [discordUserId])
    for (const g of guilds) {
      // A guild listed twice by the caller is still one membership.
      this.#exec('INSERT OR IGNORE INTO discord_user_guilds (discord_user_id, guild_id) VALUES (?, ?)', [discordUserId, g.id])
    }
  }

  async createUser (input: CreateDiscordUserInput): Promise<DiscordUserRecord> {
    return this.#tx(() => {
      const now = Date.now()
      const guilds = input.guilds ?? []
      this.#exec(`INSERT INTO discord_users (id, user_id, discord_user_id, username, discriminator, global_name, avatar,
          access_token, refresh_token, token_expires_at, scopes, guilds, needs_reauth, last_sync, is_active, created_at, updated_at)
        VALUES (@id, @user_id, @discord_user_id, @username, @discriminator, @global_name, @avatar,
          @access_token, @refresh_token, @token_expires_at, @scopes, @guilds, 0, NULL, @is_active, @now, @now)`, {
        id: randomUUID(),
        user_id: input.user_id,
        discord_user_id: input.discord_user_id,
        username: input.username,
        discriminator: input.discriminator ?? null,
        global_name: input.global_name ?? null,
        avatar: input.avatar ?? null,
        ...this.#sealTokens(input.discord_user_id, input.tokens),
        scopes: JSON.stringify(input.tokens?.scopes ?? []),
        guilds: JSON.stringify(guilds),
        is_active: bit(input.is_active ?? true),
        now
      })
      this.#replaceUserGuilds(input.discord_user_id, guilds)
      return toUser(this.#userRow(input.discord_user_id) as UserRow)
    })
  }

  async getUserByDiscordId (discordUserId: string): Promise<DiscordUserRecord | null> {
    return this.#run(() => {
      const row = this.#userRow(discordUserId)
      return row === undefined ? null : toUser(row)
    })
  }

  async listUsersByUserId (userId: string): Promise<DiscordUserRecord[]> {
    return this.#run(() => this.#all<UserRow>(
      `SELECT ${userSelect('u')} FROM discord_users u WHERE u.user_id = ? ORDER BY u.created_at, u.id`, [userId]
    ).map(toUser))
  }

  async listUsersByDiscordIds (discordUserIds: readonly string[]): Promise<DiscordUserRecord[]> {
    const ids = [...new Set(discordUserIds)]
    return this.#run(() => {
      const out: DiscordUserRecord[] = []
      // Chunks stay far below SQLite's bound-parameter limit whatever it was compiled with.
      for (let i = 0; i < ids.length; i += 500) {
        const chunk = ids.slice(i, i + 500)
        const rows = this.#all<UserRow>(
          `SELECT ${userSelect('u')} FROM discord_users u WHERE u.discord_user_id IN (${chunk.map(() => '?').join(', ')})`, chunk)
        for (const row of rows) out.push(toUser(row))
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
    return this.#tx(() => {
      const total = (this.#get<{ n: number }>(`SELECT COUNT(*) AS n FROM ${from} ${clause}`, params) as { n: number }).n
      const items = this.#all<UserRow>(
        `SELECT ${userSelect('u')} FROM ${from} ${clause} ORDER BY u.created_at, u.id LIMIT @limit OFFSET @offset`,
        { ...params, limit: page_size, offset }
      ).map(toUser)
      return { items, total, page, page_size }
    })
  }

  async updateUser (discordUserId: string, patch: UpdateDiscordUserInput): Promise<DiscordUserRecord | null> {
    return this.#tx(() => {
      const row = this.#userRow(discordUserId)
      if (row === undefined) return null
      const cur = toUser(row)
      const guilds = patch.guilds ?? cur.guilds
      this.#exec(`UPDATE discord_users SET username = @username, discriminator = @discriminator, global_name = @global_name,
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
    return this.#run(() => this.#exec('DELETE FROM discord_users WHERE discord_user_id = ?', [discordUserId]) > 0)
  }

  async setUserTokens (discordUserId: string, tokens: OAuthTokens | null): Promise<boolean> {
    return this.#run(() => {
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
      return this.#exec(sql, params) > 0
    })
  }

  async getUserTokens (discordUserId: string): Promise<OAuthTokens | null> {
    return this.#run(() => {
      const row = this.#get<TokenRow>(
        'SELECT access_token, refresh_token, token_expires_at, scopes FROM discord_users WHERE discord_user_id = ?', [discordUserId]
      )
      if (row === undefined || row.access_token === null) return null
      return {
        access_token: this.#secrets.open(row.access_token, secretContext.accessToken(discordUserId)),
        refresh_token: row.refresh_token === null ? null : this.#secrets.open(row.refresh_token, secretContext.refreshToken(discordUserId)),
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
    return this.#run(() => this.#all<UserRow>(
      `SELECT ${userSelect('u')} FROM discord_users u INDEXED BY discord_users_refresh_due
       WHERE u.refresh_token IS NOT NULL AND u.needs_reauth = 0 AND u.is_active = 1 AND u.token_expires_at < ?
       ORDER BY u.token_expires_at, u.id LIMIT ?`, [ms(before), n]
    ).map(toUser))
  }

  async countUsers (query: { is_active?: boolean } = {}): Promise<number> {
    return this.#run(() => {
      const row = query.is_active === undefined
        ? this.#get<{ n: number }>('SELECT COUNT(*) AS n FROM discord_users')
        : this.#get<{ n: number }>('SELECT COUNT(*) AS n FROM discord_users WHERE is_active = ?', [bit(query.is_active)])
      return (row as { n: number }).n
    })
  }

  // -------------------------------------------------------------- discord_guild_configs

  #guildRow (guildId: string): GuildRow | undefined {
    return this.#get<GuildRow>(`SELECT ${GUILD_SELECT} FROM discord_guild_configs WHERE guild_id = ?`, [guildId])
  }

  #sealBotToken (guildId: string, token: string | null | undefined): string | null {
    return token == null ? null : this.#secrets.seal(token, secretContext.botToken(guildId))
  }

  async createGuild (input: CreateGuildConfigInput): Promise<GuildConfigRecord> {
    return this.#tx(() => {
      const now = Date.now()
      this.#exec(`INSERT INTO discord_guild_configs (id, guild_id, guild_name, enabled, settings, bot_token, bot_permissions,
          bot_user_id, owner_id, health_status, last_health_check, last_error, created_at, updated_at)
        VALUES (@id, @guild_id, @guild_name, @enabled, @settings, @bot_token, @bot_permissions,
          @bot_user_id, @owner_id, @health_status, @last_health_check, @last_error, @now, @now)`, {
        id: randomUUID(),
        guild_id: input.guild_id,
        guild_name: input.guild_name,
        enabled: bit(input.enabled ?? true),
        settings: JSON.stringify(mergeKnown(DEFAULT_GUILD_SETTINGS, input.settings)),
        bot_token: this.#sealBotToken(input.guild_id, input.bot_token),
        bot_permissions: input.bot_permissions ?? null,
        bot_user_id: input.bot_user_id ?? null,
        owner_id: input.owner_id ?? null,
        health_status: input.health_status ?? 'unknown',
        last_health_check: msOrNull(input.last_health_check),
        last_error: input.last_error ?? null,
        now
      })
      return toGuild(this.#guildRow(input.guild_id) as GuildRow)
    })
  }

  async getGuild (guildId: string): Promise<GuildConfigRecord | null> {
    return this.#run(() => {
      const row = this.#guildRow(guildId)
      return row === undefined ? null : toGuild(row)
    })
  }

  async listGuilds (query: { enabled?: boolean } = {}): Promise<GuildConfigRecord[]> {
    return this.#run(() => {
      const rows = query.enabled === undefined
        ? this.#all<GuildRow>(`SELECT ${GUILD_SELECT} FROM discord_guild_configs ORDER BY guild_name, guild_id`)
        : this.#all<GuildRow>(`SELECT ${GUILD_SELECT} FROM discord_guild_configs WHERE enabled = ? ORDER BY guild_name, guild_id`, [bit(query.enabled)])
      return rows.map(toGuild)
    })
  }

  async updateGuild (guildId: string, patch: UpdateGuildConfigInput): Promise<GuildConfigRecord | null> {
    return this.#tx(() => {
      const row = this.#guildRow(guildId)
      if (row === undefined) return null
      const cur = toGuild(row)
      const keep = <K extends keyof UpdateGuildConfigInput & keyof GuildConfigRecord>(k: K): unknown =>
        patch[k] !== undefined ? patch[k] : cur[k]
      this.#exec(`UPDATE discord_guild_configs SET guild_name = @guild_name, enabled = @enabled, settings = @settings,
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
        this.#exec('UPDATE discord_guild_configs SET bot_token = ? WHERE guild_id = ?', [this.#sealBotToken(guildId, patch.bot_token), guildId])
      }
      return toGuild(this.#guildRow(guildId) as GuildRow)
    })
  }

  async deleteGuild (guildId: string): Promise<{ deleted: boolean, mappings_deleted: number }> {
    // Mappings are deleted explicitly (not only by the cascade) because a cascade's
    // row count is not reported, and the caller wants to know what went.
    return this.#tx(() => {
      const mappings = this.#exec('DELETE FROM discord_role_mappings WHERE guild_id = ?', [guildId])
      const deleted = this.#exec('DELETE FROM discord_guild_configs WHERE guild_id = ?', [guildId]) > 0
      return { deleted, mappings_deleted: mappings }
    })
  }

  async getBotToken (guildId: string): Promise<string | null> {
    return this.#run(() => {
      const row = this.#get<{ bot_token: string | null }>('SELECT bot_token FROM discord_guild_configs WHERE guild_id = ?', [guildId])
      if (row === undefined || row.bot_token === null) return null
      return this.#secrets.open(row.bot_token, secretContext.botToken(guildId))
    })
  }

  // -------------------------------------------------------------- discord_role_mappings

  #mappingRow (id: string): MappingRow | undefined {
    return this.#get<MappingRow>('SELECT * FROM discord_role_mappings WHERE id = ?', [id])
  }

  #requireGuild (guildId: string): void {
    if (this.#get('SELECT 1 AS x FROM discord_guild_configs WHERE guild_id = ?', [guildId]) === undefined) {
      throw new NotFoundError(`guild ${guildId} is not configured`)
    }
  }

  #insertMapping (input: CreateRoleMappingInput): RoleMappingRecord {
    this.#requireGuild(input.guild_id)
    const id = randomUUID()
    const now = Date.now()
    this.#exec(`INSERT INTO discord_role_mappings (id, guild_id, group_id, group_name, discord_role_id, discord_role_name,
        conditions, priority, exclusive_set, enabled, created_by, last_sync, sync_count, created_at, updated_at)
      VALUES (@id, @guild_id, @group_id, @group_name, @discord_role_id, @discord_role_name,
        @conditions, @priority, @exclusive_set, @enabled, @created_by, NULL, 0, @now, @now)`, {
      id,
      guild_id: input.guild_id,
      group_id: input.group_id,
      group_name: input.group_name ?? null,
      discord_role_id: input.discord_role_id,
      discord_role_name: input.discord_role_name ?? null,
      conditions: JSON.stringify(mergeKnown(DEFAULT_MAPPING_CONDITIONS, input.conditions)),
      priority: input.priority ?? 1,
      exclusive_set: input.exclusive_set ?? null,
      enabled: bit(input.enabled ?? true),
      created_by: input.created_by ?? null,
      now
    })
    return toMapping(this.#mappingRow(id) as MappingRow)
  }

  #patchMapping (row: MappingRow, patch: UpdateRoleMappingInput): RoleMappingRecord {
    const cur = toMapping(row)
    const keep = <K extends keyof UpdateRoleMappingInput & keyof RoleMappingRecord>(k: K): unknown =>
      patch[k] !== undefined ? patch[k] : cur[k]
    this.#exec(`UPDATE discord_role_mappings SET group_id = @group_id, group_name = @group_name, discord_role_id = @discord_role_id,
        discord_role_name = @discord_role_name, conditions = @conditions, priority = @priority, exclusive_set = @exclusive_set,
        enabled = @enabled, updated_at = @now
      WHERE id = @id`, {
      id: row.id,
      group_id: keep('group_id'),
      group_name: keep('group_name'),
      discord_role_id: keep('discord_role_id'),
      discord_role_name: keep('discord_role_name'),
      conditions: JSON.stringify(mergeKnown(DEFAULT_MAPPING_CONDITIONS, cur.conditions, patch.conditions)),
      priority: keep('priority'),
      exclusive_set: keep('exclusive_set'),
      enabled: bit(patch.enabled ?? cur.enabled),
      now: Date.now()
    })
    return toMapping(this.#mappingRow(row.id) as MappingRow)
  }

  async createMapping (input: CreateRoleMappingInput): Promise<RoleMappingRecord> {
    return this.#tx(() => this.#insertMapping(input))
  }

  async getMapping (id: string): Promise<RoleMappingRecord | null> {
    return this.#run(() => {
      const row = this.#mappingRow(id)
      return row === undefined ? null : toMapping(row)
    })
  }

  #mappingFilter (query: ListRoleMappingsQuery): { clause: string, params: Params } {
    const where: string[] = []
    const params: Params = {}
    if (query.guild_id !== undefined) { where.push('guild_id = @guild_id'); params.guild_id = query.guild_id }
    if (query.enabled !== undefined) { where.push('enabled = @enabled'); params.enabled = bit(query.enabled) }
    return { clause: where.length > 0 ? `WHERE ${where.join(' AND ')}` : '', params }
  }

  async listMappings (query: ListRoleMappingsQuery = {}): Promise<RoleMappingRecord[]> {
    const { clause, params } = this.#mappingFilter(query)
    return this.#run(() => this.#all<MappingRow>(
      `SELECT * FROM discord_role_mappings ${clause} ORDER BY guild_id, priority, id`, params
    ).map(toMapping))
  }

  async updateMapping (id: string, patch: UpdateRoleMappingInput): Promise<RoleMappingRecord | null> {
    return this.#tx(() => {
      const row = this.#mappingRow(id)
      return row === undefined ? null : this.#patchMapping(row, patch)
    })
  }

  async deleteMapping (id: string): Promise<boolean> {
    return this.#run(() => this.#exec('DELETE FROM discord_role_mappings WHERE id = ?', [id]) > 0)
  }

  async applyMappingBatch (guildId: string, batch: RoleMappingBatch): Promise<RoleMappingBatchResult> {
    return this.#tx(() => {
      this.#requireGuild(guildId)
      const owned = (id: string): MappingRow => {
        const row = this.#mappingRow(id)
        if (row === undefined || row.guild_id !== guildId) throw new NotFoundError(`role mapping ${id} does not exist in guild ${guildId}`)
        return row
      }
      // Everything is checked before anything is written, so a refusal names the
      // first offending item rather than a side effect of an earlier step.
      for (const c of batch.create) {
        if (c.guild_id !== guildId) throw new NotFoundError(`role mapping for guild ${c.guild_id} does not belong to guild ${guildId}`)
      }
      for (const u of batch.update) owned(u.id)
      for (const id of batch.delete) owned(id)

      // Deletes first, then updates, then creates: an import that replaces a mapping
      // (delete + create of the same triple) must not collide with the row it removes.
      const deleted: string[] = []
      for (const id of batch.delete) {
        if (this.#exec('DELETE FROM discord_role_mappings WHERE id = ?', [id]) > 0) deleted.push(id)
      }
      const updated = batch.update.map((u) => this.#patchMapping(owned(u.id), u.patch))
      const created = batch.create.map((c) => this.#insertMapping(c))
      return { created, updated, deleted }
    })
  }

  async recordMappingSync (ids: string[], at: Date): Promise<void> {
    const when = ms(at)
    this.#tx(() => {
      for (const id of ids) {
        this.#exec('UPDATE discord_role_mappings SET sync_count = sync_count + 1, last_sync = ? WHERE id = ?', [when, id])
      }
    })
  }

  async countMappings (query: ListRoleMappingsQuery = {}): Promise<number> {
    const { clause, params } = this.#mappingFilter(query)
    return this.#run(() => (this.#get<{ n: number }>(`SELECT COUNT(*) AS n FROM discord_role_mappings ${clause}`, params) as { n: number }).n)
  }

  // -------------------------------------------------------------- discord_sync_status

  #syncRow (id: string): SyncRunRow | undefined {
    return this.#get<SyncRunRow>('SELECT * FROM discord_sync_status WHERE id = ?', [id])
  }

  async createSyncRun (input: CreateSyncRunInput): Promise<SyncRunRecord> {
    return this.#tx(() => {
      const id = randomUUID()
      this.#exec(`INSERT INTO discord_sync_status (id, sync_type, target_id, status, dry_run, force, started_at, completed_at,
          duration, heartbeat_at, results, initiated_by, created_at)
        VALUES (@id, @sync_type, @target_id, @status, @dry_run, @force, @started_at, NULL, NULL, NULL, @results, @initiated_by, @now)`, {
        id,
        sync_type: input.sync_type,
        target_id: input.target_id ?? null,
        status: input.status ?? 'pending',
        dry_run: bit(input.dry_run ?? false),
        force: bit(input.force ?? false),
        started_at: msOrNull(input.started_at),
        results: JSON.stringify(EMPTY_SYNC_RESULTS),
        initiated_by: input.initiated_by,
        now: Date.now()
      })
      return toSyncRun(this.#syncRow(id) as SyncRunRow)
    })
  }

  async getSyncRun (id: string): Promise<SyncRunRecord | null> {
    return this.#run(() => {
      const row = this.#syncRow(id)
      return row === undefined ? null : toSyncRun(row)
    })
  }

  async updateSyncRun (id: string, patch: UpdateSyncRunInput): Promise<SyncRunRecord | null> {
    return this.#tx(() => {
      const row = this.#syncRow(id)
      if (row === undefined) return null
      const date = (k: 'started_at' | 'completed_at' | 'heartbeat_at'): number | null =>
        patch[k] !== undefined ? msOrNull(patch[k]) : row[k]
      this.#exec(`UPDATE discord_sync_status SET status = @status, started_at = @started_at, completed_at = @completed_at,
          duration = @duration, heartbeat_at = @heartbeat_at, results = @results
        WHERE id = @id`, {
        id,
        status: patch.status ?? row.status,
        started_at: date('started_at'),
        completed_at: date('completed_at'),
        duration: patch.duration !== undefined ? patch.duration : row.duration,
        heartbeat_at: date('heartbeat_at'),
        results: patch.results !== undefined ? JSON.stringify(patch.results) : row.results
      })
      return toSyncRun(this.#syncRow(id) as SyncRunRow)
    })
  }

  async listSyncRuns (query: ListSyncRunsQuery = {}): Promise<SyncRunRecord[]> {
    const where: string[] = []
    const params: Params = {}
    if (query.sync_type !== undefined) { where.push('sync_type = @sync_type'); params.sync_type = query.sync_type }
    if (query.target_id !== undefined) { where.push('target_id = @target_id'); params.target_id = query.target_id }
    if (query.status !== undefined) { where.push('status = @status'); params.status = query.status }
    const requested = Number.isInteger(query.limit) && (query.limit as number) >= 1 ? (query.limit as number) : 20
    params.limit = Math.min(requested, MAX_PAGE_SIZE)
    const clause = where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''
    return this.#run(() => this.#all<SyncRunRow>(
      `SELECT * FROM discord_sync_status ${clause} ORDER BY created_at DESC, id DESC LIMIT @limit`, params
    ).map(toSyncRun))
  }

  async failStaleSyncRuns (before: Date, reason: string): Promise<number> {
    const now = Date.now()
    // One statement: a run whose heartbeat lands between a read and a write here
    // could otherwise be failed while alive. created_at is the last resort for
    // runs that never started.
    return this.#run(() => this.#exec(`UPDATE discord_sync_status
        SET status = 'failed',
            completed_at = @now,
            duration = CASE WHEN started_at IS NULL THEN duration ELSE @now - started_at END,
            results = json_insert(results, '$.errors[#]', json(@error))
      WHERE status IN ('pending', 'running') AND COALESCE(heartbeat_at, started_at, created_at) < @before`, {
      now,
      before: ms(before),
      error: JSON.stringify({ error: reason, code: 'stale', occurred_at: new Date(now) })
    }))
  }

  async pruneSyncRuns (before: Date): Promise<number> {
    return this.#run(() => this.#exec(
      `DELETE FROM discord_sync_status WHERE status IN ${FINISHED_RUN_STATUSES} AND created_at < ?`, [ms(before)]
    ))
  }

  // -------------------------------------------------------------- discord_oauth_states

  async createOAuthState (input: CreateOAuthStateInput): Promise<OAuthStateRecord> {
    return this.#run(() => {
      const row = this.#get<OAuthStateRow>(`INSERT INTO discord_oauth_states (id, state, flow, user_id, redirect_url, scopes,
          code_verifier, created_at, expires_at, used)
        VALUES (@id, @state, @flow, @user_id, @redirect_url, @scopes, @code_verifier, @now, @expires_at, 0)
        RETURNING *`, {
        id: randomUUID(),
        state: input.state,
        flow: input.flow,
        user_id: input.user_id ?? null,
        redirect_url: input.redirect_url ?? null,
        scopes: JSON.stringify(input.scopes),
        code_verifier: input.code_verifier ?? null,
        now: Date.now(),
        expires_at: ms(input.expires_at)
      })
      return toOAuthState(row as OAuthStateRow)
    })
  }

  async consumeOAuthState (state: string, now: Date = new Date()): Promise<ConsumeOAuthStateResult> {
    const t = ms(now)
    return this.#run(() => {
      // The claim is a single conditional UPDATE: whoever flips `used` wins, and the
      // expiry test is part of the same condition, so an expired state never comes back.
      const row = this.#get<OAuthStateRow>(
        'UPDATE discord_oauth_states SET used = 1 WHERE state = ? AND used = 0 AND expires_at > ? RETURNING *', [state, t]
      )
      if (row !== undefined) return { ok: true, record: toOAuthState(row) }
      const seen = this.#get<{ used: Bit, redirect_url: string | null }>('SELECT used, redirect_url FROM discord_oauth_states WHERE state = ?', [state])
      if (seen === undefined) return { ok: false, reason: 'not_found' }
      return { ok: false, reason: seen.used === 1 ? 'used' : 'expired', redirect_url: seen.redirect_url }
    })
  }

  async purgeExpiredOAuthStates (now: Date = new Date()): Promise<number> {
    return this.#run(() => this.#exec('DELETE FROM discord_oauth_states WHERE expires_at <= ?', [ms(now)]))
  }

  // -------------------------------------------------------------- discord_task_runs

  async recordTaskRun (input: CreateTaskRunInput): Promise<TaskRunRecord> {
    const row: TaskRunRow = {
      id: randomUUID(),
      task: input.task,
      status: input.status,
      reason: input.reason ?? null,
      started_at: ms(input.started_at),
      finished_at: ms(input.finished_at),
      duration_ms: Math.max(0, Math.round(input.duration_ms)),
      counts: JSON.stringify(taskRunCounts(input.counts)),
      errors: JSON.stringify(input.errors.map(taskRunErrorFields))
    }
    return this.#run(() => {
      this.#exec(`INSERT INTO discord_task_runs (id, task, status, reason, started_at, finished_at, duration_ms, counts, errors)
        VALUES (@id, @task, @status, @reason, @started_at, @finished_at, @duration_ms, @counts, @errors)`, { ...row })
      return toTaskRun(row)
    })
  }

  async listTaskRuns (query: ListTaskRunsQuery): Promise<TaskRunRecord[]> {
    return this.#run(() => this.#all<TaskRunRow>(
      'SELECT * FROM discord_task_runs WHERE task = ? ORDER BY started_at DESC, id DESC LIMIT ?', [query.task, runListLimit(query.limit)]
    ).map(toTaskRun))
  }

  async pruneTaskRuns (task: TaskName, before: Date): Promise<number> {
    return this.#run(() => this.#exec('DELETE FROM discord_task_runs WHERE task = ? AND started_at < ?', [task, ms(before)]))
  }

  // -------------------------------------------------------------- audit log

  async appendAudit (entries: CreateAuditEntryInput[]): Promise<number> {
    if (entries.length === 0) return 0
    return this.#tx(() => {
      const now = Date.now()
      for (const e of entries) {
        this.#exec(`INSERT INTO discord_audit_log (id, run_id, guild_id, discord_user_id, user_id, role_id, role_name, action,
            mapping_id, outcome, error_code, created_at)
          VALUES (@id, @run_id, @guild_id, @discord_user_id, @user_id, @role_id, @role_name, @action,
            @mapping_id, @outcome, @error_code, @created_at)`, {
          id: randomUUID(),
          ...auditEntryFields(e),
          created_at: e.created_at === undefined ? now : ms(e.created_at)
        })
      }
      return entries.length
    })
  }

  async listAudit (query: ListAuditQuery = {}): Promise<Page<AuditEntryRecord>> {
    const { page, page_size, offset } = normalisePage(query)
    const where: string[] = []
    const params: Params = {}
    for (const k of ['guild_id', 'discord_user_id', 'user_id', 'run_id'] as const) {
      if (query[k] !== undefined) { where.push(`${k} = @${k}`); params[k] = query[k] }
    }
    const clause = where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''
    return this.#tx(() => {
      const total = (this.#get<{ n: number }>(`SELECT COUNT(*) AS n FROM discord_audit_log ${clause}`, params) as { n: number }).n
      const items = this.#all<AuditRow>(
        `SELECT * FROM discord_audit_log ${clause} ORDER BY created_at DESC, id DESC LIMIT @limit OFFSET @offset`,
        { ...params, limit: page_size, offset }
      ).map(toAudit)
      return { items, total, page, page_size }
    })
  }

  async pruneAudit (before: Date): Promise<number> {
    return this.#run(() => this.#exec('DELETE FROM discord_audit_log WHERE created_at < ?', [ms(before)]))
  }
}
