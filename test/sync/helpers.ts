import { vi } from 'vitest'
import type { FastifyDiscordSyncOptions } from '../../src/index.js'
import type { CreateRoleMappingInput, GuildSettings, RoleMappingRecord } from '../../src/store/port/index.js'
import { PermissionFlags, type DiscordSimulator, type SimulatorOptions } from '../../src/testing/index.js'
import { ADMIN, buildWorld, type World } from '../helpers/world.js'

/*
 * Seed data of the sync suites (the world is test/helpers/world.ts): a Discord simulator on
 * 127.0.0.1 seeded with two guilds, and a host app listening on 127.0.0.1 whose plugin talks to
 * it over HTTP. Tests drive the app with real HTTP requests (fetch) and inspect the simulator's
 * state and request log.
 */

export { ADMIN }
export const BOT_TOKEN = 'MTEwMDAwMDAwMDAwMDAwMDAwMQ.Gsync1.sync-suite-bot-token-value'
/** A second bot, member of the second guild only (tests that need one guild's token to fail alone). */
export const BOT2_TOKEN = 'MTEwMDAwMDAwMDAwMDAwMDAwMw.Gsync2.sync-suite-second-bot-token'

export const IDS = {
  bot: '1100000000000000001',
  bot2: '1100000000000000003',
  bot2Role: '1220000000000000003',
  owner: '1100000000000000002',
  g1: '1200000000000000001',
  g2: '1200000000000000002',
  botRole: '1210000000000000001',
  pilot: '1210000000000000002',
  corp: '1210000000000000003',
  inactive: '1210000000000000004',
  admins: '1210000000000000005',
  booster: '1210000000000000006',
  hand: '1210000000000000007',
  cadet: '1210000000000000008',
  officer: '1210000000000000009',
  botRole2: '1220000000000000001',
  pilot2: '1220000000000000002',
  channel: '1300000000000000001',
  alice: '1400000000000000001',
  bob: '1400000000000000002',
  carol: '1400000000000000003',
  dave: '1400000000000000004',
  erin: '1400000000000000005'
} as const

export const HOST = { alice: 'user-alice', bob: 'user-bob', carol: 'user-carol', erin: 'user-erin' } as const

export function seedSimulator (sim: DiscordSimulator): void {
  const s = sim.state
  // The bot belongs to the OAuth application, as Add Guild Member (join on link) requires.
  s.addBot({ token: BOT_TOKEN, user: { id: IDS.bot, username: 'syncbot' }, applicationId: OAUTH_APP.clientId })
  s.addUser({ id: IDS.owner, username: 'owner' })
  for (const id of [IDS.alice, IDS.bob, IDS.carol, IDS.dave, IDS.erin]) s.addUser({ id })
  s.addGuild({ id: IDS.g1, name: 'Alpha Guild', owner_id: IDS.owner })
  const botPerms = PermissionFlags.MANAGE_ROLES | PermissionFlags.VIEW_CHANNEL | PermissionFlags.SEND_MESSAGES
  s.addRole(IDS.g1, { id: IDS.botRole, name: 'syncbot', position: 10, permissions: botPerms })
  s.addRole(IDS.g1, { id: IDS.pilot, name: 'EVE Pilot', position: 5 })
  s.addRole(IDS.g1, { id: IDS.corp, name: 'Corporation Member', position: 4 })
  s.addRole(IDS.g1, { id: IDS.inactive, name: 'Inactive', position: 3 })
  s.addRole(IDS.g1, { id: IDS.admins, name: 'Admins', position: 20 })
  s.addRole(IDS.g1, { id: IDS.booster, name: 'Server Booster', position: 2, managed: true })
  s.addRole(IDS.g1, { id: IDS.hand, name: 'Hand Picked', position: 1 })
  s.addRole(IDS.g1, { id: IDS.cadet, name: 'Cadet', position: 6 })
  s.addRole(IDS.g1, { id: IDS.officer, name: 'Officer', position: 7 })
  s.addMember(IDS.g1, IDS.bot, [IDS.botRole])
  s.addMember(IDS.g1, IDS.owner)
  s.addChannel({ id: IDS.channel, guild_id: IDS.g1, name: 'sync-audit' })

  s.addGuild({ id: IDS.g2, name: 'Beta Guild', owner_id: IDS.owner })
  s.addRole(IDS.g2, { id: IDS.botRole2, name: 'syncbot', position: 10, permissions: botPerms })
  s.addRole(IDS.g2, { id: IDS.pilot2, name: 'Pilot', position: 5 })
  s.addMember(IDS.g2, IDS.bot, [IDS.botRole2])
  s.addBot({ token: BOT2_TOKEN, user: { id: IDS.bot2, username: 'syncbot2' } })
  s.addRole(IDS.g2, { id: IDS.bot2Role, name: 'syncbot2', position: 11, permissions: botPerms })
  s.addMember(IDS.g2, IDS.bot2, [IDS.bot2Role])
}

