import { readFileSync, statSync } from 'node:fs'
import { resolve } from 'node:path'
import type { MembershipInfo, MembershipProvider, UserGroup } from '../../src/index.js'
import { ConfigError } from './config.js'

/*
 * The standalone server's membership provider (outside demo mode): a JSON file naming each host
 * user's groups, character count and permissions, so role sync works without a host application.
 *
 *   MEMBERSHIP_FILE=./data/membership.json
 *   {
 *     "users": {
 *       "user-id-123": { "groups": [{ "id": "pilots", "name": "Pilots" }], "character_count": 2, "permissions": ["fleet.read"],
 *                        "profile": { "name": "Jane Doe", "ticker": "ABC" } }
 *     }
 *   }
 *
 * `groups` (optional, top level: `"groups": [{ "id": "pilots", "name": "Pilots" }]`) lists every
 * group for the admin UI's group picker, including groups nobody is in yet; the groups the users
 * name are listed too.
 *
 * `profile` (optional) fills a guild's nickname template (`[{ticker}] {name}`; the variables a
 * template may use are the plugin's `sync.nicknameVariables`, default name and ticker).
 *
 * The file is re-read when it changes (checked at most once a second), so editing it takes
 * effect at the next sync without a restart. A user missing from the file is entitled to
 * nothing. A file that cannot be read or parsed makes the provider throw: the engine then
 * skips those members (they keep their roles) and records why, instead of stripping roles.
 * Each entry is validated by the plugin like any provider answer.
 */

interface Loaded {
  mtimeMs: number
  users: Map<string, unknown>
  /** The top-level `groups`, as written (the plugin validates what listGroups returns). */
  groups: unknown[]
}

export class JsonFileMembership implements MembershipProvider {
  readonly path: string
  #loaded: Loaded | null = null
  #checkedAt = 0

  constructor (path: string) {
    this.path = path
  }

  #current (): Map<string, unknown> {
    return this.#file().users
  }

  #file (): Loaded {
    const now = Date.now()
    if (this.#loaded !== null && now - this.#checkedAt < 1000) return this.#loaded
    this.#checkedAt = now
    try {
      const { mtimeMs } = statSync(this.path)
      if (this.#loaded?.mtimeMs === mtimeMs) return this.#loaded
      const parsed: unknown = JSON.parse(readFileSync(this.path, 'utf8'))
      const users = (parsed as { users?: unknown } | null)?.users
      if (typeof users !== 'object' || users === null || Array.isArray(users)) {
        throw new Error(`${this.path}: expected { "users": { "<user id>": { groups, character_count, permissions } } }`)
      }
      const groups = (parsed as { groups?: unknown }).groups
      if (groups !== undefined && !Array.isArray(groups)) throw new Error(`${this.path}: "groups" must be an array of { id, name }`)
      this.#loaded = { mtimeMs, users: new Map(Object.entries(users)), groups: groups ?? [] }
      return this.#loaded
    } catch (err) {
      // Forget the old content: until the file is fixed every call throws, so no page of a sync
      // is planned on what the file said before the edit while others are refused.
      this.#loaded = null
      throw err
    }
  }

  getMembership (userId: string): MembershipInfo | null {
    // Shape checks happen in the plugin (toUserContext); an invalid entry fails that user only.
    return (this.#current().get(userId) as MembershipInfo | undefined) ?? null
  }

  getMemberships (userIds: readonly string[]): Map<string, MembershipInfo | null> {
    const users = this.#current()
    return new Map(userIds.map((id) => [id, (users.get(id) as MembershipInfo | undefined) ?? null]))
  }

  /** The file's `groups`, then every other group a user names (first name seen wins), for the admin UI's picker. */
  listGroups (): UserGroup[] {
    const file = this.#file()
    const out = new Map<string, UserGroup>()
    const add = (g: unknown): void => {
      // Malformed entries pass through as they are: the plugin refuses the list and says why.
      const id = (g as { id?: unknown } | null)?.id
      if (typeof id === 'string' && out.has(id)) return
      out.set(typeof id === 'string' ? id : `#${out.size}`, g as UserGroup)
    }
    for (const g of file.groups) add(g)
    for (const info of file.users.values()) {
      const groups = (info as { groups?: unknown } | null)?.groups
      if (Array.isArray(groups)) for (const g of groups) add(g)
    }
    return [...out.values()]
  }
}

/**
 * MEMBERSHIP_FILE → a provider, or null when unset (the sync routes then answer 503
 * FST_DISCORD_SYNC_NOT_CONFIGURED). The file must exist and parse at start-up.
 */
export function membershipFromEnv (env: Record<string, string | undefined> = process.env): JsonFileMembership | null {
  const raw = env.MEMBERSHIP_FILE?.trim()
  if (raw === undefined || raw === '') return null
  const provider = new JsonFileMembership(resolve(raw))
  try {
    provider.getMemberships([])
  } catch (err) {
    throw new ConfigError('MEMBERSHIP_FILE', `must name a readable JSON file of the form { "users": { ... } } (${(err as Error).message})`)
  }
  return provider
}
