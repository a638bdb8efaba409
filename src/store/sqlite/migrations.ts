import type Database from 'better-sqlite3'
import { StoreUnavailableError } from '../../errors.js'

/*
 * Schema history, versioned in code and tracked in `PRAGMA user_version`, so an
 * upgraded package brings an existing database forward without a separate tool.
 *
 * Rules for whoever adds a migration:
 * - append only; never edit a released migration (databases in the field ran it);
 * - versions are 1, 2, 3... with no gaps, checked below at load time;
 * - `up` runs inside the migration transaction: no BEGIN/COMMIT, no VACUUM, and no
 *   PRAGMA that is a no-op inside a transaction (foreign_keys, journal_mode).
 *
 * Storage choices (v1):
 * - STRICT tables, so a wrong type is an error instead of a silent coercion.
 * - Dates are INTEGER epoch milliseconds: comparisons and ORDER BY use indexes and
 *   need no parsing; booleans are INTEGER 0/1 with a CHECK.
 * - Arrays/objects (scopes, guilds, settings, conditions, results) are JSON text:
 *   they are read and written whole, never queried by content, except the user's
 *   guild list, which `discord_user_guilds` mirrors so the guild filter is an
 *   indexed join rather than a json_each scan over every user.
 * - Token columns hold SecretBox envelopes only; the adapter never writes plaintext.
 */

export interface Migration {
  version: number
  name: string
  up (db: Database.Database): void
}

