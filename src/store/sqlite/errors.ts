import { NotFoundError, StoreConflictError, StoreUnavailableError } from '../../errors.js'

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

/** better-sqlite3's error class, passed in because the driver itself is loaded lazily. */
export type SqliteErrorClass = abstract new (...args: never[]) => SqliteErrorLike

/**
 * Translates driver errors into the port's errors. SQLite names the table and
 * columns of a violated constraint ("UNIQUE constraint failed: t.a, t.b") but never
 * the values, so the message can be rebuilt from it without risking a secret.
 * Anything that is not a `driverError` (ours, or the driver not loaded yet) passes through.
 */
export function translate (err: unknown, driverError: SqliteErrorClass | undefined): unknown {
  if (driverError === undefined || !(err instanceof driverError)) return err
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
