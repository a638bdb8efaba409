import type { SimContext } from '../../context.js'
import { compareSnowflakes } from '../../snowflake.js'
import type { SimMember } from '../../state/types.js'
import { Errors } from '../errors.js'
import type { ApiRouter } from '../request.js'
import { booleanQuery, botOf, guildForBot, integerQuery, memberOf, snowflakeQuery, type Params } from './params.js'

/*
 * Bot-token reads of a guild (docs/guild.mdx): the guild, its roles, channels and members.
 * Check order: path syntax (50035) -> guild exists (10004) -> bot is a member (50001) -> target
 * member exists (10007).
 */

export function registerGuildRoutes (sim: SimContext, router: ApiRouter): void {
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
}
