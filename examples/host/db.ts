import { randomBytes, randomUUID, scryptSync, timingSafeEqual } from 'node:crypto'
import Database from 'better-sqlite3'
import type { MembershipInfo } from '../../src/index.js'

/*
 * The host's own data, as a Go-Falcon-style backend keeps it: users (with password logins),
 * groups, who is in which group, each user's characters, and a permission model in which a
 * group grants permissions. None of it belongs to the plugin: the plugin only asks, through the
 * membership provider (discord.ts), what a user's groups are, and is told when they change.
 */

export interface HostUser {
  id: string
  username: string
  displayName: string
}

export interface HostGroup {
  id: string
  name: string
  /** What membership of this group allows (the host's permission model). */
  permissions: string[]
}

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS users (
    id TEXT PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    password_hash TEXT
  );
  CREATE TABLE IF NOT EXISTS groups (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL
  );
  CREATE TABLE IF NOT EXISTS group_permissions (
    group_id TEXT NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    permission TEXT NOT NULL,
    PRIMARY KEY (group_id, permission)
  );
  CREATE TABLE IF NOT EXISTS group_members (
    group_id TEXT NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, user_id)
  );
  CREATE INDEX IF NOT EXISTS group_members_user ON group_members (user_id);
  CREATE TABLE IF NOT EXISTS characters (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name TEXT NOT NULL
  );
  CREATE INDEX IF NOT EXISTS characters_user ON characters (user_id);
