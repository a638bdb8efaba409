/*
 * Guild permission computation and the role hierarchy, from docs/permissions.mdx
 * ("Bitwise Permission Flags", "Permission Hierarchy", "Permission Overwrites" pseudocode).
 * Permissions are bit sets serialised as decimal strings; BigInt keeps bits above 2^53 exact.
 */

export const PermissionFlags = {
  CREATE_INSTANT_INVITE: 1n << 0n,
  KICK_MEMBERS: 1n << 1n,
  BAN_MEMBERS: 1n << 2n,
  ADMINISTRATOR: 1n << 3n,
  MANAGE_CHANNELS: 1n << 4n,
  MANAGE_GUILD: 1n << 5n,
  VIEW_CHANNEL: 1n << 10n,
  SEND_MESSAGES: 1n << 11n,
  EMBED_LINKS: 1n << 14n,
  MANAGE_NICKNAMES: 1n << 27n,
  MANAGE_ROLES: 1n << 28n
} as const

/** Every bit the docs table lists: 0 to 46 and 48 to 52 (bit 47 is not assigned). */
export const ALL_PERMISSIONS: bigint = (() => {
  let all = 0n
  for (let bit = 0n; bit <= 52n; bit++) {
    if (bit !== 47n) all |= 1n << bit
  }
  return all
})()

/** The @everyone permissions of the docs' example guild (guild.mdx "Example Guild"), used when a seed gives none. */
export const DEFAULT_EVERYONE_PERMISSIONS = '49794752'

export interface RoleLike {
  id: string
  position: number
  permissions: string
  managed: boolean
}

export interface GuildLike {
  id: string
  owner_id: string
}

export function parsePermissions (value: string | bigint | number): bigint {
  if (typeof value === 'bigint') return value
  return BigInt(value)
}

export function has (permissions: bigint, flag: bigint): boolean {
  return (permissions & flag) === flag
}

/**
 * compute_base_permissions from the docs: the owner has everything; otherwise @everyone
 * (the role whose id is the guild id) OR each of the member's roles; ADMINISTRATOR means everything.
 */
export function computeBasePermissions (guild: GuildLike, userId: string, memberRoleIds: readonly string[], roles: ReadonlyMap<string, RoleLike>): bigint {
  if (guild.owner_id === userId) return ALL_PERMISSIONS
  let permissions = parsePermissions(roles.get(guild.id)?.permissions ?? '0')
  for (const roleId of memberRoleIds) {
    const role = roles.get(roleId)
    if (role !== undefined) permissions |= parsePermissions(role.permissions)
  }
  if (has(permissions, PermissionFlags.ADMINISTRATOR)) return ALL_PERMISSIONS
  return permissions
}

export interface Overwrite {
  id: string
  /** 0 = role, 1 = member */
  type: 0 | 1
  allow: string
  deny: string
}

/** compute_overwrites from the docs: @everyone overwrite, then role overwrites together, then the member's own. */
export function computeChannelPermissions (base: bigint, guildId: string, userId: string, memberRoleIds: readonly string[], overwrites: readonly Overwrite[]): bigint {
  if (has(base, PermissionFlags.ADMINISTRATOR)) return ALL_PERMISSIONS
  let permissions = base
  const byId = new Map(overwrites.map((o) => [o.id, o]))
  const everyone = byId.get(guildId)
  if (everyone !== undefined) {
    permissions &= ~parsePermissions(everyone.deny)
    permissions |= parsePermissions(everyone.allow)
  }
  let allow = 0n
  let deny = 0n
  for (const roleId of memberRoleIds) {
    const o = byId.get(roleId)
    if (o !== undefined && o.type === 0) {
      allow |= parsePermissions(o.allow)
      deny |= parsePermissions(o.deny)
    }
  }
  permissions &= ~deny
  permissions |= allow
  const own = byId.get(userId)
  if (own !== undefined && own.type === 1) {
    permissions &= ~parsePermissions(own.deny)
    permissions |= parsePermissions(own.allow)
  }
  return permissions
}

/**
 * Position of a member's highest role; @everyone counts as position 0 (docs: "the default
 * @everyone role starting at 0"), so a member without roles sits at 0.
 */
export function highestPosition (memberRoleIds: readonly string[], roles: ReadonlyMap<string, RoleLike>): number {
  let highest = 0
  for (const roleId of memberRoleIds) {
    const role = roles.get(roleId)
    if (role !== undefined && role.position > highest) highest = role.position
  }
  return highest
}

export type RoleEditDenial = 'missing_manage_roles' | 'managed' | 'hierarchy'

/**
 * Whether `actor` may grant or remove `role`. Docs: "A bot can grant roles to other users that
 * are of a lower position than its own highest role"; `managed` roles belong to integrations and
 * cannot be assigned by anyone. The guild owner outranks every role (assumption: the docs give the
 * owner ALL permissions; Discord's hierarchy does not bind the owner).
 * Equal positions count as "at or above": the docs only say ties are ordered by id without saying which way,
 * so the simulator takes the strict reading of "lower position".
 */
export function roleEditDenial (guild: GuildLike, actorId: string, actorRoleIds: readonly string[], role: RoleLike, roles: ReadonlyMap<string, RoleLike>): RoleEditDenial | null {
  const perms = computeBasePermissions(guild, actorId, actorRoleIds, roles)
  if (!has(perms, PermissionFlags.MANAGE_ROLES)) return 'missing_manage_roles'
  if (role.managed) return 'managed'
  if (guild.owner_id === actorId) return null
  if (role.position >= highestPosition(actorRoleIds, roles)) return 'hierarchy'
  return null
}
