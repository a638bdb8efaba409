import { createHash, randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { dirname, join, resolve } from 'node:path'
import type { FastifyInstance } from 'fastify'
import type { FastifyDiscordSyncOptions, MembershipInfo, ResolveUserHook } from '../../src/index.js'
import type { DiscordSimulator } from '../../src/testing/index.js'
import type { StandaloneConfig } from './config.js'
import { JsonFileMembership } from './membership.js'

/*
 * Demo mode: `npm start` without Discord credentials. A Discord simulator runs in this process
 * on an ephemeral loopback port, seeded with one guild, its roles, a bot, an OAuth application
 * and a few hundred members; the plugin is pointed at it and the store is seeded with the guild
 * configuration, two mappings and a crew of linked members whose groups differ from their
 * current Discord roles, so the first dry run already has something to show.
 *
 * Nothing here runs with real credentials: buildStandalone calls startDemo only in demo mode.
 */

/** Fixed ids, so a restart (same SQLite file) finds the same guild, links and audit trail. */
export const DEMO = Object.freeze({
  guildId: '1300000000000000001',
  guildName: 'Falcon Demo Guild',
  ownerId: '1300000000000000009',
  botUserId: '1300000000000000100',
  clientId: '1300000000000000200',
  adminDiscordId: '1300000000000001001',
  adminUserId: 'demo-admin',
  adminPermission: 'discord:admin',
  /** Simulated Discord runs this much faster than real time, so a sync of a few dozen changes takes seconds. */
  timeScale: 10,
  /** Anonymous members besides the named crew. */
  extraMembers: 300,
  /** Of those, how many hold the hand-assigned "Recruit" role (mapping it trips the safety brake). */
  recruits: 200,
  /** Of those, how many hold "Member" without being linked (the first sync removes it). */
  strayMembers: 8
})

/** How much history the demo's simulator keeps (see src/testing/retention.ts for the defaults). */
export const DEMO_RETENTION = Object.freeze({ requestLogLimit: 500, auditLogLimit: 500, messageLimit: 200, endedAuthorizationsLimit: 100 })

/** The demo guild's roles, lowest first. Positions leave the bot's role above every role it manages. */
export const DEMO_ROLES = Object.freeze({
  recruit: { id: '1300000000000000301', name: 'Recruit', position: 1 },
  member: { id: '1300000000000000302', name: 'Member', position: 2 },
  pilot: { id: '1300000000000000303', name: 'Pilot', position: 3 },
  officer: { id: '1300000000000000304', name: 'Officer', position: 4 },
  veteran: { id: '1300000000000000305', name: 'Veteran', position: 5 },
  booster: { id: '1300000000000000306', name: 'Server Booster', position: 6 },
  bot: { id: '1300000000000000307', name: 'Falcon Sync', position: 7 },
  moderator: { id: '1300000000000000308', name: 'Moderator', position: 8 },
  admin: { id: '1300000000000000309', name: 'Admin', position: 9 }
})

type RoleKey = keyof typeof DEMO_ROLES

interface DemoPerson {
  discordId: string
  username: string
  globalName: string
  /** Host user id (what the membership provider answers for). */
  userId: string
  groups: string[]
  characterCount: number
  permissions: string[]
  /** Discord roles before any sync: chosen to differ from the groups, so a sync visibly changes them. */
  roles: RoleKey[]
  /** Linked at start-up (the crew); the others link by signing in. */
  preLinked: boolean
}

const GROUP_NAMES: Record<string, string> = { members: 'Members', officers: 'Officers', pilots: 'Pilots', recruits: 'Recruits' }

function person (n: number, username: string, globalName: string, groups: string[], roles: RoleKey[], preLinked = true, extra: Partial<DemoPerson> = {}): DemoPerson {
  return { discordId: `13000000000000010${String(n).padStart(2, '0')}`, username, globalName, userId: username, groups, characterCount: groups.length, permissions: [], roles, preLinked, ...extra }
}

/** A stable avatar hash per person (Discord's form: 32 hex digits), so the admin UI has avatar URLs to show. */
function demoAvatar (p: DemoPerson): string {
  return createHash('md5').update(p.username).digest('hex')
}

/** The named people of the demo. The admin and the last two are not linked until they sign in. */
export const DEMO_PEOPLE: readonly DemoPerson[] = Object.freeze([
  person(1, 'demo-admin', 'Demo Admin', ['members', 'officers', 'pilots'], ['member'], false, { userId: DEMO.adminUserId, permissions: [DEMO.adminPermission], characterCount: 3 }),
  person(2, 'alice', 'Alice', ['members', 'pilots'], ['recruit']),
  person(3, 'bob', 'Bob', ['members'], ['member', 'veteran']),
  person(4, 'carol', 'Carol', ['members', 'officers'], ['member']),
  person(5, 'dave', 'Dave', ['pilots'], ['member', 'recruit']),
  person(6, 'erin', 'Erin', ['members', 'pilots'], []),
  person(7, 'frank', 'Frank', [], ['member', 'officer', 'veteran']),
  person(8, 'grace', 'Grace', ['members', 'officers', 'pilots'], ['member', 'officer', 'booster']),
  person(9, 'heidi', 'Heidi', ['members'], ['officer']),
  person(10, 'ivan', 'Ivan', ['members', 'pilots'], ['member']),
  person(11, 'judy', 'Judy', ['officers'], ['member']),
  person(12, 'mallory', 'Mallory', ['members', 'recruits'], ['recruit']),
  person(13, 'oscar', 'Oscar', ['members', 'pilots'], ['recruit'], false),
  person(14, 'peggy', 'Peggy', ['members', 'officers'], ['officer', 'veteran'], false)
])

/** Mappings seeded on a fresh database: the demo starts with something to sync. */
const SEED_MAPPINGS = [
  { group_id: 'members', group_name: 'Members', role: 'member' as const, priority: 1 },
  { group_id: 'officers', group_name: 'Officers', role: 'officer' as const, priority: 1 }
]

export interface DemoInfo {
  /** The simulator behind the demo (its state is the demo's "Discord"). */
  sim: DiscordSimulator
  /** The port the server must listen on (the OAuth redirect URI names it). */
  port: number
  /** Browser-facing base URL of the server, e.g. http://127.0.0.1:3000 */
  baseUrl: string
  adminUiUrl: string
  statusUrl: string
  /** Discord ids of the anonymous members, and of those holding "Recruit". */
  memberIds: string[]
  recruitIds: string[]
  /** The membership file the demo's groups are read from (edit it to change someone's groups). */
  membershipFile: string
}

export interface Demo {
  info: DemoInfo
  /** Plugin options pointing at the simulator (the caller registers the plugin with them). */
  plugin: FastifyDiscordSyncOptions
  /** Seeds the store once the plugin is loaded, and closes the simulator with the server. */
  attach (app: FastifyInstance): void
}

const demos = new WeakMap<FastifyInstance, DemoInfo>()

/** The demo behind a standalone server, or undefined when it runs with real credentials. */
export function demoOf (app: FastifyInstance): DemoInfo | undefined {
  return demos.get(app)
}

async function freePort (host: string): Promise<number> {
  return await new Promise((resolve, reject) => {
    const srv = createServer()
    srv.once('error', reject)
    srv.listen(0, host, () => {
      const address = srv.address()
      const port = typeof address === 'object' && address !== null ? address.port : 0
      srv.close(() => resolve(port))
    })
  })
}

/** The demo people's groups, in the standalone membership file's format ({ users: { id: info } }). */
export function demoMembershipDocument (): { groups: Array<{ id: string, name: string }>, users: Record<string, MembershipInfo> } {
  return {
    // Every demo group, for the admin UI's group picker ("veterans" has no member yet: pick it to see a mapping wait for one).
    groups: [...Object.entries(GROUP_NAMES).map(([id, name]) => ({ id, name })), { id: 'veterans', name: 'Veterans' }],
    users: Object.fromEntries(DEMO_PEOPLE.map((p) => [p.userId, {
      groups: p.groups.map((id) => ({ id, name: GROUP_NAMES[id] ?? id })),
      character_count: p.characterCount,
      permissions: [...p.permissions]
    }]))
  }
}

/** Where the demo keeps its membership file: beside a SQLite database file, else ./data. */
function demoDataDir (config: StandaloneConfig): string {
  const store = config.plugin.store
  return store !== undefined && 'type' in store && store.type === 'sqlite' && typeof store.path === 'string' && store.path !== ':memory:'
    ? dirname(store.path)
    : resolve('data')
}

/**
 * `--reset-demo`: deletes the demo's SQLite database (with its WAL files) and membership file, so
 * this start seeds everything anew: the crew's links, the two mappings, no runs, no audit, and
 * groups as shipped. Demo mode only: with real credentials the same file is a real deployment's
 * data, and this throws instead. Returns the files it deleted.
 */
export function resetDemoFiles (config: StandaloneConfig): string[] {
  if (!config.demo) throw new Error('--reset-demo works in demo mode only (no DISCORD_CLIENT_ID, or DISCORD_DEMO=1): it would delete a real database')
  const store = config.plugin.store
  const db = store !== undefined && 'type' in store && store.type === 'sqlite' && typeof store.path === 'string' && store.path !== ':memory:' ? store.path : null
  const files = [...(db === null ? [] : [db, `${db}-wal`, `${db}-shm`, `${db}-journal`]), join(demoDataDir(config), 'demo-membership.json')]
  const deleted = files.filter((f) => existsSync(f))
  for (const f of deleted) rmSync(f, { force: true })
  return deleted
}

/**
 * The host's side of the demo goes through the standalone server's own provider (a JSON file,
 * see membership.ts): written once beside the database, then read like any MEMBERSHIP_FILE, so
 * editing a person's groups there changes their roles at the next sync. Unknown users have none.
 */
function demoMembership (config: StandaloneConfig): JsonFileMembership {
  const dir = demoDataDir(config)
  const file = join(dir, 'demo-membership.json')
  if (!existsSync(file)) {
    mkdirSync(dir, { recursive: true })
    writeFileSync(file, JSON.stringify(demoMembershipDocument(), null, 2) + '\n')
  }
  return new JsonFileMembership(file)
}

/**
 * Login: a demo person signs in as their host user (the admin with the admin permission); anyone
 * else (an anonymous member picked by id on the consent page) becomes a host user named after the
 * Discord id, with no groups.
 */
const demoResolveUser: ResolveUserHook = (profile, { linkedUserId }) => {
  const known = DEMO_PEOPLE.find((p) => p.discordId === profile.id)
  const id = linkedUserId ?? known?.userId ?? `discord-${profile.id}`
  return { id, permissions: id === DEMO.adminUserId ? [DEMO.adminPermission] : [] }
}

/** Starts the simulator, seeds it, and returns the plugin options that point at it. */
export async function startDemo (config: StandaloneConfig): Promise<Demo> {
  // A wildcard listen address is not something a browser can open: the demo's URLs use loopback.
  const browserHost = ['0.0.0.0', '::', '[::]'].includes(config.host) ? '127.0.0.1' : config.host
  const port = config.port === 0 ? await freePort(config.host) : config.port
  const baseUrl = `http://${browserHost.includes(':') ? `[${browserHost}]` : browserHost}:${port}`
  const redirectUri = `${baseUrl}/api/discord/auth/callback`
  const adminUiUrl = `${baseUrl}/api/discord/admin/`

  // The demo runs unattended for as long as it is left open and nobody reads the simulator's logs
  // in it: small bounds keep its memory flat (request counters still cover every call).
  // The simulator is loaded only here: a real deployment never pays for it at start-up (bench/startup.bench.ts).
  const { createBotToken, createDiscordSimulator, PermissionFlags } = await import('../../src/testing/index.js')
  const sim = await createDiscordSimulator({ timeScale: DEMO.timeScale, ...DEMO_RETENTION })
  const s = sim.state
  // A fresh one per start, known only to this process.
  const botToken = createBotToken(DEMO.botUserId)
  const clientSecret = randomBytes(24).toString('base64url')

  // Named people first: the consent page lists users in this order, the admin on top.
  for (const p of DEMO_PEOPLE) s.addUser({ id: p.discordId, username: p.username, global_name: p.globalName, avatar: demoAvatar(p) })
  s.addUser({ id: DEMO.ownerId, username: 'guild-owner', global_name: 'Guild Owner' })
  s.addBot({ token: botToken, user: { id: DEMO.botUserId, username: 'Falcon Sync' } })
  s.addOAuthApp({ client_id: DEMO.clientId, client_secret: clientSecret, redirect_uris: [redirectUri], name: 'Falcon Sync Demo', owner_id: DEMO.ownerId })

  s.addGuild({ id: DEMO.guildId, name: DEMO.guildName, owner_id: DEMO.ownerId, presenceCount: 120 })
  const R = DEMO_ROLES
  s.addRole(DEMO.guildId, { ...R.recruit, color: 0x95a5a6 })
  s.addRole(DEMO.guildId, { ...R.member, color: 0x3498db })
  s.addRole(DEMO.guildId, { ...R.pilot, color: 0x1abc9c })
  s.addRole(DEMO.guildId, { ...R.officer, color: 0xe67e22, hoist: true })
  s.addRole(DEMO.guildId, { ...R.veteran, color: 0x9b59b6 })
  // Integration-owned (Nitro boosts): nobody can assign it through the API.
  s.addRole(DEMO.guildId, { ...R.booster, color: 0xf47fff, managed: true, tags: { integration_id: '1300000000000000901' } })
  // The bot's own role, as Discord creates it when the bot joins: managed, with Manage Roles.
  s.addRole(DEMO.guildId, { ...R.bot, managed: true, tags: { bot_id: DEMO.botUserId }, permissions: PermissionFlags.MANAGE_ROLES | PermissionFlags.VIEW_CHANNEL | PermissionFlags.SEND_MESSAGES })
  s.addRole(DEMO.guildId, { ...R.moderator, color: 0x2ecc71, hoist: true })
  s.addRole(DEMO.guildId, { ...R.admin, color: 0xe74c3c, permissions: PermissionFlags.ADMINISTRATOR, hoist: true })
  s.addMember(DEMO.guildId, DEMO.ownerId, [R.admin.id])
  s.addMember(DEMO.guildId, DEMO.botUserId, [R.bot.id])
  for (const p of DEMO_PEOPLE) s.addMember(DEMO.guildId, p.discordId, p.roles.map((k) => R[k].id))
  const recruitIds = s.seedMembers(DEMO.guildId, DEMO.recruits, [R.recruit.id])
  const memberIds = [
    ...recruitIds,
    ...s.seedMembers(DEMO.guildId, DEMO.strayMembers, [R.member.id]),
    ...s.seedMembers(DEMO.guildId, DEMO.extraMembers - DEMO.recruits - DEMO.strayMembers)
  ]

  const membership = demoMembership(config)
  const info: DemoInfo = { sim, port, baseUrl, adminUiUrl, statusUrl: `${baseUrl}/api/discord/status`, memberIds, recruitIds, membershipFile: membership.path }
  const plugin: FastifyDiscordSyncOptions = {
    ...config.plugin,
    apiBaseUrl: sim.apiBaseUrl,
    discord: {
      clientId: DEMO.clientId,
      clientSecret,
      redirectUri,
      scopes: ['identify', 'guilds'],
      apiBaseUrl: sim.apiBaseUrl,
      authorizeUrl: `${sim.url}/oauth2/authorize`
    },
    auth: { ...config.plugin.auth, resolveUser: demoResolveUser, adminPermission: DEMO.adminPermission },
    membership,
    // The simulator serves no images: the admin UI's avatars fall back to initials, as offline.
    cdnBaseUrl: `${sim.url}/cdn`,
    adminUi: true
  }

  return {
    info,
    plugin,
    attach (app) {
      demos.set(app, info)
      // Registered before the plugin, so it runs after the plugin's own close hooks (runs finish, then Discord goes away).
      app.addHook('onClose', async () => { await sim.close() })
      app.addHook('onReady', async () => { await seedStore(app, botToken) })
      registerDemoRoutes(app, info, () => seedStore(app, botToken))
    }
  }
}

/**
 * GET /api/discord/demo (public: tells the UI it runs a demo) and POST /api/discord/demo/reset
 * (admin, X-Requested-With): registered in demo mode only, so a real deployment has neither.
 */
function registerDemoRoutes (app: FastifyInstance, info: DemoInfo, seed: () => Promise<void>): void {
  app.get('/api/discord/demo', { schema: { hide: true } }, async () => ({ demo: true }))
  app.post('/api/discord/demo/reset', {
    schema: { hide: true },
    preValidation: async (request) => { await app.discord.auth.requireAdmin(request) }
  }, async (request, reply) => {
    // A cross-site form must not be able to wipe the demo: the same proof the plugin asks of cookie writes.
    const proof = request.headers['x-requested-with']
    if (typeof proof !== 'string' || proof.trim() === '') {
      return await reply.code(403).send({ statusCode: 403, code: 'FST_DISCORD_CSRF_HEADER_REQUIRED', error: 'Forbidden', message: 'Send the X-Requested-With header' })
    }
    if ((await app.discord.sync.engine.status()).sync_in_progress) {
      return await reply.code(409).send({ statusCode: 409, code: 'FST_DISCORD_SYNC_IN_PROGRESS', error: 'Conflict', message: 'A sync is running: reset the demo when it has finished' })
    }
    const { resetRunningDemo } = await import('./demo-reset.js')
    await resetRunningDemo(app, info, seed)
    return { reset: true }
  })
}

/** Guild configuration, mappings and the crew's links. Idempotent: a restart keeps what an admin changed. */
async function seedStore (app: FastifyInstance, botToken: string): Promise<void> {
  const { store } = app.discord
  const { guilds, mappings } = app.discord
  // Both go through the services, so the bot token is proven against the simulator like a real one.
  if (await store.getGuild(DEMO.guildId) === null) {
    // Automatic syncs are off so the first thing an admin sees is a dry run, not changes already made.
    await guilds.create({ guild_id: DEMO.guildId, bot_token: botToken, settings: { auto_sync: false } }, DEMO.adminUserId)
    for (const m of SEED_MAPPINGS) {
      await mappings.create(DEMO.guildId, { group_id: m.group_id, group_name: m.group_name, discord_role_id: DEMO_ROLES[m.role].id, priority: m.priority }, DEMO.adminUserId)
    }
  } else {
    // The simulator issues a new token per start: store it (and re-check the bot) like an admin would.
    await guilds.update(DEMO.guildId, { bot_token: botToken })
  }
  for (const p of DEMO_PEOPLE) {
    if (!p.preLinked || await store.getUserByDiscordId(p.discordId) !== null) continue
    await store.createUser({
      user_id: p.userId,
      discord_user_id: p.discordId,
      username: p.username,
      global_name: p.globalName,
      avatar: demoAvatar(p),
      guilds: [{ id: DEMO.guildId, name: DEMO.guildName, permissions: '0' }]
    })
  }
}

/** The block `npm start` prints in demo mode: where to go, who to sign in as, how to leave the demo. */
export function demoBanner (info: DemoInfo): string {
  const admin = DEMO_PEOPLE[0] as DemoPerson
  return [
    '',
    '  fastify-discord-sync demo: Discord is simulated in this process (nothing reaches discord.com)',
    '',
    `  Admin UI   ${info.adminUiUrl}`,
    `  Sign in    "Sign in with Discord", pick "${admin.globalName}" on the consent page, Authorize`,
    `  Groups     ${info.membershipFile} (edit it; the next sync follows)`,
    '  Start over npx fastify-discord-sync --reset-demo (or npm start -- --reset-demo)',
    '  Real app   set DISCORD_CLIENT_ID, DISCORD_CLIENT_SECRET, DISCORD_REDIRECT_URI,',
    '             DISCORD_ENCRYPTION_KEY and JWT_SECRET (docs/standalone.md)',
    ''
  ].join('\n')
}
