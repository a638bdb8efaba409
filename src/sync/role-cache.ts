/*
 * Guild roles (names, positions, managed flag) and the bot's place among them, cached per guild
 * for a TTL. Planning needs them for every member, and role names go into every response and
 * audit entry: asking Discord per member would spend the guild's read budget on data that
 * changes a few times a year. A write failing with 10011 (Unknown Role) or 50013 (Missing
 * Permissions) says the cache may be wrong, so the engine drops the entry then.
 *
 * With Redis the snapshot is shared by every instance (and an invalidation by one is seen by
 * all); without it, an in-process map.
 */
import { withTimeout } from '../util/timeout.js'
import type { RedisConnection as Redis } from '../util/driver-types.js'
import type { DiscordBotClient } from '../discord/bot.js'
import { computeBasePermissions, hasPermission, highestRolePosition, Permission } from '../guilds/permissions.js'
import type { GuildRole } from './types.js'

/** What the engine knows about one guild's roles and its bot there. */
export interface RoleSnapshot {
  guild_id: string
  guild_name: string
  roles: GuildRole[]
  bot_user_id: string
  /** Position of the bot's highest role; Infinity when the bot owns the guild (no hierarchy applies). */
  bot_top_position: number
  /** Whether the bot has Manage Roles (directly, through Administrator, or as owner). */
  can_manage_roles: boolean
  /** The guild owner: never renamed nor kicked (Discord refuses both). */
  owner_id: string
  /** Manage Nicknames (nickname templates) and Kick Members (`on_access_lost: kick`). */
  can_manage_nicknames: boolean
  can_kick: boolean
  fetched_at: number
}

/** The calls a snapshot needs. */
export type RoleSnapshotApi = Pick<DiscordBotClient, 'getCurrentUser' | 'getGuild' | 'getGuildMember'>

interface Stored extends Omit<RoleSnapshot, 'bot_top_position'> {
  /** JSON has no Infinity. */
  bot_top_position: number | null
}

export interface RoleCacheOptions {
  ttlMs: number
  redis?: Redis | null
  /** Redis key prefix (the plugin's, plus `roles:`). */
  prefix?: string
  now?: () => number
}

/** Reads the guild and the bot's member: two calls (three when the bot's user id is not known yet). */
export async function fetchRoleSnapshot (api: RoleSnapshotApi, guildId: string, botUserIdHint: string | null, now: number, signal?: AbortSignal): Promise<RoleSnapshot> {
  const botUserId = botUserIdHint ?? (await api.getCurrentUser({ signal })).id
  // GET /guilds/{id} carries every role and the owner: one call instead of roles + guild.
  const guild = await api.getGuild(guildId, { withCounts: false, signal })
  const self = await api.getGuildMember(guildId, botUserId, { signal })
  const roles = guild.roles.map((r) => ({ id: r.id, name: r.name, position: r.position, permissions: r.permissions, managed: r.managed }))
  const facts = { guild_id: guildId, owner_id: guild.owner_id, bot_user_id: botUserId, member_role_ids: self.roles, roles }
  const isOwner = guild.owner_id === botUserId
  const permissions = computeBasePermissions(facts)
  return {
    guild_id: guildId,
    guild_name: guild.name,
    // `colors.primary_color` is the documented field; `color` (deprecated) carries the same value.
    roles: guild.roles.map((r) => ({ id: r.id, name: r.name, position: r.position, managed: r.managed, color: r.colors?.primary_color ?? r.color ?? 0 })),
    bot_user_id: botUserId,
    bot_top_position: isOwner ? Number.POSITIVE_INFINITY : highestRolePosition(facts),
    can_manage_roles: hasPermission(permissions, Permission.MANAGE_ROLES),
    owner_id: guild.owner_id,
    can_manage_nicknames: hasPermission(permissions, Permission.MANAGE_NICKNAMES),
    can_kick: hasPermission(permissions, Permission.KICK_MEMBERS),
    fetched_at: now
  }
}