const v1: Migration = {
  version: 1,
  name: 'initial schema',
  up (db) {
    db.exec(`
      CREATE TABLE discord_users (
        id               TEXT PRIMARY KEY,
        user_id          TEXT NOT NULL,
        discord_user_id  TEXT NOT NULL,
        username         TEXT NOT NULL,
        discriminator    TEXT,
        global_name      TEXT,
        avatar           TEXT,
        access_token     TEXT,
        refresh_token    TEXT,
        token_expires_at INTEGER,
        scopes           TEXT NOT NULL,
        guilds           TEXT NOT NULL,
        needs_reauth     INTEGER NOT NULL CHECK (needs_reauth IN (0, 1)),
        last_sync        INTEGER,
        is_active        INTEGER NOT NULL CHECK (is_active IN (0, 1)),
        created_at       INTEGER NOT NULL,
        updated_at       INTEGER NOT NULL
      ) STRICT;
      CREATE UNIQUE INDEX discord_users_discord_user_id ON discord_users (discord_user_id);
      CREATE INDEX discord_users_user_id ON discord_users (user_id, created_at, id);
      CREATE INDEX discord_users_created ON discord_users (created_at, id);
      CREATE INDEX discord_users_active_created ON discord_users (is_active, created_at, id);
      -- Partial: the refresh task only ever asks about links it could refresh.
      CREATE INDEX discord_users_refresh_due ON discord_users (token_expires_at, id)
        WHERE refresh_token IS NOT NULL AND needs_reauth = 0 AND is_active = 1;

      CREATE TABLE discord_user_guilds (
        discord_user_id TEXT NOT NULL
          REFERENCES discord_users (discord_user_id) ON DELETE CASCADE ON UPDATE CASCADE,
        guild_id        TEXT NOT NULL,
        PRIMARY KEY (guild_id, discord_user_id)
      ) STRICT, WITHOUT ROWID;
      CREATE INDEX discord_user_guilds_user ON discord_user_guilds (discord_user_id);

      CREATE TABLE discord_guild_configs (
        id                TEXT PRIMARY KEY,
        guild_id          TEXT NOT NULL,
        guild_name        TEXT NOT NULL,
        enabled           INTEGER NOT NULL CHECK (enabled IN (0, 1)),
        settings          TEXT NOT NULL,
        bot_token         TEXT,
        bot_permissions   TEXT,
        bot_user_id       TEXT,
        owner_id          TEXT,
        health_status     TEXT NOT NULL CHECK (health_status IN ('healthy', 'degraded', 'unhealthy', 'unknown')),
        last_health_check INTEGER,
        last_error        TEXT,
        created_at        INTEGER NOT NULL,
        updated_at        INTEGER NOT NULL
      ) STRICT;
      CREATE UNIQUE INDEX discord_guild_configs_guild_id ON discord_guild_configs (guild_id);
      CREATE INDEX discord_guild_configs_name ON discord_guild_configs (guild_name, guild_id);

      CREATE TABLE discord_role_mappings (
        id                TEXT PRIMARY KEY,
        guild_id          TEXT NOT NULL
          REFERENCES discord_guild_configs (guild_id) ON DELETE CASCADE ON UPDATE CASCADE,
        group_id          TEXT NOT NULL,
        group_name        TEXT,
        discord_role_id   TEXT NOT NULL,
        discord_role_name TEXT,
        conditions        TEXT NOT NULL,
        priority          INTEGER NOT NULL,
        exclusive_set     TEXT,
        enabled           INTEGER NOT NULL CHECK (enabled IN (0, 1)),
        created_by        TEXT,
        last_sync         INTEGER,
        sync_count        INTEGER NOT NULL DEFAULT 0,
        created_at        INTEGER NOT NULL,
        updated_at        INTEGER NOT NULL
      ) STRICT;
      CREATE UNIQUE INDEX discord_role_mappings_triple ON discord_role_mappings (guild_id, group_id, discord_role_id);
      CREATE INDEX discord_role_mappings_priority ON discord_role_mappings (guild_id, priority, id);

      CREATE TABLE discord_sync_status (
        id           TEXT PRIMARY KEY,
        sync_type    TEXT NOT NULL CHECK (sync_type IN ('user', 'guild', 'mapping', 'full')),
        target_id    TEXT,
        status       TEXT NOT NULL CHECK (status IN ('pending', 'running', 'completed', 'failed', 'blocked')),
        dry_run      INTEGER NOT NULL CHECK (dry_run IN (0, 1)),
        force        INTEGER NOT NULL CHECK (force IN (0, 1)),
        started_at   INTEGER,
        completed_at INTEGER,
        duration     INTEGER,
        heartbeat_at INTEGER,
        results      TEXT NOT NULL,
        initiated_by TEXT NOT NULL,
        created_at   INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX discord_sync_status_heartbeat ON discord_sync_status (status, heartbeat_at);
      CREATE INDEX discord_sync_status_target ON discord_sync_status (sync_type, target_id, created_at);
      CREATE INDEX discord_sync_status_created ON discord_sync_status (created_at, id);

      CREATE TABLE discord_oauth_states (
        id            TEXT PRIMARY KEY,
        state         TEXT NOT NULL,
        flow          TEXT NOT NULL CHECK (flow IN ('login', 'link')),
        user_id       TEXT,
        redirect_url  TEXT,
        scopes        TEXT NOT NULL,
        code_verifier TEXT,
        created_at    INTEGER NOT NULL,
        expires_at    INTEGER NOT NULL,
        used          INTEGER NOT NULL CHECK (used IN (0, 1))
      ) STRICT;
      CREATE UNIQUE INDEX discord_oauth_states_state ON discord_oauth_states (state);
      CREATE INDEX discord_oauth_states_expires ON discord_oauth_states (expires_at);

      CREATE TABLE discord_audit_log (
        id              TEXT PRIMARY KEY,
        run_id          TEXT,
        guild_id        TEXT NOT NULL,
        discord_user_id TEXT NOT NULL,
        user_id         TEXT,
        role_id         TEXT NOT NULL,
        role_name       TEXT,
        action          TEXT NOT NULL CHECK (action IN ('add', 'remove')),
        mapping_id      TEXT,
        outcome         TEXT NOT NULL CHECK (outcome IN ('applied', 'failed', 'dry_run', 'blocked', 'skipped')),
        error_code      TEXT,
        created_at      INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX discord_audit_log_guild ON discord_audit_log (guild_id, created_at, id);
      CREATE INDEX discord_audit_log_discord_user ON discord_audit_log (discord_user_id, created_at, id);
      CREATE INDEX discord_audit_log_user ON discord_audit_log (user_id, created_at, id);
      CREATE INDEX discord_audit_log_run ON discord_audit_log (run_id);
      CREATE INDEX discord_audit_log_created ON discord_audit_log (created_at, id);
    `)
  }
}

/*
 * v2: runs of the scheduled token refresh were only logged and kept in one process's memory;
 * the issue asks for each run to be recorded, and any instance (or an admin) must see what the
 * last runs did. `task` is free text so a later task needs no migration; counts and errors are
 * JSON, read and written whole.
 */
