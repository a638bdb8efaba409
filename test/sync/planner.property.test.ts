import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { compileGuildPlan, managedRoleIds, planMemberRoles, roleChangeStatus } from '../../src/sync/planner.js'
import type { GuildRole, PlannedChange, PlannerMapping, RolePlan, UserContext } from '../../src/sync/planner.js'

// Small pools so that generated mappings, members and users collide often.
const GUILD_ID = '500'
const MAPPABLE = ['1001', '1002', '1003', '1004', '1005', '1006', '1007', '1008']
const HAND_ASSIGNED = ['2001', '2002', '2003']
const GROUPS = ['g1', 'g2', 'g3', 'g4', 'g5', 'g6']
const PERMS = ['read', 'write', 'fleet', 'admin']
const RUNS = 400

interface World {
  remove_roles_on_leave: boolean
  roles: GuildRole[]
  bot_top_position: number
  mappings: PlannerMapping[]
  current: string[]
  user: UserContext | null
}

const guildRolesArb: fc.Arbitrary<GuildRole[]> = fc.tuple(
  ...[...MAPPABLE, ...HAND_ASSIGNED].map((id) => fc.option(
    fc.record({ position: fc.integer({ min: 1, max: 12 }), managed: fc.boolean() }).map(({ position, managed }) => ({
      id, name: `role ${id}`, position, managed: managed && position % 3 === 0
    })),
    { nil: undefined, freq: 6 }
  ))
).map((rs) => [
  { id: GUILD_ID, name: '@everyone', position: 0, managed: false },
  ...rs.filter((r): r is GuildRole => r !== undefined)
])

const conditionsArb = fc.record({
  require_all: fc.boolean(),
  character_count_min: fc.option(fc.integer({ min: 0, max: 6 }), { nil: null }),
  character_count_max: fc.option(fc.integer({ min: 0, max: 6 }), { nil: null }),
  required_permissions: fc.subarray(PERMS, { maxLength: 3 }),
  excluded_groups: fc.subarray(GROUPS, { maxLength: 2 })
})

const mappingBodyArb = fc.record({
  guild_id: fc.constantFrom(GUILD_ID, GUILD_ID, GUILD_ID, GUILD_ID, '600'),
  group_id: fc.constantFrom(...GROUPS),
  discord_role_id: fc.constantFrom(...MAPPABLE, ...MAPPABLE, GUILD_ID),
  discord_role_name: fc.option(fc.constantFrom('Pilot', 'Officer'), { nil: null }),
  conditions: conditionsArb,
  priority: fc.integer({ min: 1, max: 4 }),
  exclusive_set: fc.constantFrom(null, null, 'rank', 'tier'),
  enabled: fc.constantFrom(true, true, true, true, false)
})

/** Mapping ids are distinct numbers, generated independently of array order. */
const mappingsArb: fc.Arbitrary<PlannerMapping[]> = fc.uniqueArray(fc.integer({ min: 1, max: 10_000 }), { maxLength: 12 })
  .chain((idNums) => fc.tuple(...idNums.map((n) => mappingBodyArb.map((body) => ({ id: String(n), ...body })))))

const userArb: fc.Arbitrary<UserContext | null> = fc.option(fc.record({
  user_id: fc.constant('u1'),
  groups: fc.subarray(GROUPS).map((gs) => gs.map((id) => ({ id, name: `group ${id}` }))),
  character_count: fc.integer({ min: 0, max: 8 }),
  permissions: fc.subarray(PERMS)
}), { nil: null, freq: 4 })

const currentArb = fc.array(fc.constantFrom(...MAPPABLE, ...HAND_ASSIGNED, GUILD_ID, '9999'), { maxLength: 10 })

const worldArb: fc.Arbitrary<World> = fc.record({
  remove_roles_on_leave: fc.boolean(),
  roles: guildRolesArb,
  bot_top_position: fc.integer({ min: 0, max: 13 }),
  mappings: mappingsArb,
  current: currentArb,
  user: userArb
})

function planOf (w: World, current = w.current, user = w.user): RolePlan {
  return planMemberRoles({
    guild: { guild_id: GUILD_ID, remove_roles_on_leave: w.remove_roles_on_leave },
    roles: w.roles,
    bot_top_position: w.bot_top_position,
    mappings: w.mappings,
    member: { discord_user_id: '42', roles: current },
    user
  })
}

// ------------------------------------------------------------------ an independent reference model

const counted = (w: World): PlannerMapping[] => w.mappings.filter((m) => m.enabled && m.guild_id === GUILD_ID)
const better = (a: PlannerMapping, b: PlannerMapping): boolean => a.priority < b.priority || (a.priority === b.priority && Number(a.id) < Number(b.id))
const inExcluded = (m: PlannerMapping, u: UserContext): boolean => u.groups.some((g) => m.conditions.excluded_groups.includes(g.id))

