import Fastify, { type FastifyInstance } from 'fastify'
import discordSync, { type FastifyDiscordSyncOptions } from '../../src/index.js'
import type { MembershipInfo, MembershipProvider } from '../../src/sync/index.js'
import type { CreateRoleMappingInput, DiscordStore, GuildSettings, RoleMappingRecord } from '../../src/store/port.js'
import { createDiscordSimulator, DEFAULT_BUCKETS, PermissionFlags, type DiscordSimulator, type SimulatorOptions } from '../../src/testing/index.js'
import { TEST_KEY } from '../helpers/world.js'

/*
 * The sync suites' world: a Discord simulator on 127.0.0.1 seeded with two guilds, and a host
 * app listening on 127.0.0.1 whose plugin talks to the simulator over HTTP. Tests drive the app
 * with real HTTP requests (fetch) and inspect the simulator's state and request log.
 */

export const JWT_SECRET = 'sync-suite-jwt-secret-that-is-long-enough-0123456789'
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

export const ADMIN = { id: 'admin-1', permissions: ['discord:admin'] }

/** An in-memory membership provider whose answers tests change on the fly; counts calls. */
export class TestMembership implements MembershipProvider {
  readonly users = new Map<string, MembershipInfo | null>()
  readonly failing = new Set<string>()
  calls = 0
  /** While set, every answer waits for it: keeps a run in progress for as long as a test needs. */
  gate: Promise<void> | null = null

  /** Holds every answer until the returned function is called. */
  hold (): () => void {
    let release: () => void = () => {}
    this.gate = new Promise<void>((resolve) => { release = resolve })
    return () => {
      this.gate = null
      release()
    }
  }

  set (userId: string, groups: string[], characterCount = 1, permissions: string[] = []): void {
    this.users.set(userId, { groups: groups.map((id) => ({ id, name: `Group ${id}` })), character_count: characterCount, permissions })
  }

  async getMembership (userId: string): Promise<MembershipInfo | null> {
    this.calls++
    if (this.gate !== null) await this.gate
    if (this.failing.has(userId)) throw new Error('host directory unreachable: postgres://secret@db')
    return this.users.get(userId) ?? null
  }
}

export function seedSimulator (sim: DiscordSimulator): void {
  const s = sim.state
  s.addBot({ token: BOT_TOKEN, user: { id: IDS.bot, username: 'syncbot' } })
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

export interface DiscordCall {
  method: string
  route: string | null
  /** Guild (or channel) id the call was about. */
  majorId: string
  status: number
  reason?: string
}

export interface SyncWorld {
  sim: DiscordSimulator
  app: FastifyInstance
  store: DiscordStore
  membership: TestMembership
  baseUrl: string
  /** Real HTTP to the app. `as`: send a session for this user. */
  call: (method: string, path: string, opts?: { as?: { id: string, permissions: string[] } | null, body?: unknown }) => Promise<{ status: number, body: any, text: string, headers: Headers }>
  /** Configures a guild (with the bot token) straight in the store. */
  guild: (guildId: string, name: string, settings?: Partial<GuildSettings>, token?: string) => Promise<void>
  mapping: (input: Omit<CreateRoleMappingInput, 'guild_id'> & { guild_id?: string }) => Promise<RoleMappingRecord>
  /** Links a Discord account to a host user. */
  link: (hostUserId: string, discordUserId: string, guildIds?: string[]) => Promise<void>
  roles: (guildId: string, userId: string) => string[]
  /** Requests the plugin sent to the simulator: method + route template. */
  discordCalls: (filter?: (r: DiscordCall) => boolean) => DiscordCall[]
  close: () => Promise<void>
}

export interface WorldOptions {
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

export async function buildSyncWorld (options: WorldOptions = {}): Promise<SyncWorld> {
  let sim = options.sim
  if (sim === undefined) {
    // Limits off, and generous numbers in the headers too: the client honours X-RateLimit-* even
    // when the simulator does not enforce them, and these suites are about semantics, not pacing.
    const generous = Object.fromEntries(Object.keys(DEFAULT_BUCKETS).map((k) => [k, { limit: 100_000 }]))
    sim = await createDiscordSimulator({ rateLimits: { enabled: false, global: { limit: 100_000 }, buckets: generous }, ...options.simulator })
    seedSimulator(sim)
  }
  const membership = new TestMembership()
  let discord: FastifyDiscordSyncOptions['discord']
  if (options.oauth === true) {
    if (sim.state.getOAuthApp(OAUTH_APP.clientId) === undefined) {
      sim.state.addOAuthApp({ client_id: OAUTH_APP.clientId, client_secret: OAUTH_APP.clientSecret, redirect_uris: [OAUTH_APP.redirectUri], name: 'Falcon' })
    }
    discord = { ...OAUTH_APP, apiBaseUrl: sim.apiBaseUrl, authorizeUrl: `${sim.url}/oauth2/authorize` }
  }
  const lines = options.logLines
  const app = Fastify(lines === undefined
    ? { logger: false }
    : { logger: { level: 'trace', stream: { write: (line: string) => { lines.push(line) } } } })
  await app.register(discordSync, {
    store: { type: 'sqlite', path: ':memory:' },
    encryptionKey: TEST_KEY,
    apiBaseUrl: sim.apiBaseUrl,
    auth: { jwtSecret: JWT_SECRET },
    tokenRefresh: { enabled: false },
    healthCheck: { enabled: false },
    rateLimit: false,
    ...(options.noMembership === true ? {} : { membership }),
    ...(discord === undefined ? {} : { discord }),
    ...options.plugin,
    sync: { enabled: false, heartbeatInterval: '1s', ...options.plugin?.sync }
  })
  const address = await app.listen({ host: '127.0.0.1', port: 0 })
  const store = app.discord.store
  return {
    sim,
    app,
    store,
    membership,
    baseUrl: address,
    async call (method, path, opts = {}) {
      const headers: Record<string, string> = {}
      const as = opts.as === undefined ? ADMIN : opts.as
      if (as !== null) headers.authorization = `Bearer ${app.discord.auth.issue(as).token}`
      if (opts.body !== undefined) headers['content-type'] = 'application/json'
      const res = await fetch(`${address}/discord${path}`, { method, headers, ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}) })
      const text = await res.text()
      let body: unknown = null
      try { body = JSON.parse(text) } catch { body = null }
      return { status: res.status, body, text, headers: res.headers }
    },
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
    },
    roles (guildId, userId) {
      return [...(sim.state.memberRoles(guildId, userId) ?? [])].sort()
    },
    discordCalls (filter) {
      return sim.requests
        .map((r) => ({ method: r.method, route: r.route, majorId: r.majorId, status: r.status, ...(r.reason !== undefined ? { reason: r.reason } : {}) }))
        .filter((r) => filter === undefined || filter(r))
    },
    async close () {
      await app.close()
      await sim.close()
    }
  }
}

/** Route templates of member writes, as the simulator records them. */
export const WRITE_ROUTES = new Set([
  'PATCH /guilds/:guild_id/members/:user_id',
  'PUT /guilds/:guild_id/members/:user_id/roles/:role_id',
  'DELETE /guilds/:guild_id/members/:user_id/roles/:role_id'
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

/** Polls `what` every 20 ms until it gives a value (not null or undefined); throws after `timeoutMs`. */
export async function until<T> (what: () => Promise<T | null | undefined>, timeoutMs = 5_000): Promise<T> {
  const end = Date.now() + timeoutMs
  for (;;) {
    const v = await what()
    if (v !== null && v !== undefined) return v
    if (Date.now() > end) throw new Error('condition not met in time')
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}
