import type { DiscordStore, GuildConfigRecord, GuildSettings, UpdateGuildConfigInput } from '../store/port.js'
import { GuildNoBotTokenError, NotFoundError, StoreConflictError, ValidationError } from '../errors.js'
import type { CreateGuildBodyType, GuildSettingsInputBody, UpdateGuildBodyType } from '../schemas/guilds.js'
import { parseDuration } from '../util/duration.js'
import { inspectBot, requireManageRoles, type BotApiFactory, type BotInspection } from './bot-inspector.js'
import { assessGuild } from './health.js'
import { resolveAlias } from './mappings/rules.js'

/*
 * Guild configurations. Every write that sets a bot token first proves the token against
 * Discord (who is the bot, is it in the guild, can it manage roles) and stores what it
 * learnt (permissions, bot user, health) in the same write, so a stored token is always
 * one that worked when it was given. Discord is asked before the store is touched: a
 * refused token changes nothing.
 */

/** sync_interval bounds: under a minute would burn Discord's rate limits; over a week is a misconfiguration. */
const MIN_SYNC_INTERVAL_MS = 60_000
const MAX_SYNC_INTERVAL_MS = 7 * 86_400_000

export interface GuildServiceDeps {
  store: DiscordStore
  bots: BotApiFactory
  now?: () => Date
}

/** A guild whose bot was just inspected, with the plaintext token kept in memory only. */
export interface InspectedGuild {
  guild: GuildConfigRecord
  token: string
  inspection: BotInspection
}

function checkSettings (settings: GuildSettingsInputBody | undefined): void {
  if (settings?.sync_interval === undefined) return
  const ms = parseDuration(settings.sync_interval)
  if (ms === null || ms < MIN_SYNC_INTERVAL_MS || ms > MAX_SYNC_INTERVAL_MS) {
    throw new ValidationError(`settings.sync_interval must be a duration from 1m to 7d, got "${settings.sync_interval}"`)
  }
}

function enabledFrom (body: { enabled?: boolean, is_enabled?: boolean }): boolean | undefined {
  const { value, error } = resolveAlias(body.enabled, body.is_enabled, ['enabled', 'is_enabled'])
  if (error !== null) throw new ValidationError(error)
  return value
}

export class GuildService {
  readonly #store: DiscordStore
  readonly #bots: BotApiFactory
  readonly #now: () => Date

  constructor (deps: GuildServiceDeps) {
    this.#store = deps.store
    this.#bots = deps.bots
    this.#now = deps.now ?? (() => new Date())
  }

  list (query: { enabled?: boolean } = {}): Promise<GuildConfigRecord[]> {
    return this.#store.listGuilds(query.enabled === undefined ? {} : { enabled: query.enabled })
  }

  async get (guildId: string): Promise<GuildConfigRecord> {
    const guild = await this.#store.getGuild(guildId)
    if (guild === null) throw new NotFoundError(`Guild ${guildId} is not configured`)
    return guild
  }

  async create (body: CreateGuildBodyType, actorId: string | null): Promise<GuildConfigRecord> {
    const enabled = enabledFrom(body)
    checkSettings(body.settings)
    if (body.bot_token === undefined && body.guild_name === undefined) {
      throw new ValidationError('guild_name is required when no bot_token is given (with a token, Discord\'s guild name is used)')
    }
    // Checked before asking Discord so a duplicate costs no API call; the store's unique index still decides races.
    if (await this.#store.getGuild(body.guild_id) !== null) throw new StoreConflictError(`Guild ${body.guild_id} is already configured`)

    if (body.bot_token === undefined) {
      return await this.#store.createGuild({
        guild_id: body.guild_id,
        guild_name: body.guild_name as string,
        enabled: enabled ?? true,
        settings: body.settings ?? {},
        owner_id: actorId,
        health_status: 'unknown'
      })
    }
    const inspection = await inspectBot(this.#bots(body.bot_token), body.guild_id)
    requireManageRoles(inspection)
    const assessment = assessGuild(inspection, [])
    return await this.#store.createGuild({
      guild_id: body.guild_id,
      guild_name: body.guild_name ?? inspection.guild_name,
      enabled: enabled ?? true,
      settings: body.settings ?? {},
      owner_id: actorId,
      bot_token: body.bot_token,
      bot_permissions: assessment.bot_permissions,
      bot_user_id: inspection.facts.bot_user_id,
      health_status: assessment.status,
      last_health_check: this.#now(),
      last_error: assessment.last_error
    })
  }

  async update (guildId: string, body: UpdateGuildBodyType): Promise<GuildConfigRecord> {
    const enabled = enabledFrom(body)
    checkSettings(body.settings)
    await this.get(guildId)
    const patch: UpdateGuildConfigInput = {}
    if (body.guild_name !== undefined) patch.guild_name = body.guild_name
    if (enabled !== undefined) patch.enabled = enabled
    if (body.settings !== undefined) patch.settings = body.settings as Partial<GuildSettings>

    if (body.bot_token === null) {
      Object.assign(patch, { bot_token: null, bot_permissions: null, bot_user_id: null, health_status: 'unknown', last_error: null })
    } else if (body.bot_token !== undefined) {
      const inspection = await inspectBot(this.#bots(body.bot_token), guildId)
      requireManageRoles(inspection)
      // The new bot may rank differently: judge the existing mappings against it right away.
      const assessment = assessGuild(inspection, await this.#store.listMappings({ guild_id: guildId }))
      Object.assign(patch, {
        bot_token: body.bot_token,
        bot_permissions: assessment.bot_permissions,
        bot_user_id: inspection.facts.bot_user_id,
        health_status: assessment.status,
        last_health_check: this.#now(),
        last_error: assessment.last_error
      })
    }
    const updated = await this.#store.updateGuild(guildId, patch)
    if (updated === null) throw new NotFoundError(`Guild ${guildId} is not configured`)
    return updated
  }

  /** Removes the configuration and its mappings. Roles already given in Discord stay: this module only stops managing them. */
  async remove (guildId: string): Promise<{ guild_id: string, mappings_deleted: number }> {
    const result = await this.#store.deleteGuild(guildId)
    if (!result.deleted) throw new NotFoundError(`Guild ${guildId} is not configured`)
    return { guild_id: guildId, mappings_deleted: result.mappings_deleted }
  }

  /** The guild with its bot's current view, for operations that must check roles against Discord. */
  async inspect (guildId: string): Promise<InspectedGuild> {
    const guild = await this.get(guildId)
    const token = await this.#store.getBotToken(guildId)
    if (token === null) throw new GuildNoBotTokenError(guildId)
    const inspection = await inspectBot(this.#bots(token), guildId)
    return { guild, token, inspection }
  }
}
