/*
 * The bot's guild-level permissions and its place in the role hierarchy, computed the way
 * Discord documents them (docs/permissions.mdx: "Bitwise Permission Flags",
 * "Permission Hierarchy", compute_base_permissions). Pure: no I/O, so every rule is
 * tested exhaustively on its own.
 *
 * This is deliberately a separate implementation from the simulator's (src/testing): if
 * both shared one function, a misreading of the docs would pass every test.
 *
 * Permissions are bit sets serialised as decimal strings; BigInt keeps the bits above
 * 2^53 exact (the docs recommend big integers "for long-term stability").
 */

/** The permission bits this module reasons about (values from the docs' table). */
export const Permission = Object.freeze({
  CREATE_INSTANT_INVITE: 1n << 0n,
  KICK_MEMBERS: 1n << 1n,
  ADMINISTRATOR: 1n << 3n,
  VIEW_CHANNEL: 1n << 10n,
  SEND_MESSAGES: 1n << 11n,
  EMBED_LINKS: 1n << 14n,
  MANAGE_NICKNAMES: 1n << 27n,
  MANAGE_ROLES: 1n << 28n
})

/** Human names as Discord's client shows them, for messages an admin will read. */
export const PERMISSION_NAMES: Readonly<Record<keyof typeof Permission, string>> = Object.freeze({
  CREATE_INSTANT_INVITE: 'Create Invite',
  KICK_MEMBERS: 'Kick Members',
  ADMINISTRATOR: 'Administrator',
  VIEW_CHANNEL: 'View Channels',
  SEND_MESSAGES: 'Send Messages',
  EMBED_LINKS: 'Embed Links',
  MANAGE_NICKNAMES: 'Manage Nicknames',
  MANAGE_ROLES: 'Manage Roles'
})

/**
 * Every bit the docs' table assigns: 0 to 46 and 48 to 52 (47 is unassigned). The owner
 * and ADMINISTRATOR holders get exactly this set ("return ALL" in the pseudocode).
 */
export const ALL_PERMISSIONS: bigint = (() => {
  let all = 0n
  for (let bit = 0n; bit <= 52n; bit++) if (bit !== 47n) all |= 1n << bit
  return all
})()

/** A role as the bot sees it through GET /guilds/{id}/roles. */
export interface GuildRoleFacts {
  id: string
  name: string
  position: number
  /** Decimal bit set, as Discord sends it. */
  permissions: string
  managed: boolean
  /** Primary colour as an RGB integer, 0 for none (for display only; absent when Discord sent none). */
  color?: number
}

/** What the bot knows about itself in one guild: enough to decide what it may assign. */
export interface BotGuildFacts {
  guild_id: string
  owner_id: string
  bot_user_id: string
  /** Role ids on the bot's guild member (never includes @everyone: Discord leaves it implicit). */
  member_role_ids: readonly string[]
  roles: readonly GuildRoleFacts[]
}

/**
 * Parses Discord's decimal permission string. Anything else is treated as no permission
 * at all rather than thrown: a malformed value must never grant Manage Roles.
 */
export function parsePermissions (value: string | undefined | null): bigint {
  if (typeof value !== 'string' || !/^\d{1,40}$/.test(value)) return 0n
  return BigInt(value)
}

export function hasPermission (permissions: bigint, flag: bigint): boolean {
  return (permissions & flag) === flag
}

/**
 * compute_base_permissions from the docs: the owner has everything; otherwise the
 * @everyone role (its id is the guild id) OR each of the member's roles, and
 * ADMINISTRATOR anywhere in the result means everything.
 */
export function computeBasePermissions (facts: BotGuildFacts): bigint {
  if (facts.owner_id === facts.bot_user_id) return ALL_PERMISSIONS
  const byId = new Map(facts.roles.map((r) => [r.id, r]))
  let permissions = parsePermissions(byId.get(facts.guild_id)?.permissions)
  for (const roleId of facts.member_role_ids) {
    const role = byId.get(roleId)
    // A role id on the member that the role list does not have (deleted meanwhile) grants nothing.
    if (role !== undefined) permissions |= parsePermissions(role.permissions)
  }
  if (hasPermission(permissions, Permission.ADMINISTRATOR)) return ALL_PERMISSIONS
  return permissions
}

