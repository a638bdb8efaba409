/*
 * The admin's view of linked members (issue 17): who they are on Discord (username, global name,
 * avatar), where they stand in each enabled guild, and, for one member, why each managed role is
 * or is not held. The list reads only the store (links, the brake's held runs, recent failures):
 * a page of members costs no Discord call. The detail asks Discord for the member in each guild
 * and the membership provider for its groups, and explains the plan the next sync would make.
 *
 * List filters, each "as of the last sync" (nothing is planned live for a list):
 * - needs_reauth: Discord refused the link's refresh token; the store filters it.
 * - not_in_guild: the link's guild list (kept current by every sync) lacks an enabled guild.
 * - held: the member has a change in the run the safety brake holds for a guild.
 * - out_of_sync: held, failed in a recent run, or never synced.
 * Filters other than needs_reauth read at most SCAN_BUDGET links per request; the cursor then
 * continues where the scan stopped, so a rare match deep in a large table is reached page by page.
 */
import type { FastifyBaseLogger } from 'fastify'
import type { DiscordBotClient } from '../discord/bot.js'
import { DiscordNotFoundError } from '../discord/errors/index.js'
import { NotFoundError } from '../errors.js'
import type { DiscordStore, DiscordUserRecord, GuildConfigRecord, SearchUsersQuery, UserCursor } from '../store/port/index.js'
import { MAX_PAGE_SIZE } from '../store/port/index.js'
import type { RoleCache } from '../sync/role-cache.js'
import type { SyncStatus } from '../sync/status.js'
import { resolveContext, type MembershipProvider } from '../sync/membership.js'
import type { UserContext } from '../sync/types.js'
import { explainMemberRoles, type RoleExplanation } from './explain.js'
import { Namer } from './names.js'

export type MemberFilter = 'out_of_sync' | 'held' | 'not_in_guild' | 'needs_reauth'

/** Links read per request at most when a filter the store cannot apply is set. */
export const SCAN_BUDGET = 1000
/** Entries of a held run read to know whose changes it holds. */
const HELD_ENTRIES_MAX = 5000

export interface MemberGuildState {
  guild_id: string
  guild_name: string
  in_guild: boolean
  held: boolean
  failed: boolean
}

export interface MemberSummary {
  link: DiscordUserRecord
  avatar_url: string | null
  guilds: MemberGuildState[]
  out_of_sync: boolean
  held: boolean
  not_in_guild: boolean
}

export interface MemberPage {
  members: MemberSummary[]
  /** Where the next page starts; null when the table was read to its end. */
  next: UserCursor | null
}

export interface MemberGuildDetail {
  guild_id: string
  guild_name: string
  in_guild: boolean
  /** Why the guild could not be read (no bot token, Discord failed); the rest is then empty. */
  error: string | null
  nick: string | null
  roles: Array<{ id: string, name: string, color: number, position: number }>
  managed: RoleExplanation[]
}

export interface MemberDetail {
  summary: MemberSummary
  groups: Array<{ id: string, name: string }>
  /** The provider's nickname template values for the member (the settings page previews with them). */
  profile: Record<string, string> | null
  membership_error: string | null
  guilds: MemberGuildDetail[]
}

export interface MemberDirectoryDeps {
  store: DiscordStore
  bots: (token: string) => Pick<DiscordBotClient, 'getCurrentUser' | 'getGuild' | 'getGuildMember'>
  roleCache: RoleCache
  /** Already bounded in time (provider-guard.ts); null: no provider configured. */
  membership: MembershipProvider | null
  status: () => Promise<SyncStatus>
  /** Discord's CDN base (option `cdnBaseUrl`), without a trailing slash. */
  cdnBaseUrl: string
  log: FastifyBaseLogger
}

export class MemberDirectory {
  readonly #d: MemberDirectoryDeps
  /** Names for the ids of audit pages and run details, from the same store, cache and CDN. */
  readonly namer: Namer

  constructor (deps: MemberDirectoryDeps) {
    this.#d = deps
    this.namer = new Namer({ store: deps.store, peekRoles: (id) => deps.roleCache.peek(id), avatarUrl: (link) => this.avatarUrl(link) })
  }

