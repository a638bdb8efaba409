/*
 * Planner benchmark: plans a 100k-member guild against 50 mappings and prints CPU time,
 * wall time, members needing a change and peak RSS. Not a test; run it with
 *
 *   npx tsx bench/planner.bench.ts [members] [mappings]
 *
 * Inputs come from a seeded PRNG, so every run plans the same guild. Two passes are timed:
 * - cold: members hold random roles (most of them need a change; the worst case);
 * - steady: 90% of members already hold their planned roles and 10% drifted by one role, the
 *   shape of a periodic sync (the benchmark guilds have 10% of members needing a change).
 * Target (issue 6): planning 100k members x 50 mappings < 1 s CPU.
 */
import { compileGuildPlan, managedRoleIds } from '../src/sync/planner.js'
import type { GuildRole, PlannerMapping, PlannerMember, RolePlan, UserContext } from '../src/sync/planner.js'

const MEMBERS = Number(process.argv[2] ?? 100_000)
const MAPPINGS = Number(process.argv[3] ?? 50)
const GUILD_ID = '100000000000000000'
const BOT_TOP = 70
const N_GROUPS = 40
const PERMS = ['fleet.read', 'fleet.write', 'corp.director', 'alliance.exec', 'srp.approve', 'wiki.edit', 'ops.ping', 'recruit', 'audit', 'market']

// mulberry32: small, fast, seeded.
let seed = 0x5eed
function rand (): number {
  seed = (seed + 0x6D2B79F5) | 0
  let t = seed
  t = Math.imul(t ^ (t >>> 15), t | 1)
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}
const int = (min: number, max: number): number => min + Math.floor(rand() * (max - min + 1))
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T
function sample<T> (xs: readonly T[], n: number): T[] {
  const copy = xs.slice()
  const out: T[] = []
  while (out.length < n && copy.length > 0) out.push(copy.splice(Math.floor(rand() * copy.length), 1)[0] as T)
  return out
}

const groupIds = Array.from({ length: N_GROUPS }, (_, i) => `group-${i}`)
const roleId = (i: number): string => String(200000000000000000n + BigInt(i))

// 60 mappable roles (a few above the bot, one integration role, one missing from the guild)
// plus 30 roles nobody maps (hand-assigned, boosters, bots).
const roles: GuildRole[] = [{ id: GUILD_ID, name: '@everyone', position: 0, managed: false }]
for (let i = 0; i < 90; i++) {
  if (i === 59) continue
  roles.push({ id: roleId(i), name: `role ${i}`, position: i < 3 ? BOT_TOP + 1 + i : 1 + (i % 60), managed: i === 3 })
}

const mappings: PlannerMapping[] = []
for (let i = 0; i < MAPPINGS; i++) {
  const inRankSet = i < 6
  const inTierSet = i >= 6 && i < 10
  const role = inRankSet || inTierSet ? i : (i < 60 ? i : int(10, 59))
  mappings.push({
    id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
    guild_id: GUILD_ID,
    group_id: pick(groupIds),
    discord_role_id: roleId(i === 9 ? 59 : role),
    discord_role_name: null,
    priority: inRankSet ? i + 1 : int(1, 10),
    exclusive_set: inRankSet ? 'rank' : inTierSet ? 'tier' : null,
    enabled: i % 17 !== 16,
    conditions: {
      require_all: rand() < 0.5,
      character_count_min: rand() < 0.3 ? int(1, 3) : null,
      character_count_max: rand() < 0.2 ? int(3, 10) : null,
      required_permissions: rand() < 0.4 ? sample(PERMS, int(1, 3)) : [],
      excluded_groups: rand() < 0.3 ? sample(groupIds, int(1, 2)) : []
    }
  })
}

// Roles only a disabled mapping references are not managed: they count as unmapped here.
const mappedRoleIds = [...managedRoleIds(mappings, GUILD_ID)]
const unmappedRoleIds = roles.filter((r) => !mappedRoleIds.includes(r.id) && r.id !== GUILD_ID).map((r) => r.id)

