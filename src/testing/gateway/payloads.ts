import type { SimulatorState } from '../state/simulator-state.js'
import type { SimBot, SimGuild } from '../state/types.js'
import { GATEWAY_VERSION, Intent } from './protocol.js'

/*
 * The `d` of the dispatches the simulator sends (docs/gateway-events.mdx), built from the state
 * at the moment of the change so a held or replayed event shows the world as it was then.
 */

/** Guilds the bot is a member of, in id order. */
export function botGuilds (state: SimulatorState, bot: SimBot): SimGuild[] {
  return [...state.guilds.values()].filter((g) => g.members.has(bot.userId))
}

/** "Ready Event Fields"; guilds start out unavailable and arrive as GUILD_CREATE. */
export function readyData (state: SimulatorState, input: { bot: SimBot, guilds: readonly SimGuild[], sessionId: string, resumeUrl: string, shard: [number, number] | null }): Record<string, unknown> {
  const user = state.getUser(input.bot.userId)
  return {
    v: GATEWAY_VERSION,
    user: user === undefined ? null : state.apiUser(user),
    guilds: input.guilds.map((g) => ({ id: g.id, unavailable: true })),
    session_id: input.sessionId,
    resume_gateway_url: input.resumeUrl,
    ...(input.shard !== null ? { shard: input.shard } : {}),
    application: { id: input.bot.applicationId, flags: 0 }
  }
}

/** Above this many members GUILD_CREATE carries only the bot (docs/gateway-events.mdx "Guild Create" warning). */
const MEMBER_LIST_LIMIT = 75_000

/**
 * An available guild: the guild object plus "Guild Create Extra Fields". Without GUILD_PRESENCES
 * (or past 75k members) `members` holds only the bot, as the docs' warning says; with it, every
 * member (the simulator has no presences, so none are offline-filtered).
 */
export function guildCreateData (state: SimulatorState, guild: SimGuild, bot: SimBot, intents: number, largeThreshold: number): Record<string, unknown> {
  const self = guild.members.get(bot.userId)
  const everyone = (intents & Intent.GUILD_PRESENCES) !== 0 && guild.members.size <= MEMBER_LIST_LIMIT
  const members = everyone ? [...guild.members.values()] : self === undefined ? [] : [self]
  return {
    ...state.apiGuild(guild, false),
    joined_at: self?.joined_at ?? new Date().toISOString(),
    large: guild.members.size > largeThreshold,
    unavailable: false,
    member_count: guild.members.size,
    voice_states: [],
    members: members.map((m) => state.apiMember(m)),
    channels: [...state.channels.values()].filter((c) => c.guild_id === guild.id).map((c, position) => ({
      id: c.id,
      type: c.type,
      guild_id: c.guild_id,
      name: c.name,
      position,
      parent_id: null,
      permission_overwrites: c.permission_overwrites.map((o) => ({ id: o.id, type: o.type, allow: o.allow, deny: o.deny }))
    })),
    threads: [],
    presences: [],
    stage_instances: [],
    guild_scheduled_events: [],
    soundboard_sounds: []
  }
}
