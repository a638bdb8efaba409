import type { SimContext } from '../../context.js'
import { computeBasePermissions, has, highestPosition, PermissionFlags, roleEditDenial } from '../../permissions.js'
import { Errors, formErrors } from '../errors.js'
import type { ApiRouter } from '../request.js'
import { AddMemberBody, validate, type AddMemberInput } from '../schemas.js'
import { botOf, guildForBot, jsonBody, snowflakeParam, type Params } from './params.js'

/*
 * docs/guild.mdx "Add Guild Member": a bot adds a user who granted its application `guilds.join`,
 * with the user's access token in the body. Check order: path (50035) -> guild / bot member
 * (10004 / 50001) -> body (50035) -> the token: live, of the bot's own application and of the
 * user in the path (50025), with `guilds.join` (50001) -> CREATE_INSTANT_INVITE (50013) ->
 * already a member: 204, nothing applied -> roles exist (10011) and are the bot's to give, a
 * nickname needs MANAGE_NICKNAMES (50013) -> the user's guild limit (30001) -> 201 with the
 * member, roles and nickname applied in one step (one GUILD_MEMBER_ADD, no separate update).
 * The docs give no status for a bad token in the body; 50025 ("Invalid OAuth2 access token
 * provided") is answered with 403, not 401: the request's own credential, the bot token, is good,
 * and a 401 would tell the client to stop using it.
 */

export function registerJoinRoutes (sim: SimContext, router: ApiRouter): void {
  const { state } = sim

  router.route({ route: 'PUT /guilds/:guild_id/members/:user_id', auth: 'bot', major: 'guild_id' }, async (request, reply, ctx) => {
    const bot = botOf(ctx)
    const params = request.params as Params
    const { guild, self } = guildForBot(sim, params, bot)
    const userId = snowflakeParam(params, 'user_id')
    const raw = jsonBody(request)
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
      throw Errors.invalidFormBody(formErrors([{ path: [], code: 'DICT_TYPE_CONVERT', message: 'Only dictionaries may be used in a DictType' }]))
    }
    const body = { ...(raw as Record<string, unknown>) }
    for (const k of ['nick', 'roles', 'mute', 'deaf', 'flags']) if (body[k] === null) delete body[k]
    const unsupported = ['mute', 'deaf', 'flags'].filter((k) => body[k] !== undefined)
    if (unsupported.length > 0) {
      throw Errors.invalidFormBody(formErrors(unsupported.map((k) => ({ path: [k], code: 'SIMULATOR_UNSUPPORTED', message: `The simulator does not model "${k}".` }))))
    }
    const errors = validate(AddMemberBody, body)
    if (errors !== null) throw Errors.invalidFormBody(errors)
    const input = body as AddMemberInput

    const token = state.findAccessToken(input.access_token)
    const grant = token?.authorization
    if (grant === undefined || grant.clientId !== bot.applicationId || grant.userId !== userId) throw Errors.invalidOAuthToken()
    if (!grant.scopes.includes('guilds.join')) throw Errors.missingAccess()
    const perms = computeBasePermissions(guild, bot.userId, self.roles, guild.roles)
    if (!has(perms, PermissionFlags.CREATE_INSTANT_INVITE)) throw Errors.missingPermissions()
    if (guild.members.has(userId)) return await reply.code(204).send()

    const roles = (input.roles ?? []).filter((id) => id !== guild.id)
    for (const id of roles) if (!guild.roles.has(id)) throw Errors.unknownRole()
    for (const id of roles) {
      if (roleEditDenial(guild, bot.userId, self.roles, guild.roles.get(id)!, guild.roles) !== null) throw Errors.missingPermissions()
    }
    if (input.nick !== undefined) {
      // A new member holds only the roles given here, so the hierarchy is judged on those.
      const outranked = guild.owner_id === bot.userId || (userId !== guild.owner_id && highestPosition(roles, guild.roles) < highestPosition(self.roles, guild.roles))
      if (!has(perms, PermissionFlags.MANAGE_NICKNAMES) || !outranked) throw Errors.missingPermissions()
    }
    let joined = 0
    for (const g of state.guilds.values()) if (g.members.has(userId)) joined++
    if (joined >= state.userGuildLimit) throw Errors.maxGuilds()

    const member = state.addMember(guild.id, userId, roles, input.nick === undefined ? {} : { nick: input.nick })
    return await reply.code(201).send(state.apiMember(member))
  })
}