`

/** scrypt with a per-user salt: `salt:hash`, both hex. */
function hashPassword (password: string): string {
  const salt = randomBytes(16)
  return `${salt.toString('hex')}:${scryptSync(password, salt, 32).toString('hex')}`
}

function passwordMatches (password: string, stored: string): boolean {
  const [salt, hash] = stored.split(':')
  if (salt === undefined || hash === undefined) return false
  const expected = Buffer.from(hash, 'hex')
  const actual = scryptSync(password, Buffer.from(salt, 'hex'), expected.length)
  return timingSafeEqual(actual, expected)
}

interface UserRow { id: string, username: string, display_name: string, password_hash: string | null }
const toUser = (r: UserRow): HostUser => ({ id: r.id, username: r.username, displayName: r.display_name })

/** The host's database (better-sqlite3; `:memory:` unless a file is named). */
export class HostDatabase {
  readonly #db: Database.Database

  constructor (path = ':memory:') {
    this.#db = new Database(path)
    this.#db.pragma('foreign_keys = ON')
    this.#db.exec(SCHEMA)
  }

  createUser (input: { username: string, displayName: string, password?: string, id?: string }): HostUser {
    const id = input.id ?? randomUUID()
    this.#db.prepare('INSERT INTO users (id, username, display_name, password_hash) VALUES (?, ?, ?, ?)')
      .run(id, input.username, input.displayName, input.password === undefined ? null : hashPassword(input.password))
    return { id, username: input.username, displayName: input.displayName }
  }

  findUser (id: string): HostUser | null {
    const row = this.#db.prepare('SELECT * FROM users WHERE id = ?').get(id) as UserRow | undefined
    return row === undefined ? null : toUser(row)
  }

  findUserByUsername (username: string): HostUser | null {
    const row = this.#db.prepare('SELECT * FROM users WHERE username = ?').get(username) as UserRow | undefined
    return row === undefined ? null : toUser(row)
  }

  /** The user whose password this is, or null (unknown user, no password, wrong password). */
  checkPassword (username: string, password: string): HostUser | null {
    const row = this.#db.prepare('SELECT * FROM users WHERE username = ?').get(username) as UserRow | undefined
    if (row === undefined || row.password_hash === null) return null
    return passwordMatches(password, row.password_hash) ? toUser(row) : null
  }

  createGroup (group: HostGroup): void {
    this.#db.transaction(() => {
      this.#db.prepare('INSERT INTO groups (id, name) VALUES (?, ?)').run(group.id, group.name)
      const grant = this.#db.prepare('INSERT INTO group_permissions (group_id, permission) VALUES (?, ?)')
      for (const p of group.permissions) grant.run(group.id, p)
    })()
  }

  findGroup (id: string): HostGroup | null {
    const row = this.#db.prepare('SELECT id, name FROM groups WHERE id = ?').get(id) as { id: string, name: string } | undefined
    if (row === undefined) return null
    const permissions = (this.#db.prepare('SELECT permission FROM group_permissions WHERE group_id = ? ORDER BY permission').all(id) as Array<{ permission: string }>).map((p) => p.permission)
    return { ...row, permissions }
  }

  /** Every group with its members' ids. */
  listGroups (): Array<HostGroup & { members: string[] }> {
    const ids = (this.#db.prepare('SELECT id FROM groups ORDER BY id').all() as Array<{ id: string }>).map((r) => r.id)
    const members = this.#db.prepare('SELECT user_id FROM group_members WHERE group_id = ? ORDER BY user_id')
    return ids.map((id) => ({ ...(this.findGroup(id) as HostGroup), members: (members.all(id) as Array<{ user_id: string }>).map((m) => m.user_id) }))
  }

  /** Adds the user to the group; false when they were already in it. */
  addToGroup (groupId: string, userId: string): boolean {
    return this.#db.prepare('INSERT OR IGNORE INTO group_members (group_id, user_id) VALUES (?, ?)').run(groupId, userId).changes > 0
  }

  /** Removes the user from the group; false when they were not in it. */
  removeFromGroup (groupId: string, userId: string): boolean {
    return this.#db.prepare('DELETE FROM group_members WHERE group_id = ? AND user_id = ?').run(groupId, userId).changes > 0
  }

  addCharacter (userId: string, name: string): void {
    this.#db.prepare('INSERT INTO characters (user_id, name) VALUES (?, ?)').run(userId, name)
  }

  /** The permission model: a user holds every permission any of their groups grants. */
  permissionsOf (userId: string): string[] {
    const rows = this.#db.prepare(`
      SELECT DISTINCT gp.permission FROM group_members gm
      JOIN group_permissions gp ON gp.group_id = gm.group_id
      WHERE gm.user_id = ? ORDER BY gp.permission`).all(userId) as Array<{ permission: string }>
    return rows.map((r) => r.permission)
  }

  /** What the plugin's membership provider answers for one user: null for a user the host does not know. */
  membership (userId: string): MembershipInfo | null {
    return this.memberships([userId]).get(userId) ?? null
  }

  /** The same for many users, in three queries whatever their number (one members page of the sync). */
  memberships (userIds: readonly string[]): Map<string, MembershipInfo | null> {
    const result = new Map<string, MembershipInfo | null>(userIds.map((id) => [id, null]))
    if (userIds.length === 0) return result
    const ids = JSON.stringify(userIds)
    const known = this.#db.prepare('SELECT id FROM users WHERE id IN (SELECT value FROM json_each(?))').all(ids) as Array<{ id: string }>
    for (const { id } of known) result.set(id, { groups: [], character_count: 0, permissions: [] })
    const groups = this.#db.prepare(`
      SELECT gm.user_id, g.id, g.name FROM group_members gm JOIN groups g ON g.id = gm.group_id
      WHERE gm.user_id IN (SELECT value FROM json_each(?)) ORDER BY g.id`).all(ids) as Array<{ user_id: string, id: string, name: string }>
    for (const g of groups) result.get(g.user_id)?.groups.push({ id: g.id, name: g.name })
    const counts = this.#db.prepare(`
      SELECT user_id, COUNT(*) AS n FROM characters WHERE user_id IN (SELECT value FROM json_each(?)) GROUP BY user_id`).all(ids) as Array<{ user_id: string, n: number }>
    for (const c of counts) {
      const info = result.get(c.user_id)
      if (info) info.character_count = c.n
    }
    for (const [id, info] of result) if (info !== null) info.permissions = this.permissionsOf(id)
    return result
  }

  close (): void {
    this.#db.close()
  }
}
