import { expect } from 'vitest'
import type { FastifyDiscordSyncOptions } from '../../src/index.js'
import { createDiscordSimulator, PermissionFlags, type DiscordSimulator } from '../../src/testing/index.js'
import type { World, WorldOptions } from '../helpers/world.js'

/*
 * Seed data of the guild / role-mapping / user route suites (the world is test/helpers/world.ts):
 * a simulator seeded with the seed's own ids (guild 123456789012345678, role 987654321098765432
 * "EVE Pilot"), the users they act as, and the secrets no response may carry.
 */

// Bot tokens as Discord shapes them (three dot-separated parts). Each is a distinct secret to hunt for.
export const BOT_TOKEN = 'MTExMTExMTExMTExMTExMTEx.GsyncB.good-bot-token-value-0001'
export const WEAK_TOKEN = 'MTExMTExMTExMTExMTExMTEy.GweakB.weak-bot-token-value-0002'
export const ADMIN_BOT_TOKEN = 'MTExMTExMTExMTExMTExMTEz.GadmnB.admin-bot-token-value-0003'
export const UNKNOWN_TOKEN = 'MTExMTExMTExMTExMTExMTE5.GnoneB.never-issued-token-value-0009'
export const SECRET_VALUES = [BOT_TOKEN, WEAK_TOKEN, ADMIN_BOT_TOKEN, UNKNOWN_TOKEN]

export const IDS = {
  guild: '123456789012345678', // the seed's example guild
  pilotRole: '987654321098765432', // the seed's "EVE Pilot"
  staffRole: '987654321098765433',
  adminsRole: '987654321098765434', // above the bot
  boosterRole: '987654321098765435', // managed
  peerRole: '987654321098765436', // same position as the bot's role
  botRole: '987654321098765401',
  weakRole: '987654321098765402',
  adminBotRole: '987654321098765403',
  bot: '111111111111111111',
  weakBot: '111111111111111112',
  adminBot: '111111111111111113',
  owner: '222222222222222221',
  alice: '222222222222222222',
  bob: '222222222222222223',
  noBotGuild: '123456789012345679', // exists, our bot is not in it
  unknownGuild: '123456789012345670', // does not exist at all
  channel: '333333333333333331', // text, the bot may post
  voiceChannel: '333333333333333332',
  privateChannel: '333333333333333333', // @everyone may not view it, the bot has no exception
  staffChannel: '333333333333333334', // @everyone may not view it, the bot's role may
  readOnlyChannel: '333333333333333335', // the bot's role may not send
  announcementChannel: '333333333333333336',
  foreignChannel: '333333333333333337' // a text channel of noBotGuild
} as const

export const USERS = {
  admin: { id: 'admin-1', permissions: ['discord:admin'] },
  alice: { id: 'user-alice', permissions: [] as string[] },
  bob: { id: 'user-bob', permissions: [] as string[] }
}

export async function startSimulator (): Promise<DiscordSimulator> {
  const sim = await createDiscordSimulator()
  seedRoutes(sim)
  return sim
}