const v2: Migration = {
  version: 2,
  name: 'scheduled task runs',
  up (db) {
    db.exec(`
      CREATE TABLE discord_task_runs (
        id          TEXT PRIMARY KEY,
        task        TEXT NOT NULL,
        status      TEXT NOT NULL CHECK (status IN ('completed', 'skipped', 'failed')),
        reason      TEXT,
        started_at  INTEGER NOT NULL,
        finished_at INTEGER NOT NULL,
        duration_ms INTEGER NOT NULL,
        counts      TEXT NOT NULL,
        errors      TEXT NOT NULL
      ) STRICT;
      CREATE INDEX discord_task_runs_task_started ON discord_task_runs (task, started_at, id);
    `)
  }
}

/*
 * v3: instances sharing the file must agree on who runs a due guild sync, and a second process
 * without Redis must see that the file already has a writer. A lease is one row per name, taken
 * and renewed by a single upsert, so SQLite's write lock makes every claim atomic.
 */
const v3: Migration = {
  version: 3,
  name: 'leases',
  up (db) {
    db.exec(`
      CREATE TABLE discord_leases (
        name       TEXT PRIMARY KEY,
        owner      TEXT NOT NULL,
        expires_at INTEGER NOT NULL
      ) STRICT;
    `)
  }
}

/*
 * v4: GET /sync/status keeps a summary of the finished runs per process and must know, with one
 * cheap read, whether any instance sharing the file changed them since. One row holds a counter
 * the sync-run writes raise in their own transaction (a version, not a timestamp: instances'
 * clocks may disagree, and two runs may finish in the same millisecond).
 */
const v4: Migration = {
  version: 4,
  name: 'sync runs version',
  up (db) {
    db.exec(`
      CREATE TABLE discord_sync_runs_version (
        id      INTEGER PRIMARY KEY CHECK (id = 1),
        version INTEGER NOT NULL
      ) STRICT;
      INSERT INTO discord_sync_runs_version (id, version) VALUES (1, 0);
    `)
  }
}

/*
 * v5 (issue 14, nicknames and access loss): the audit log records nickname changes (`nick`) and
 * kicks (`kick`) beside role changes, which the v1 CHECK on `action` refuses; SQLite cannot
 * alter a CHECK, so the table is rebuilt with its rows and indexes. And each member seen
 * without access gets the time it was first seen so (`access_lost_grace`), one row per guild
 * and member, swept by `seen_at` when the member is gone.
 */
const v5: Migration = {
  version: 5,
  name: 'audit nick/kick actions, access loss',
  up (db) {
    db.exec(`
      CREATE TABLE discord_audit_log_v5 (
        id              TEXT PRIMARY KEY,
        run_id          TEXT,
        guild_id        TEXT NOT NULL,
        discord_user_id TEXT NOT NULL,
        user_id         TEXT,
        role_id         TEXT NOT NULL,
        role_name       TEXT,
        action          TEXT NOT NULL CHECK (action IN ('add', 'remove', 'nick', 'kick')),
        mapping_id      TEXT,
        outcome         TEXT NOT NULL CHECK (outcome IN ('applied', 'failed', 'dry_run', 'blocked', 'skipped')),
        error_code      TEXT,
        created_at      INTEGER NOT NULL
      ) STRICT;
      INSERT INTO discord_audit_log_v5 SELECT id, run_id, guild_id, discord_user_id, user_id, role_id, role_name, action, mapping_id, outcome, error_code, created_at FROM discord_audit_log;
      DROP TABLE discord_audit_log;
      ALTER TABLE discord_audit_log_v5 RENAME TO discord_audit_log;
      CREATE INDEX discord_audit_log_guild ON discord_audit_log (guild_id, created_at, id);
      CREATE INDEX discord_audit_log_discord_user ON discord_audit_log (discord_user_id, created_at, id);
      CREATE INDEX discord_audit_log_user ON discord_audit_log (user_id, created_at, id);
      CREATE INDEX discord_audit_log_run ON discord_audit_log (run_id);
      CREATE INDEX discord_audit_log_created ON discord_audit_log (created_at, id);

      CREATE TABLE discord_access_loss (
        guild_id        TEXT NOT NULL,
        discord_user_id TEXT NOT NULL,
        lost_since      INTEGER NOT NULL,
        seen_at         INTEGER NOT NULL,
        PRIMARY KEY (guild_id, discord_user_id)
      ) STRICT;
      CREATE INDEX discord_access_loss_seen ON discord_access_loss (guild_id, seen_at);
    `)
  }
}

