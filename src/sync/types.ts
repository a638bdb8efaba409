/*
 * Types of the role planner (src/sync/planner.ts): what the sync engine feeds it for a
 * guild and a member, and the plan it gets back. Kept apart from the planner so the
 * engine, the membership provider and the routes can share them without importing code.
 */
import type { RoleMappingRecord } from '../store/port/index.js'

/** The guild being planned: its id (also the id of its @everyone role) and the leave policy. */
export interface PlannerGuild {
  guild_id: string
  /** GuildSettings.remove_roles_on_leave: unlinked members lose every managed role when true. */
  remove_roles_on_leave: boolean
}

/** A role as Discord reports it for the guild (the planner needs only these fields). */
export interface GuildRole {
  id: string
  name: string
  position: number
  /** True when an integration (bot, booster, subscription) owns the role. */
  managed: boolean
  /** The role's primary colour as an RGB integer, 0 for none (permissions.mdx "Role Colors"); for display only. */
  color?: number
}

/**
 * The mapping fields the planner reads. A full `RoleMappingRecord` is assignable to it,
 * so callers pass store records as they are.
 */
export type PlannerMapping = Pick<RoleMappingRecord,
  'id' | 'guild_id' | 'group_id' | 'discord_role_id' | 'discord_role_name' |
  'conditions' | 'priority' | 'exclusive_set' | 'enabled'>

/** A guild member: its Discord user id and the ids of the roles it holds now. */
export interface PlannerMember {
  discord_user_id: string
  roles: readonly string[]
}

/** A host group the user belongs to. */
export interface UserGroup {
  id: string
  name: string
}

/** What the host's membership provider reports for a linked user. */
export interface UserContext {
  user_id: string
  groups: readonly UserGroup[]
  character_count: number
  permissions: readonly string[]
  /** Nickname template variables (membership.ts cleans them); absent when the provider gave none. */
  profile?: Readonly<Record<string, string>>
}

export type ChangeAction = 'add' | 'remove'

export type ChangeStatus = 'planned' | 'blocked_hierarchy' | 'blocked_managed' | 'blocked_missing_role'

/**
 * One role change. The planner hands out shared, frozen instances (one per mapping for
 * adds, one per role for removes), so a change must be copied before it is modified.
 */
export interface PlannedChange {
  readonly role_id: string
  /** The guild role's name; for a role missing from the guild, the mapping's stored name, else the id. */
  readonly role_name: string
  readonly action: ChangeAction
  /** Adds: the mapping that grants the role. Removes: the best-priority enabled mapping for the role. */
  readonly mapping_id: string
  readonly status: ChangeStatus
}

/** The plan for one member. */
export interface RolePlan {
  /** Changes to apply (status 'planned'), best priority first, then role id. */
  add: PlannedChange[]
  remove: PlannedChange[]
  /** Changes the bot is not allowed to make; reported only, never applied. Same order. */
  blocked: PlannedChange[]
  /** The member's full new role list: current roles (first occurrence kept, order kept) minus removals, then additions. */
  desired_roles: string[]
  /** True when `add` or `remove` is non-empty, i.e. a write is needed (or, in the engine, `nick` is set). */
  changed: boolean
  /**
   * Set by the engine (never by the pure planner) when the guild's nickname template gives the
   * member another nickname: it goes in the same PATCH as the roles.
   */
  nick?: NickChange
}

/** A nickname the engine will set: the member's current one and the rendered one. */
export interface NickChange {
  from: string | null
  to: string
}

/** Plans one member against a precompiled guild context. */
export type GuildPlanner = (member: PlannerMember, user: UserContext | null) => RolePlan