function refSatisfied (m: PlannerMapping, u: UserContext): boolean {
  const c = m.conditions
  const groupIds = new Set(u.groups.map((g) => g.id))
  if (!groupIds.has(m.group_id)) return false
  if (c.excluded_groups.some((g) => groupIds.has(g))) return false
  if (c.character_count_min !== null && !(u.character_count >= c.character_count_min)) return false
  if (c.character_count_max !== null && !(u.character_count <= c.character_count_max)) return false
  const held = c.required_permissions.filter((p) => u.permissions.includes(p)).length
  if (c.required_permissions.length === 0) return true
  return c.require_all ? held === c.required_permissions.length : held > 0
}

function refStatus (w: World, roleId: string): PlannedChange['status'] {
  const r = w.roles.find((x) => x.id === roleId)
  if (r === undefined) return 'blocked_missing_role'
  if (r.managed || roleId === GUILD_ID) return 'blocked_managed'
  return r.position >= w.bot_top_position ? 'blocked_hierarchy' : 'planned'
}

/** Granting mapping per desired managed role, from a direct reading of the semantics. */
function refGrants (w: World): Map<string, PlannerMapping> {
  const grants = new Map<string, PlannerMapping>()
  const u = w.user
  if (u === null) return grants
  const satisfied = counted(w).filter((m) => refSatisfied(m, u))
  const winners = new Map<string, PlannerMapping>()
  const granting: PlannerMapping[] = []
  for (const m of satisfied) {
    if (m.exclusive_set === null) { granting.push(m); continue }
    const w0 = winners.get(m.exclusive_set)
    if (w0 === undefined || better(m, w0)) winners.set(m.exclusive_set, m)
  }
  granting.push(...winners.values())
  for (const m of granting) {
    const prev = grants.get(m.discord_role_id)
    if (prev === undefined || better(m, prev)) grants.set(m.discord_role_id, m)
  }
  return grants
}

interface RefChange { role_id: string, action: 'add' | 'remove', mapping_id: string, status: PlannedChange['status'] }

function reference (w: World): RefChange[] {
  if (w.user === null && !w.remove_roles_on_leave) return []
  const grants = refGrants(w)
  const out: RefChange[] = []
  const managed = new Map<string, PlannerMapping>()
  for (const m of counted(w)) {
    const prev = managed.get(m.discord_role_id)
    if (prev === undefined || better(m, prev)) managed.set(m.discord_role_id, m)
  }
  for (const [roleId, best] of managed) {
    const held = w.current.includes(roleId)
    const granted = grants.get(roleId)
    if (granted !== undefined && !held) out.push({ role_id: roleId, action: 'add', mapping_id: granted.id, status: refStatus(w, roleId) })
    if (granted === undefined && held) out.push({ role_id: roleId, action: 'remove', mapping_id: best.id, status: refStatus(w, roleId) })
  }
  return out
}

const key = (c: RefChange): string => `${c.action}:${c.role_id}:${c.mapping_id}:${c.status}`
const unmanagedOf = (w: World): (id: string) => boolean => {
  const managed = managedRoleIds(w.mappings, GUILD_ID)
  return (id) => !managed.has(id)
}

// ------------------------------------------------------------------ properties

