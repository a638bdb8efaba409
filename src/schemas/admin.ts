import { Type, type Static } from '@sinclair/typebox'
import type { InspectedGuild } from '../guilds/service.js'
import { checkRoleAssignable, hasPermission, Permission } from '../guilds/permissions.js'
import { Nullable } from './http.js'

/*
 * What the admin web UI needs beyond the resource routes: the session view and the role
 * picker's view of a guild's Discord roles, with the presenter that builds it.
 */

export const SessionBody = Type.Object({
  authenticated: Type.Boolean(),
  user_id: Nullable(Type.String()),
  is_admin: Type.Boolean(),
  session_expired: Type.Boolean({ description: 'A session was presented but has expired or does not verify: sign in again' }),
  auth_configured: Type.Boolean({ description: 'Sessions can be issued and verified (a JWT secret or a host @fastify/jwt)' }),
  discord_configured: Type.Boolean({ description: 'A Discord application is configured (sign-in and linking work)' }),
  sync_configured: Type.Boolean({ description: 'A membership provider is configured (syncs work)' }),
  csrf_header: Type.String({ description: 'Header that cookie-authenticated state-changing requests must carry (any non-empty value)' })
})

export const DiscordRole = Type.Object({
  id: Type.String(),
  name: Type.String(),
  position: Type.Integer(),
  color: Type.Integer({ description: 'Primary colour as an RGB integer, 0 for none' }),
  managed: Type.Boolean({ description: 'Owned by an integration (a bot, boosts, a subscription): nobody can assign it' }),
  held_by_bot: Type.Boolean({ description: 'The bot\'s own member has this role' }),
  assignable: Type.Boolean({ description: 'The bot may add and remove this role on members' }),
  reason: Nullable(Type.String({ description: 'Why not: everyone_role, managed_role, missing_manage_roles, role_not_below_bot' })),
  message: Type.String({ description: 'Readable explanation' })
})

export const DiscordRoleList = Type.Object({
  guild_id: Type.String(),
  guild_name: Type.String(),
  bot_user_id: Type.String(),
  bot_username: Type.String(),
  bot_highest_position: Type.Integer({ description: 'Position of the bot\'s highest role: it may assign roles strictly below it' }),
  can_manage_roles: Type.Boolean(),
  roles: Type.Array(DiscordRole, { description: 'Highest position first' })
})

export const SignedOut = Type.Object({ signed_out: Type.Literal(true) })

/** The role picker's view of an inspected guild: every role, highest first, with the bot's verdict on it. */
export function presentDiscordRoles ({ guild, inspection }: InspectedGuild): Static<typeof DiscordRoleList> {
  const held = new Set(inspection.facts.member_role_ids)
  const roles = [...inspection.facts.roles]
    .sort((a, b) => b.position - a.position || a.id.localeCompare(b.id))
    .map((role) => {
      const verdict = checkRoleAssignable(inspection.facts, role.id, inspection.permissions)
      return {
        id: role.id,
        name: role.name,
        position: role.position,
        color: role.color ?? 0,
        managed: role.managed,
        held_by_bot: held.has(role.id),
        assignable: verdict.denial === null,
        reason: verdict.denial,
        message: verdict.denial === null ? 'The bot can assign this role' : verdict.message
      }
    })
  return {
    guild_id: guild.guild_id,
    guild_name: inspection.guild_name,
    bot_user_id: inspection.facts.bot_user_id,
    bot_username: inspection.bot_username,
    bot_highest_position: inspection.highest_position,
    can_manage_roles: hasPermission(inspection.permissions, Permission.MANAGE_ROLES),
    roles
  }
}
