/*
 * What the engine adds to the pure role planner's plan for one member (docs/sync.md
 * "Nicknames" and "Access loss"): the nickname the guild's template gives it, and what
 * `on_access_lost` does to a member without access. Both ride on the role plan, so a member
 * still costs at most one write: the nickname goes in the same PATCH as the roles, and a kicked
 * member gets no role write at all.
 *
 * Rules:
 * - Nicknames: only linked members (the template reads the provider's profile), only when the
 *   rendered name differs from the current one, never the guild owner, never a member whose
 *   highest role is not below the bot's, and only when the bot has Manage Nicknames (any of those
 *   would be refused with 50013, which halts the guild). Mapping runs change no nickname.
 * - Access: a member has lost access when it has no active link, or its provider answer entitles
 *   it to no managed role. Other bots never count as having lost access. While its grace runs
 *   (`access_lost_grace`) such a member is left alone; then `remove_roles` plans the role
 *   removals (the planner's rules, `remove_roles_on_leave` included), `none` leaves it alone, and
 *   `kick` kicks it, unless it ranks at or above the bot or the bot lacks Kick Members: then the
 *   kick is reported blocked, never attempted.
 */
import type { APIGuildMember } from 'discord-api-types/v10'
import type { GuildSettings } from '../store/port/index.js'
import { renderNickname, type CompiledTemplate } from './nickname.js'
import type { RoleSnapshot } from './role-cache.js'
import type { RolePlan, UserContext } from './types.js'
import type { AuditChange } from './run.js'
import { parseDuration } from '../util/duration.js'

/** A member as the engine plans it: roles plus what nicknames and kicks need. */
export interface MemberView {
  id: string
  roles: readonly string[]
  nick: string | null
  username: string | null
  global_name: string | null
  /** Another bot (integration): never kicked. */
  bot: boolean
}

/**
 * Where a member stands on access: `ok` (has it, or the guild does not track it), `grace`
 * (lost, grace still running: left alone), `act` (lost, grace over: `on_access_lost` applies).
 */
export type AccessState = 'ok' | 'grace' | 'act'

/** A kick the plan asks for; `status` says why it cannot be made when it is not `planned`. */
export interface KickChange {
  status: 'planned' | 'blocked_owner' | 'blocked_hierarchy' | 'blocked_permission'
}

/** The fields planning reads from Discord's member object. */
export function memberView (m: APIGuildMember): MemberView {
  const u = m.user
  return { id: u.id, roles: m.roles, nick: m.nick ?? null, username: u.username ?? null, global_name: u.global_name ?? null, bot: u.bot === true }
}

/** The engine's plan: the planner's, plus a nickname and a kick. */
export interface MemberPlan extends RolePlan {
  kick?: KickChange
}

/** The guild's access-loss policy as the engine applies it. */
export interface AccessPolicy {
  policy: GuildSettings['on_access_lost']
  graceMs: number
  /** False for the historic behaviour (remove_roles, no grace): the planner alone decides, nothing is stored. */
  tracked: boolean
}

export function accessPolicy (settings: GuildSettings): AccessPolicy {
  const graceMs = parseDuration(settings.access_lost_grace) ?? 0
  const policy = settings.on_access_lost
  return { policy, graceMs, tracked: !(policy === 'remove_roles' && graceMs === 0) }
}

/** The highest position among `roles` (0, @everyone's, when it holds none). */
export function topPosition (roles: readonly string[], positions: ReadonlyMap<string, number>): number {
  let top = 0
  for (const r of roles) {
    const p = positions.get(r)
    if (p !== undefined && p > top) top = p
  }
  return top
}

/** Whether Discord lets the bot rename or kick this member (permissions.mdx "Permission Hierarchy"). */
function outranked (m: MemberView, snap: RoleSnapshot, positions: ReadonlyMap<string, number>): 'ok' | 'owner' | 'hierarchy' {
  if (m.id === snap.owner_id) return 'owner'
  return topPosition(m.roles, positions) < snap.bot_top_position ? 'ok' : 'hierarchy'
}

/** A plan that changes nothing: the member keeps what it has. */
export function unchangedPlan (roles: readonly string[]): MemberPlan {
  return { add: [], remove: [], blocked: [], desired_roles: [...new Set(roles)], changed: false }
}

/** The kick part of a plan for a member whose access is gone and whose grace is over. */
export function kickPlan (m: MemberView, snap: RoleSnapshot, positions: ReadonlyMap<string, number>): MemberPlan {
  const rank = outranked(m, snap, positions)
  const status: KickChange['status'] = rank === 'owner' ? 'blocked_owner' : rank === 'hierarchy' ? 'blocked_hierarchy' : snap.can_kick ? 'planned' : 'blocked_permission'
  return { ...unchangedPlan(m.roles), kick: { status }, changed: status === 'planned' }
}

/** Adds the template's nickname to a role plan when it differs and the bot may set it. */
export function withNickname (plan: MemberPlan, m: MemberView, user: UserContext | null, template: CompiledTemplate | null, snap: RoleSnapshot, positions: ReadonlyMap<string, number>): MemberPlan {
  if (template === null || user === null || !snap.can_manage_nicknames) return plan
  const to = renderNickname(template, { username: m.username, global_name: m.global_name, profile: user.profile })
  if (to === null || to === m.nick || outranked(m, snap, positions) !== 'ok') return plan
  return { ...plan, nick: { from: m.nick, to }, changed: true }
}

/** Every audited change of a plan: role changes, then the nickname, then the kick. */
export function planChanges (plan: MemberPlan): AuditChange[] {
  const out: AuditChange[] = [...plan.add, ...plan.remove]
  if (plan.nick !== undefined) out.push({ role_id: '', role_name: plan.nick.to, action: 'nick', mapping_id: null })
  if (plan.kick?.status === 'planned') out.push(KICK)
  return out
}

const KICK: AuditChange = Object.freeze({ role_id: '', role_name: null, action: 'kick', mapping_id: null })

/** A kick the bot may not make, for the audit log (outcome blocked, the status as its code). */
export function blockedKick (plan: MemberPlan): AuditChange[] {
  return plan.kick !== undefined && plan.kick.status !== 'planned' ? [KICK] : []
}

/** Changes counted by the brake: role adds and removes, and kicks (nicknames are not). */
export function brakeCount (plan: MemberPlan): number {
  return plan.add.length + plan.remove.length + (plan.kick?.status === 'planned' ? 1 : 0)
}
