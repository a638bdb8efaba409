import { USER_COLUMNS } from './rows.js'

/*
 * Rows as JSON (issue 16, fast lists): better-sqlite3 builds each row object one property at
 * a time, which for a page of 20 rows of 15 columns cost about twice what SQLite's
 * json_object plus one JSON.parse per row does; JSON text columns embedded with json() are
 * parsed in the same pass. Used by the list reads through SqliteContext.allJson.
 */

/**
 * `json_object('a', a, ...)` of these columns or expressions, for SqliteContext.allJson. A
 * column named `json:x` is embedded as JSON (`json(x)`: a JSON text column parsed with the
 * row); `name:expr` names an expression. Values keep their SQLite types (0/1 stay integers).
 */
export function jsonRow (columns: readonly string[], alias = ''): string {
  const prefix = alias === '' ? '' : `${alias}.`
  return `json_object(${columns.map((c) => {
    // Columns quoted: `trigger` is an SQL keyword.
    if (c.startsWith('json:')) return `'${c.slice(5)}', json(${prefix}"${c.slice(5)}")`
    const at = c.indexOf(':')
    return at === -1 ? `'${c}', ${prefix}"${c}"` : `'${c.slice(0, at)}', ${c.slice(at + 1)}`
  }).join(', ')})`
}

/** Every column of an audit entry. */
export const AUDIT_COLUMNS = ['id', 'run_id', 'guild_id', 'discord_user_id', 'user_id', 'role_id', 'role_name', 'action', 'mapping_id', 'outcome', 'error_code', 'trigger', 'created_at'] as const

/** A link's columns (no token: see USER_COLUMNS) as JSON, for a query that names discord_users `u`. */
export const USER_JSON = jsonRow([...USER_COLUMNS.filter((c) => c !== 'scopes' && c !== 'guilds'), 'json:scopes', 'json:guilds', 'has_tokens:(u.refresh_token IS NOT NULL)'], 'u')

/** A mapping's columns as JSON, conditions parsed with the row. */
export const MAPPING_JSON = jsonRow(['id', 'guild_id', 'group_id', 'group_name', 'discord_role_id', 'discord_role_name', 'json:conditions', 'priority',
  'exclusive_set', 'enabled', 'created_by', 'last_sync', 'sync_count', 'created_at', 'updated_at'])
