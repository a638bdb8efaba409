import { describe, expect, it } from 'vitest'
import type { MappingConditions } from '../../src/store/port/index.js'
import {
  compareIds, compileGuildPlan, managedRoleIds, planMemberRoles, roleChangeStatus
} from '../../src/sync/planner.js'
import type { GuildRole, PlannedChange, PlannerMapping, RolePlan, UserContext } from '../../src/sync/planner.js'

// ------------------------------------------------------------------ builders

const GUILD_ID = '100000000000000000'
const BOT_TOP = 50

interface MappingSpec extends Partial<Omit<PlannerMapping, 'conditions'>> {
  conditions?: Partial<MappingConditions>
}

function mapping (id: string, group_id: string, discord_role_id: string, spec: MappingSpec = {}): PlannerMapping {
  const { conditions, ...rest } = spec
  return {
    id,
    guild_id: GUILD_ID,
    group_id,
    discord_role_id,
    discord_role_name: null,
    priority: 1,
    exclusive_set: null,
    enabled: true,
    ...rest,
    conditions: {
      require_all: false,
      character_count_min: null,
      character_count_max: null,
      required_permissions: [],
      excluded_groups: [],
      ...conditions
    }
  }
}

function user (groups: string[], character_count = 1, permissions: string[] = []): UserContext {
  return { user_id: 'u1', groups: groups.map((id) => ({ id, name: `group ${id}` })), character_count, permissions }
}

function role (id: string, position = 10, managed = false): GuildRole {
  return { id, name: `role-${id}`, position, managed }
}

/** The guild's roles: @everyone plus plain roles 201..209 below the bot, named role-<id>. */
const ROLES: GuildRole[] = [
  { id: GUILD_ID, name: '@everyone', position: 0, managed: false },
  ...['201', '202', '203', '204', '205', '206', '207', '208', '209'].map((id, i) => role(id, 1 + i))
]

interface Scenario {
  mappings: PlannerMapping[]
  current?: string[]
  user?: UserContext | null
  roles?: GuildRole[]
  removeOnLeave?: boolean
  botTop?: number
}

function plan (s: Scenario): RolePlan {
  return planMemberRoles({
    guild: { guild_id: GUILD_ID, remove_roles_on_leave: s.removeOnLeave ?? true },
    roles: s.roles ?? ROLES,
    bot_top_position: s.botTop ?? BOT_TOP,
    mappings: s.mappings,
    member: { discord_user_id: '900', roles: s.current ?? [] },
    user: s.user === undefined ? user([]) : s.user
  })
}

const ids = (changes: PlannedChange[]): string[] => changes.map((c) => c.role_id)

function change (role_id: string, action: 'add' | 'remove', mapping_id: string, status: PlannedChange['status'] = 'planned', role_name = `role-${role_id}`): PlannedChange {
  return { role_id, role_name, action, mapping_id, status }
}

const EMPTY = { add: [], remove: [], blocked: [], changed: false }

/**
 * The satisfaction rule written plainly (group and conditions; ignores `enabled` and sets):
 * the oracle the compiled planner is checked against below.
 */
