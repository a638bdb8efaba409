/*
 * Role planner: the pure core of the role synchronisation engine. Given a guild (its
 * roles, the bot's highest role position and its role mappings) and one member (current
 * roles plus the host's user context), it says which roles to add and remove. No I/O, no
 * clock, no randomness: the same input always gives the same plan.
 *
 * Semantics
 * - Only mappings with `enabled: true` and the guild's own `guild_id` count; every other
 *   mapping is ignored entirely (its role is not managed through it).
 * - Managed roles of a guild = the Discord role ids referenced by those mappings. A plan
 *   never adds or removes any other role: not @everyone, not integration-managed roles,
 *   not roles assigned by hand. Every role that is not managed keeps its membership.
 * - A mapping is satisfied by a user when all of these hold:
 *   - the user is in its group (`group_id` is one of the user's group ids);
 *   - the user is in none of `conditions.excluded_groups` (an exclusion beats everything);
 *   - `character_count_min <= character_count <= character_count_max`, both bounds
 *     inclusive, a null bound meaning unbounded;
 *   - `required_permissions`: empty = nothing required; otherwise all of them when
 *     `require_all` is true, at least one of them when false.
 * - Exclusive sets: among a user's satisfied mappings that share an `exclusive_set`, only
 *   the best one grants (lowest `priority`, ties by the lower mapping id); the other
 *   mappings of the set grant nothing. Set resolution looks at satisfaction only, not at
 *   whether the winner's role can be changed: a blocked winner still wins.
 * - A managed role is desired when some satisfied mapping still grants it after set
 *   resolution. So a role that loses inside a set is still desired when another satisfied
 *   mapping (outside the set, or the winner of another set) grants it.
 * - Linked users (user context present) always lose the managed roles they are not
 *   entitled to, and gain the desired ones they lack.
 * - Unlinked members (user context null): with `remove_roles_on_leave` true no managed role
 *   is desired, so they lose every managed role they hold; with false the plan is empty
 *   (no adds, no removes, nothing blocked).
 * - Blocking: a change is reported in `blocked` (never in add/remove, never reflected in
 *   desired_roles) when its role cannot be changed by the bot. One status per role, checked
 *   in this order:
 *   1. `blocked_missing_role`: the mapped role id is not among the guild's roles;
 *   2. `blocked_managed`: the role is integration-managed (`managed: true`), or it is the
 *      @everyone role (id = guild id), which every member holds implicitly;
 *   3. `blocked_hierarchy`: the role's position is >= the bot's highest role position.
 *   A change is only ever reported when it would be needed (desired and not held, or held
 *   and not desired); a blocked role the member already has in the right state is silent.
 * - Attribution: an add names the mapping that grants the role (best priority, then lowest
 *   id, among the granting mappings); a remove names the best-priority enabled mapping that
 *   references the role (ties by lowest id).
 * - Ordering: add, remove and blocked are sorted by that mapping's priority, then role id,
 *   then mapping id. Ids compare as snowflakes: shorter first, then character by character
 *   (numeric order for Discord ids, plain lexicographic order for equal-length UUIDs).
 * - desired_roles = the current roles in their order, duplicates dropped (first occurrence
 *   kept), minus the planned removals, followed by the planned additions in plan order.
 *   `changed` is true exactly when add or remove is non-empty (dropping a duplicate id is
 *   not a change: Discord never lists a role twice).
 * - Idempotent: planning again with `roles = desired_roles` gives no add and no remove.
 *
 * Performance: `compileGuildPlan` does the per-guild work once (enabled mappings sorted and
 * indexed by group, role lookups, every possible PlannedChange built and frozen up front,
 * a global sort order for them) and returns a planner that reuses typed-array scratch space
 * between members, so planning a member costs a few Map lookups and allocates only the
 * plan object and its arrays.
 */
import type {
  ChangeStatus, GuildPlanner, GuildRole, PlannedChange, PlannerGuild, PlannerMapping,
  PlannerMember, RolePlan, UserContext
} from './types.js'

export type {
  ChangeAction, ChangeStatus, GuildPlanner, GuildRole, PlannedChange, PlannerGuild,
  PlannerMapping, PlannerMember, RolePlan, UserContext, UserGroup
} from './types.js'