/**
 * Position of the bot's highest role. The docs: "the default @everyone role starting at 0",
 * so a bot with no role of its own sits at 0 and can assign nothing.
 */
export function highestRolePosition (facts: BotGuildFacts): number {
  const byId = new Map(facts.roles.map((r) => [r.id, r]))
  let highest = 0
  for (const roleId of facts.member_role_ids) {
    const role = byId.get(roleId)
    if (role !== undefined && role.id !== facts.guild_id && role.position > highest) highest = role.position
  }
  return highest
}

/** Why the bot cannot grant a role; null when it can. */
export type RoleDenial =
  | 'role_not_found'
  | 'everyone_role'
  | 'managed_role'
  | 'missing_manage_roles'
  | 'role_not_below_bot'

export interface RoleVerdict {
  denial: RoleDenial | null
  role: GuildRoleFacts | null
  message: string
}

/**
 * Whether the bot may grant `roleId` to members. Rules, in the order an admin can act on them:
 * the role must exist, must not be @everyone (every member has it implicitly), must not be
 * `managed` (integration-owned: nobody assigns it), the bot needs Manage Roles, and the role
 * must sit strictly below the bot's highest role ("A bot can grant roles to other users that
 * are of a lower position than its own highest role").
 *
 * Equal positions are refused: the docs say ties are "sorted by id" without saying which way,
 * so we take the strict reading of "lower position" (as the simulator does) rather than let a
 * sync run into 50013. The guild owner is bound by no hierarchy (the docs give it ALL).
 */
export function checkRoleAssignable (facts: BotGuildFacts, roleId: string, permissions = computeBasePermissions(facts)): RoleVerdict {
  const role = facts.roles.find((r) => r.id === roleId) ?? null
  if (role === null) return { denial: 'role_not_found', role, message: `Role ${roleId} does not exist in guild ${facts.guild_id}` }
  if (role.id === facts.guild_id) return { denial: 'everyone_role', role, message: 'The @everyone role cannot be mapped: every member has it implicitly' }
  if (role.managed) return { denial: 'managed_role', role, message: `Role "${role.name}" (${role.id}) is managed by an integration and cannot be assigned` }
  if (!hasPermission(permissions, Permission.MANAGE_ROLES)) {
    return { denial: 'missing_manage_roles', role, message: `The bot lacks the ${PERMISSION_NAMES.MANAGE_ROLES} permission in guild ${facts.guild_id}` }
  }
  if (facts.owner_id !== facts.bot_user_id) {
    const highest = highestRolePosition(facts)
    if (role.position >= highest) {
      return {
        denial: 'role_not_below_bot',
        role,
        message: `Role "${role.name}" (${role.id}, position ${role.position}) is not below the bot's highest role (position ${highest}); move the bot's role above it`
      }
    }
  }
  return { denial: null, role, message: 'assignable' }
}

/** A channel permission overwrite as Discord sends it (`allow` / `deny` are decimal bit sets). */
export interface OverwriteFacts {
  id: string
  allow: string
  deny: string
}

/**
 * compute_overwrites from the docs: ADMINISTRATOR bypasses every overwrite; otherwise the
 * @everyone overwrite (id = guild id), then the member's role overwrites together (deny, then
 * allow), then the member's own overwrite.
 */
export function computeChannelPermissions (facts: BotGuildFacts, overwrites: readonly OverwriteFacts[], base = computeBasePermissions(facts)): bigint {
  if (hasPermission(base, Permission.ADMINISTRATOR)) return ALL_PERMISSIONS
  const byId = new Map(overwrites.map((o) => [o.id, o]))
  let permissions = base
  const everyone = byId.get(facts.guild_id)
  if (everyone !== undefined) {
    permissions &= ~parsePermissions(everyone.deny)
    permissions |= parsePermissions(everyone.allow)
  }
  let allow = 0n
  let deny = 0n
  for (const roleId of facts.member_role_ids) {
    const overwrite = byId.get(roleId)
    if (overwrite !== undefined) {
      allow |= parsePermissions(overwrite.allow)
      deny |= parsePermissions(overwrite.deny)
    }
  }
  permissions &= ~deny
  permissions |= allow
  const own = byId.get(facts.bot_user_id)
  if (own !== undefined) {
    permissions &= ~parsePermissions(own.deny)
    permissions |= parsePermissions(own.allow)
  }
  return permissions
}
