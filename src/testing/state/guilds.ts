import { compareSnowflakes } from '../snowflake.js'
import { DEFAULT_EVERYONE_PERMISSIONS, parsePermissions } from '../permissions.js'
import { fail, requireSnowflake } from './guards.js'
import type { StateEvents } from './events.js'
import type { UserStore } from './users.js'
import type { GuildSeed, RoleSeed, SimGuild, SimRole } from './types.js'

/* Guilds and their roles. Members live inside each guild too: see members.ts. */
export class GuildStore {
  readonly guilds = new Map<string, SimGuild>()
  readonly #users: UserStore
  readonly #events: StateEvents

  constructor (users: UserStore, events: StateEvents) {
    this.#users = users
    this.#events = events
  }

  addGuild (seed: GuildSeed): SimGuild {
    requireSnowflake('guild id', seed.id)
    requireSnowflake('owner_id', seed.owner_id)
    const guild: SimGuild = {
      id: seed.id,
      name: seed.name,
      owner_id: seed.owner_id,
      features: seed.features ?? [],
      icon: seed.icon ?? null,
      description: seed.description ?? null,
      presenceCount: seed.presenceCount ?? 0,
      roles: new Map(),
      members: new Map(),
      sortedIds: null
    }
    this.guilds.set(guild.id, guild)
    // docs/permissions.mdx: "The @everyone role has the same ID as the guild it belongs to", position 0.
    this.addRole(guild.id, {
      id: guild.id,
      name: '@everyone',
      position: 0,
      permissions: seed.everyonePermissions ?? DEFAULT_EVERYONE_PERMISSIONS
    })
    this.#users.ensureUser(seed.owner_id)
    return guild
  }

  /** The guild, or a seeding error naming the unknown id. */
  require (guildId: string): SimGuild {
    return this.guilds.get(guildId) ?? fail(`unknown guild ${guildId}`)
  }

  addRole (guildId: string, seed: RoleSeed): SimRole {
    const guild = this.require(guildId)
    requireSnowflake('role id', seed.id)
    if (!Number.isInteger(seed.position) || seed.position < 0) fail(`role position must be a non-negative integer, got ${seed.position}`)
    const role: SimRole = {
      id: seed.id,
      name: seed.name ?? `role-${seed.id.slice(-4)}`,
      position: seed.position,
      permissions: parsePermissions(seed.permissions ?? '0').toString(),
      managed: seed.managed ?? false,
      color: seed.color ?? 0,
      hoist: seed.hoist ?? false,
      mentionable: seed.mentionable ?? false,
      ...(seed.tags !== undefined ? { tags: seed.tags } : {})
    }
    const existed = guild.roles.has(role.id)
    guild.roles.set(role.id, role)
    this.#events.emit(existed ? 'roleUpdate' : 'roleCreate', { guildId, role })
    return role
  }

  /** Roles in the order the API lists them: by position, then by id. */
  listRoles (guildId: string): SimRole[] {
    return [...this.require(guildId).roles.values()].sort((a, b) => a.position - b.position || compareSnowflakes(a.id, b.id))
  }

  setRolePosition (guildId: string, roleId: string, position: number): void {
    this.#updateRole(guildId, roleId, (role) => { role.position = position })
  }

  setRolePermissions (guildId: string, roleId: string, permissions: string | bigint): void {
    this.#updateRole(guildId, roleId, (role) => { role.permissions = parsePermissions(permissions).toString() })
  }

  setRoleManaged (guildId: string, roleId: string, managed: boolean): void {
    this.#updateRole(guildId, roleId, (role) => { role.managed = managed })
  }

  #updateRole (guildId: string, roleId: string, change: (role: SimRole) => void): void {
    const role = this.#role(guildId, roleId)
    change(role)
    this.#events.emit('roleUpdate', { guildId, role })
  }

  #role (guildId: string, roleId: string): SimRole {
    return this.require(guildId).roles.get(roleId) ?? fail(`unknown role ${roleId}`)
  }

  removeRole (guildId: string, roleId: string): void {
    const guild = this.require(guildId)
    const removed = guild.roles.delete(roleId)
    for (const member of guild.members.values()) {
      const i = member.roles.indexOf(roleId)
      if (i !== -1) member.roles.splice(i, 1)
    }
    if (removed) this.#events.emit('roleDelete', { guildId, roleId })
  }
}
