import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { SecretBox, generateKey } from '../../src/store/crypto.js'
import type { DiscordStore } from '../../src/store/port/index.js'
import { MIGRATIONS, SqliteStore, migrate, schemaVersion } from '../../src/store/sqlite/index.js'
import type { Migration } from '../../src/store/sqlite/index.js'
import { describeStoreContract } from './contract.js'

const root = mkdtempSync(join(tmpdir(), 'discord-sync-sqlite-'))
let fileSeq = 0
const freshPath = (): string => join(root, `t${process.pid}-${++fileSeq}`, 'store.sqlite')

afterAll(() => {
  rmSync(root, { recursive: true, force: true })
})

// Which file each store of the contract suite writes to, for rawDump and reopen.
const paths = new WeakMap<DiscordStore, string>()

async function openAt (path: string, secrets: SecretBox): Promise<SqliteStore> {
  const store = new SqliteStore({ path, secrets })
  await store.init()
  paths.set(store, path)
  return store
}

/** Takes a run table back to before v7: without the result count columns. */
function dropRunCounts (raw: Database.Database): void {
  for (const c of ['users_processed', 'users_synced', 'users_failed', 'roles_added', 'roles_removed', 'guilds_processed', 'errors_count', 'guilds_count']) {
    raw.exec(`ALTER TABLE discord_sync_status DROP COLUMN ${c}`)
  }
}

function pathOf (store: DiscordStore): string {
  const p = paths.get(store)
  if (p === undefined) throw new Error('store was not created by this harness')
  return p
}

describeStoreContract('sqlite', {
  create: (secrets) => openAt(freshPath(), secrets),
  reopen: (store, secrets) => openAt(pathOf(store), secrets),
  async rawDump (store) {
    const path = pathOf(store);
    (store as SqliteStore).checkpoint()
    // Both files: a checkpoint copies WAL frames into the main file but leaves them in the WAL too.
    return [path, `${path}-wal`]
      .filter((p) => existsSync(p))
      .map((p) => readFileSync(p).toString('latin1'))
      .join('\n')
  }
})

