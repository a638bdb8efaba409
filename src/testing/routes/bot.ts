import type { FastifyRequest } from 'fastify'
import type { RequestCtx, SimContext } from '../context.js'
import { Errors, formErrors } from '../errors.js'
import { computeBasePermissions, computeChannelPermissions, has, highestPosition, PermissionFlags, roleEditDenial } from '../permissions.js'
import type { ApiRouter } from '../pipeline.js'
import { FormBody } from '../pipeline.js'
import { CreateMessageBody, ModifyMemberBody, validate, type CreateMessageInput, type ModifyMemberInput } from '../schemas.js'
import { compareSnowflakes, isSnowflake } from '../snowflake.js'
import type { SimBot, SimGuild, SimMember } from '../types.js'

/*
 * Bot-token routes on guilds, members, roles and channel messages, with the semantics of
 * docs/guild.mdx and docs/permissions.mdx. Check order for every guild route:
 * path syntax (50035) -> guild exists (10004) -> bot is a member (50001) -> target
 * member / role exists (10007 / 10011) -> permissions and hierarchy (50013) -> body.
 */

type Params = Record<string, string>

function snowflakeParam (params: Params, name: string): string {
  const value = params[name] ?? ''
  if (!isSnowflake(value)) {
    throw Errors.invalidFormBody(formErrors([{ path: [name], code: 'NUMBER_TYPE_COERCE', message: `Value "${value}" is not snowflake.` }]))
  }
  return value
}

function botOf (ctx: RequestCtx): SimBot {
  if (ctx.bot === undefined) throw Errors.unauthorized()
  return ctx.bot
}

/** Guild lookup from the bot's point of view: unknown guild 10004, bot not in it 50001. */
function guildForBot (sim: SimContext, params: Params, bot: SimBot): { guild: SimGuild, self: SimMember } {
  const guildId = snowflakeParam(params, 'guild_id')
  const guild = sim.state.getGuild(guildId)
  if (guild === undefined) throw Errors.unknownGuild()
  const self = guild.members.get(bot.userId)
  if (self === undefined) throw Errors.missingAccess()
  return { guild, self }
}

function memberOf (guild: SimGuild, params: Params): SimMember {
  const userId = snowflakeParam(params, 'user_id')
  const member = guild.members.get(userId)
  if (member === undefined) throw Errors.unknownMember()
  return member
}

/** docs/reference.mdx "Boolean Query Strings": True/true/1 and False/false/0. */
function booleanQuery (query: Record<string, string | undefined>, name: string): boolean {
  const value = query[name]
  if (value === undefined) return false
  if (value === 'True' || value === 'true' || value === '1') return true
  if (value === 'False' || value === 'false' || value === '0') return false
  throw Errors.invalidFormBody(formErrors([{ path: [name], code: 'BASE_TYPE_BOOLEAN', message: 'Must be either true or false.' }]))
}

function integerQuery (query: Record<string, string | undefined>, name: string, min: number, max: number, fallback: number): number {
  const raw = query[name]
  if (raw === undefined) return fallback
  if (!/^-?\d+$/.test(raw)) {
    throw Errors.invalidFormBody(formErrors([{ path: [name], code: 'NUMBER_TYPE_COERCE', message: `Value "${raw}" is not int.` }]))
  }
  const n = Number(raw)
  if (n < min) throw Errors.invalidFormBody(formErrors([{ path: [name], code: 'NUMBER_TYPE_MIN', message: `int value should be greater than or equal to ${min}.` }]))
  if (n > max) throw Errors.invalidFormBody(formErrors([{ path: [name], code: 'NUMBER_TYPE_MAX', message: `int value should be less than or equal to ${max}.` }]))
  return n
}

function snowflakeQuery (query: Record<string, string | undefined>, name: string): string | undefined {
  const raw = query[name]
  if (raw === undefined) return undefined
  if (!isSnowflake(raw)) throw Errors.invalidFormBody(formErrors([{ path: [name], code: 'NUMBER_TYPE_COERCE', message: `Value "${raw}" is not snowflake.` }]))
  return raw
}

/** JSON routes: a form body is turned into its string fields (which then fail typed validation, as Discord's would). */
function jsonBody (request: FastifyRequest): unknown {
  const body = request.body
  if (body instanceof FormBody) return { ...body.fields }
  return body ?? {}
}

