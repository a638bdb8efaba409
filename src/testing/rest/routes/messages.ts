import type { SimContext } from '../../context.js'
import { computeBasePermissions, computeChannelPermissions, has, PermissionFlags } from '../../permissions.js'
import { Errors } from '../errors.js'
import type { ApiRouter } from '../request.js'
import { CreateMessageBody, validate, type CreateMessageInput } from '../schemas.js'
import { botOf, jsonBody, snowflakeParam, type Params } from './params.js'

/* Bot-token message posting: Create Message, what the product uses for its audit channel. */

export function registerMessageRoutes (sim: SimContext, router: ApiRouter): void {
  const { state } = sim

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
    state.addMessage(message)
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
