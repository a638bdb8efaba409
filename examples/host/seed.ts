import { randomBytes } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import { createDiscordSimulator, PermissionFlags, type DiscordSimulator } from '../../src/testing/index.js'
import type { HostDatabase, HostUser } from './db.js'
import { MANAGE_GROUPS } from './groups.js'

/*
 * Seed data of the host example: a simulated Discord (fastify-discord-sync/testing) with one
 * guild, its roles, a bot and an OAuth2 application, and the host's own users and groups. Used by
 * server.ts (`npm run example:host`) and test/examples/host.test.ts alike.
 */

export const DISCORD = {
  clientId: '900000000000000101',
  guildId: '200000000000000101',
  ownerId: '100000000000000199',
  botId: '100000000000000109',
  alice: '100000000000000101',
  olivia: '100000000000000102',
  roles: {
    member: { id: '300000000000000102', name: 'Member', position: 1 },
    officer: { id: '300000000000000103', name: 'Officer', position: 2 },
    bot: { id: '300000000000000109', name: 'Falcon Sync', position: 5 }
  }
} as const

/** The host's groups and what each grants (the permission model). `discord:admin` is the plugin's admin permission. */
export const GROUPS = [
  { id: 'members', name: 'Corporation members', permissions: ['forum:read'] },
  { id: 'officers', name: 'Officers', permissions: ['forum:read', MANAGE_GROUPS, 'discord:admin'] }
] as const

export interface SimulatedDiscord {
  sim: DiscordSimulator
  clientSecret: string
  botToken: string
}

/** Bot tokens look like Discord's (three dot-separated base64url parts); the plugin refuses other shapes. */
function botToken (): string {
  return [Buffer.from(DISCORD.botId).toString('base64url'), randomBytes(4).toString('base64url'), randomBytes(27).toString('base64url')].join('.')
}

/** A simulator on an ephemeral loopback port, seeded with the guild, its roles, the bot, Alice and Olivia. */
export async function startSimulatedDiscord (redirectUri: string): Promise<SimulatedDiscord> {
  const sim = await createDiscordSimulator()
  const clientSecret = randomBytes(24).toString('base64url')
  const token = botToken()
  const s = sim.state
  s.addOAuthApp({ client_id: DISCORD.clientId, client_secret: clientSecret, redirect_uris: [redirectUri], name: 'Falcon Host Example', owner_id: DISCORD.ownerId })
  s.addUser({ id: DISCORD.ownerId, username: 'owner' })
  s.addUser({ id: DISCORD.alice, username: 'alice', global_name: 'Alice' })
  s.addUser({ id: DISCORD.olivia, username: 'olivia', global_name: 'Olivia' })
  s.addBot({ token, user: { id: DISCORD.botId, username: 'Falcon Sync' } })
  s.addGuild({ id: DISCORD.guildId, name: 'Falcon Host Guild', owner_id: DISCORD.ownerId })
  s.addRole(DISCORD.guildId, DISCORD.roles.member)
  s.addRole(DISCORD.guildId, DISCORD.roles.officer)
  // The bot's own role: Manage Roles, above every role it assigns (Discord's hierarchy rule).
  s.addRole(DISCORD.guildId, { ...DISCORD.roles.bot, managed: true, tags: { bot_id: DISCORD.botId }, permissions: PermissionFlags.MANAGE_ROLES })
  s.addMember(DISCORD.guildId, DISCORD.ownerId)
  s.addMember(DISCORD.guildId, DISCORD.botId, [DISCORD.roles.bot.id])
  s.addMember(DISCORD.guildId, DISCORD.alice)
  s.addMember(DISCORD.guildId, DISCORD.olivia)
  return { sim, clientSecret, botToken: token }
}

export interface HostPeople {
  alice: HostUser
  olivia: HostUser
}

/** The host's groups and two users: Olivia, an officer, and Alice, a member. Passwords are the example's own. */
export function seedHost (db: HostDatabase): HostPeople {
  for (const g of GROUPS) db.createGroup({ ...g, permissions: [...g.permissions] })
  const olivia = db.createUser({ username: 'olivia', displayName: 'Olivia', password: 'olivia-password' })
  const alice = db.createUser({ username: 'alice', displayName: 'Alice', password: 'alice-password' })
  db.addToGroup('officers', olivia.id)
  db.addToGroup('members', olivia.id)
  db.addToGroup('members', alice.id)
  db.addCharacter(olivia.id, 'Olivia Prime')
  db.addCharacter(alice.id, 'Alice Alt')
  db.addCharacter(alice.id, 'Alice Main')
  return { alice, olivia }
}

/**
 * What an officer would do once in the admin UI, done through the plugin's services: configure the
 * guild with its bot token (checked against Discord), map members → Member and officers → Officer,
 * and record that Olivia linked her Discord account earlier, so signing in with Discord makes her
 * the host's Olivia (and, through her groups, an admin).
 */
export async function configureDiscord (app: FastifyInstance, discord: SimulatedDiscord, people: HostPeople): Promise<void> {
  await app.discord.guilds.create({ guild_id: DISCORD.guildId, bot_token: discord.botToken }, people.olivia.id)
  await app.discord.mappings.create(DISCORD.guildId, { group_id: 'members', group_name: 'Corporation members', discord_role_id: DISCORD.roles.member.id }, people.olivia.id)
  await app.discord.mappings.create(DISCORD.guildId, { group_id: 'officers', group_name: 'Officers', discord_role_id: DISCORD.roles.officer.id }, people.olivia.id)
  await app.discord.store.createUser({ user_id: people.olivia.id, discord_user_id: DISCORD.olivia, username: 'olivia', global_name: 'Olivia', guilds: [] })
}