const users: Array<UserContext | null> = []
const members: PlannerMember[] = []
for (let i = 0; i < MEMBERS; i++) {
  const linked = rand() < 0.9
  users.push(linked
    ? {
        user_id: `user-${i}`,
        groups: sample(groupIds, int(1, 6)).map((id) => ({ id, name: id })),
        character_count: int(0, 12),
        permissions: sample(PERMS, int(0, 5))
      }
    : null)
  const current = [...sample(unmappedRoleIds, int(0, 4)), ...sample(mappedRoleIds, int(0, 4))]
  members.push({ discord_user_id: String(300000000000000000n + BigInt(i)), roles: current })
}

const guild = { guild_id: GUILD_ID, remove_roles_on_leave: true }

interface Figures { cpuMs: number, wallMs: number, changed: number, adds: number, removes: number, blocked: number }

function run (label: string, planner: ReturnType<typeof compileGuildPlan>, input: PlannerMember[]): { figures: Figures, kept: RolePlan[] } {
  const kept: RolePlan[] = []
  let adds = 0
  let removes = 0
  let blocked = 0
  const cpu0 = process.cpuUsage()
  const wall0 = process.hrtime.bigint()
  for (let i = 0; i < input.length; i++) {
    const plan = planner(input[i] as PlannerMember, users[i] as UserContext | null)
    blocked += plan.blocked.length
    if (plan.changed) {
      kept.push(plan)
      adds += plan.add.length
      removes += plan.remove.length
    }
  }
  const wallMs = Number(process.hrtime.bigint() - wall0) / 1e6
  const cpu = process.cpuUsage(cpu0)
  const figures = { cpuMs: (cpu.user + cpu.system) / 1000, wallMs, changed: kept.length, adds, removes, blocked }
  console.log(`${label.padEnd(8)} cpu ${figures.cpuMs.toFixed(1).padStart(7)} ms  wall ${figures.wallMs.toFixed(1).padStart(7)} ms  ` +
    `members needing change ${String(figures.changed).padStart(6)} / ${input.length}  adds ${adds}  removes ${removes}  blocked ${blocked}`)
  return { figures, kept }
}

const inputRssMb = process.memoryUsage().rss / 1048576
const cpuCompile0 = process.cpuUsage()
const planner = compileGuildPlan(guild, roles, BOT_TOP, mappings)
const compileCpu = process.cpuUsage(cpuCompile0)
console.log(`planner bench: ${MEMBERS} members x ${mappings.length} mappings (${mappings.filter((m) => m.enabled).length} enabled, ` +
  `${mappedRoleIds.length} managed roles, ${N_GROUPS} groups), node ${process.version}`)
console.log(`compile  cpu ${((compileCpu.user + compileCpu.system) / 1000).toFixed(2)} ms`)

const cold = run('cold', planner, members)

// Steady state: 90% of members already hold their planned roles; 10% drifted (a managed role
// gained by hand or lost). Built untimed from the cold plans.
const desiredByIndex = new Map<PlannerMember, string[]>()
for (let i = 0; i < members.length; i++) {
  const m = members[i] as PlannerMember
  desiredByIndex.set(m, planner(m, users[i] as UserContext | null).desired_roles)
}
// Toggling one role the bot may change always makes exactly one change: a held role is
// desired (so dropping it needs an add back), a role not held is not desired (so it is removed).
const changeable = mappedRoleIds.filter((id) => {
  const r = roles.find((x) => x.id === id)
  return r !== undefined && !r.managed && r.position < BOT_TOP
})
const steadyMembers: PlannerMember[] = members.map((m, i) => {
  const settled = desiredByIndex.get(m) as string[]
  if (i % 10 !== 0) return { discord_user_id: m.discord_user_id, roles: settled }
  const toggled = pick(changeable)
  const drifted = settled.includes(toggled) ? settled.filter((id) => id !== toggled) : [...settled, toggled]
  return { discord_user_id: m.discord_user_id, roles: drifted }
})
desiredByIndex.clear()

const steady = run('steady', planner, steadyMembers)

const peakRssMb = process.resourceUsage().maxRSS / 1024
console.log(`peak RSS ${peakRssMb.toFixed(1)} MB (RSS ${inputRssMb.toFixed(1)} MB once the generated inputs for ${MEMBERS} members were built; ` +
  'both passes keep every changed plan)')
const worst = Math.max(cold.figures.cpuMs, steady.figures.cpuMs)
console.log(`target: < 1000 ms CPU per pass -> ${worst < 1000 ? 'met' : 'MISSED'} (worst pass ${worst.toFixed(1)} ms)`)
