import { REST } from '@discordjs/rest'
import { WebSocketManager, WebSocketShardEvents, type SessionInfo } from '@discordjs/ws'
import { GatewayIntentBits, type GatewayDispatchPayload } from 'discord-api-types/v10'
import { afterEach, describe, expect, it } from 'vitest'
import { createDiscordSimulator, type DiscordSimulator } from '../../src/testing/index.js'
import { BOT_TOKEN, IDS, seedWorld } from './seed.js'

/*
 * Fidelity check: @discordjs/ws, a Gateway client written against the real Discord, finds the
 * simulator's Gateway through GET /gateway/bot, identifies, heartbeats, and resumes or
 * re-identifies after the simulator's disturbances, receiving every change.
 */

const sims: DiscordSimulator[] = []
const managers: WebSocketManager[] = []

afterEach(async () => {
  for (const m of managers.splice(0)) await m.destroy()
  for (const sim of sims.splice(0)) {
    expect(sim.internalErrors).toEqual([])
    await sim.close()
  }
})

/** Resolves with the first event of `name` on `manager` that `match` accepts. */
async function once<T extends unknown[]> (manager: WebSocketManager, name: WebSocketShardEvents, match: (...args: T) => boolean = () => true): Promise<T> {
  return new Promise((resolve) => {
    const listener = (...args: unknown[]): void => {
      if (!match(...args as T)) return
      manager.off(name, listener as never)
      resolve(args as T)
    }
    manager.on(name, listener as never)
  })
}

const dispatch = async (manager: WebSocketManager, t: string): Promise<GatewayDispatchPayload> =>
  (await once<[GatewayDispatchPayload, number]>(manager, WebSocketShardEvents.Dispatch, (p) => p.t === t))[0]

describe('@discordjs/ws against the simulator', () => {
  it('connects, receives member updates, resumes after a drop and a RECONNECT, re-identifies after a refused resume', async () => {
    const sim = await createDiscordSimulator({ rateLimits: { enabled: false }, gateway: { heartbeatIntervalMs: 1000 } })
    sims.push(sim)
    seedWorld(sim)
    const rest = new REST({ api: `${sim.url}/api`, version: '10' }).setToken(BOT_TOKEN)
    // A session store of its own: the library's default store is module-wide and would leak between tests.
    const store = new Map<number, SessionInfo>()
    const manager = new WebSocketManager({
      token: BOT_TOKEN,
      intents: GatewayIntentBits.Guilds | GatewayIntentBits.GuildMembers,
      rest,
      retrieveSessionInfo: (id) => store.get(id) ?? null,
      updateSessionInfo: (id, info) => { if (info === null) store.delete(id); else store.set(id, info) }
    })
    managers.push(manager)

    const ready = once<[{ session_id: string }, number]>(manager, WebSocketShardEvents.Ready)
    const guildCreate = dispatch(manager, 'GUILD_CREATE')
    await manager.connect()
    const sessionId = (await ready)[0].session_id
    expect((await guildCreate).d).toMatchObject({ id: IDS.guild })
    await once(manager, WebSocketShardEvents.HeartbeatComplete)

    // A REST write through the simulator arrives as GUILD_MEMBER_UPDATE.
    const update = dispatch(manager, 'GUILD_MEMBER_UPDATE')
    await rest.put(`/guilds/${IDS.guild}/members/${IDS.bob}/roles/${IDS.roleA}`)
    expect((await update).d).toMatchObject({ guild_id: IDS.guild, roles: [IDS.roleA], user: { id: IDS.bob } })

    // Dropped socket: the library resumes the same session and gets what happened meanwhile.
    const resumed = once(manager, WebSocketShardEvents.Resumed)
    const missed = dispatch(manager, 'GUILD_MEMBER_REMOVE')
    sim.gateway.dropConnection()
    sim.state.removeMember(IDS.guild, IDS.bob)
    await resumed
    expect((await missed).d).toMatchObject({ guild_id: IDS.guild, user: { id: IDS.bob } })
    expect(sim.gateway.sessions().map((s) => s.sessionId)).toEqual([sessionId])

    // op 7 RECONNECT: resume again.
    const resumedAgain = once(manager, WebSocketShardEvents.Resumed)
    sim.gateway.requestReconnect()
    await resumedAgain

    // A refused resume: op 9 d:false, and the library starts a new session.
    sim.gateway.refuseResumes()
    const fresh = once<[{ session_id: string }, number]>(manager, WebSocketShardEvents.Ready)
    sim.gateway.dropConnection()
    const freshId = (await fresh)[0].session_id
    expect(freshId).not.toBe(sessionId)
    expect(sim.gateway.sessions().map((s) => s.sessionId)).toEqual([freshId])
  })
})
