/*
 * Names for the ids in audit entries and run errors (issue 17, "names everywhere"): a Discord
 * user's username, global name and avatar from the store's linked accounts, a guild's name from
 * its config, a role's colour from the role cache. A page costs one batched store read of the
 * accounts, one of the guild configs, and one role-cache read per guild on the page; never a
 * Discord call: what the cache does not hold stays unnamed (null) rather than spend the guild's
 * request budget on a label. Unlinked members (no account) have no names: the UI shows their id.
 */
import type { AccountNames, DiscordStore, DiscordUserRecord, GuildName } from '../store/port/index.js'
import type { RoleSnapshot } from '../sync/role-cache.js'

/** The names one entry gets; null where the store or the cache has none. */
export interface PersonNames {
  discord_username: string | null
  discord_global_name: string | null
  avatar_url: string | null
}

export interface EntryNames extends PersonNames {
  guild_name: string | null
  /** The role's colour (an RGB integer, 0: none); null for nick/kick entries and roles the cache lacks. */
  role_color: number | null
}

export interface NamerDeps {
  /** listAccountNames and listGuildNames when the store has them (narrow reads), else the full records. */
  store: Pick<DiscordStore, 'listUsersByDiscordIds' | 'listGuilds' | 'listAccountNames' | 'listGuildNames'>
  /** A cached role snapshot, or null: never asks Discord. */
  peekRoles: (guildId: string) => Promise<RoleSnapshot | null>
  avatarUrl: (link: Pick<DiscordUserRecord, 'discord_user_id' | 'avatar'>) => string | null
}

const NO_PERSON: PersonNames = { discord_username: null, discord_global_name: null, avatar_url: null }

export class Namer {
  readonly #d: NamerDeps

  constructor (deps: NamerDeps) {
    this.#d = deps
  }

  /** The people among these Discord ids, in one store call (none when the list is empty). */
  async people (discordUserIds: ReadonlyArray<string | null>): Promise<(id: string | null) => PersonNames> {
    const ids = [...new Set(discordUserIds.filter((id): id is string => id !== null))]
    const links = ids.length === 0 ? [] : await this.#accountNames(ids)
    const byId = new Map<string, PersonNames>()
    for (const l of links) {
      byId.set(l.discord_user_id, { discord_username: l.username, discord_global_name: l.global_name, avatar_url: this.#d.avatarUrl(l) })
    }
    return (id) => (id === null ? undefined : byId.get(id)) ?? NO_PERSON
  }

  /** Guild names by id from the stored configs (one call). */
  async guilds (): Promise<(id: string | null) => string | null> {
    const byId = new Map<string, string>()
    for (const g of await this.#guildNames()) byId.set(g.guild_id, g.guild_name)
    return (id) => id === null ? null : byId.get(id) ?? null
  }

  async #accountNames (ids: string[]): Promise<AccountNames[]> {
    const { store } = this.#d
    return typeof store.listAccountNames === 'function' ? await store.listAccountNames(ids) : await store.listUsersByDiscordIds(ids)
  }

  async #guildNames (): Promise<GuildName[]> {
    const { store } = this.#d
    return typeof store.listGuildNames === 'function' ? await store.listGuildNames() : await store.listGuilds()
  }

  /** Names for a page of audit entries, in their order. */
  async entries (entries: ReadonlyArray<{ discord_user_id: string, guild_id: string, role_id: string, action: string }>): Promise<EntryNames[]> {
    if (entries.length === 0) return []
    const guildIds = [...new Set(entries.map((e) => e.guild_id))]
    const [person, guild, snaps] = await Promise.all([
      this.people(entries.map((e) => e.discord_user_id)),
      this.guilds(),
      Promise.all(guildIds.map(async (id) => [id, await this.#peek(id)] as const))
    ])
    const colours = new Map(snaps.map(([id, snap]) => [id, new Map((snap?.roles ?? []).map((r) => [r.id, r.color ?? 0]))]))
    return entries.map((e) => {
      const p = person(e.discord_user_id)
      return {
        discord_username: p.discord_username,
        discord_global_name: p.discord_global_name,
        avatar_url: p.avatar_url,
        guild_name: guild(e.guild_id),
        role_color: e.role_id === '' ? null : colours.get(e.guild_id)?.get(e.role_id) ?? null
      }
    })
  }

  async #peek (guildId: string): Promise<RoleSnapshot | null> {
    try {
      return await this.#d.peekRoles(guildId)
    } catch {
      return null // a colour is not worth failing the page for
    }
  }
}