function isMappingSatisfied (mapping: PlannerMapping, user: UserContext): boolean {
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

// ------------------------------------------------------------------ conditions

describe('mapping conditions', () => {
  interface Case { name: string, conditions: Partial<MappingConditions>, user: UserContext, ok: boolean }
  const cases: Case[] = [
    { name: 'in the group, no conditions', conditions: {}, user: user(['g1']), ok: true },
    { name: 'not in the group', conditions: {}, user: user(['g2']), ok: false },
    { name: 'no groups at all', conditions: {}, user: user([]), ok: false },
    { name: 'in the group among others', conditions: {}, user: user(['g3', 'g1', 'g2']), ok: true },
    { name: 'in an excluded group', conditions: { excluded_groups: ['g9'] }, user: user(['g1', 'g9']), ok: false },
    { name: 'excluded group listed before the group', conditions: { excluded_groups: ['g9'] }, user: user(['g9', 'g1']), ok: false },
    { name: 'not in any excluded group', conditions: { excluded_groups: ['g8', 'g9'] }, user: user(['g1', 'g2']), ok: true },
    { name: 'excluded group wins over every other condition met', conditions: { excluded_groups: ['g9'], character_count_min: 1, character_count_max: 5, required_permissions: ['a'], require_all: true }, user: user(['g1', 'g9'], 3, ['a']), ok: false },
    { name: 'its own group excluded', conditions: { excluded_groups: ['g1'] }, user: user(['g1']), ok: false },
    { name: 'count equal to the minimum (inclusive)', conditions: { character_count_min: 3 }, user: user(['g1'], 3), ok: true },
    { name: 'count below the minimum', conditions: { character_count_min: 3 }, user: user(['g1'], 2), ok: false },
    { name: 'count equal to the maximum (inclusive)', conditions: { character_count_max: 5 }, user: user(['g1'], 5), ok: true },
    { name: 'count above the maximum', conditions: { character_count_max: 5 }, user: user(['g1'], 6), ok: false },
    { name: 'count inside both bounds', conditions: { character_count_min: 2, character_count_max: 4 }, user: user(['g1'], 3), ok: true },
    { name: 'min equal to max, count equal', conditions: { character_count_min: 4, character_count_max: 4 }, user: user(['g1'], 4), ok: true },
    { name: 'null bounds, zero characters', conditions: { character_count_min: null, character_count_max: null }, user: user(['g1'], 0), ok: true },
    { name: 'null bounds, huge count', conditions: { character_count_min: null, character_count_max: null }, user: user(['g1'], 1_000_000), ok: true },
    { name: 'null min, count 0 under a max', conditions: { character_count_max: 2 }, user: user(['g1'], 0), ok: true },
    { name: 'min 0 is a real bound, count 0', conditions: { character_count_min: 0 }, user: user(['g1'], 0), ok: true },
    { name: 'max 0 is a real bound, count 1', conditions: { character_count_max: 0 }, user: user(['g1'], 1), ok: false },
    { name: 'no permissions required, require_all true', conditions: { require_all: true, required_permissions: [] }, user: user(['g1']), ok: true },
    { name: 'no permissions required, require_all false', conditions: { require_all: false, required_permissions: [] }, user: user(['g1']), ok: true },
    { name: 'require_all: holds all', conditions: { require_all: true, required_permissions: ['a', 'b'] }, user: user(['g1'], 1, ['b', 'x', 'a']), ok: true },
    { name: 'require_all: misses one', conditions: { require_all: true, required_permissions: ['a', 'b'] }, user: user(['g1'], 1, ['a']), ok: false },
    { name: 'require_all: holds none', conditions: { require_all: true, required_permissions: ['a'] }, user: user(['g1'], 1, []), ok: false },
    { name: 'any: holds one of them', conditions: { require_all: false, required_permissions: ['a', 'b'] }, user: user(['g1'], 1, ['b']), ok: true },
    { name: 'any: holds none of them', conditions: { require_all: false, required_permissions: ['a', 'b'] }, user: user(['g1'], 1, ['c']), ok: false },
    { name: 'any: holds no permission at all', conditions: { require_all: false, required_permissions: ['a'] }, user: user(['g1'], 1, []), ok: false },
    { name: 'require_all with a long permission list (set lookup)', conditions: { require_all: true, required_permissions: ['p3', 'p17'] }, user: user(['g1'], 1, Array.from({ length: 20 }, (_, i) => `p${i}`)), ok: true },
    { name: 'require_all with a long list missing one', conditions: { require_all: true, required_permissions: ['p3', 'p99'] }, user: user(['g1'], 1, Array.from({ length: 20 }, (_, i) => `p${i}`)), ok: false },
    { name: 'any with a long permission list', conditions: { require_all: false, required_permissions: ['zz', 'p19'] }, user: user(['g1'], 1, Array.from({ length: 20 }, (_, i) => `p${i}`)), ok: true },
    { name: 'any with a long list, none held', conditions: { require_all: false, required_permissions: ['zz'] }, user: user(['g1'], 1, Array.from({ length: 20 }, (_, i) => `p${i}`)), ok: false },
    { name: 'every condition met at once', conditions: { excluded_groups: ['g9'], character_count_min: 1, character_count_max: 5, required_permissions: ['a', 'b'], require_all: true }, user: user(['g1', 'g2'], 5, ['a', 'b']), ok: true }
  ]

  it.each(cases)('$name -> satisfied: $ok', ({ conditions, user: u, ok }) => {
    const m = mapping('m1', 'g1', '201', { conditions })
    expect(isMappingSatisfied(m, u)).toBe(ok)
    // The planner adds the role exactly when the mapping is satisfied ...
    const fresh = plan({ mappings: [m], user: u })
    expect(fresh.add).toEqual(ok ? [change('201', 'add', 'm1')] : [])
    expect(fresh.remove).toEqual([])
    // ... and removes it from a holder exactly when it is not.
    const holder = plan({ mappings: [m], user: u, current: ['201'] })
    expect(holder.add).toEqual([])
    expect(holder.remove).toEqual(ok ? [] : [change('201', 'remove', 'm1')])
    expect(holder.desired_roles).toEqual(ok ? ['201'] : [])
  })

  it('evaluates permissions per user: a long list of one user does not leak into the next', () => {
    const m = mapping('m1', 'g1', '201', { conditions: { required_permissions: ['p5'] } })
    const planner = compileGuildPlan({ guild_id: GUILD_ID, remove_roles_on_leave: true }, ROLES, BOT_TOP, [m])
    const many = user(['g1'], 1, Array.from({ length: 20 }, (_, i) => `p${i}`))
    expect(planner({ discord_user_id: '1', roles: [] }, many).add).toHaveLength(1)
    expect(planner({ discord_user_id: '2', roles: [] }, user(['g1'], 1, ['p1'])).add).toHaveLength(0)
    expect(planner({ discord_user_id: '3', roles: [] }, many).add).toHaveLength(1)
  })
})

// ------------------------------------------------------------------ managed roles

describe('managed roles', () => {
  it('are the roles of enabled mappings of the guild only', () => {
    const mappings = [
      mapping('m1', 'g1', '201'),
      mapping('m2', 'g2', '202', { enabled: false }),
      mapping('m3', 'g3', '203', { guild_id: '999' }),
      mapping('m4', 'g4', '201')
    ]
    expect([...managedRoleIds(mappings, GUILD_ID)]).toEqual(['201'])
    expect([...managedRoleIds(mappings)].sort()).toEqual(['201', '203'])
    expect(managedRoleIds([]).size).toBe(0)
  })

  it('never touches unmapped, hand-assigned, @everyone or integration roles, even when unlinked', () => {
    const roles = [...ROLES, role('300', 5, true)]
    const p = plan({ mappings: [mapping('m1', 'g1', '201')], roles, user: null, current: ['205', '300', GUILD_ID, '201', '777'] })
    expect(p.remove).toEqual([change('201', 'remove', 'm1')])
    expect(p.add).toEqual([])
    expect(p.blocked).toEqual([])
    expect(p.desired_roles).toEqual(['205', '300', GUILD_ID, '777'])
  })

  it('ignores disabled mappings: their roles are neither granted nor removed', () => {
    const mappings = [mapping('m1', 'g1', '201', { enabled: false }), mapping('m2', 'g2', '202')]
    expect(plan({ mappings, user: user(['g1']) })).toEqual({ ...EMPTY, desired_roles: [] })
    expect(plan({ mappings, user: user([]), current: ['201', '202'] })).toEqual({
      add: [], remove: [change('202', 'remove', 'm2')], blocked: [], desired_roles: ['201'], changed: true
    })
    expect(plan({ mappings, user: null, current: ['201'] })).toEqual({ ...EMPTY, desired_roles: ['201'] })
  })

  it('ignores mappings of another guild', () => {
    const mappings = [mapping('m1', 'g1', '201', { guild_id: '555' })]
    expect(plan({ mappings, user: user(['g1']) })).toEqual({ ...EMPTY, desired_roles: [] })
    expect(plan({ mappings, user: null, current: ['201'] })).toEqual({ ...EMPTY, desired_roles: ['201'] })
  })

  it('plans nothing for a guild without mappings', () => {
    expect(plan({ mappings: [], user: user(['g1']), current: ['201', '202'] })).toEqual({ ...EMPTY, desired_roles: ['201', '202'] })
    expect(plan({ mappings: [], user: null, current: ['201'] })).toEqual({ ...EMPTY, desired_roles: ['201'] })
  })
})

// ------------------------------------------------------------------ several mappings per role

describe('several mappings for one role', () => {
  const mappings = [
    mapping('m1', 'g1', '201', { priority: 3 }),
    mapping('m2', 'g2', '201', { priority: 2 }),
    mapping('m3', 'g3', '201', { priority: 5 })
  ]

  it('grants the role when any of them is satisfied, naming the best satisfied mapping', () => {
    expect(plan({ mappings, user: user(['g1']) }).add).toEqual([change('201', 'add', 'm1')])
    expect(plan({ mappings, user: user(['g3', 'g1']) }).add).toEqual([change('201', 'add', 'm1')])
    expect(plan({ mappings, user: user(['g3', 'g2', 'g1']) }).add).toEqual([change('201', 'add', 'm2')])
    expect(plan({ mappings, user: user(['g3']) }).add).toEqual([change('201', 'add', 'm3')])
  })

  it('keeps the role while one of them is satisfied', () => {
    expect(plan({ mappings, user: user(['g3']), current: ['201'] })).toEqual({ ...EMPTY, desired_roles: ['201'] })
  })

  it('removes it when none is satisfied, naming the best-priority mapping of the role', () => {
    expect(plan({ mappings, user: user(['g9']), current: ['201'] }).remove).toEqual([change('201', 'remove', 'm2')])
  })

  it('breaks equal priorities by the lower mapping id, in snowflake order', () => {
    const tied = [mapping('m10', 'g1', '201'), mapping('m9', 'g2', '201')]
    expect(plan({ mappings: tied, user: user(['g1', 'g2']) }).add).toEqual([change('201', 'add', 'm9')])
    expect(plan({ mappings: tied, user: user([]), current: ['201'] }).remove).toEqual([change('201', 'remove', 'm9')])
  })

  it('an excluded user is not granted through that mapping but may be through another', () => {
    const ms = [
      mapping('m1', 'g1', '201', { conditions: { excluded_groups: ['bad'] } }),
      mapping('m2', 'g2', '201', { priority: 2 })
    ]
    expect(plan({ mappings: ms, user: user(['g1', 'bad']) }).add).toEqual([])
    expect(plan({ mappings: ms, user: user(['g1', 'g2', 'bad']) }).add).toEqual([change('201', 'add', 'm2')])
  })
})

// ------------------------------------------------------------------ exclusive sets

describe('exclusive sets', () => {
  const rank = [
    mapping('m-gold', 'gold', '201', { priority: 1, exclusive_set: 'rank' }),
    mapping('m-silver', 'silver', '202', { priority: 2, exclusive_set: 'rank' }),
    mapping('m-bronze', 'bronze', '203', { priority: 3, exclusive_set: 'rank' })
  ]

  it('grants only the best-priority satisfied mapping of the set', () => {
    const p = plan({ mappings: rank, user: user(['bronze', 'silver', 'gold']) })
    expect(p.add).toEqual([change('201', 'add', 'm-gold')])
    expect(p.desired_roles).toEqual(['201'])
  })

  it('removes the other roles of the set the member holds', () => {
    const p = plan({ mappings: rank, user: user(['bronze', 'silver']), current: ['201', '203', '205'] })
    expect(p.add).toEqual([change('202', 'add', 'm-silver')])
    expect(p.remove).toEqual([change('201', 'remove', 'm-gold'), change('203', 'remove', 'm-bronze')])
    expect(p.desired_roles).toEqual(['205', '202'])
  })

  it('skips an unsatisfied better mapping: the best satisfied one wins', () => {
    const ms = [
      mapping('m1', 'g1', '201', { priority: 1, exclusive_set: 'rank', conditions: { character_count_min: 10 } }),
      mapping('m2', 'g1', '202', { priority: 2, exclusive_set: 'rank' })
    ]
    expect(plan({ mappings: ms, user: user(['g1'], 3) }).add).toEqual([change('202', 'add', 'm2')])
    expect(plan({ mappings: ms, user: user(['g1'], 10) }).add).toEqual([change('201', 'add', 'm1')])
  })

  it('an excluded better mapping does not win the set', () => {
    const ms = [
      mapping('m1', 'g1', '201', { priority: 1, exclusive_set: 'rank', conditions: { excluded_groups: ['banned'] } }),
      mapping('m2', 'g2', '202', { priority: 2, exclusive_set: 'rank' })
    ]
    expect(plan({ mappings: ms, user: user(['g1', 'g2', 'banned']) }).add).toEqual([change('202', 'add', 'm2')])
  })

  it('breaks priority ties by the lower mapping id', () => {
    const ms = [
      mapping('m2', 'g1', '201', { priority: 1, exclusive_set: 'rank' }),
      mapping('m1', 'g2', '202', { priority: 1, exclusive_set: 'rank' })
    ]
    expect(plan({ mappings: ms, user: user(['g1', 'g2']) }).add).toEqual([change('202', 'add', 'm1')])
    const snowflakes = [
      mapping('m10', 'g1', '201', { priority: 1, exclusive_set: 'rank' }),
      mapping('m9', 'g2', '202', { priority: 1, exclusive_set: 'rank' })
    ]
    expect(plan({ mappings: snowflakes, user: user(['g1', 'g2']) }).add).toEqual([change('202', 'add', 'm9')])
  })

  it('does not affect roles outside the set', () => {
    const ms = [...rank, mapping('m-member', 'member', '205', { priority: 9 })]
    const p = plan({ mappings: ms, user: user(['member', 'gold', 'silver']) })
    expect(p.add).toEqual([change('201', 'add', 'm-gold'), change('205', 'add', 'm-member')])
  })

  it('keeps a role that loses in the set when a mapping outside the set grants it', () => {
    const ms = [...rank, mapping('m-veteran', 'veteran', '202', { priority: 7 })]
    const p = plan({ mappings: ms, user: user(['gold', 'silver', 'veteran']), current: ['202'] })
    expect(p.add).toEqual([change('201', 'add', 'm-gold')])
    expect(p.remove).toEqual([])
    expect(p.desired_roles).toEqual(['202', '201'])
    // Without the outside mapping, the losing role goes.
    expect(plan({ mappings: rank, user: user(['gold', 'silver']), current: ['202'] }).remove).toEqual([change('202', 'remove', 'm-silver')])
  })

  it('keeps a role that loses in one set when it wins another', () => {
    const ms = [
      mapping('a1', 'g1', '201', { priority: 1, exclusive_set: 'A' }),
      mapping('a2', 'g2', '202', { priority: 2, exclusive_set: 'A' }),
      mapping('b1', 'g2', '202', { priority: 1, exclusive_set: 'B' }),
      mapping('b2', 'g3', '203', { priority: 2, exclusive_set: 'B' })
    ]
    const p = plan({ mappings: ms, user: user(['g1', 'g2', 'g3']) })
    expect(p.add).toEqual([change('201', 'add', 'a1'), change('202', 'add', 'b1')])
    expect(p.desired_roles).toEqual(['201', '202'])
  })

  it('resolves each set independently', () => {
    const ms = [
      ...rank,
      mapping('t1', 't-hi', '206', { priority: 1, exclusive_set: 'tier' }),
      mapping('t2', 't-lo', '207', { priority: 2, exclusive_set: 'tier' })
    ]
    const p = plan({ mappings: ms, user: user(['bronze', 't-lo', 'silver', 't-hi']), current: ['207'] })
    expect(p.add).toEqual([change('206', 'add', 't1'), change('202', 'add', 'm-silver')])
    expect(p.remove).toEqual([change('207', 'remove', 't2')])
  })

  it('lets a blocked winner still win: the rest of its set is not granted', () => {
    const roles = [...ROLES.filter((r) => r.id !== '201'), role('201', BOT_TOP + 1)]
    const p = plan({ mappings: rank, roles, user: user(['gold', 'silver']), current: ['202'] })
    expect(p.add).toEqual([])
    expect(p.remove).toEqual([change('202', 'remove', 'm-silver')])
    expect(p.blocked).toEqual([change('201', 'add', 'm-gold', 'blocked_hierarchy')])
  })

  it('without sets, priority only orders the changes', () => {
    const ms = [
      mapping('m1', 'g1', '203', { priority: 2 }),
      mapping('m2', 'g1', '201', { priority: 3 }),
      mapping('m3', 'g1', '202', { priority: 1 }),
      mapping('m4', 'g1', '204', { priority: 2 })
    ]
    const p = plan({ mappings: ms, user: user(['g1']) })
    expect(ids(p.add)).toEqual(['202', '203', '204', '201'])
    const gone = plan({ mappings: ms, user: user([]), current: ['201', '202', '203', '204'] })
    expect(ids(gone.remove)).toEqual(['202', '203', '204', '201'])
  })
})

// ------------------------------------------------------------------ unlinked members

describe('unlinked members', () => {
  const mappings = [mapping('m1', 'g1', '201'), mapping('m2', 'g2', '202', { priority: 2 })]

  it('lose every managed role when remove_roles_on_leave is true', () => {
    const p = plan({ mappings, user: null, current: ['202', '209', '201'] })
    expect(p).toEqual({
      add: [],
      remove: [change('201', 'remove', 'm1'), change('202', 'remove', 'm2')],
      blocked: [],
      desired_roles: ['209'],
      changed: true
    })
  })

  it('report managed roles they cannot lose as blocked and keep them', () => {
    const roles = [...ROLES.filter((r) => r.id !== '202'), role('202', BOT_TOP)]
    const p = plan({ mappings, roles, user: null, current: ['202', '201'] })
    expect(p.remove).toEqual([change('201', 'remove', 'm1')])
    expect(p.blocked).toEqual([change('202', 'remove', 'm2', 'blocked_hierarchy')])
    expect(p.desired_roles).toEqual(['202'])
  })

  it('are left alone when remove_roles_on_leave is false', () => {
    const p = plan({ mappings, user: null, removeOnLeave: false, current: ['202', '209', '201'] })
    expect(p).toEqual({ ...EMPTY, desired_roles: ['202', '209', '201'] })
  })

  it('with nothing managed held, need no change', () => {
    expect(plan({ mappings, user: null, current: ['209'] })).toEqual({ ...EMPTY, desired_roles: ['209'] })
  })

  it('differ from linked users without groups, who lose managed roles even when remove_roles_on_leave is false', () => {
    const p = plan({ mappings, user: user([]), removeOnLeave: false, current: ['201', '209'] })
    expect(p.remove).toEqual([change('201', 'remove', 'm1')])
    expect(p.desired_roles).toEqual(['209'])
  })
})

// ------------------------------------------------------------------ hierarchy and blocking

describe('blocking', () => {
  it.each([
    [BOT_TOP - 1, 'planned'],
    [BOT_TOP, 'blocked_hierarchy'],
    [BOT_TOP + 7, 'blocked_hierarchy']
  ] as const)('a role at position %d is %s', (position, status) => {
    const roles = [...ROLES, role('300', position)]
    const mappings = [mapping('m1', 'g1', '300')]
    const add = plan({ mappings, roles, user: user(['g1']) })
    const remove = plan({ mappings, roles, user: user([]), current: ['300'] })
    if (status === 'planned') {
      expect(add.add).toEqual([change('300', 'add', 'm1')])
      expect(add.desired_roles).toEqual(['300'])
      expect(remove.remove).toEqual([change('300', 'remove', 'm1')])
      expect(remove.desired_roles).toEqual([])
    } else {
      expect(add).toEqual({ add: [], remove: [], blocked: [change('300', 'add', 'm1', status)], desired_roles: [], changed: false })
      expect(remove).toEqual({ add: [], remove: [], blocked: [change('300', 'remove', 'm1', status)], desired_roles: ['300'], changed: false })
    }
  })

  it('blocks integration-managed roles', () => {
    const roles = [...ROLES, role('300', 1, true)]
    const mappings = [mapping('m1', 'g1', '300')]
    expect(plan({ mappings, roles, user: user(['g1']) }).blocked).toEqual([change('300', 'add', 'm1', 'blocked_managed')])
    const p = plan({ mappings, roles, user: null, current: ['300'] })
    expect(p.blocked).toEqual([change('300', 'remove', 'm1', 'blocked_managed')])
    expect(p.desired_roles).toEqual(['300'])
  })

  it('blocks a mapping to @everyone as managed', () => {
    const p = plan({ mappings: [mapping('m1', 'g1', GUILD_ID)], user: user(['g1']) })
    expect(p.blocked).toEqual([change(GUILD_ID, 'add', 'm1', 'blocked_managed', '@everyone')])
    expect(p.desired_roles).toEqual([])
    expect(p.changed).toBe(false)
  })

  it('blocks roles missing from the guild, named after the mapping, else by id', () => {
    const named = [mapping('m1', 'g1', '404', { discord_role_name: 'Ghost' })]
    expect(plan({ mappings: named, user: user(['g1']) }).blocked).toEqual([change('404', 'add', 'm1', 'blocked_missing_role', 'Ghost')])
    const unnamed = [mapping('m1', 'g1', '404')]
    expect(plan({ mappings: unnamed, user: user(['g1']) }).blocked).toEqual([change('404', 'add', 'm1', 'blocked_missing_role', '404')])
    const p = plan({ mappings: unnamed, user: null, current: ['404'] })
    expect(p.blocked).toEqual([change('404', 'remove', 'm1', 'blocked_missing_role', '404')])
    expect(p.desired_roles).toEqual(['404'])
  })

  it('prefers the guild role name over the mapping\'s stored name', () => {
    const p = plan({ mappings: [mapping('m1', 'g1', '201', { discord_role_name: 'Old name' })], user: user(['g1']) })
    expect(p.add[0]?.role_name).toBe('role-201')
  })

  it('checks missing, then managed, then hierarchy', () => {
    expect(roleChangeStatus('1', undefined, GUILD_ID, 0)).toBe('blocked_missing_role')
    expect(roleChangeStatus('1', role('1', 99, true), GUILD_ID, 10)).toBe('blocked_managed')
    expect(roleChangeStatus(GUILD_ID, role(GUILD_ID, 0), GUILD_ID, 10)).toBe('blocked_managed')
    expect(roleChangeStatus('1', role('1', 10), GUILD_ID, 10)).toBe('blocked_hierarchy')
    expect(roleChangeStatus('1', role('1', 9), GUILD_ID, 10)).toBe('planned')
  })

  it('reports nothing for a blocked role already in the right state', () => {
    const roles = [...ROLES, role('300', BOT_TOP + 1)]
    const mappings = [mapping('m1', 'g1', '300')]
    expect(plan({ mappings, roles, user: user(['g1']), current: ['300'] })).toEqual({ ...EMPTY, desired_roles: ['300'] })
    expect(plan({ mappings, roles, user: user([]) })).toEqual({ ...EMPTY, desired_roles: [] })
  })

  it('blocks everything when the bot has no role above @everyone', () => {
    const p = plan({ mappings: [mapping('m1', 'g1', '201'), mapping('m2', 'g2', '202')], botTop: 0, user: user(['g1']), current: ['202'] })
    expect(p.add).toEqual([])
    expect(p.remove).toEqual([])
    expect(p.blocked).toEqual([change('201', 'add', 'm1', 'blocked_hierarchy'), change('202', 'remove', 'm2', 'blocked_hierarchy')])
    expect(p.desired_roles).toEqual(['202'])
    expect(p.changed).toBe(false)
  })

  it('applies the allowed changes next to blocked ones', () => {
    const roles = [...ROLES, role('300', BOT_TOP + 1), role('301', 2, true)]
    const mappings = [
      mapping('m1', 'g1', '300'), mapping('m2', 'g1', '301'), mapping('m3', 'g1', '404'),
      mapping('m4', 'g1', '201'), mapping('m5', 'g2', '202')
    ]
    const p = plan({ mappings, roles, user: user(['g1']), current: ['202', '209'] })
    expect(p.add).toEqual([change('201', 'add', 'm4')])
    expect(p.remove).toEqual([change('202', 'remove', 'm5')])
    expect(p.blocked).toEqual([
      change('300', 'add', 'm1', 'blocked_hierarchy'),
      change('301', 'add', 'm2', 'blocked_managed'),
      change('404', 'add', 'm3', 'blocked_missing_role', '404')
    ])
    expect(p.desired_roles).toEqual(['209', '201'])
    expect(p.changed).toBe(true)
  })
})

// ------------------------------------------------------------------ output shape

describe('plan output', () => {
  const mappings = [
    mapping('m1', 'g1', '203', { priority: 2 }),
    mapping('m2', 'g1', '201', { priority: 2 }),
    mapping('m3', 'g2', '205'),
    mapping('m4', 'g2', '204', { priority: 4 })
  ]

  it('keeps the current order, drops removals, appends additions in plan order', () => {
    const p = plan({ mappings, user: user(['g1']), current: ['209', '205', '208', '204', '207'] })
    expect(ids(p.add)).toEqual(['201', '203'])
    expect(ids(p.remove)).toEqual(['205', '204'])
    expect(p.desired_roles).toEqual(['209', '208', '207', '201', '203'])
  })

  it('drops duplicate role ids without calling it a change', () => {
    const p = plan({ mappings, user: user(['g2']), current: ['209', '205', '209', '204', '205'] })
    expect(p).toEqual({ ...EMPTY, desired_roles: ['209', '205', '204'] })
    const big = Array.from({ length: 30 }, (_, i) => String(1000 + (i % 20)))
    expect(plan({ mappings, user: user([]), current: big }).desired_roles).toEqual(Array.from({ length: 20 }, (_, i) => String(1000 + i)))
  })

  it('drops duplicates of a removed role and of a blocked one', () => {
    const roles = [...ROLES, role('300', BOT_TOP)]
    const ms = [...mappings, mapping('m9', 'g9', '300')]
    const p = plan({ mappings: ms, roles, user: user([]), current: ['300', '205', '300', '205', '209'] })
    expect(p.remove).toEqual([change('205', 'remove', 'm3')])
    expect(p.blocked).toEqual([change('300', 'remove', 'm9', 'blocked_hierarchy')])
    expect(p.desired_roles).toEqual(['300', '209'])
  })

  it('orders role ids numerically (snowflakes), not as text', () => {
    const roles = [role('99', 1), role('100', 2), role('1000', 3)]
    const ms = [mapping('a', 'g1', '1000'), mapping('b', 'g1', '99'), mapping('c', 'g1', '100')]
    expect(ids(plan({ mappings: ms, roles, user: user(['g1']) }).add)).toEqual(['99', '100', '1000'])
    expect(compareIds('99', '100')).toBeLessThan(0)
    expect(compareIds('abc', 'abd')).toBeLessThan(0)
    expect(compareIds('x', 'x')).toBe(0)
  })

  it('is idempotent: planning the desired roles changes nothing', () => {
    const u = user(['g1'])
    const first = plan({ mappings, user: u, current: ['209', '205', '204'] })
    expect(first.changed).toBe(true)
    const again = plan({ mappings, user: u, current: first.desired_roles })
    expect(again).toEqual({ ...EMPTY, desired_roles: first.desired_roles })
  })

  it('returns a fresh desired_roles array and frozen, shared change objects', () => {
    const current = ['209']
    const p = plan({ mappings, user: user(['g1']), current })
    expect(p.desired_roles).not.toBe(current)
    const unchanged = plan({ mappings, user: user([]), current })
    expect(unchanged.desired_roles).toEqual(current)
    expect(unchanged.desired_roles).not.toBe(current)
    expect(p.add.every((c) => Object.isFrozen(c))).toBe(true)
    expect(Object.keys(p.add[0] as object).sort()).toEqual(['action', 'mapping_id', 'role_id', 'role_name', 'status'])
  })

  it('does not mutate its inputs', () => {
    const ms = mappings.map((m) => structuredClone(m))
    const current = ['205', '209', '205']
    const u = user(['g1'], 3, ['a'])
    const before = structuredClone({ ms, current, u, roles: ROLES })
    plan({ mappings: ms, user: u, current })
    expect({ ms, current, u, roles: ROLES }).toEqual(before)
  })
})

// ------------------------------------------------------------------ compiled planner

describe('compileGuildPlan', () => {
  const mappings = [
    mapping('m1', 'g1', '201', { exclusive_set: 'rank', priority: 1 }),
    mapping('m2', 'g2', '202', { exclusive_set: 'rank', priority: 2 }),
    mapping('m3', 'g3', '203', { conditions: { character_count_min: 2 } }),
    mapping('m4', 'g3', '204', { conditions: { required_permissions: ['x'] } })
  ]

  it('plans many members with one compiled guild, each exactly like a one-off plan', () => {
    const g = { guild_id: GUILD_ID, remove_roles_on_leave: true }
    const planner = compileGuildPlan(g, ROLES, BOT_TOP, mappings)
    const members: Array<[string[], UserContext | null]> = [
      [['201', '209'], user(['g2', 'g1'])],
      [['202'], user(['g2'])],
      [['203', '204'], user(['g3'], 1)],
      [['201', '203'], null],
      [[], user(['g1', 'g2', 'g3'], 5, ['x'])],
      [['201', '202', '203', '204'], user(['g1', 'g2', 'g3'], 5, ['x'])],
      [['209'], user([])]
    ]
    for (let round = 0; round < 3; round++) {
      for (const [roles, u] of members) {
        const one = planMemberRoles({ guild: g, roles: ROLES, bot_top_position: BOT_TOP, mappings, member: { discord_user_id: '1', roles }, user: u })
        expect(planner({ discord_user_id: '1', roles }, u)).toEqual(one)
      }
    }
  })

  it('keeps planning correctly over many calls (scratch space reused)', () => {
    const planner = compileGuildPlan({ guild_id: GUILD_ID, remove_roles_on_leave: true }, ROLES, BOT_TOP, mappings)
    for (let i = 0; i < 2000; i++) {
      const p = planner({ discord_user_id: String(i), roles: i % 2 === 0 ? ['202'] : [] }, user(i % 2 === 0 ? ['g1'] : ['g2']))
      if (i % 2 === 0) {
        expect(ids(p.add)).toEqual(['201'])
        expect(ids(p.remove)).toEqual(['202'])
      } else {
        expect(ids(p.add)).toEqual(['202'])
        expect(p.remove).toEqual([])
      }
    }
  })

  it('does not see later changes to the mapping array it was compiled from', () => {
    const ms = [mapping('m1', 'g1', '201')]
    const planner = compileGuildPlan({ guild_id: GUILD_ID, remove_roles_on_leave: true }, ROLES, BOT_TOP, ms)
    ms.push(mapping('m2', 'g1', '202'))
    expect(ids(planner({ discord_user_id: '1', roles: [] }, user(['g1'])).add)).toEqual(['201'])
  })
})