  /** The avatar's CDN URL (reference.mdx "CDN Endpoints": avatars/{user_id}/{hash}.png), or null without one. */
  avatarUrl (link: Pick<DiscordUserRecord, 'discord_user_id' | 'avatar'>): string | null {
    if (link.avatar === null || !/^(a_)?[0-9a-f]{32}$/.test(link.avatar)) return null
    return `${this.#d.cdnBaseUrl}/avatars/${link.discord_user_id}/${link.avatar}.png?size=64`
  }

  /** A keyset page of linked members matching `search` and `filter`. */
  async list (q: { search?: string, filter?: MemberFilter, after: UserCursor | null, limit: number }): Promise<MemberPage> {
    const context = await this.#context()
    const members: MemberSummary[] = []
    let after = q.after
    let scanned = 0
    const storeFilter = q.filter === 'needs_reauth' ? { needs_reauth: true } : {}
    while (members.length < q.limit) {
      const want = q.filter === undefined || q.filter === 'needs_reauth' ? q.limit - members.length : Math.min(MAX_PAGE_SIZE, SCAN_BUDGET - scanned)
      if (want <= 0) return { members, next: after }
      const batch = await this.#search({ after, limit: want, ...(q.search === undefined ? {} : { search: q.search }), ...storeFilter })
      for (const link of batch) {
        scanned++
        after = { created_at: link.created_at, id: link.id }
        const s = this.#summarise(link, context)
        if (matches(s, q.filter)) members.push(s)
        if (members.length === q.limit) break
      }
      if (batch.length < want && members.length < q.limit) return { members, next: null }
    }
    return { members, next: after }
  }

