/*
 * Member planning for the role planner (planner.ts states the semantics): plans one member
 * against a guild's compiled rules (planner-rules.ts). Scratch space is typed arrays reused
 * between members and stamped with an epoch instead of cleared, so a member costs a few Map
 * lookups and allocates only the plan object and its arrays. Pure from the caller's view.
 */
import type { CompiledMapping, CompiledRole, CompiledRules } from './planner-rules.js'
import type { GuildPlanner, PlannedChange, PlannerMember, RolePlan, UserContext } from './types.js'

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
 * A planner for the members of a compiled guild. It may be called any number of times; it
 * must not be called re-entrantly (it is synchronous, so it cannot be).
 */
export function memberPlanner (rules: CompiledRules): GuildPlanner {
  const { removeOnLeave, roleIndex, changes } = rules
  const roleList = rules.roles
  const compiled = rules.mappings
  const groupLists = rules.groups

  // Scratch space reused by every call; stamps avoid clearing it between members.
  const nRoles = roleList.length
  const nSets = rules.setCount
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