export function registerBotRoutes (sim: SimContext, router: ApiRouter): void {
  const { state } = sim

  router.route({ route: 'GET /guilds/:guild_id', auth: 'bot', major: 'guild_id' }, async (request, _reply, ctx) => {
    const { guild } = guildForBot(sim, request.params as Params, botOf(ctx))
    const withCounts = booleanQuery(request.query as Record<string, string>, 'with_counts')
    return state.apiGuild(guild, withCounts)
  })

  router.route({ route: 'GET /guilds/:guild_id/roles', auth: 'bot', major: 'guild_id' }, async (request, _reply, ctx) => {
    const { guild } = guildForBot(sim, request.params as Params, botOf(ctx))
    return state.listRoles(guild.id).map((r) => state.apiRole(r))
  })

  // docs/guild.mdx "Get Guild Channels": the guild's channels, no threads. Fields as openapi.json's GuildChannelResponse.
  router.route({ route: 'GET /guilds/:guild_id/channels', auth: 'bot', major: 'guild_id' }, async (request, _reply, ctx) => {
    const { guild } = guildForBot(sim, request.params as Params, botOf(ctx))
    return [...state.channels.values()]
      .filter((c) => c.guild_id === guild.id)
      .map((c, position) => ({
        id: c.id,
        type: c.type,
        flags: 0,
        guild_id: c.guild_id,
        name: c.name,
        position,
        parent_id: null,
        permission_overwrites: c.permission_overwrites.map((o) => ({ id: o.id, type: o.type, allow: o.allow, deny: o.deny }))
      }))
  })

  // docs/guild.mdx "List Guild Members": limit 1-1000 (default 1), after = highest user id of the previous page (default 0).
  router.route({ route: 'GET /guilds/:guild_id/members', auth: 'bot', major: 'guild_id' }, async (request, _reply, ctx) => {
    const bot = botOf(ctx)
    const { guild } = guildForBot(sim, request.params as Params, bot)
    // "This endpoint requires the GUILD_MEMBERS Privileged Intent."
    if (!bot.guildMembersIntent) throw Errors.missingAccess()
    const query = request.query as Record<string, string>
    const limit = integerQuery(query, 'limit', 1, 1000, 1)
    const after = snowflakeQuery(query, 'after') ?? '0'
    const ids = state.sortedMemberIds(guild)
    // First index whose id is strictly greater than `after` (binary search: guilds can be large).
    let lo = 0
    let hi = ids.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (compareSnowflakes(ids[mid] as string, after) <= 0) lo = mid + 1
      else hi = mid
    }
    return ids.slice(lo, lo + limit).map((id) => state.apiMember(guild.members.get(id) as SimMember))
  })

  router.route({ route: 'GET /guilds/:guild_id/members/:user_id', auth: 'bot', major: 'guild_id' }, async (request, _reply, ctx) => {
    const { guild } = guildForBot(sim, request.params as Params, botOf(ctx))
    return state.apiMember(memberOf(guild, request.params as Params))
  })

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
    if (added.length > 0 || removed.length > 0) {
      member.roles = [...member.roles.filter((id) => !removed.includes(id)), ...added]
      auditRoles(sim, guild, bot.userId, member.userId, added, removed, reason)
    }
    if (nickChanges) {
      state.auditLog.push({ id: state.ids.next(), guild_id: guild.id, action_type: 24, user_id: bot.userId, target_id: member.userId, changes: [{ key: 'nick', old_value: member.nick, new_value: nextNick }], reason, at: Date.now() })
      member.nick = nextNick ?? null
    }
    return state.apiMember(member)
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
        member.roles.push(roleId)
        auditRoles(sim, guild, bot.userId, member.userId, [roleId], [], ctx.reason ?? null)
      } else if (method === 'DELETE' && hasRole) {
        member.roles = member.roles.filter((id) => id !== roleId)
        auditRoles(sim, guild, bot.userId, member.userId, [], [roleId], ctx.reason ?? null)
      }
      return reply.code(204).send()
    })
  }

  // POST /channels/{channel.id}/messages: the product's audit channel. VIEW_CHANNEL (else 50001) and SEND_MESSAGES (else 50013).
  router.route({ route: 'POST /channels/:channel_id/messages', auth: 'bot', major: 'channel_id' }, async (request, _reply, ctx) => {
    const bot = botOf(ctx)
    const params = request.params as Params
    const channelId = snowflakeParam(params, 'channel_id')
    const channel = state.channels.get(channelId)
    if (channel === undefined) throw Errors.unknownChannel()
    const guild = state.getGuild(channel.guild_id)
    const self = guild?.members.get(bot.userId)
    if (guild === undefined || self === undefined) throw Errors.missingAccess()
    const base = computeBasePermissions(guild, bot.userId, self.roles, guild.roles)
    const perms = computeChannelPermissions(base, guild.id, bot.userId, self.roles, channel.permission_overwrites)
    if (!has(perms, PermissionFlags.VIEW_CHANNEL)) throw Errors.missingAccess()
    if (!has(perms, PermissionFlags.SEND_MESSAGES)) throw Errors.missingPermissions()
    const body = jsonBody(request)
    const errors = validate(CreateMessageBody, body)
    if (errors !== null) throw Errors.invalidFormBody(errors)
    const input = body as CreateMessageInput
    const content = input.content ?? ''
    const embeds = (input.embeds ?? []).map((e) => ({
      type: 'rich',
      ...e,
      ...(e.fields !== undefined ? { fields: e.fields.map((f) => ({ name: f.name, value: f.value, inline: f.inline ?? false })) } : {})
    }))
    if (content.trim() === '' && embeds.length === 0) throw Errors.emptyMessage()
    const message = {
      id: state.ids.next(),
      channel_id: channel.id,
      guild_id: guild.id,
      author_id: bot.userId,
      content,
      embeds,
      timestamp: new Date().toISOString(),
      tokenId: bot.tokenId
    }
    state.messages.push(message)
    return {
      type: 0,
      content,
      mentions: [],
      mention_roles: [],
      attachments: [],
      embeds,
      timestamp: message.timestamp,
      edited_timestamp: null,
      flags: 0,
      components: [],
      id: message.id,
      channel_id: channel.id,
      author: state.apiUser(state.getUser(bot.userId)!),
      pinned: false,
      mention_everyone: false,
      tts: false
    }
  })
}

function auditRoles (sim: SimContext, guild: SimGuild, actorId: string, targetId: string, added: string[], removed: string[], reason: string | null): void {
  const partial = (id: string): { id: string, name: string } => ({ id, name: guild.roles.get(id)?.name ?? '' })
  const changes: Array<{ key: string, new_value: unknown }> = []
  if (added.length > 0) changes.push({ key: '$add', new_value: added.map(partial) })
  if (removed.length > 0) changes.push({ key: '$remove', new_value: removed.map(partial) })
  sim.state.auditLog.push({ id: sim.state.ids.next(), guild_id: guild.id, action_type: 25, user_id: actorId, target_id: targetId, changes, reason, at: Date.now() })
}
