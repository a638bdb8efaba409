import type { DiscordSyncNamespace } from '../index.js'
import { UserService } from '../services/users.js'
import type { BotApiFactory } from './bot-inspector.js'
import { MappingService } from './mappings/service.js'
import { GuildService } from './service.js'

export { GuildService } from './service.js'
export { MappingService } from './mappings/service.js'
export type { BotApi, BotApiFactory } from './bot-inspector.js'

export interface GuildServices {
  guilds: GuildService
  mappings: MappingService
  users: UserService
}

const cache = new WeakMap<DiscordSyncNamespace, GuildServices>()

/**
 * The services behind the guild, role-mapping and user routes and the health task, built once
 * per plugin instance from its store and Discord client (they hold no per-request state).
 */
export function guildServices (discord: DiscordSyncNamespace): GuildServices {
  let services = cache.get(discord)
  if (services === undefined) {
    const bots: BotApiFactory = (token) => discord.client.bot(token)
    const guilds = new GuildService({ store: discord.store, bots })
    services = { guilds, mappings: new MappingService({ store: discord.store, guilds }), users: new UserService(discord.store) }
    cache.set(discord, services)
  }
  return services
}
