import type { SimContext } from '../../context.js'
import { computeBasePermissions, has, highestPosition, PermissionFlags, roleEditDenial } from '../../permissions.js'
import type { SimGuild } from '../../state/types.js'
import { Errors, formErrors } from '../errors.js'
import type { ApiRouter } from '../request.js'
import { ModifyMemberBody, validate, type ModifyMemberInput } from '../schemas.js'
import { botOf, guildForBot, jsonBody, memberOf, snowflakeParam, type Params } from './params.js'

/*
 * Bot-token writes of a member's roles and nickname, and kicks (docs/guild.mdx, docs/permissions.mdx),
 * each with its audit-log entry. Check order: path syntax (50035) -> guild exists (10004) -> bot is a
 * member (50001) -> target member / role exists (10007 / 10011) -> permissions and hierarchy
 * (50013) -> body.
 */

export function registerMemberRoutes (sim: SimContext, router: ApiRouter): void {
  const { state } = sim

  // docs/guild.mdx "Modify Guild Member": `roles` replaces the whole list; answers 200 with the member.
  router.route({ route: 'PATCH /guilds/:guild_id/members/:user_id', auth: 'bot', major: 'guild_id' }, async (request, _reply, ctx) => {
    const bot = botOf(ctx)
    const params = request.params as Params
    const { guild, self } = guildForBot(sim, params, bot)
    const member = memberOf(guild, params)
    const raw = jsonBody(request)
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
      throw Errors.invalidFormBody(formErrors([{ path: [], code: 'DICT_TYPE_CONVERT', message: 'Only dictionaries may be used in a DictType' }]))
    }
    // "All parameters to this endpoint are optional and nullable": null roles means no change, null nick clears it.
    const body = { ...(raw as Record<string, unknown>) }
    const clearNick = body.nick === null
    if (body.nick === null) delete body.nick
    if (body.roles === null) delete body.roles
    const unsupported = ['mute', 'deaf', 'channel_id', 'communication_disabled_until', 'flags'].filter((k) => body[k] !== undefined && body[k] !== null)
    if (unsupported.length > 0) {
      // Voice state, timeouts and flags are outside what the simulator models: refuse visibly rather than ignore.
      throw Errors.invalidFormBody(formErrors(unsupported.map((k) => ({ path: [k], code: 'SIMULATOR_UNSUPPORTED', message: `The simulator does not model "${k}".` }))))
    }
    const errors = validate(ModifyMemberBody, body)
    if (errors !== null) throw Errors.invalidFormBody(errors)
    const input = body as ModifyMemberInput

    const perms = computeBasePermissions(guild, bot.userId, self.roles, guild.roles)
    let added: string[] = []
    let removed: string[] = []
    if (input.roles !== undefined) {
      // @everyone is implicit and never listed on a member.
      const next = input.roles.filter((id) => id !== guild.id)
      for (const id of next) if (!guild.roles.has(id)) throw Errors.unknownRole()
      added = next.filter((id) => !member.roles.includes(id))
      removed = member.roles.filter((id) => !next.includes(id))
      // Only the roles that change must be manageable: a member may keep a managed or higher role untouched.
      for (const id of [...added, ...removed]) {
        if (roleEditDenial(guild, bot.userId, self.roles, guild.roles.get(id)!, guild.roles) !== null) throw Errors.missingPermissions()
      }
    }
    const nextNick = clearNick ? null : input.nick
    const nickChanges = nextNick !== undefined && nextNick !== member.nick
    if (nickChanges) {
      // permissions.mdx hierarchy: nicknames only for users whose highest role is below the bot's; never the owner's.
      const outranked = guild.owner_id === bot.userId ||
        (member.userId !== guild.owner_id && highestPosition(member.roles, guild.roles) < highestPosition(self.roles, guild.roles))
      if (!has(perms, PermissionFlags.MANAGE_NICKNAMES) || !outranked) throw Errors.missingPermissions()
    }

    const reason = ctx.reason ?? null
    const rolesChange = added.length > 0 || removed.length > 0
    if (rolesChange) auditRoles(sim, guild, bot.userId, member.userId, added, removed, reason)
    if (nickChanges) {
      state.addAuditEntry({ id: state.ids.next(), guild_id: guild.id, action_type: 24, user_id: bot.userId, target_id: member.userId, changes: [{ key: 'nick', old_value: member.nick, new_value: nextNick }], reason, at: Date.now() })
    }
    if (rolesChange || nickChanges) {
      // Through the state, so the change is announced (Gateway GUILD_MEMBER_UPDATE) like any other.
      state.updateMember(guild.id, member.userId, {
        ...(rolesChange ? { roles: [...member.roles.filter((id) => !removed.includes(id)), ...added] } : {}),
        ...(nickChanges ? { nick: nextNick ?? null } : {})
      })
    }
    return state.apiMember(member)
  })

  // docs/guild.mdx "Remove Guild Member": KICK_MEMBERS, 204, Guild Member Remove on the Gateway. permissions.mdx
  // hierarchy: only members whose highest role is below the bot's, never the owner (an owner bot may kick anyone else).
  router.route({ route: 'DELETE /guilds/:guild_id/members/:user_id', auth: 'bot', major: 'guild_id' }, async (request, reply, ctx) => {
    const bot = botOf(ctx)
    const params = request.params as Params
    const { guild, self } = guildForBot(sim, params, bot)
    const member = memberOf(guild, params)
    const perms = computeBasePermissions(guild, bot.userId, self.roles, guild.roles)
    const outranked = member.userId !== bot.userId && member.userId !== guild.owner_id &&
      (guild.owner_id === bot.userId || highestPosition(member.roles, guild.roles) < highestPosition(self.roles, guild.roles))
    if (!has(perms, PermissionFlags.KICK_MEMBERS) || !outranked) throw Errors.missingPermissions()
    state.addAuditEntry({ id: state.ids.next(), guild_id: guild.id, action_type: 20, user_id: bot.userId, target_id: member.userId, changes: [], reason: ctx.reason ?? null, at: Date.now() })
    state.removeMember(guild.id, member.userId)
    return reply.code(204).send()
  })

  // docs/guild.mdx "Add Guild Member Role" / "Remove Guild Member Role": MANAGE_ROLES, 204 with no body.
  for (const method of ['PUT', 'DELETE'] as const) {
    router.route({ route: `${method} /guilds/:guild_id/members/:user_id/roles/:role_id`, auth: 'bot', major: 'guild_id' }, async (request, reply, ctx) => {
      const bot = botOf(ctx)
      const params = request.params as Params
      const { guild, self } = guildForBot(sim, params, bot)
      const member = memberOf(guild, params)
      const roleId = snowflakeParam(params, 'role_id')
      const role = guild.roles.get(roleId)
      if (role === undefined) throw Errors.unknownRole()
      if (roleEditDenial(guild, bot.userId, self.roles, role, guild.roles) !== null) throw Errors.missingPermissions()
      const hasRole = member.roles.includes(roleId)
      if (method === 'PUT' && !hasRole && roleId !== guild.id) {
        state.setMemberRoles(guild.id, member.userId, [...member.roles, roleId])
        auditRoles(sim, guild, bot.userId, member.userId, [roleId], [], ctx.reason ?? null)
      } else if (method === 'DELETE' && hasRole) {
        state.setMemberRoles(guild.id, member.userId, member.roles.filter((id) => id !== roleId))
        auditRoles(sim, guild, bot.userId, member.userId, [], [roleId], ctx.reason ?? null)
      }
      return reply.code(204).send()
    })
  }
}

function auditRoles (sim: SimContext, guild: SimGuild, actorId: string, targetId: string, added: string[], removed: string[], reason: string | null): void {
  const partial = (id: string): { id: string, name: string } => ({ id, name: guild.roles.get(id)?.name ?? '' })
  const changes: Array<{ key: string, new_value: unknown }> = []
  if (added.length > 0) changes.push({ key: '$add', new_value: added.map(partial) })
  if (removed.length > 0) changes.push({ key: '$remove', new_value: removed.map(partial) })
  sim.state.addAuditEntry({ id: sim.state.ids.next(), guild_id: guild.id, action_type: 25, user_id: actorId, target_id: targetId, changes, reason, at: Date.now() })
}
