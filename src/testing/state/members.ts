import { compareSnowflakes } from '../snowflake.js'
import { computeBasePermissions } from '../permissions.js'
import { fail, requireSnowflake } from './guards.js'
import type { StateEvents } from './events.js'
import type { GuildStore } from './guilds.js'
import type { UserStore } from './users.js'
import type { SimGuild, SimMember } from './types.js'

/*
 * Guild members. They are stored in their guild (SimGuild.members), so this store works on the
 * guilds it is given; it keeps each guild's sorted id list (member pagination) in step.
 */
export class MemberStore {
  readonly #guilds: GuildStore
  readonly #users: UserStore
  readonly #events: StateEvents

  constructor (guilds: GuildStore, users: UserStore, events: StateEvents) {
    this.#guilds = guilds
    this.#users = users
    this.#events = events
  }

  addMember (guildId: string, userId: string, roleIds: readonly string[] = [], extra: { nick?: string | null, joined_at?: string } = {}): SimMember {
    const guild = this.#guilds.require(guildId)
    requireSnowflake('user id', userId)
    for (const roleId of roleIds) {
      if (!guild.roles.has(roleId)) fail(`role ${roleId} does not exist in guild ${guildId}`)
    }
    this.#users.ensureUser(userId)
    const member: SimMember = {
      userId,
      roles: [...new Set(roleIds)].filter((id) => id !== guildId),
      nick: extra.nick ?? null,
      joined_at: extra.joined_at ?? new Date().toISOString()
    }
    const replaced = guild.members.has(userId)
    if (!replaced) guild.sortedIds = null
    guild.members.set(userId, member)
    this.#events.emit('memberAdd', { guildId, member, replaced })
    return member
  }

  /** The member record, or undefined when the guild or the member is unknown. */
  find (guildId: string, userId: string): SimMember | undefined {
    return this.#guilds.guilds.get(guildId)?.members.get(userId)
  }

  setMemberRoles (guildId: string, userId: string, roleIds: readonly string[]): void {
    this.updateMember(guildId, userId, { roles: roleIds })
  }

  /** Changes roles and/or nickname as one update (one announcement, as one PATCH is one change). */
  updateMember (guildId: string, userId: string, change: { roles?: readonly string[], nick?: string | null }): void {
    const member = this.#guilds.require(guildId).members.get(userId) ?? fail(`user ${userId} is not a member of ${guildId}`)
    if (change.roles !== undefined) member.roles = [...new Set(change.roles)].filter((id) => id !== guildId)
    if (change.nick !== undefined) member.nick = change.nick
    this.#events.emit('memberUpdate', { guildId, member })
  }

  removeMember (guildId: string, userId: string): boolean {
    const guild = this.#guilds.require(guildId)
    const removed = guild.members.delete(userId)
    if (removed) {
      guild.sortedIds = null
      this.#events.emit('memberRemove', { guildId, userId })
    }
    return removed
  }

  memberCount (guildId: string): number {
    return this.#guilds.require(guildId).members.size
  }

  sortedMemberIds (guild: SimGuild): string[] {
    guild.sortedIds ??= [...guild.members.keys()].sort(compareSnowflakes)
    return guild.sortedIds
  }

  basePermissions (guildId: string, userId: string): bigint {
    const guild = this.#guilds.require(guildId)
    const member = guild.members.get(userId)
    return computeBasePermissions(guild, userId, member?.roles ?? [], guild.roles)
  }
}
