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
 * Performance: `compileGuildPlan` does the per-guild work once (planner-rules.ts: enabled
 * mappings sorted and indexed by group, role lookups, every possible PlannedChange built and
 * frozen up front, a global sort order for them) and returns a planner (planner-member.ts)
 * that reuses typed-array scratch space between members, so planning a member costs a few
 * Map lookups and allocates only the plan object and its arrays.
 */
import { memberPlanner } from './planner-member.js'
import { compileRules } from './planner-rules.js'
import type {
  GuildPlanner, GuildRole, PlannerGuild, PlannerMapping, PlannerMember, RolePlan, UserContext
} from './types.js'

export { compareIds, managedRoleIds, roleChangeStatus } from './planner-rules.js'
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
  return memberPlanner(compileRules(guild, roles, botTopPosition, mappings))
}

/** Plans one member without keeping the compiled guild (prefer `compileGuildPlan` for many members). */
export function planMemberRoles (input: PlanInput): RolePlan {
  return compileGuildPlan(input.guild, input.roles, input.bot_top_position, input.mappings)(input.member, input.user)
}