describe('planner properties', () => {
  it('matches the reference model change for change', () => {
    fc.assert(fc.property(worldArb, (w) => {
      const p = planOf(w)
      const got = [...p.add, ...p.remove, ...p.blocked].map(key).sort()
      expect(got).toEqual(reference(w).map(key).sort())
      expect(p.add.every((c) => c.action === 'add')).toBe(true)
      expect(p.remove.every((c) => c.action === 'remove')).toBe(true)
    }), { numRuns: RUNS })
  })

  it('(1) never touches a role that no enabled mapping of the guild references', () => {
    fc.assert(fc.property(worldArb, (w) => {
      const p = planOf(w)
      const isUnmanaged = unmanagedOf(w)
      for (const id of new Set([...w.current, ...p.desired_roles, ...MAPPABLE, ...HAND_ASSIGNED, GUILD_ID])) {
        if (isUnmanaged(id)) expect(p.desired_roles.includes(id)).toBe(w.current.includes(id))
      }
      for (const c of [...p.add, ...p.remove, ...p.blocked]) expect(isUnmanaged(c.role_id)).toBe(false)
    }), { numRuns: RUNS })
  })

  it('(2) is idempotent: planning its own result changes nothing', () => {
    fc.assert(fc.property(worldArb, (w) => {
      const first = planOf(w)
      const again = planOf(w, first.desired_roles)
      expect(again.add).toEqual([])
      expect(again.remove).toEqual([])
      expect(again.changed).toBe(false)
      expect(again.desired_roles).toEqual(first.desired_roles)
    }), { numRuns: RUNS })
  })

  it('(3) excluded groups always win: an excluding mapping never grants its role', () => {
    fc.assert(fc.property(worldArb, (w) => {
      const u = w.user
      fc.pre(u !== null)
      const p = planOf(w)
      const byId = new Map(w.mappings.map((m) => [m.id, m]))
      for (const c of [...p.add, ...p.blocked.filter((b) => b.action === 'add')]) {
        expect(inExcluded(byId.get(c.mapping_id) as PlannerMapping, u)).toBe(false)
      }
      // A role whose every counted mapping excludes the user is never gained, and is kept
      // only when the member already has it and the bot cannot remove it.
      for (const roleId of managedRoleIds(w.mappings, GUILD_ID)) {
        if (!counted(w).filter((m) => m.discord_role_id === roleId).every((m) => inExcluded(m, u))) continue
        if (p.desired_roles.includes(roleId)) {
          expect(w.current.includes(roleId)).toBe(true)
          expect(roleChangeStatus(roleId, w.roles.find((r) => r.id === roleId), GUILD_ID, w.bot_top_position)).not.toBe('planned')
        }
      }
    }), { numRuns: RUNS })
  })

  it('(3b) adding the user to a mapping\'s excluded group never adds a role', () => {
    fc.assert(fc.property(worldArb, fc.nat(), (w, pick) => {
      const u = w.user
      fc.pre(u !== null && w.mappings.length > 0)
      const target = w.mappings[pick % w.mappings.length] as PlannerMapping
      const mappings = w.mappings.map((m) => m === target
        ? { ...m, conditions: { ...m.conditions, excluded_groups: [...m.conditions.excluded_groups, 'outcast'] } }
        : m)
      const outcast = { ...u, groups: [...u.groups, { id: 'outcast', name: 'Outcasts' }] }
      const p = planOf({ ...w, mappings }, w.current, outcast)
      expect([...p.add, ...p.blocked].some((c) => c.mapping_id === target.id && c.action === 'add')).toBe(false)
    }), { numRuns: RUNS })
  })

  it('(4) roles the bot may not change never change, and only they are blocked', () => {
    fc.assert(fc.property(worldArb, (w) => {
      const p = planOf(w)
      for (const roleId of new Set([...MAPPABLE, GUILD_ID, ...w.current])) {
        const status = roleChangeStatus(roleId, w.roles.find((r) => r.id === roleId), GUILD_ID, w.bot_top_position)
        if (status !== 'planned') expect(p.desired_roles.includes(roleId)).toBe(w.current.includes(roleId))
      }
      for (const c of [...p.add, ...p.remove]) expect(c.status).toBe('planned')
      for (const c of p.blocked) expect(c.status).not.toBe('planned')
    }), { numRuns: RUNS })
  })

  it('(5) desired_roles has no duplicates, keeps every unmanaged role, and is exactly current - removals + additions', () => {
    fc.assert(fc.property(worldArb, (w) => {
      const p = planOf(w)
      expect(new Set(p.desired_roles).size).toBe(p.desired_roles.length)
      const isUnmanaged = unmanagedOf(w)
      for (const id of w.current) if (isUnmanaged(id)) expect(p.desired_roles).toContain(id)
      const removed = new Set(p.remove.map((c) => c.role_id))
      const expected = [...new Set(w.current)].filter((id) => !removed.has(id))
      expected.push(...p.add.map((c) => c.role_id))
      expect(p.desired_roles).toEqual(expected)
      expect(p.changed).toBe(p.add.length + p.remove.length > 0)
      for (const c of p.add) expect(w.current).not.toContain(c.role_id)
      for (const c of p.remove) expect(w.current).toContain(c.role_id)
    }), { numRuns: RUNS })
  })

  it('(6) an unlinked member keeps no changeable managed role when remove_roles_on_leave is set, and everything otherwise', () => {
    fc.assert(fc.property(worldArb, (w0) => {
      const w = { ...w0, user: null }
      const p = planOf(w)
      if (!w.remove_roles_on_leave) {
        expect(p).toEqual({ add: [], remove: [], blocked: [], desired_roles: [...new Set(w.current)], changed: false })
        return
      }
      expect(p.add).toEqual([])
      for (const roleId of managedRoleIds(w.mappings, GUILD_ID)) {
        if (refStatus(w, roleId) === 'planned') expect(p.desired_roles).not.toContain(roleId)
      }
    }), { numRuns: RUNS })
  })

  it('orders changes by the mapping\'s priority, then role id', () => {
    fc.assert(fc.property(worldArb, (w) => {
      const p = planOf(w)
      const prio = new Map(w.mappings.map((m) => [m.id, m.priority]))
      for (const list of [p.add, p.remove, p.blocked]) {
        const keys = list.map((c) => [prio.get(c.mapping_id) as number, Number(c.role_id)] as const)
        const sorted = [...keys].sort((a, b) => (a[0] - b[0]) || (a[1] - b[1]))
        expect(keys).toEqual(sorted)
      }
    }), { numRuns: RUNS })
  })

  it('a compiled guild plans any sequence of members exactly like one-off plans', () => {
    const membersArb = fc.array(fc.tuple(currentArb, userArb), { minLength: 1, maxLength: 8 })
    fc.assert(fc.property(worldArb, membersArb, (w, members) => {
      const planner = compileGuildPlan({ guild_id: GUILD_ID, remove_roles_on_leave: w.remove_roles_on_leave }, w.roles, w.bot_top_position, w.mappings)
      for (const [current, user] of members) {
        expect(planner({ discord_user_id: '42', roles: current }, user)).toEqual(planOf(w, current, user))
      }
    }), { numRuns: 200 })
  })
})