  /** One member: its Discord roles per enabled guild and why each managed role is or is not held. */
  async detail (discordUserId: string): Promise<MemberDetail> {
    const link = await this.#d.store.getUserByDiscordId(discordUserId)
    if (link === null) throw new NotFoundError(`No linked Discord account has the id ${discordUserId}`)
    const context = await this.#context()
    const summary = this.#summarise(link, context)
    let user: UserContext | null = null
    let membershipError: string | null = null
    if (this.#d.membership === null) membershipError = 'no membership provider is configured'
    else {
      const r = await resolveContext(this.#d.membership, link.user_id)
      if (r instanceof Error) membershipError = r.message
      else user = r
    }
    const guilds = await Promise.all(context.guilds.map((g) => this.#guildDetail(g, link, user, membershipError)))
    const profile = user?.profile === undefined ? null : { ...user.profile }
    return { summary, groups: user?.groups.map((g) => ({ id: g.id, name: g.name })) ?? [], profile, membership_error: membershipError, guilds }
  }

  async #guildDetail (g: GuildConfigRecord, link: DiscordUserRecord, user: UserContext | null, membershipError: string | null): Promise<MemberGuildDetail> {
    const base = { guild_id: g.guild_id, guild_name: g.guild_name, in_guild: false, error: null, nick: null, roles: [], managed: [] }
    const token = await this.#d.store.getBotToken(g.guild_id)
    if (token === null) return { ...base, error: 'the guild has no bot token' }
    try {
      const bot = this.#d.bots(token)
      const snap = await this.#d.roleCache.get(g.guild_id, bot, g.bot_user_id)
      let member
      try {
        member = await bot.getGuildMember(g.guild_id, link.discord_user_id)
      } catch (err) {
        if (err instanceof DiscordNotFoundError) return { ...base, guild_name: g.guild_name }
        throw err
      }
      const byId = new Map(snap.roles.map((r) => [r.id, r]))
      const roles = member.roles.flatMap((id) => {
        const r = byId.get(id)
        return r === undefined ? [] : [{ id, name: r.name, color: r.color ?? 0, position: r.position }]
      }).sort((a, b) => b.position - a.position)
      const mappings = await this.#d.store.listMappings({ guild_id: g.guild_id })
      // Without the provider's answer the reasons would be guesses: list the roles held, explain none.
      const managed = membershipError !== null
        ? []
        : explainMemberRoles({
          guild_id: g.guild_id,
          remove_roles_on_leave: g.settings.remove_roles_on_leave,
          roles: snap.roles,
          bot_top_position: snap.bot_top_position,
          mappings,
          member_roles: member.roles,
          user
        })
      return { ...base, in_guild: true, nick: member.nick ?? null, roles, managed }
    } catch (err) {
      this.#d.log.warn({ guild_id: g.guild_id, err: { name: (err as Error)?.name, message: (err as Error)?.message } }, 'member detail: guild read failed')
      return { ...base, error: `Discord could not be read for this guild (${(err as Error)?.name ?? 'error'}); try again` }
    }
  }

  async #search (q: SearchUsersQuery): Promise<DiscordUserRecord[]> {
    const store = this.#d.store
    if (typeof store.searchUsers === 'function') return await store.searchUsers(q)
    return await scanUsers(store, q)
  }

  /** What a page of summaries needs once: the enabled guilds, and who the brake holds or a run failed. */
  async #context (): Promise<ListContext> {
    const [guilds, status] = await Promise.all([this.#d.store.listGuilds({ enabled: true }), this.#d.status()])
    const held = new Map<string, Set<string>>()
    for (const h of status.held_guilds) held.set(h.guild_id, await this.#heldMembers(h.run_id, h.guild_id))
    const failed = new Map<string, Set<string>>()
    for (const e of status.recent_errors) {
      if (e.discord_user_id === null || e.guild_id === null) continue
      const set = failed.get(e.guild_id) ?? new Set<string>()
      set.add(e.discord_user_id)
      failed.set(e.guild_id, set)
    }
    return { guilds: guilds.sort((a, b) => a.guild_name.localeCompare(b.guild_name)), held, failed }
  }

  async #heldMembers (runId: string, guildId: string): Promise<Set<string>> {
    const out = new Set<string>()
    for (let page = 1; (page - 1) * MAX_PAGE_SIZE < HELD_ENTRIES_MAX; page++) {
      const p = await this.#d.store.listAudit({ run_id: runId, guild_id: guildId, page, page_size: MAX_PAGE_SIZE })
      for (const e of p.items) out.add(e.discord_user_id)
      if (page * MAX_PAGE_SIZE >= p.total) break
    }
    return out
  }

  #summarise (link: DiscordUserRecord, c: ListContext): MemberSummary {
    const inGuild = new Set(link.guilds.map((g) => g.id))
    const guilds = c.guilds.map((g) => ({
      guild_id: g.guild_id,
      guild_name: g.guild_name,
      in_guild: inGuild.has(g.guild_id),
      held: c.held.get(g.guild_id)?.has(link.discord_user_id) === true,
      failed: c.failed.get(g.guild_id)?.has(link.discord_user_id) === true
    }))
    const held = guilds.some((g) => g.held)
    return {
      link,
      avatar_url: this.avatarUrl(link),
      guilds,
      held,
      out_of_sync: held || guilds.some((g) => g.failed) || link.last_sync === null,
      not_in_guild: guilds.some((g) => !g.in_guild)
    }
  }
}

interface ListContext {
  guilds: GuildConfigRecord[]
  held: Map<string, Set<string>>
  failed: Map<string, Set<string>>
}

function matches (s: MemberSummary, filter: MemberFilter | undefined): boolean {
  switch (filter) {
    case undefined: return true
    case 'needs_reauth': return s.link.needs_reauth
    case 'held': return s.held
    case 'not_in_guild': return s.not_in_guild
    case 'out_of_sync': return s.out_of_sync
  }
}

/**
 * searchUsers for a host store without it: the offset pages of listUsers, read in their
 * (created_at, id) order and filtered here. Linear in the links, so hosts with many should
 * implement searchUsers.
 */
export async function scanUsers (store: DiscordStore, q: SearchUsersQuery): Promise<DiscordUserRecord[]> {
  const out: DiscordUserRecord[] = []
  const text = q.search?.toLowerCase()
  for (let page = 1; ; page++) {
    const p = await store.listUsers({ page, page_size: MAX_PAGE_SIZE })
    for (const u of p.items) {
      if (q.after != null && (u.created_at.getTime() < q.after.created_at.getTime() || (u.created_at.getTime() === q.after.created_at.getTime() && u.id <= q.after.id))) continue
      if (q.needs_reauth !== undefined && u.needs_reauth !== q.needs_reauth) continue
      if (text !== undefined && text !== '' && u.discord_user_id !== q.search && u.user_id !== q.search &&
        !u.username.toLowerCase().includes(text) && !(u.global_name ?? '').toLowerCase().includes(text)) continue
      out.push(u)
      if (out.length >= q.limit) return out
    }
    if (p.items.length < MAX_PAGE_SIZE) return out
  }
}