/** The sync suites' world, with the sync seed's own setters. */
export interface SyncWorld extends World {
  /** Configures a guild (with the bot token) straight in the store. */
  guild: (guildId: string, name: string, settings?: Partial<GuildSettings>, token?: string) => Promise<void>
  mapping: (input: Omit<CreateRoleMappingInput, 'guild_id'> & { guild_id?: string }) => Promise<RoleMappingRecord>
  /** Links a Discord account to a host user. */
  link: (hostUserId: string, discordUserId: string, guildIds?: string[]) => Promise<void>
}

export interface SyncWorldOptions {
  simulator?: SimulatorOptions
  plugin?: Partial<FastifyDiscordSyncOptions>
  /** Register the plugin without a membership provider. */
  noMembership?: boolean
  /** Reuse a seeded simulator (e.g. a restarted instance); it is closed with this world. */
  sim?: DiscordSimulator
  /** Configure a Discord OAuth application (registered in the simulator) so the link/unlink routes work. */
  oauth?: boolean
  /** Log everything (trace) into this array of lines. */
  logLines?: string[]
}

export const OAUTH_APP = {
  clientId: '1900000000000000001',
  clientSecret: 'sync-suite-client-secret-0123456789',
  redirectUri: 'http://127.0.0.1:3999/discord/auth/callback'
}

/** The world the sync suites run in: listening, seeded, sessions as ADMIN unless told, the engine's schedule off. */
export async function buildSyncWorld (options: SyncWorldOptions = {}): Promise<SyncWorld> {
  const w = await buildWorld({
    sim: options.sim ?? options.simulator ?? {},
    closeSim: true,
    seed: seedSimulator,
    ...(options.oauth === true ? { oauth: OAUTH_APP } : {}),
    membership: options.noMembership !== true,
    ...(options.logLines === undefined ? {} : { logs: options.logLines }),
    listen: true,
    defaultAs: ADMIN,
    plugin: {
      healthCheck: { enabled: false },
      rateLimit: false,
      ...options.plugin,
      sync: { enabled: false, heartbeatInterval: '1s', ...options.plugin?.sync }
    }
  })
  const store = w.store
  return {
    ...w,
    async guild (guildId, name, settings = {}, token = BOT_TOKEN) {
      await store.createGuild({ guild_id: guildId, guild_name: name, bot_token: token, bot_user_id: token === BOT2_TOKEN ? IDS.bot2 : IDS.bot, settings })
    },
    async mapping (input) {
      return await store.createMapping({ guild_id: IDS.g1, ...input })
    },
    async link (hostUserId, discordUserId, guildIds = [IDS.g1]) {
      await store.createUser({
        user_id: hostUserId,
        discord_user_id: discordUserId,
        username: `u${discordUserId.slice(-4)}`,
        guilds: guildIds.map((id) => ({ id, name: id, permissions: '0' }))
      })
    }
  }
}

/** Route templates of member writes, as the simulator records them. */
export const WRITE_ROUTES = new Set([
  'PATCH /guilds/:guild_id/members/:user_id',
  'PUT /guilds/:guild_id/members/:user_id/roles/:role_id',
  'DELETE /guilds/:guild_id/members/:user_id/roles/:role_id',
  'DELETE /guilds/:guild_id/members/:user_id'
])

export function isWrite (r: { route: string | null }): boolean {
  return r.route !== null && WRITE_ROUTES.has(r.route)
}

/**
 * The smallest world with something to do: guild 1 configured with a Pilot mapping, and Alice,
 * linked and in the pilots group, a member without the role.
 */
export async function aliceNeedsPilot (w: SyncWorld): Promise<SyncWorld> {
  await w.guild(IDS.g1, 'Alpha Guild')
  await w.mapping({ group_id: 'pilots', discord_role_id: IDS.pilot })
  w.sim.state.addMember(IDS.g1, IDS.alice)
  await w.link(HOST.alice, IDS.alice)
  w.membership.set(HOST.alice, ['pilots'])
  return w
}

/**
 * Waits until `what` gives a value (not null or undefined) and returns it; throws after
 * `timeoutMs`. For state that announces no event (a store row, a counter): vitest re-checks it.
 */
export async function until<T> (what: () => Promise<T | null | undefined>, timeoutMs = 5_000): Promise<T> {
  let value: T | undefined
  await vi.waitUntil(async () => {
    const v = await what()
    if (v === null || v === undefined) return false
    value = v
    return true
  }, { timeout: timeoutMs, interval: 20 })
  return value as T
}
