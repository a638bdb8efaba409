import { afterEach, expect, vi } from 'vitest'
import { createDiscordSimulator, PermissionFlags, type DiscordSimulator, type SimulatorOptions } from '../../src/testing/index.js'

/* A small, realistic world shared by the simulator's own tests. Ids are 19-digit snowflakes. */

export const BOT_TOKEN = 'MTEwMDAwMDAwMDAwMDAwMDAwMQ.simulated.bot-token-for-tests'
export const OTHER_BOT_TOKEN = 'MTEwMDAwMDAwMDAwMDAwMDAwOQ.simulated.other-bot-token'
export const IDS = {
  bot: '1100000000000000001',
  otherBot: '1100000000000000009',
  owner: '1100000000000000002',
  alice: '1100000000000000003',
  bob: '1100000000000000004',
  app: '1100000000000000001',
  guild: '1200000000000000001',
  guild2: '1200000000000000002',
  foreignGuild: '1200000000000000003',
  botRole: '1210000000000000001',
  roleA: '1210000000000000002',
  roleB: '1210000000000000003',
  roleHigh: '1210000000000000004',
  roleManaged: '1210000000000000005',
  roleEqual: '1210000000000000006',
  channel: '1300000000000000001',
  hiddenChannel: '1300000000000000002',
  readOnlyChannel: '1300000000000000003'
} as const

export const OAUTH = {
  clientId: IDS.app,
  clientSecret: 'simulated-client-secret',
  redirectUri: 'http://127.0.0.1:9/callback'
}

export function seedWorld (sim: DiscordSimulator): void {
  const s = sim.state
  s.addBot({ token: BOT_TOKEN, user: { id: IDS.bot, username: 'syncbot' } })
  s.addBot({ token: OTHER_BOT_TOKEN, user: { id: IDS.otherBot, username: 'otherbot' } })
  s.addUser({ id: IDS.owner, username: 'owner' })
  s.addUser({ id: IDS.alice, username: 'alice', global_name: 'Alice', email: 'alice@example.test' })
  s.addUser({ id: IDS.bob, username: 'bob' })
  for (const guildId of [IDS.guild, IDS.guild2]) {
    s.addGuild({ id: guildId, name: guildId === IDS.guild ? 'Sync Test' : 'Second Guild', owner_id: IDS.owner })
    s.addRole(guildId, { id: guildId === IDS.guild ? IDS.botRole : '1220000000000000001', name: 'syncbot', position: 10, permissions: PermissionFlags.MANAGE_ROLES | PermissionFlags.MANAGE_NICKNAMES, managed: false })
  }
  s.addRole(IDS.guild, { id: IDS.roleA, name: 'Members', position: 5 })
  s.addRole(IDS.guild, { id: IDS.roleB, name: 'Staff', position: 4 })
  s.addRole(IDS.guild, { id: IDS.roleHigh, name: 'Admins', position: 20 })
  s.addRole(IDS.guild, { id: IDS.roleManaged, name: 'Server Booster', position: 3, managed: true })
  s.addRole(IDS.guild, { id: IDS.roleEqual, name: 'Peer', position: 10 })
  s.addMember(IDS.guild, IDS.bot, [IDS.botRole])
  s.addMember(IDS.guild, IDS.owner)
  s.addMember(IDS.guild, IDS.alice, [IDS.roleA])
  s.addMember(IDS.guild, IDS.bob)
  s.addMember(IDS.guild2, IDS.bot, ['1220000000000000001'])
  s.addMember(IDS.guild2, IDS.alice)
  s.addGuild({ id: IDS.foreignGuild, name: 'No Bot Here', owner_id: IDS.owner })
  s.addChannel({ id: IDS.channel, guild_id: IDS.guild, name: 'sync-audit' })
  s.addChannel({
    id: IDS.hiddenChannel,
    guild_id: IDS.guild,
    name: 'hidden',
    permission_overwrites: [{ id: IDS.guild, type: 0, allow: '0', deny: PermissionFlags.VIEW_CHANNEL.toString() }]
  })
  s.addChannel({
    id: IDS.readOnlyChannel,
    guild_id: IDS.guild,
    name: 'read-only',
    permission_overwrites: [{ id: IDS.botRole, type: 0, allow: '0', deny: PermissionFlags.SEND_MESSAGES.toString() }]
  })
  s.addOAuthApp({ client_id: OAUTH.clientId, client_secret: OAUTH.clientSecret, redirect_uris: [OAUTH.redirectUri], name: 'Sync App', owner_id: IDS.owner })
}

/**
 * Per-test simulators for a suite: the returned `start(options)` creates and seeds one; after each
 * test, every simulator it started is checked for handler exceptions (each was answered 500) and closed.
 */
export function seededSimulators (): (options?: SimulatorOptions) => Promise<DiscordSimulator> {
  const open: DiscordSimulator[] = []
  afterEach(async () => {
    for (const sim of open.splice(0)) {
      expect(sim.internalErrors).toEqual([])
      await sim.close()
    }
  })
  return async (options = {}) => {
    const sim = await createDiscordSimulator(options)
    open.push(sim)
    seedWorld(sim)
    return sim
  }
}

/** fetch against the simulator's API with a bot token. */
export async function botFetch (sim: DiscordSimulator, method: string, path: string, body?: unknown, headers: Record<string, string> = {}, token = BOT_TOKEN): Promise<Response> {
  return fetch(`${sim.apiBaseUrl}${path}`, {
    method,
    headers: { authorization: `Bot ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {})
  })
}

/** Parses a JSON response body (typed loosely: the tests assert on the shape). */
export async function json (res: Response | Promise<Response>): Promise<any> {
  return (await res).json()
}

/**
 * Puts the simulator's clock (performance.now, which windows, bans and `at` read) and Date (token
 * expiry, X-RateLimit-Reset) under vitest's control, so a test moves time with
 * `vi.advanceTimersByTime` instead of sleeping. Timers stay real: sockets and the server keep working.
 * Call it before creating the simulator (its clock starts at creation); the caller restores real
 * timers after the test (`vi.useRealTimers()`).
 */
export function useSimulatorTime (): void {
  vi.useFakeTimers({ toFake: ['performance', 'Date'] })
}
