/*
 * The user sync response, in the seed's shape ("Sync User Roles"): one entry per enabled guild
 * the user's Discord account is in (or was, until this sync kicked it), role names rather than
 * ids, and errors as readable strings. A guild counts as successful when its entry has no error.
 * Beyond the seed, each entry and the whole answer count the nicknames set from the guild's
 * template and the kicks (on_access_lost kick), as the audit records them (`nick`, `kick`).
 */
import type { DiscordUserRecord, GuildConfigRecord } from '../store/port/index.js'
import type { GuildOutcome, MemberOutcome } from './guild-sync.js'
import type { ChangeStatus, PlannedChange } from './types.js'

export interface UserGuildSyncResult {
  guild_id: string
  guild_name: string
  roles_added: string[]
  roles_removed: string[]
  total_roles: number
  /** Nicknames this sync set from the guild's template (0 or 1 per linked account). */
  nickname_changes: number
  /** Kicks this sync made (on_access_lost kick). */
  kicks: number
  errors: string[]
}

export interface UserSyncResult {
  user_id: string
  discord_user_id: string
  sync_results: UserGuildSyncResult[]
  total_guilds: number
  successful_guilds: number
  failed_guilds: number
  /** Sum of the entries' nickname_changes. */
  nickname_changes: number
  /** Sum of the entries' kicks. */
  kicks: number
  synced_at: string
}

const BLOCKED_WHY: Record<Exclude<ChangeStatus, 'planned'>, string> = {
  blocked_hierarchy: 'it is not below the bot\'s highest role',
  blocked_managed: 'it is managed by an integration (or is @everyone)',
  blocked_missing_role: 'it no longer exists in the guild'
}

function blockedText (c: PlannedChange): string {
  const why = c.status === 'planned' ? 'the bot may not change it' : BLOCKED_WHY[c.status]
  return `cannot ${c.action} role "${c.role_name}": ${why}`
}

function memberEntry (guild: GuildConfigRecord, outcome: GuildOutcome, m: MemberOutcome): UserGuildSyncResult {
  const errors: string[] = []
  if (m.error !== null) errors.push(m.error.message)
  for (const c of m.blocked) errors.push(blockedText(c))
  if (m.held.length > 0 && outcome.result.status === 'blocked' && outcome.result.reason !== null) errors.push(outcome.result.reason)
  return {
    guild_id: guild.guild_id,
    guild_name: guild.guild_name,
    roles_added: m.applied.filter((c) => c.action === 'add').map((c) => c.role_name),
    roles_removed: m.applied.filter((c) => c.action === 'remove').map((c) => c.role_name),
    total_roles: m.kicked ? 0 : m.roles_after?.length ?? 0,
    nickname_changes: m.nick !== null ? 1 : 0,
    kicks: m.kicked ? 1 : 0,
    errors
  }
}

/**
 * Builds the response. Guilds where no linked account is a member are left out (the seed lists
 * the guilds the user is in); a guild that failed before any member could be read is listed
 * with its error, since whether the user is in it could not be checked.
 */
export function buildUserSyncResult (userId: string, links: readonly DiscordUserRecord[], guilds: ReadonlyArray<{ guild: GuildConfigRecord, outcome: GuildOutcome }>, syncedAt: Date): UserSyncResult {
  const results: UserGuildSyncResult[] = []
  for (const { guild, outcome } of guilds) {
    // Listed too: a member kicked by this sync, and a join the safety brake held back.
    const inGuild = outcome.members.filter((m) => m.in_guild || m.kicked || m.held.length > 0)
    if (inGuild.length > 0) {
      for (const m of inGuild) results.push(memberEntry(guild, outcome, m))
    } else if (outcome.result.status === 'failed' && outcome.members.length === 0) {
      results.push({ guild_id: guild.guild_id, guild_name: guild.guild_name, roles_added: [], roles_removed: [], total_roles: 0, nickname_changes: 0, kicks: 0, errors: [outcome.result.reason ?? 'the guild could not be synced'] })
    }
  }
  const successful = results.filter((r) => r.errors.length === 0).length
  return {
    user_id: userId,
    discord_user_id: (links[0] as DiscordUserRecord).discord_user_id,
    sync_results: results,
    total_guilds: results.length,
    successful_guilds: successful,
    failed_guilds: results.length - successful,
    nickname_changes: results.reduce((n, r) => n + r.nickname_changes, 0),
    kicks: results.reduce((n, r) => n + r.kicks, 0),
    synced_at: syncedAt.toISOString()
  }
}
