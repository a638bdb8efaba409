import type { SimulatorState } from '../state/simulator-state.js'
import type { SimGuild, SimMember } from '../state/types.js'
import { guildCreateData } from './payloads.js'
import type { GatewaySession } from './session.js'

/*
 * Turns the state's change announcements into dispatches: each goes to every session whose bot
 * is in the guild, whose intents cover the event and whose shard owns the guild. The bot's own
 * joins and removals become GUILD_CREATE / GUILD_DELETE for its sessions.
 */

/** Builds `d` once per change, only if some session wants it. */
function lazy<T> (build: () => T): () => T {
  let value: T | undefined
  let built = false
  return () => {
    if (!built) {
      value = build()
      built = true
    }
    return value as T
  }
}

export function subscribeDispatches (state: SimulatorState, sessions: () => Iterable<GatewaySession>): () => void {
  const send = (guild: SimGuild, t: string, d: () => unknown, filter: (s: GatewaySession) => boolean = () => true): void => {
    for (const session of sessions()) {
      if (!guild.members.has(session.bot.userId) || !filter(session) || !session.wants(t, guild.id)) continue
      session.dispatch(t, d())
    }
  }
  const memberData = (guildId: string, member: SimMember) => lazy(() => ({ ...state.apiMember(member), guild_id: guildId }))

  const memberUpdate = (guildId: string, member: SimMember): void => {
    const guild = state.getGuild(guildId)
    if (guild === undefined) return
    const d = memberData(guildId, member)
    for (const session of sessions()) {
      if (!guild.members.has(session.bot.userId)) continue
      // docs/gateway.mdx "Caveats": sent for the current user's own updates whatever the intents.
      const own = session.bot.userId === member.userId && session.routes(guild.id)
      if (own || session.wants('GUILD_MEMBER_UPDATE', guild.id)) session.dispatch('GUILD_MEMBER_UPDATE', d())
    }
  }

  const unsubscribers = [
    state.events.on('memberAdd', ({ guildId, member, replaced }) => {
      if (replaced) {
        memberUpdate(guildId, member)
        return
      }
      const guild = state.getGuild(guildId)
      if (guild === undefined) return
      for (const session of sessions()) {
        // docs/gateway-events.mdx "Guild Create", scenario 3: "When the current user joins a new Guild".
        if (session.bot.userId === member.userId && session.wants('GUILD_CREATE', guildId)) {
          session.dispatch('GUILD_CREATE', guildCreateData(state, guild, session.bot, session.intents, session.largeThreshold))
        }
      }
      send(guild, 'GUILD_MEMBER_ADD', memberData(guildId, member), (s) => s.bot.userId !== member.userId)
    }),
    state.events.on('memberUpdate', ({ guildId, member }) => memberUpdate(guildId, member)),
    state.events.on('memberRemove', ({ guildId, userId }) => {
      const guild = state.getGuild(guildId)
      if (guild === undefined) return
      for (const session of sessions()) {
        // "Guild Delete": without `unavailable`, the bot was removed from the guild.
        if (session.bot.userId === userId && session.wants('GUILD_DELETE', guildId)) session.dispatch('GUILD_DELETE', { id: guildId })
      }
      const user = state.getUser(userId)
      send(guild, 'GUILD_MEMBER_REMOVE', lazy(() => ({ guild_id: guildId, user: user === undefined ? { id: userId } : state.apiUser(user) })))
    }),
    state.events.on('roleCreate', ({ guildId, role }) => {
      const guild = state.getGuild(guildId)
      if (guild !== undefined) send(guild, 'GUILD_ROLE_CREATE', lazy(() => ({ guild_id: guildId, role: state.apiRole(role) })))
    }),
    state.events.on('roleUpdate', ({ guildId, role }) => {
      const guild = state.getGuild(guildId)
      if (guild !== undefined) send(guild, 'GUILD_ROLE_UPDATE', lazy(() => ({ guild_id: guildId, role: state.apiRole(role) })))
    }),
    state.events.on('roleDelete', ({ guildId, roleId }) => {
      const guild = state.getGuild(guildId)
      if (guild !== undefined) send(guild, 'GUILD_ROLE_DELETE', lazy(() => ({ guild_id: guildId, role_id: roleId })))
    })
  ]
  return () => { for (const off of unsubscribers) off() }
}
