import {
  computeChannelPermissions,
  hasPermission,
  Permission,
  PERMISSION_NAMES,
  type BotGuildFacts,
  type OverwriteFacts
} from './permissions.js'

/*
 * Whether the bot can post in a channel a guild setting names (audit_channel_id,
 * notification_channel_id). Posting there happens later, in a sync run or a health check,
 * where a wrong id only shows up as a log line; checking at write time tells the admin while
 * they are looking. Pure: the caller lists the guild's channels with the bot's token.
 */

/** Guild channel types that take messages (openapi.json ChannelTypes: GUILD_TEXT 0, GUILD_ANNOUNCEMENT 5). */
export const TEXT_CHANNEL_TYPES: ReadonlySet<number> = new Set([0, 5])

/** Names of the other guild channel types (openapi.json ChannelTypes), for messages. */
const OTHER_CHANNEL_TYPES: Readonly<Record<number, string>> = { 2: 'voice', 4: 'category', 13: 'stage', 14: 'directory', 15: 'forum' }

/** A channel as GET /guilds/{guild.id}/channels returns it, reduced to what the check reads. */
export interface ChannelFacts {
  id: string
  type?: unknown
  name?: unknown
  permission_overwrites?: unknown
}

export type ChannelDenial = 'channel_not_found' | 'channel_not_text' | 'channel_no_view' | 'channel_no_send'

export interface ChannelVerdict {
  denial: ChannelDenial | null
  message: string
}

/** Overwrites as sent, keeping only well-formed entries (a malformed one cannot be applied as Discord would). */
function overwritesOf (channel: ChannelFacts): OverwriteFacts[] {
  if (!Array.isArray(channel.permission_overwrites)) return []
  return channel.permission_overwrites.filter((o): o is OverwriteFacts =>
    typeof o === 'object' && o !== null && typeof o.id === 'string' && typeof o.allow === 'string' && typeof o.deny === 'string')
}

/**
 * The first reason the bot cannot post in `channelId`, or null. `setting` names the field in
 * the message so the admin knows which id to fix.
 */
export function checkPostableChannel (facts: BotGuildFacts, channels: readonly ChannelFacts[], channelId: string, setting: string): ChannelVerdict {
  const channel = channels.find((c) => c.id === channelId)
  if (channel === undefined) {
    return {
      denial: 'channel_not_found',
      message: `${setting}: channel ${channelId} is not a channel of guild ${facts.guild_id} that the bot can list; copy the id from the channel itself (Copy Channel ID)`
    }
  }
  const label = typeof channel.name === 'string' ? `"#${channel.name}" (${channel.id})` : channel.id
  const type = typeof channel.type === 'number' ? channel.type : -1
  if (!TEXT_CHANNEL_TYPES.has(type)) {
    const kind = OTHER_CHANNEL_TYPES[type] ?? `type ${String(channel.type)}`
    return { denial: 'channel_not_text', message: `${setting}: channel ${label} is a ${kind} channel; the bot posts only in text or announcement channels` }
  }
  const permissions = computeChannelPermissions(facts, overwritesOf(channel))
  if (!hasPermission(permissions, Permission.VIEW_CHANNEL)) {
    return { denial: 'channel_no_view', message: `${setting}: the bot cannot see channel ${label}; allow its role ${PERMISSION_NAMES.VIEW_CHANNEL} there` }
  }
  if (!hasPermission(permissions, Permission.SEND_MESSAGES)) {
    return { denial: 'channel_no_send', message: `${setting}: the bot cannot post in channel ${label}; allow its role ${PERMISSION_NAMES.SEND_MESSAGES} there` }
  }
  return { denial: null, message: 'postable' }
}