/** Everything `planMemberRoles` needs for a one-off plan. */
export interface PlanInput {
  guild: PlannerGuild
  roles: readonly GuildRole[]
  bot_top_position: number
  mappings: readonly PlannerMapping[]
  member: PlannerMember
  user: UserContext | null
}

/** Snowflake order: shorter id first, then code unit by code unit. A total order on strings. */
export function compareIds (a: string, b: string): number {
  if (a.length !== b.length) return a.length - b.length
  return a < b ? -1 : a > b ? 1 : 0
}

function compareMappings (a: PlannerMapping, b: PlannerMapping): number {
  return (a.priority - b.priority) || compareIds(a.id, b.id)
}

function counts (mapping: PlannerMapping, guildId: string | undefined): boolean {
  return mapping.enabled && (guildId === undefined || mapping.guild_id === guildId)
}

/**
 * The managed role ids: those referenced by enabled mappings (of `guildId` only, when given).
 * The planner never touches a role outside this set.
 */
export function managedRoleIds (mappings: readonly PlannerMapping[], guildId?: string): Set<string> {
  const out = new Set<string>()
  for (const m of mappings) if (counts(m, guildId)) out.add(m.discord_role_id)
  return out
}

/** Whether `user` satisfies the mapping's group and conditions (ignores `enabled` and sets). */
export function isMappingSatisfied (mapping: PlannerMapping, user: UserContext): boolean {
  const c = mapping.conditions
  let inGroup = false
  for (const g of user.groups) {
    if (c.excluded_groups.includes(g.id)) return false
    if (g.id === mapping.group_id) inGroup = true
  }
  if (!inGroup) return false
  if (c.character_count_min !== null && user.character_count < c.character_count_min) return false
  if (c.character_count_max !== null && user.character_count > c.character_count_max) return false
  const required = c.required_permissions
  if (required.length === 0) return true
  return c.require_all
    ? required.every((p) => user.permissions.includes(p))
    : required.some((p) => user.permissions.includes(p))
}

/** Why the bot may not change a role, or 'planned' when it may. */
export function roleChangeStatus (
  roleId: string, role: GuildRole | undefined, guildId: string, botTopPosition: number
): ChangeStatus {
  if (role === undefined) return 'blocked_missing_role'
  if (role.managed || roleId === guildId) return 'blocked_managed'
  if (role.position >= botTopPosition) return 'blocked_hierarchy'
  return 'planned'
}

interface CompiledMapping {
  roleIdx: number
  setIdx: number
  excluded: ReadonlySet<string> | null
  min: number | null
  max: number | null
  perms: readonly string[]
  requireAll: boolean
  /** Index of this mapping's add change in the global change order. */
  addOrder: number
}

interface CompiledRole {
  id: string
  planned: boolean
  removeOrder: number
}

/** Above this many entries a per-member Set beats Array#includes. */
const SMALL = 16
const EPOCH_LIMIT = 0xFFFF_FFFF

function hasDuplicates (roles: readonly string[]): boolean {
  const n = roles.length
  if (n < 2) return false
  if (n > SMALL) return new Set(roles).size !== n
  for (let i = 1; i < n; i++) {
    const r = roles[i]
    for (let j = 0; j < i; j++) if (roles[j] === r) return true
  }
  return false
}

function byOrder (a: number, b: number): number {
  return a - b
}

/**
 * Compiles a guild once and returns a planner for its members. The returned function is
 * pure from the caller's view (same member and user, same plan) and may be called any
 * number of times; it must not be called re-entrantly (it is synchronous, so it cannot be).
 */