/** Redis answers slower than this count as a miss: the cache must never stall a sync. */
const REDIS_TIMEOUT_MS = 1_000

function timed<T> (p: Promise<T>): Promise<T> {
  return withTimeout(p, REDIS_TIMEOUT_MS, () => new Error('Redis did not answer in time'))
}

export class RoleCache {
  readonly #ttlMs: number
  readonly #redis: Redis | null
  readonly #prefix: string
  readonly #now: () => number
  readonly #local = new Map<string, RoleSnapshot>()
  /** One fetch per guild at a time: concurrent misses share it. */
  readonly #inflight = new Map<string, Promise<RoleSnapshot>>()

  constructor (options: RoleCacheOptions) {
    this.#ttlMs = options.ttlMs
    this.#redis = options.redis ?? null
    this.#prefix = options.prefix ?? 'discord-sync:roles:'
    this.#now = options.now ?? Date.now
  }

  /** The cached snapshot, or a fresh one from Discord. */
  async get (guildId: string, api: RoleSnapshotApi, botUserIdHint: string | null, signal?: AbortSignal): Promise<RoleSnapshot> {
    const cached = await this.#read(guildId)
    if (cached !== null) return cached
    return this.refresh(guildId, api, botUserIdHint, signal)
  }

  /** The cached snapshot, or null: never asks Discord (labels in a list must not spend the guild's budget). */
  async peek (guildId: string): Promise<RoleSnapshot | null> {
    return await this.#read(guildId)
  }

  /** Always asks Discord (sharing a fetch already in flight) and stores the answer. */
  refresh (guildId: string, api: RoleSnapshotApi, botUserIdHint: string | null, signal?: AbortSignal): Promise<RoleSnapshot> {
    let p = this.#inflight.get(guildId)
    if (p === undefined) {
      p = (async () => {
        const snap = await fetchRoleSnapshot(api, guildId, botUserIdHint, this.#now(), signal)
        await this.#write(snap)
        return snap
      })().finally(() => this.#inflight.delete(guildId))
      this.#inflight.set(guildId, p)
    }
    return p
  }

  async invalidate (guildId: string): Promise<void> {
    this.#local.delete(guildId)
    if (this.#redis !== null) {
      try {
        await timed(this.#redis.del(this.#prefix + guildId))
      } catch {
        // Redis down: the entry expires with its TTL anyway.
      }
    }
  }

  async #read (guildId: string): Promise<RoleSnapshot | null> {
    if (this.#redis === null) {
      const snap = this.#local.get(guildId)
      if (snap === undefined) return null
      if (this.#now() - snap.fetched_at >= this.#ttlMs) {
        this.#local.delete(guildId)
        return null
      }
      return snap
    }
    let raw: string | null
    try {
      raw = await timed(this.#redis.get(this.#prefix + guildId))
    } catch {
      return null // Redis down: fetch from Discord rather than fail the sync.
    }
    if (raw === null) return null
    try {
      const s = JSON.parse(raw) as Stored
      // Written by a version without the owner and these permissions: fetch it again.
      if (typeof s.owner_id !== 'string' || typeof s.can_kick !== 'boolean') return null
      return { ...s, bot_top_position: s.bot_top_position ?? Number.POSITIVE_INFINITY }
    } catch {
      return null
    }
  }

  async #write (snap: RoleSnapshot): Promise<void> {
    if (this.#redis === null) {
      this.#local.set(snap.guild_id, snap)
      return
    }
    const stored: Stored = { ...snap, bot_top_position: Number.isFinite(snap.bot_top_position) ? snap.bot_top_position : null }
    try {
      await timed(this.#redis.set(this.#prefix + snap.guild_id, JSON.stringify(stored), 'PX', this.#ttlMs))
    } catch {
      // Not cached this time; the next run fetches again.
    }
  }
}