/*
 * v6 (issue 17, audit that separates intent from effect): each entry records what started its
 * run (`trigger`), so the log can be filtered by it without the run, which retention may have
 * pruned first. Existing entries take it from their run while it is there (the CASE is
 * triggerOf in src/store/port/audit.ts), else `manual`. `trigger` is an SQL keyword: quoted.
 */
const v6: Migration = {
  version: 6,
  name: 'audit trigger',
  up (db) {
    db.exec(`
      ALTER TABLE discord_audit_log ADD COLUMN "trigger" TEXT NOT NULL DEFAULT 'manual'
        CHECK ("trigger" IN ('schedule', 'manual', 'link', 'join', 'drift', 'deauthorized', 'unlink', 'push'));
      UPDATE discord_audit_log SET "trigger" = (
        SELECT CASE
          WHEN s.initiated_by = 'system' THEN 'schedule'
          WHEN s.initiated_by = 'push' THEN 'push'
          WHEN s.initiated_by LIKE 'link:%' THEN 'link'
          WHEN s.initiated_by LIKE 'join:%' THEN 'join'
          WHEN s.initiated_by LIKE 'drift:%' THEN 'drift'
          WHEN s.initiated_by LIKE 'deauthorized:%' THEN 'deauthorized'
          WHEN s.initiated_by LIKE 'unlink:%' THEN 'unlink'
          ELSE 'manual' END
        FROM discord_sync_status s WHERE s.id = discord_audit_log.run_id)
      WHERE run_id IN (SELECT id FROM discord_sync_status);
    `)
  }
}

/*
 * v7 (issue 16, fast lists): a run's result counts in columns, written with the results, so
 * GET /sync/runs reads eight integers per run instead of reading and parsing every run's
 * error list and per-guild results. Existing runs are filled from their results.
 */
const SUMMARY_COUNTS = ['users_processed', 'users_synced', 'users_failed', 'roles_added', 'roles_removed', 'guilds_processed'] as const
const v7: Migration = {
  version: 7,
  name: 'sync run summary columns',
  up (db) {
    for (const c of [...SUMMARY_COUNTS, 'errors_count', 'guilds_count']) {
      db.exec(`ALTER TABLE discord_sync_status ADD COLUMN ${c} INTEGER NOT NULL DEFAULT 0`)
    }
    db.exec(`UPDATE discord_sync_status SET
      ${SUMMARY_COUNTS.map((c) => `${c} = CAST(COALESCE(json_extract(results, '$.${c}'), 0) AS INTEGER)`).join(',\n      ')},
      errors_count = COALESCE(json_array_length(results, '$.errors'), 0),
      guilds_count = COALESCE(json_array_length(results, '$.guilds'), 0)`)
  }
}

export const MIGRATIONS: readonly Migration[] = Object.freeze([v1, v2, v3, v4, v5, v6, v7])

/** Throws unless versions run 1..n in order, so a bad merge fails at load, not in production. */
export function assertMigrationOrder (migrations: readonly Migration[]): void {
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) {
      throw new Error(`SQLite migration #${i + 1} ("${m.name}") has version ${m.version}; versions must be 1..n in order`)
    }
  })
}

assertMigrationOrder(MIGRATIONS)

export function schemaVersion (db: Database.Database): number {
  return db.pragma('user_version', { simple: true }) as number
}

export interface MigrationOutcome {
  from: number
  to: number
  applied: string[]
}

/**
 * Brings the schema to the newest version. All pending migrations run in one
 * IMMEDIATE transaction: the write lock is taken before the version is read, so two
 * processes opening the same file cannot both apply a step, and a failing step
 * leaves the database exactly as it was.
 */
export function migrate (db: Database.Database, migrations: readonly Migration[] = MIGRATIONS): MigrationOutcome {
  assertMigrationOrder(migrations)
  const latest = migrations.length
  const run = db.transaction((): MigrationOutcome => {
    const from = schemaVersion(db)
    if (from > latest) {
      throw new StoreUnavailableError(
        `the SQLite database schema is version ${from}, newer than this version of fastify-discord-sync knows (${latest}); upgrade the package or use another database file`
      )
    }
    const applied: string[] = []
    for (const m of migrations.slice(from)) {
      m.up(db)
      // user_version lives in the database header, so it commits or rolls back with the step.
      db.pragma(`user_version = ${m.version}`)
      applied.push(`${m.version}: ${m.name}`)
    }
    return { from, to: Math.max(from, latest), applied }
  })
  return run.immediate()
}
