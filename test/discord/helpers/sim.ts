import { randomBytes } from 'node:crypto'
import { createDiscordSimulator, PermissionFlags, type DiscordSimulator, type SimulatorOptions } from '../../../src/testing/index.js'

/** Realistic (17-19 digit) snowflakes for the seeded world. */
export const IDS = {
  bot: '110000000000000001',
  owner: '110000000000000002',
  user: '110000000000000003',
  guild: '220000000000000001',
  guild2: '220000000000000002',
  botRole: '330000000000000001',
  low: '330000000000000002',
  high: '330000000000000003',
  managed: '330000000000000004',
  channel: '440000000000000001',
  app: '550000000000000001'
} as const

export const APP_SECRET = 'app-secret-for-tests'
export const REDIRECT_URI = 'https://app.example/callback'

/** A fresh bot token per world, so tests sharing Redis never share limiter state by accident. */
export function newToken (): string {
  return `${randomBytes(18).toString('base64url')}.${randomBytes(6).toString('base64url')}.${randomBytes(27).toString('base64url')}`
}

export interface World {
  sim: DiscordSimulator
  token: string
  /** Seeded member ids of `IDS.guild`, ascending (the bot and the user come on top). */
  members: string[]
}

/**
 * A simulator with one bot that can manage roles in two guilds (role `low` below the
 * bot's role, `high` above it, `managed` from an integration), some members, a channel
 * and an OAuth2 application.
 */
export async function seededWorld (options: SimulatorOptions & { members?: number } = {}): Promise<World> {
  const { members: count = 12, ...simOptions } = options
  const sim = await createDiscordSimulator(simOptions)
  const token = newToken()
  const s = sim.state
  s.addBot({ token, user: { id: IDS.bot, username: 'sync-bot' } })
  s.addUser({ id: IDS.user, username: 'alice', email: 'alice@example.com' })
  const botPermissions = PermissionFlags.MANAGE_ROLES | PermissionFlags.VIEW_CHANNEL | PermissionFlags.SEND_MESSAGES
  for (const guildId of [IDS.guild, IDS.guild2]) {
    s.addGuild({ id: guildId, name: `guild ${guildId.slice(-1)}`, owner_id: IDS.owner })
    s.addRole(guildId, { id: guildId === IDS.guild ? IDS.botRole : `${IDS.botRole.slice(0, -1)}9`, name: 'bot', position: 10, permissions: botPermissions })
    s.addMember(guildId, IDS.bot, [guildId === IDS.guild ? IDS.botRole : `${IDS.botRole.slice(0, -1)}9`])
    s.addMember(guildId, IDS.user, [])
  }
  s.addRole(IDS.guild, { id: IDS.low, name: 'member', position: 5 })
  s.addRole(IDS.guild, { id: IDS.high, name: 'admin', position: 20 })
  s.addRole(IDS.guild, { id: IDS.managed, name: 'integration', position: 3, managed: true })
  const members = s.seedMembers(IDS.guild, count)
  s.addChannel({ id: IDS.channel, guild_id: IDS.guild, name: 'audit' })
  s.addOAuthApp({ client_id: IDS.app, client_secret: APP_SECRET, redirect_uris: [REDIRECT_URI] })
  return { sim, token, members }
}
