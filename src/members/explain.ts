/*
 * Why a linked member holds or lacks each managed role of a guild, in words an officer reads:
 * the planner (src/sync/planner.ts) decides what the sync would do, and this module names the
 * mapping and the condition behind each verdict. Pure: no I/O, so the members page and a test
 * see the same answer for the same input.
 */
import { compareIds, planMemberRoles, roleChangeStatus } from '../sync/planner.js'
import type { ChangeStatus, GuildRole, PlannerMapping, UserContext } from '../sync/types.js'

/** A managed role's verdict: in sync, a change the next sync makes, or one the bot cannot make. */
export type RoleState = 'in_sync' | 'to_add' | 'to_remove' | 'blocked'

export interface RoleExplanation {
  role_id: string
  role_name: string
  /** RGB integer, 0 for none. */
  color: number
  held: boolean
  /** Whether the member is entitled to the role (held or not). */
  wanted: boolean
  state: RoleState
  /** The sentence the page shows: which group grants it, or which condition keeps it away. */
  reason: string
  /** The mapping the reason names, null when none applies. */
  mapping_id: string | null
}

/** The mapping fields the explanation reads (a store record fits). */
export type ExplainMapping = PlannerMapping & { group_name: string | null }

export interface ExplainInput {
  guild_id: string
  remove_roles_on_leave: boolean
  roles: readonly GuildRole[]
  bot_top_position: number
  mappings: readonly ExplainMapping[]
  member_roles: readonly string[]
  /** The provider's answer; null when the host knows no such user. */
  user: UserContext | null
}

const BLOCKED: Record<Exclude<ChangeStatus, 'planned'>, string> = {
  blocked_missing_role: 'the role no longer exists in the guild',
  blocked_managed: 'an integration manages the role (or it is @everyone)',
  blocked_hierarchy: 'the role is not below the bot\'s highest role'
}

function groupLabel (m: ExplainMapping, user: UserContext | null): string {
  const name = m.group_name ?? user?.groups.find((g) => g.id === m.group_id)?.name ?? m.group_id
  return `"${name}"`
}

/** The first condition of a mapping the user fails, or null when the user satisfies it. */
function unmet (m: ExplainMapping, user: UserContext): string | null {
  const groups = new Set(user.groups.map((g) => g.id))
  if (!groups.has(m.group_id)) return `not in group ${groupLabel(m, user)}`
  const excluded = m.conditions.excluded_groups.find((g) => groups.has(g))
  if (excluded !== undefined) return `in excluded group "${user.groups.find((g) => g.id === excluded)?.name ?? excluded}"`
  const { character_count_min: min, character_count_max: max } = m.conditions
  if ((min !== null && user.character_count < min) || (max !== null && user.character_count > max)) {
    return `has ${user.character_count} character(s); group ${groupLabel(m, user)} needs ${min ?? 0}–${max ?? '∞'}`
  }
  const perms = m.conditions.required_permissions
  if (perms.length > 0) {
    const has = new Set(user.permissions)
    const missing = perms.filter((p) => !has.has(p))
    if (m.conditions.require_all ? missing.length > 0 : missing.length === perms.length) {
      return `lacks ${m.conditions.require_all ? 'permission(s)' : 'any of the permissions'} ${missing.join(', ')}`
    }
  }
  return null
}

/** Every managed role of the guild, in mapping order (priority, then id), with its verdict and reason. */
export function explainMemberRoles (input: ExplainInput): RoleExplanation[] {
  const mappings = input.mappings
    .filter((m) => m.enabled && m.guild_id === input.guild_id)
    .sort((a, b) => (a.priority - b.priority) || compareIds(a.id, b.id))
  const plan = planMemberRoles({
    guild: { guild_id: input.guild_id, remove_roles_on_leave: input.remove_roles_on_leave },
    roles: input.roles,
    bot_top_position: input.bot_top_position,
    mappings,
    member: { discord_user_id: '0', roles: input.member_roles },
    user: input.user
  })
  const held = new Set(input.member_roles)
  const adds = new Set(plan.add.map((c) => c.role_id))
  const removes = new Set(plan.remove.map((c) => c.role_id))
  const blockedAdds = new Set(plan.blocked.filter((c) => c.action === 'add').map((c) => c.role_id))
  const blockedRemoves = new Set(plan.blocked.filter((c) => c.action === 'remove').map((c) => c.role_id))
  const roleById = new Map(input.roles.map((r) => [r.id, r]))
  const out: RoleExplanation[] = []
  const seen = new Set<string>()
  for (const m of mappings) {
    const roleId = m.discord_role_id
    if (seen.has(roleId)) continue
    seen.add(roleId)
    const role = roleById.get(roleId)
    const isHeld = held.has(roleId)
    const wanted = adds.has(roleId) || blockedAdds.has(roleId) || (isHeld && !removes.has(roleId) && !blockedRemoves.has(roleId) && input.user !== null)
    const forRole = mappings.filter((x) => x.discord_role_id === roleId)
    let reason: string
    let decider: ExplainMapping | null = forRole[0] ?? null
    if (input.user === null) {
      reason = input.remove_roles_on_leave
        ? 'the membership provider knows no such user: no managed role is due'
        : 'the membership provider knows no such user'
    } else if (wanted) {
      decider = forRole.find((x) => unmet(x, input.user as UserContext) === null) ?? decider
      reason = decider === null ? 'granted' : `member of group ${groupLabel(decider, input.user)}`
    } else {
      const satisfied = forRole.find((x) => unmet(x, input.user as UserContext) === null)
      if (satisfied !== undefined && satisfied.exclusive_set !== null) {
        decider = satisfied
        reason = `group ${groupLabel(satisfied, input.user)} qualifies, but another role wins exclusive set "${satisfied.exclusive_set}"`
      } else {
        reason = decider === null ? 'no mapping grants it' : (unmet(decider, input.user) ?? 'not granted')
      }
    }
    const status = roleChangeStatus(roleId, role, input.guild_id, input.bot_top_position)
    let state: RoleState = 'in_sync'
    if (blockedAdds.has(roleId) || blockedRemoves.has(roleId)) state = 'blocked'
    else if (adds.has(roleId)) state = 'to_add'
    else if (removes.has(roleId)) state = 'to_remove'
    if (state === 'blocked' && status !== 'planned') reason = `${reason}; the bot cannot ${blockedAdds.has(roleId) ? 'add' : 'remove'} it: ${BLOCKED[status]}`
    out.push({
      role_id: roleId,
      role_name: role?.name ?? m.discord_role_name ?? roleId,
      color: role?.color ?? 0,
      held: isHeld,
      wanted,
      state,
      reason: reason.charAt(0).toUpperCase() + reason.slice(1),
      mapping_id: decider?.id ?? null
    })
  }
  return out
}
