import type { APIRole } from 'discord-api-types/v10'
import type { DiscordBotClient } from '../discord/bot.js'
import {
  DiscordAPIError,
  DiscordAuthenticationError,
  DiscordNotFoundError,
  DiscordPermissionError,
  DiscordTokenInvalidError
} from '../discord/errors/index.js'
import {
  BotMissingPermissionError,
  BotNotInGuildError,
  BotTokenInvalidError,
  DiscordUpstreamError,
  GuildUnknownError
} from '../errors.js'
import type { ChannelFacts } from './channels.js'
import {
  computeBasePermissions,
  hasPermission,
  highestRolePosition,
  Permission,
  PERMISSION_NAMES,
  type BotGuildFacts,
  type GuildRoleFacts
} from './permissions.js'

/*
 * Asks Discord, with one guild's bot token, everything needed to judge the bot there:
 * who the bot is, the guild (owner), its roles and the bot's own member (its roles).
 * Discord's failures become this module's 4xx/502 errors so a route can answer them
 * directly; none of them carries the token (the client never puts it in an error).
 */

/** The calls the inspector needs, so tests and hosts can pass any implementation. */
export type BotApi = Pick<DiscordBotClient, 'getCurrentUser' | 'getGuild' | 'getGuildRoles' | 'getGuildMember' | 'getGuildChannels' | 'createMessage'>

/** Gives the bot API bound to one token (`client.bot(token)` in production). */
export type BotApiFactory = (token: string) => BotApi

export interface BotInspection {
  facts: BotGuildFacts
  guild_name: string
  bot_username: string
  /** Effective guild permissions (owner / ADMINISTRATOR / @everyone + roles). */
  permissions: bigint
  highest_position: number
}

/** Discord JSON codes this module reacts to (docs/opcodes-and-status-codes.mdx). */
export const DiscordCode = Object.freeze({
  UNKNOWN_GUILD: 10004,
  UNKNOWN_MEMBER: 10007,
  UNKNOWN_ROLE: 10011,
  MISSING_ACCESS: 50001,
  MISSING_PERMISSIONS: 50013
})

/** Translates a client error raised while inspecting `guildId` into this module's error. */
export function translateDiscordError (err: unknown, guildId: string): Error {
  if (err instanceof DiscordTokenInvalidError || err instanceof DiscordAuthenticationError) {
    return new BotTokenInvalidError('check the token in the Discord developer portal (Bot → Reset Token)')
  }
  if (err instanceof DiscordNotFoundError) {
    if (err.discordCode === DiscordCode.UNKNOWN_MEMBER) return new BotNotInGuildError(guildId)
    return new GuildUnknownError(guildId)
  }
  if (err instanceof DiscordPermissionError) {
    // 50001 on GET /guilds/{id}: the bot cannot see the guild, which for a bot means it is not in it.
    return new BotNotInGuildError(guildId)
  }
  if (err instanceof DiscordAPIError) {
    const status = err.status === undefined ? err.code : `HTTP ${err.status}`
    return new DiscordUpstreamError(`could not check the bot in guild ${guildId} (${status}); nothing was changed, try again`)
  }
  return err instanceof Error ? err : new Error(String(err))
}

function malformedFacts (guildId: string, what: string): Error {
  return new DiscordUpstreamError(`could not check the bot in guild ${guildId} (Discord sent ${what}); nothing was changed, try again`)
}

/**
 * A role as the checks read it. The client only vouches for the id; a position, flag or bit set
 * of the wrong type would make the hierarchy comparison meaningless (a string position compares
 * as false and would pass a role above the bot), so such an answer is refused as a whole.
 */
function roleFacts (role: APIRole, guildId: string): GuildRoleFacts {
  const { id, name, position, permissions, managed } = role as unknown as Record<string, unknown>
  if (typeof name !== 'string' || !Number.isSafeInteger(position) || typeof permissions !== 'string' || typeof managed !== 'boolean') {
    throw malformedFacts(guildId, `a malformed role ${String(id)}`)
  }
  // The colour is for display only: a missing or odd one shows as none rather than refusing the answer.
  const r = role as unknown as { colors?: { primary_color?: unknown }, color?: unknown }
  const colour = r.colors?.primary_color ?? r.color
  return { id: id as string, name, position: position as number, permissions, managed, color: Number.isSafeInteger(colour) && (colour as number) >= 0 && (colour as number) <= 0xffffff ? colour as number : 0 }
}

/** Fetches the bot's view of the guild. Throws this module's errors (see `translateDiscordError`). */
export async function inspectBot (api: BotApi, guildId: string): Promise<BotInspection> {
  try {
    const me = await api.getCurrentUser()
    const guild = await api.getGuild(guildId, { withCounts: false })
    if (typeof guild.owner_id !== 'string') throw malformedFacts(guildId, 'a guild without owner_id')
    const [roles, member] = await Promise.all([api.getGuildRoles(guildId), api.getGuildMember(guildId, me.id)])
    const facts: BotGuildFacts = {
      guild_id: guildId,
      owner_id: guild.owner_id,
      bot_user_id: me.id,
      member_role_ids: [...member.roles],
      roles: roles.map((r) => roleFacts(r, guildId))
    }
    return {
      facts,
      guild_name: guild.name,
      bot_username: me.username,
      permissions: computeBasePermissions(facts),
      highest_position: highestRolePosition(facts)
    }
  } catch (err) {
    throw translateDiscordError(err, guildId)
  }
}

/** The guild's channels as the bot lists them. Throws this module's errors (see `translateDiscordError`). */
export async function listChannels (api: BotApi, guildId: string): Promise<ChannelFacts[]> {
  try {
    return await api.getGuildChannels(guildId)
  } catch (err) {
    throw translateDiscordError(err, guildId)
  }
}

/** The message the seed's troubleshooting example shows for a bot without Manage Roles. */
export const MISSING_MANAGE_ROLES = `Bot missing ${PERMISSION_NAMES.MANAGE_ROLES} permission`

/** Refuses a bot that cannot manage roles: it could never do this module's job. */
export function requireManageRoles (inspection: BotInspection): void {
  if (!hasPermission(inspection.permissions, Permission.MANAGE_ROLES)) {
    throw new BotMissingPermissionError(
      `${MISSING_MANAGE_ROLES} in guild ${inspection.facts.guild_id}: grant the bot's role "${PERMISSION_NAMES.MANAGE_ROLES}" (or Administrator) and try again`
    )
  }
}

/** What join on link needs (docs/guild.mdx "Add Guild Member": the bot must have CREATE_INSTANT_INVITE). */
export const MISSING_CREATE_INVITE = `Bot missing ${PERMISSION_NAMES.CREATE_INSTANT_INVITE} (CREATE_INSTANT_INVITE) permission, needed by settings.auto_join`

/** Refuses auto_join for a bot that could not add anyone: Discord would refuse every join. */
export function requireCreateInvite (inspection: BotInspection): void {
  if (!hasPermission(inspection.permissions, Permission.CREATE_INSTANT_INVITE)) {
    throw new BotMissingPermissionError(
      `${MISSING_CREATE_INVITE} in guild ${inspection.facts.guild_id}: grant the bot's role "${PERMISSION_NAMES.CREATE_INSTANT_INVITE}" (or Administrator), or turn auto_join off`
    )
  }
}
