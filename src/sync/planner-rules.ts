/*
 * Rule compilation for the role planner (planner.ts states the semantics): the per-guild work
 * done once, so that planning a member (planner-member.ts) costs a few lookups. Enabled
 * mappings are sorted and indexed by group, each managed role's status is decided against
 * the guild's roles, and every PlannedChange the guild can produce is built, frozen and
 * given its place in one global order. Pure: no I/O, no clock, no randomness.
 */
import type { ChangeStatus, GuildRole, PlannedChange, PlannerGuild, PlannerMapping } from './types.js'

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

/** Why the bot may not change a role, or 'planned' when it may. */
export function roleChangeStatus (
  roleId: string, role: GuildRole | undefined, guildId: string, botTopPosition: number
): ChangeStatus {
  if (role === undefined) return 'blocked_missing_role'
  if (role.managed || roleId === guildId) return 'blocked_managed'
  if (role.position >= botTopPosition) return 'blocked_hierarchy'
  return 'planned'
}

export interface CompiledMapping {
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

export interface CompiledRole {
  id: string
  planned: boolean
  removeOrder: number
}

/** A guild's mappings compiled for planning: read-only once built. */
export interface CompiledRules {
  removeOnLeave: boolean
  /** Managed role id → its index in `roles`. */
  roleIndex: ReadonlyMap<string, number>
  /** Managed roles, in the order of their best mapping. */
  roles: readonly CompiledRole[]
  /** Enabled mappings of the guild by rank (priority, then id): a lower rank wins. */
  mappings: readonly CompiledMapping[]
  /** Every change the guild can produce, frozen, in plan order (indexed by addOrder/removeOrder). */
  changes: readonly PlannedChange[]
  /** Group id → the ranks of its mappings, ascending. */
  groups: ReadonlyMap<string, Int32Array>
  /** How many exclusive sets the mappings name. */
  setCount: number
}

/** Compiles a guild's roles and mappings into the tables the member planner reads. */
export function compileRules (
  guild: PlannerGuild,
  roles: readonly GuildRole[],
  botTopPosition: number,
  mappings: readonly PlannerMapping[]
): CompiledRules {
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

  return {
    removeOnLeave,
    roleIndex,
    roles: roleList,
    mappings: compiled,
    changes,
    groups: groupLists,
    setCount: setIndex.size
  }
}