/** The route suites' Discord: three bots of different strength in the seed's guild, its roles and channels. */
export function seedRoutes (sim: DiscordSimulator): void {
  const s = sim.state
  s.addBot({ token: BOT_TOKEN, user: { id: IDS.bot, username: 'syncbot' } })
  s.addBot({ token: WEAK_TOKEN, user: { id: IDS.weakBot, username: 'weakbot' } })
  s.addBot({ token: ADMIN_BOT_TOKEN, user: { id: IDS.adminBot, username: 'adminbot' } })
  s.addGuild({ id: IDS.guild, name: 'My Discord Server', owner_id: IDS.owner })
  s.addRole(IDS.guild, { id: IDS.botRole, name: 'syncbot', position: 10, permissions: PermissionFlags.MANAGE_ROLES | PermissionFlags.VIEW_CHANNEL | PermissionFlags.SEND_MESSAGES })
  s.addRole(IDS.guild, { id: IDS.weakRole, name: 'weakbot', position: 12, permissions: PermissionFlags.VIEW_CHANNEL })
  s.addRole(IDS.guild, { id: IDS.adminBotRole, name: 'adminbot', position: 15, permissions: PermissionFlags.ADMINISTRATOR })
  s.addRole(IDS.guild, { id: IDS.pilotRole, name: 'EVE Pilot', position: 5 })
  s.addRole(IDS.guild, { id: IDS.staffRole, name: 'Staff', position: 4 })
  s.addRole(IDS.guild, { id: IDS.adminsRole, name: 'Admins', position: 20 })
  s.addRole(IDS.guild, { id: IDS.boosterRole, name: 'Server Booster', position: 3, managed: true })
  s.addRole(IDS.guild, { id: IDS.peerRole, name: 'Peer', position: 10 })
  s.addMember(IDS.guild, IDS.bot, [IDS.botRole])
  s.addMember(IDS.guild, IDS.weakBot, [IDS.weakRole])
  s.addMember(IDS.guild, IDS.adminBot, [IDS.adminBotRole])
  s.addMember(IDS.guild, IDS.alice)
  s.addGuild({ id: IDS.noBotGuild, name: 'No Bot Here', owner_id: IDS.owner })
  s.addChannel({ id: IDS.channel, guild_id: IDS.guild, name: 'sync-alerts' })
  const VIEW = PermissionFlags.VIEW_CHANNEL.toString()
  s.addChannel({ id: IDS.voiceChannel, guild_id: IDS.guild, name: 'Lobby', type: 2 })
  s.addChannel({ id: IDS.privateChannel, guild_id: IDS.guild, name: 'officers', permission_overwrites: [{ id: IDS.guild, type: 0, allow: '0', deny: VIEW }] })
  s.addChannel({
    id: IDS.staffChannel,
    guild_id: IDS.guild,
    name: 'bot-log',
    permission_overwrites: [{ id: IDS.guild, type: 0, allow: '0', deny: VIEW }, { id: IDS.botRole, type: 0, allow: VIEW, deny: '0' }]
  })
  s.addChannel({ id: IDS.readOnlyChannel, guild_id: IDS.guild, name: 'rules', permission_overwrites: [{ id: IDS.botRole, type: 0, allow: '0', deny: PermissionFlags.SEND_MESSAGES.toString() }] })
  s.addChannel({ id: IDS.announcementChannel, guild_id: IDS.guild, name: 'news', type: 5 })
  s.addChannel({ id: IDS.foreignChannel, guild_id: IDS.noBotGuild, name: 'general' })
}

/**
 * World options of the guild / role-mapping / user route suites: their seeded simulator (shared
 * by a file's tests, so the world does not close it), the named users `as` takes, and the
 * plugin's own rate limit off. `plugin` is spread last.
 */
export function routeWorld (sim: DiscordSimulator, plugin: Partial<FastifyDiscordSyncOptions> = {}): WorldOptions {
  return { sim, users: USERS, plugin: { rateLimit: false, ...plugin } }
}

/** Fails when any response `t` recorded carries one of `secrets` in its body or headers. */
export function expectNoSecrets (t: World, secrets: readonly string[] = SECRET_VALUES): void {
  for (const r of t.responses) {
    for (const secret of secrets) expect(`${r.method} ${r.url}: ${r.headers} ${r.body}`).not.toContain(secret)
  }
}

/**
 * Fails when a route answered a status its OpenAPI operation does not declare: the document
 * would mislead clients, and Fastify serialises an undeclared status without its schema.
 */
export async function expectDocumentedStatuses (t: World): Promise<void> {
  const res = await t.app.inject({ url: t.openapiUrl })
  expect(res.statusCode).toBe(200)
  const doc = res.json() as { paths: Record<string, Record<string, { responses: Record<string, unknown> }>> }
  for (const s of t.served) {
    if (s.route === undefined || s.route.endsWith('/openapi.json')) continue
    const path = s.route.replace(/:(\w+)/g, '{$1}')
    const op = doc.paths[path]?.[s.method.toLowerCase()]
    if (op === undefined) continue // a route hidden from the document (none of this area's)
    expect({ operation: `${s.method} ${path}`, status: s.statusCode, documented: String(s.statusCode) in op.responses })
      .toEqual({ operation: `${s.method} ${path}`, status: s.statusCode, documented: true })
  }
}

/** Creates the seed guild with the good bot token through the API and returns its body. */
export async function configureGuild (t: World, extra: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
  const res = await t.inject({ method: 'POST', url: '/discord/guilds', as: 'admin', payload: { guild_id: IDS.guild, bot_token: BOT_TOKEN, ...extra } })
  if (res.statusCode !== 201) throw new Error(`configureGuild: ${res.statusCode} ${res.body}`)
  return res.json()
}

/** Creates a mapping through the API and returns its body. */
export async function createMapping (t: World, body: Record<string, unknown>, guildId: string = IDS.guild): Promise<Record<string, unknown>> {
  const res = await t.inject({ method: 'POST', url: `/discord/guilds/${guildId}/role-mappings`, as: 'admin', payload: body })
  if (res.statusCode !== 201) throw new Error(`createMapping: ${res.statusCode} ${res.body}`)
  return res.json()
}