describe('SqliteStore specifics', () => {
  const cleanup: Array<() => Promise<void> | void> = []
  afterEach(async () => {
    while (cleanup.length > 0) await (cleanup.pop() as () => Promise<void> | void)()
  })

  function track<T extends { close (): unknown }> (x: T): T {
    cleanup.push(async () => { await x.close() })
    return x
  }

  const secrets = (): SecretBox => new SecretBox(generateKey())

  it('creates the parent directory and runs in WAL mode with foreign keys on', async () => {
    const path = join(root, `nested-${++fileSeq}`, 'a', 'b', 'store.sqlite')
    expect(existsSync(join(path, '..'))).toBe(false)
    const store = track(await openAt(path, secrets()))
    expect(existsSync(path)).toBe(true)
    await store.ping()

    // WAL is persistent in the file header, so a second connection sees it.
    const probe = track(new Database(path, { readonly: true }))
    expect(probe.pragma('journal_mode', { simple: true })).toBe('wal')
    expect(schemaVersion(probe)).toBe(MIGRATIONS.length)
    const tables = (probe.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as Array<{ name: string }>).map((t) => t.name)
    expect(tables).toEqual(expect.arrayContaining([
      'discord_audit_log', 'discord_guild_configs', 'discord_oauth_states', 'discord_role_mappings',
      'discord_sync_status', 'discord_user_guilds', 'discord_users'
    ]))
  })

  it('stats() counts every table of the schema and sizes the file with its WAL', async () => {
    const path = join(root, `stats-${++fileSeq}`, 'store.sqlite')
    const store = track(await openAt(path, secrets()))
    const probe = track(new Database(path, { readonly: true }))
    const schema = (probe.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'discord_%' ORDER BY name").all() as Array<{ name: string }>).map((t) => t.name)
    const stats = await store.stats()
    // A table added by a later migration must be counted too.
    expect(stats.tables.map((t) => t.name).sort()).toEqual(schema)
    const pageBytes = (probe.pragma('page_count', { simple: true }) as number) * (probe.pragma('page_size', { simple: true }) as number)
    const wal = existsSync(`${path}-wal`) ? readFileSync(`${path}-wal`).length : 0
    expect(wal).toBeGreaterThan(0)
    expect(stats.bytes).toBe(pageBytes + wal)
  })

  it('keeps the WAL at its checkpoint size under a stream of OAuth flows (RETURNING statements run to completion)', async () => {
    const path = join(root, `wal-${++fileSeq}`, 'store.sqlite')
    const store = track(await openAt(path, secrets()))
    // 400 flows write ~9 MB of WAL frames; SQLite restarts the WAL after each automatic
    // checkpoint (1000 pages, ~4 MB), unless a statement is left unfinished.
    for (let i = 0; i < 400; i++) {
      const state = `${'s'.repeat(40)}${String(i).padStart(3, '0')}`
      await store.createOAuthState({ state, flow: 'login', scopes: ['identify'], expires_at: new Date(Date.now() + 60_000) })
      expect((await store.consumeOAuthState(state)).ok).toBe(true)
    }
    expect(readFileSync(`${path}-wal`).length).toBeLessThan(5 * 1024 * 1024)
  })

  it('works in memory', async () => {
    const store = track(new SqliteStore({ path: ':memory:', secrets: secrets() }))
    await store.init()
    const g = await store.createGuild({ guild_id: '1', guild_name: 'Mem', bot_token: 'bot-mem' })
    expect(await store.getBotToken(g.guild_id)).toBe('bot-mem')
  })

  it('keeps data and schema version across re-opens, applying nothing twice', async () => {
    const path = freshPath()
    const box = secrets()
    const first = await openAt(path, box)
    await first.init()
    await first.createGuild({ guild_id: '42', guild_name: 'Persisted', bot_token: 'persisted-bot' })
    await first.close()

    const second = track(await openAt(path, box))
    expect((await second.getGuild('42'))?.guild_name).toBe('Persisted')
    expect(await second.getBotToken('42')).toBe('persisted-bot')

    const raw = track(new Database(path))
    expect(schemaVersion(raw)).toBe(MIGRATIONS.length)
    expect(migrate(raw)).toEqual({ from: MIGRATIONS.length, to: MIGRATIONS.length, applied: [] })
  })

  it('upgrades a version 1 database to version 2 (task runs) keeping its data', async () => {
    const path = freshPath()
    const box = secrets()
    const v1 = await openAt(path, box)
    await v1.createGuild({ guild_id: '43', guild_name: 'Before v2', bot_token: 'bot-v1' })
    await v1.close()
    // Take the file back to what a v1 release left: no task runs or leases table, user_version 1.
    const raw = new Database(path)
    raw.exec('DROP TABLE discord_task_runs')
    raw.exec('DROP TABLE discord_leases')
    raw.exec('DROP TABLE discord_sync_runs_version')
    raw.exec('DROP TABLE discord_access_loss')
    dropRunCounts(raw)
    raw.pragma('user_version = 1')
    raw.close()

    const upgraded = track(await openAt(path, box))
    expect((await upgraded.getGuild('43'))?.guild_name).toBe('Before v2')
    expect(await upgraded.getBotToken('43')).toBe('bot-v1')
    const run = await upgraded.recordTaskRun({ task: 'token_refresh', status: 'skipped', reason: 'another instance holds the lock', started_at: new Date(), finished_at: new Date(), duration_ms: 0, counts: {}, errors: [] })
    expect(await upgraded.listTaskRuns({ task: 'token_refresh' })).toEqual([run])
    const probe = track(new Database(path, { readonly: true }))
    expect(schemaVersion(probe)).toBe(MIGRATIONS.length)
    expect(MIGRATIONS[1]?.name).toBe('scheduled task runs')
  })

  it('upgrades a version 2 database to version 3 (leases) keeping its data', async () => {
    const path = freshPath()
    const box = secrets()
    const v2 = await openAt(path, box)
    await v2.createGuild({ guild_id: '44', guild_name: 'Before v3', bot_token: 'bot-v2' })
    await v2.close()
    const raw = new Database(path)
    raw.exec('DROP TABLE discord_leases')
    raw.exec('DROP TABLE discord_sync_runs_version')
    raw.exec('DROP TABLE discord_access_loss')
    dropRunCounts(raw)
    raw.pragma('user_version = 2')
    raw.close()

    const upgraded = track(await openAt(path, box))
    expect((await upgraded.getGuild('44'))?.guild_name).toBe('Before v3')
    expect(await upgraded.claimLease('writer', 'me', 60_000)).toBe(true)
    const probe = track(new Database(path, { readonly: true }))
    expect(schemaVersion(probe)).toBe(MIGRATIONS.length)
    expect(MIGRATIONS[2]?.name).toBe('leases')
  })

  it('upgrades a version 3 database to version 4 (sync runs version) keeping its runs', async () => {
    const path = freshPath()
    const box = secrets()
    const v3 = await openAt(path, box)
    const run = await v3.createSyncRun({ sync_type: 'full', status: 'completed', initiated_by: 'system' })
    await v3.close()
    const raw = new Database(path)
    raw.exec('DROP TABLE discord_sync_runs_version')
    raw.exec('DROP TABLE discord_access_loss')
    dropRunCounts(raw)
    raw.pragma('user_version = 3')
    raw.close()

    const upgraded = track(await openAt(path, box))
    expect(await upgraded.getSyncRun(run.id)).toEqual(run)
    const v0 = await upgraded.syncRunsVersion()
    await upgraded.createSyncRun({ sync_type: 'user', status: 'completed', initiated_by: 'system' })
    expect(await upgraded.syncRunsVersion()).toBe(v0 + 1)
    const probe = track(new Database(path, { readonly: true }))
    expect(schemaVersion(probe)).toBe(MIGRATIONS.length)
    expect(MIGRATIONS[3]?.name).toBe('sync runs version')
  })

  it('upgrades a version 4 database to version 5 (nick/kick audit actions, access loss) keeping its audit rows', async () => {
    const path = freshPath()
    const box = secrets()
    const v4 = await openAt(path, box)
    await v4.close()
    // Take the file back to v4: the audit table with its v1 CHECK and a row in it, no access-loss table.
    const raw = new Database(path)
    raw.exec(`DROP TABLE discord_access_loss;
      DROP TABLE discord_audit_log;
      CREATE TABLE discord_audit_log (id TEXT PRIMARY KEY, run_id TEXT, guild_id TEXT NOT NULL, discord_user_id TEXT NOT NULL, user_id TEXT,
        role_id TEXT NOT NULL, role_name TEXT, action TEXT NOT NULL CHECK (action IN ('add', 'remove')), mapping_id TEXT,
        outcome TEXT NOT NULL CHECK (outcome IN ('applied', 'failed', 'dry_run', 'blocked', 'skipped')), error_code TEXT, created_at INTEGER NOT NULL) STRICT;
      INSERT INTO discord_audit_log VALUES ('a1', 'r1', 'g1', 'u1', NULL, 'role1', 'Pilot', 'add', 'm1', 'applied', NULL, 1000);`)
    expect(() => raw.exec("INSERT INTO discord_audit_log VALUES ('a2', 'r1', 'g1', 'u1', NULL, '', 'x', 'nick', NULL, 'applied', NULL, 1001)")).toThrow(/CHECK/)
    dropRunCounts(raw)
    raw.pragma('user_version = 4')
    raw.close()

    const upgraded = track(await openAt(path, box))
    expect((await upgraded.listAudit({ run_id: 'r1' })).items.map((e) => [e.id, e.action, e.role_name])).toEqual([['a1', 'add', 'Pilot']])
    expect(await upgraded.appendAudit([{ run_id: 'r1', guild_id: 'g1', discord_user_id: 'u1', user_id: null, role_id: '', role_name: 'Nick', action: 'nick', mapping_id: null, outcome: 'applied', error_code: null }])).toBe(1)
    expect((await upgraded.markAccessLost('g1', ['u1'], new Date(5))).get('u1')).toEqual(new Date(5))
    const probe = track(new Database(path, { readonly: true }))
    expect(schemaVersion(probe)).toBe(MIGRATIONS.length)
    expect(probe.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'discord_audit_log' AND name LIKE 'discord_%' ORDER BY name").all()).toHaveLength(5)
    expect(MIGRATIONS[4]?.name).toBe('audit nick/kick actions, access loss')
  })

  it('upgrades a version 5 database to version 6 (audit trigger), taking each entry\'s trigger from its run', async () => {
    const path = freshPath()
    const box = secrets()
    const v5 = await openAt(path, box)
    const scheduled = await v5.createSyncRun({ sync_type: 'guild', target_id: 'g1', initiated_by: 'system' })
    const joined = await v5.createSyncRun({ sync_type: 'user', target_id: 'u1', initiated_by: 'join:u1' })
    const byHand = await v5.createSyncRun({ sync_type: 'full', initiated_by: 'admin-7' })
    await v5.close()
    // Back to v5: the audit table without the trigger column, rows from three runs and one whose run is gone.
    const raw = new Database(path)
    raw.exec(`DROP TABLE discord_audit_log;
      CREATE TABLE discord_audit_log (id TEXT PRIMARY KEY, run_id TEXT, guild_id TEXT NOT NULL, discord_user_id TEXT NOT NULL, user_id TEXT,
        role_id TEXT NOT NULL, role_name TEXT, action TEXT NOT NULL CHECK (action IN ('add', 'remove', 'nick', 'kick')), mapping_id TEXT,
        outcome TEXT NOT NULL CHECK (outcome IN ('applied', 'failed', 'dry_run', 'blocked', 'skipped')), error_code TEXT, created_at INTEGER NOT NULL) STRICT;
      INSERT INTO discord_audit_log VALUES ('a1', '${scheduled.id}', 'g1', 'u1', NULL, 'role1', 'Pilot', 'add', 'm1', 'applied', NULL, 1000);
      INSERT INTO discord_audit_log VALUES ('a2', '${joined.id}', 'g1', 'u1', NULL, 'role1', 'Pilot', 'add', 'm1', 'applied', NULL, 1001);
      INSERT INTO discord_audit_log VALUES ('a3', '${byHand.id}', 'g1', 'u1', NULL, 'role1', 'Pilot', 'add', 'm1', 'applied', NULL, 1002);
      INSERT INTO discord_audit_log VALUES ('a4', 'pruned-run', 'g1', 'u1', NULL, 'role1', 'Pilot', 'add', 'm1', 'applied', NULL, 1003);`)
    dropRunCounts(raw)
    raw.pragma('user_version = 5')
    raw.close()

    const upgraded = track(await openAt(path, box))
    expect((await upgraded.listAudit()).items.map((e) => [e.id, e.trigger])).toEqual([['a4', 'manual'], ['a3', 'manual'], ['a2', 'join'], ['a1', 'schedule']])
    expect((await upgraded.listAudit({ trigger: ['schedule', 'join'] })).total).toBe(2)
    const probe = track(new Database(path, { readonly: true }))
    expect(schemaVersion(probe)).toBe(MIGRATIONS.length)
    expect(() => probe.prepare('SELECT "trigger" FROM discord_audit_log').all()).not.toThrow()
    expect(MIGRATIONS[5]?.name).toBe('audit trigger')
  })

  it('upgrades a version 6 database to version 7 (run result counts), counting each stored run\'s results', async () => {
    const path = freshPath()
    const box = secrets()
    const v6 = await openAt(path, box)
    const empty = await v6.createSyncRun({ sync_type: 'guild', target_id: 'g1', initiated_by: 'system' })
    const done = await v6.createSyncRun({ sync_type: 'full', initiated_by: 'system' })
    const occurred = new Date(1000)
    const guild = { guild_id: 'g1', status: 'completed' as const, members_scanned: 9, members_to_change: 1, planned_changes: 1, blocked_changes: 0, roles_added: 1, roles_removed: 0, members_failed: 0, reason: null }
    await v6.updateSyncRun(done.id, { status: 'completed', results: { users_processed: 9, users_synced: 8, users_failed: 1, roles_added: 4, roles_removed: 3, guilds_processed: 2, errors: [{ error: 'x', occurred_at: occurred }, { error: 'y', occurred_at: occurred }], guilds: [guild, { ...guild, guild_id: 'g2' }] } })
    await v6.close()
    const raw = new Database(path)
    dropRunCounts(raw)
    raw.pragma('user_version = 6')
    raw.close()

    const upgraded = track(await openAt(path, box))
    const byId = new Map((await upgraded.listSyncRunSummaries()).map((r) => [r.id, r.results]))
    expect(byId.get(done.id)).toEqual({ users_processed: 9, users_synced: 8, users_failed: 1, roles_added: 4, roles_removed: 3, guilds_processed: 2, errors_count: 2, guilds_count: 2 })
    expect(byId.get(empty.id)).toEqual({ users_processed: 0, users_synced: 0, users_failed: 0, roles_added: 0, roles_removed: 0, guilds_processed: 0, errors_count: 0, guilds_count: 0 })
    const probe = track(new Database(path, { readonly: true }))
    expect(schemaVersion(probe)).toBe(7)
    expect(MIGRATIONS[6]?.name).toBe('sync run summary columns')
  })

  it('applies only the migrations a database has not seen, in order, and records the version', () => {
    const db = track(new Database(':memory:'))
    const calls: string[] = []
    const step = (version: number, name: string): Migration => ({
      version,
      name,
      up (d) {
        calls.push(name)
        d.exec(`CREATE TABLE t${version} (x INTEGER)`)
      }
    })
    expect(migrate(db, [step(1, 'one')])).toEqual({ from: 0, to: 1, applied: ['1: one'] })
    expect(migrate(db, [step(1, 'one'), step(2, 'two'), step(3, 'three')])).toEqual({ from: 1, to: 3, applied: ['2: two', '3: three'] })
    expect(migrate(db, [step(1, 'one'), step(2, 'two'), step(3, 'three')]).applied).toEqual([])
    expect(calls).toEqual(['one', 'two', 'three'])
    expect(schemaVersion(db)).toBe(3)
  })

  it('rolls a failing migration back completely', () => {
    const db = track(new Database(':memory:'))
    const ok: Migration = { version: 1, name: 'ok', up: (d) => d.exec('CREATE TABLE kept (x INTEGER)') }
    const bad: Migration = {
      version: 2,
      name: 'bad',
      up (d) {
        d.exec('CREATE TABLE half (x INTEGER)')
        throw new Error('boom')
      }
    }
    migrate(db, [ok])
    expect(() => migrate(db, [ok, bad])).toThrow('boom')
    expect(schemaVersion(db)).toBe(1)
    expect(db.prepare("SELECT name FROM sqlite_master WHERE name = 'half'").get()).toBeUndefined()
  })

  it('rejects a migration list with gaps or out of order', () => {
    const db = track(new Database(':memory:'))
    const m = (version: number): Migration => ({ version, name: `m${version}`, up: () => {} })
    expect(() => migrate(db, [m(1), m(3)])).toThrow(/versions must be 1..n/)
    expect(() => migrate(db, [m(2)])).toThrow(/versions must be 1..n/)
    expect(schemaVersion(db)).toBe(0)
  })

  it('refuses a database whose schema is newer than the code knows', async () => {
    const path = freshPath()
    const first = await openAt(path, secrets())
    await first.close()
    const raw = new Database(path)
    raw.pragma(`user_version = ${MIGRATIONS.length + 5}`)
    raw.close()

    const store = track(new SqliteStore({ path, secrets: secrets() }))
    const err = await store.init().then(() => null, (e: unknown) => e as { code?: string, message?: string })
    expect(err?.code).toBe('FST_DISCORD_STORE_UNAVAILABLE')
    expect(err?.message).toMatch(/newer than this version/)
    expect(err?.message).toContain(String(MIGRATIONS.length + 5))
  })

  it('uses a host-provided handle and never closes it', async () => {
    const host = track(new Database(':memory:'))
    const store = new SqliteStore({ path: '/nonexistent/ignored.sqlite', secrets: secrets(), database: host })
    await store.init()
    await store.createGuild({ guild_id: '7', guild_name: 'Hosted' })
    expect(host.pragma('foreign_keys', { simple: true })).toBe(1)
    await store.close()
    expect(host.open).toBe(true)
    expect(host.prepare('SELECT guild_name FROM discord_guild_configs WHERE guild_id = ?').get('7')).toEqual({ guild_name: 'Hosted' })
    expect(existsSync('/nonexistent/ignored.sqlite')).toBe(false)
  })

  it('closes a handle it opened itself, and refuses use afterwards', async () => {
    const store = await openAt(freshPath(), secrets())
    await store.close()
    await store.close()
    const err = await store.ping().then(() => null, (e: unknown) => e as { code?: string })
    expect(err?.code).toBe('FST_DISCORD_STORE_UNAVAILABLE')
    await expect(store.init()).rejects.toMatchObject({ code: 'FST_DISCORD_STORE_UNAVAILABLE' })
  })

  it('reports a path it cannot create as unavailable', async () => {
    const blocker = join(root, `blocker-${++fileSeq}`)
    writeFileSync(blocker, 'not a directory')
    const store = new SqliteStore({ path: join(blocker, 'sub', 'store.sqlite'), secrets: secrets() })
    await expect(store.init()).rejects.toMatchObject({ code: 'FST_DISCORD_STORE_UNAVAILABLE' })
    await store.close()
  })

  it('refuses use before init()', async () => {
    const store = new SqliteStore({ path: freshPath(), secrets: secrets() })
    await expect(store.getGuild('1')).rejects.toMatchObject({ code: 'FST_DISCORD_STORE_UNAVAILABLE' })
    await store.close()
  })

  it('stores tokens only as envelopes bound to their row', async () => {
    const path = freshPath()
    const box = secrets()
    const store = track(await openAt(path, box))
    await store.createGuild({ guild_id: 'g-a', guild_name: 'A', bot_token: 'bot-a' })
    await store.createGuild({ guild_id: 'g-b', guild_name: 'B', bot_token: 'bot-b' })
    await store.createUser({ user_id: 'h', discord_user_id: 'd1', username: 'u', tokens: { access_token: 'acc', refresh_token: 'ref', expires_at: null, scopes: [] } })
    const raw = track(new Database(path))
    const cols = raw.prepare('SELECT access_token, refresh_token FROM discord_users').get() as { access_token: string, refresh_token: string }
    expect(cols.access_token.startsWith(`dsenc:v1:${box.currentKeyId}:`)).toBe(true)
    expect(cols.refresh_token.startsWith(`dsenc:v1:${box.currentKeyId}:`)).toBe(true)

    // An envelope copied onto another guild's row does not open there.
    raw.prepare("UPDATE discord_guild_configs SET bot_token = (SELECT bot_token FROM discord_guild_configs WHERE guild_id = 'g-a') WHERE guild_id = 'g-b'").run()
    await expect(store.getBotToken('g-b')).rejects.toMatchObject({ code: 'FST_DISCORD_SECRET_DECRYPT' })
    expect(await store.getBotToken('g-a')).toBe('bot-a')
  })

  it('names the conflicting field and not its value', async () => {
    const store = track(await openAt(freshPath(), secrets()))
    await store.createOAuthState({ state: 'state-value-123', flow: 'login', scopes: [], expires_at: new Date(Date.now() + 60_000) })
    const err = await store.createOAuthState({ state: 'state-value-123', flow: 'login', scopes: [], expires_at: new Date(Date.now() + 60_000) })
      .then(() => null, (e: unknown) => e as { message?: string })
    expect(err?.message).toContain('state')
    expect(err?.message).not.toContain('state-value-123')
  })

  it('answers the hot lookups from indexes', async () => {
    const path = freshPath()
    const store = track(await openAt(path, secrets()))
    await store.init()
    const db = track(new Database(path, { readonly: true }))
    const plan = (sql: string): string =>
      (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all() as Array<{ detail: string }>).map((r) => r.detail).join(' | ')
    expect(plan("SELECT * FROM discord_users u JOIN discord_user_guilds g ON g.discord_user_id = u.discord_user_id WHERE g.guild_id = 'x' ORDER BY u.created_at, u.id"))
      .toMatch(/SEARCH g USING PRIMARY KEY \(guild_id=\?\).*SEARCH u USING INDEX discord_users_discord_user_id/)
    expect(plan('SELECT * FROM discord_users u INDEXED BY discord_users_refresh_due WHERE u.refresh_token IS NOT NULL AND u.needs_reauth = 0 AND u.is_active = 1 AND u.token_expires_at < 5 ORDER BY u.token_expires_at, u.id'))
      .toMatch(/USING INDEX discord_users_refresh_due \(token_expires_at<\?\)$/)
    expect(plan("SELECT * FROM discord_oauth_states WHERE state = 'x'")).toContain('discord_oauth_states_state')
    expect(plan('DELETE FROM discord_oauth_states WHERE expires_at <= 5')).toContain('discord_oauth_states_expires')
    expect(plan("SELECT * FROM discord_audit_log WHERE guild_id = 'g' ORDER BY created_at DESC, id DESC")).toContain('discord_audit_log_guild')
    expect(plan('SELECT * FROM discord_audit_log ORDER BY created_at DESC, id DESC LIMIT 10')).toContain('discord_audit_log_created')
    expect(plan('SELECT * FROM discord_users ORDER BY created_at, id LIMIT 10')).toContain('discord_users_created')
    expect(plan("SELECT * FROM discord_role_mappings WHERE guild_id = 'g' ORDER BY priority, id")).toContain('discord_role_mappings_priority')
    expect(plan("SELECT * FROM discord_sync_status WHERE sync_type = 'guild' AND target_id = 'g' ORDER BY created_at DESC")).toContain('discord_sync_status_target')
  })
})