export function compileGuildPlan (
  guild: PlannerGuild,
  roles: readonly GuildRole[],
  botTopPosition: number,
  mappings: readonly PlannerMapping[]
): GuildPlanner {
  const guildId = guild.guild_id
  const removeOnLeave = guild.remove_roles_on_leave
  const sorted = mappings.filter((m) => counts(m, guildId)).sort(compareMappings)

  const guildRoles = new Map<string, GuildRole>()
  for (const r of roles) if (!guildRoles.has(r.id)) guildRoles.set(r.id, r)

  // Managed roles, in mapping order: the first mapping seen for a role is its best one.
  const roleIndex = new Map<string, number>()
  const roleList: CompiledRole[] = []
  const roleBest: PlannerMapping[] = []
  const roleStatus: ChangeStatus[] = []
  const roleName: string[] = []
  for (const m of sorted) {
    const id = m.discord_role_id
    if (roleIndex.has(id)) continue
    roleIndex.set(id, roleList.length)
    const status = roleChangeStatus(id, guildRoles.get(id), guildId, botTopPosition)
    roleList.push({ id, planned: status === 'planned', removeOrder: -1 })
    roleBest.push(m)
    roleStatus.push(status)
    roleName.push(guildRoles.get(id)?.name ?? sorted.find((x) => x.discord_role_id === id && x.discord_role_name !== null)?.discord_role_name ?? id)
  }

  // Every change this guild can produce, frozen, in one global order.
  interface Entry { change: PlannedChange, priority: number, action: number, set: (order: number) => void }
  const entries: Entry[] = []
  const setIndex = new Map<string, number>()
  const compiled: CompiledMapping[] = []
  const byGroup = new Map<string, number[]>()
  sorted.forEach((m, rank) => {
    const roleIdx = roleIndex.get(m.discord_role_id) as number
    let setIdx = -1
    if (m.exclusive_set !== null) {
      setIdx = setIndex.get(m.exclusive_set) ?? setIndex.size
      setIndex.set(m.exclusive_set, setIdx)
    }
    const c = m.conditions
    const cm: CompiledMapping = {
      roleIdx,
      setIdx,
      excluded: c.excluded_groups.length > 0 ? new Set(c.excluded_groups) : null,
      min: c.character_count_min,
      max: c.character_count_max,
      perms: c.required_permissions.slice(),
      requireAll: c.require_all,
      addOrder: -1
    }
    compiled.push(cm)
    const list = byGroup.get(m.group_id)
    if (list === undefined) byGroup.set(m.group_id, [rank])
    else list.push(rank)
    entries.push({
      change: Object.freeze({ role_id: m.discord_role_id, role_name: roleName[roleIdx] as string, action: 'add', mapping_id: m.id, status: roleStatus[roleIdx] as ChangeStatus }),
      priority: m.priority,
      action: 0,
      set: (order) => { cm.addOrder = order }
    })
  })
  roleList.forEach((role, idx) => {
    const best = roleBest[idx] as PlannerMapping
    entries.push({
      change: Object.freeze({ role_id: role.id, role_name: roleName[idx] as string, action: 'remove', mapping_id: best.id, status: roleStatus[idx] as ChangeStatus }),
      priority: best.priority,
      action: 1,
      set: (order) => { role.removeOrder = order }
    })
  })
  entries.sort((a, b) => (a.priority - b.priority) || compareIds(a.change.role_id, b.change.role_id) ||
    (a.action - b.action) || compareIds(a.change.mapping_id, b.change.mapping_id))
  const changes: PlannedChange[] = entries.map((e, order) => { e.set(order); return e.change })
  const groupLists = new Map<string, Int32Array>()
  for (const [g, list] of byGroup) groupLists.set(g, Int32Array.from(list))

  // Scratch space reused by every call; stamps avoid clearing it between members.
  const nRoles = roleList.length
  const nSets = setIndex.size
  const grantStamp = new Uint32Array(nRoles)
  const grantRank = new Int32Array(nRoles)
  const heldStamp = new Uint32Array(nRoles)
  const touchedRoles = new Int32Array(nRoles)
  const setStamp = new Uint32Array(nSets)
  const setWinner = new Int32Array(nSets)
  const touchedSets = new Int32Array(nSets)
  let epoch = 0
  let permSet: Set<string> | null = null

  function hasPerm (user: UserContext, p: string): boolean {
    const perms = user.permissions
    if (perms.length <= SMALL) return perms.includes(p)
    if (permSet === null) permSet = new Set(perms)
    return permSet.has(p)
  }

  function satisfied (cm: CompiledMapping, user: UserContext): boolean {
    const excluded = cm.excluded
    if (excluded !== null) {
      const groups = user.groups
      for (let i = 0; i < groups.length; i++) if (excluded.has((groups[i] as { id: string }).id)) return false
    }
    const cc = user.character_count
    if (cm.min !== null && cc < cm.min) return false
    if (cm.max !== null && cc > cm.max) return false
    const perms = cm.perms
    if (perms.length === 0) return true
    if (cm.requireAll) {
      for (let i = 0; i < perms.length; i++) if (!hasPerm(user, perms[i] as string)) return false
      return true
    }
    for (let i = 0; i < perms.length; i++) if (hasPerm(user, perms[i] as string)) return true
    return false
  }

  let nTouched = 0

  function grant (roleIdx: number, rank: number): void {
    if (grantStamp[roleIdx] !== epoch) {
      grantStamp[roleIdx] = epoch
      grantRank[roleIdx] = rank
      touchedRoles[nTouched++] = roleIdx
    } else if (rank < (grantRank[roleIdx] as number)) {
      grantRank[roleIdx] = rank
    }
  }

  /** Stamps the granted roles for this epoch; returns how many roles are granted. */
  function evaluate (user: UserContext): number {
    permSet = null
    nTouched = 0
    let nTouchedSets = 0
    const groups = user.groups
    for (let gi = 0; gi < groups.length; gi++) {
      const list = groupLists.get((groups[gi] as { id: string }).id)
      if (list === undefined) continue
      for (let k = 0; k < list.length; k++) {
        const rank = list[k] as number
        const cm = compiled[rank] as CompiledMapping
        if (!satisfied(cm, user)) continue
        const s = cm.setIdx
        if (s < 0) {
          grant(cm.roleIdx, rank)
        } else if (setStamp[s] !== epoch) {
          setStamp[s] = epoch
          setWinner[s] = rank
          touchedSets[nTouchedSets++] = s
        } else if (rank < (setWinner[s] as number)) {
          setWinner[s] = rank
        }
      }
    }
    for (let i = 0; i < nTouchedSets; i++) {
      const rank = setWinner[touchedSets[i] as number] as number
      grant((compiled[rank] as CompiledMapping).roleIdx, rank)
    }
    permSet = null
    return nTouched
  }

  function toChanges (orders: number[]): PlannedChange[] {
    if (orders.length > 1) orders.sort(byOrder)
    const out = new Array<PlannedChange>(orders.length)
    for (let i = 0; i < orders.length; i++) out[i] = changes[orders[i] as number] as PlannedChange
    return out
  }

  return function planMember (member: PlannerMember, user: UserContext | null): RolePlan {
    const current = member.roles
    if (user === null && !removeOnLeave) {
      return { add: [], remove: [], blocked: [], desired_roles: [...new Set(current)], changed: false }
    }
    if (++epoch === EPOCH_LIMIT) {
      grantStamp.fill(0)
      heldStamp.fill(0)
      setStamp.fill(0)
      epoch = 1
    }
    const nGranted = user === null ? 0 : evaluate(user)

    const addOrders: number[] = []
    const removeOrders: number[] = []
    const blockedOrders: number[] = []
    for (let i = 0; i < current.length; i++) {
      const idx = roleIndex.get(current[i] as string)
      if (idx === undefined || heldStamp[idx] === epoch) continue
      heldStamp[idx] = epoch
      if (grantStamp[idx] === epoch) continue
      const role = roleList[idx] as CompiledRole
      if (role.planned) removeOrders.push(role.removeOrder)
      else blockedOrders.push(role.removeOrder)
    }
    for (let i = 0; i < nGranted; i++) {
      const idx = touchedRoles[i] as number
      if (heldStamp[idx] === epoch) continue
      const order = (compiled[grantRank[idx] as number] as CompiledMapping).addOrder
      if ((roleList[idx] as CompiledRole).planned) addOrders.push(order)
      else blockedOrders.push(order)
    }

    const changed = addOrders.length > 0 || removeOrders.length > 0
    const dup = hasDuplicates(current)
    let desired: string[]
    if (!changed && !dup) {
      desired = current.slice()
    } else {
      desired = []
      const seen = dup ? new Set<string>() : null
      for (let i = 0; i < current.length; i++) {
        const id = current[i] as string
        if (seen !== null) {
          if (seen.has(id)) continue
          seen.add(id)
        }
        const idx = roleIndex.get(id)
        if (idx !== undefined && grantStamp[idx] !== epoch && (roleList[idx] as CompiledRole).planned) continue
        desired.push(id)
      }
    }

    const add = toChanges(addOrders)
    for (const c of add) desired.push(c.role_id)
    return { add, remove: toChanges(removeOrders), blocked: toChanges(blockedOrders), desired_roles: desired, changed }
  }
}

/** Plans one member without keeping the compiled guild (prefer `compileGuildPlan` for many members). */
export function planMemberRoles (input: PlanInput): RolePlan {
  return compileGuildPlan(input.guild, input.roles, input.bot_top_position, input.mappings)(input.member, input.user)
}
