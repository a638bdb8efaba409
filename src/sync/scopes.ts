/*
 * What a sync request covers: the guilds, the Discord accounts and the lock of a manual run
 * (POST /sync/manual), checked against the store (a mapping or guild that does not exist or is
 * switched off, a user with no active link) before any run is recorded. The engine turns the
 * scope into a run (engine.ts); the runner carries it out (runner.ts).
 */
import {
  GuildDisabledError,
  MappingDisabledError,
  NotFoundError,
  UserNotLinkedError,
  ValidationError
} from '../errors.js'
import type { DiscordStore, DiscordUserRecord, GuildConfigRecord } from '../store/port/index.js'
import { lockKeys } from './locks.js'
import type { Scope } from './runner.js'

/** POST /sync/manual: at most one of guild_id / mapping_id, optionally user_ids. */
export interface ManualSyncInput {
  guild_id?: string | undefined
  mapping_id?: string | undefined
  user_ids?: string[] | undefined
  dry_run?: boolean | undefined
  force?: boolean | undefined
}

/** The guild's configuration; 404 when it is not configured, 409-style refusal when switched off. */
export async function enabledGuild (store: DiscordStore, guildId: string): Promise<GuildConfigRecord> {
  const guild = await store.getGuild(guildId)
  if (guild === null) throw new NotFoundError(`guild ${guildId} is not configured`)
  if (!guild.enabled) throw new GuildDisabledError(guildId)
  return guild
}

/** The host user's links the host has not switched off. */
export async function activeLinks (store: DiscordStore, userId: string): Promise<DiscordUserRecord[]> {
  return (await store.listUsersByUserId(userId)).filter((l) => l.is_active)
}

/** The scope of a manual run, validated against the store. */
export async function manualScope (store: DiscordStore, input: ManualSyncInput): Promise<Scope> {
  if (input.guild_id !== undefined && input.mapping_id !== undefined) throw new ValidationError('send guild_id or mapping_id, not both')
  if (input.mapping_id !== undefined && input.user_ids !== undefined) throw new ValidationError('user_ids cannot be combined with mapping_id')
  if (input.mapping_id !== undefined) {
    const mapping = await store.getMapping(input.mapping_id)
    if (mapping === null) throw new NotFoundError(`role mapping ${input.mapping_id} does not exist`)
    if (!mapping.enabled) throw new MappingDisabledError(mapping.id)
    const guild = await enabledGuild(store, mapping.guild_id)
    return { syncType: 'mapping', targetId: mapping.id, guilds: [guild], discordIds: null, onlyRoleIds: new Set([mapping.discord_role_id]), lockKey: lockKeys.guild(guild.guild_id), lockEachGuild: false, collect: false }
  }
  if (input.user_ids !== undefined) {
    const userIds = [...new Set(input.user_ids)]
    const discordIds: string[] = []
    for (const userId of userIds) {
      const links = await activeLinks(store, userId)
      if (links.length === 0) throw new UserNotLinkedError(userId)
      for (const l of links) discordIds.push(l.discord_user_id)
    }
    const guilds = input.guild_id !== undefined ? [await enabledGuild(store, input.guild_id)] : await store.listGuilds({ enabled: true })
    // Named users are re-read before every write, so they need no guild lock.
    return { syncType: 'user', targetId: userIds.join(','), guilds, discordIds, onlyRoleIds: null, lockKey: null, lockEachGuild: false, collect: false }
  }
  if (input.guild_id !== undefined) {
    const guild = await enabledGuild(store, input.guild_id)
    return { syncType: 'guild', targetId: guild.guild_id, guilds: [guild], discordIds: null, onlyRoleIds: null, lockKey: lockKeys.guild(guild.guild_id), lockEachGuild: false, collect: false }
  }
  return { syncType: 'full', targetId: null, guilds: await store.listGuilds({ enabled: true }), discordIds: null, onlyRoleIds: null, lockKey: lockKeys.full, lockEachGuild: true, collect: false }
}
