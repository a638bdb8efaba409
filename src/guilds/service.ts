import type { DiscordStore, GuildConfigRecord, GuildSettings, RoleMappingRecord, UpdateGuildConfigInput } from '../store/port/index.js'
import { BotMissingPermissionError, ChannelInvalidError, GuildNoBotTokenError, NotFoundError, StoreConflictError, ValidationError } from '../errors.js'
import type { CreateGuildBodyType, GuildSettingsInputBody, UpdateGuildBodyType } from '../schemas/guilds.js'
import { parseDuration } from '../util/duration.js'
import { inspectBot, listChannels, requireCreateInvite, requireManageRoles, type BotApiFactory, type BotInspection } from './bot-inspector.js'
import { checkPostableChannel } from './channels.js'
import { assessGuild } from '../health/assess.js'
import { aliasValue } from './mappings/rules.js'
import { compileTemplate, NicknameTemplateError } from '../sync/nickname.js'
import { storedSettings } from '../store/records.js'
import { missingSettingPermissions } from './setting-permissions.js'

/*
 * Guild configurations. Every write that sets a bot token first proves the token against
 * Discord (who is the bot, is it in the guild, can it manage roles) and stores what it
 * learnt (permissions, bot user, health) in the same write, so a stored token is always
 * one that worked when it was given. Likewise a write that sets a channel setting to a new
 * id proves, with the bot, that the bot can post there. Discord is asked before the store
 * is touched: a refused token or channel changes nothing.
 */

/** sync_interval bounds: under a minute would burn Discord's rate limits; over a week is a misconfiguration. */
const MIN_SYNC_INTERVAL_MS = 60_000
const MAX_SYNC_INTERVAL_MS = 7 * 86_400_000
/** access_lost_grace bound: longer than the audit retention would outlive every trace of why. */
const MAX_GRACE_MS = 90 * 86_400_000

/** The settings in this write that need a permission the bot may lack (checked only when they change). */
function permissionSettingsChanged (settings: GuildSettingsInputBody | undefined, stored: GuildSettings | null): boolean {
  if (settings === undefined) return false
  const template = settings.nickname_template
  const onLost = settings.on_access_lost
  return (typeof template === 'string' && template !== stored?.nickname_template) ||
    (onLost === 'kick' && stored?.on_access_lost !== 'kick')
}

/** Refuses (422) settings the inspected bot lacks a permission for, naming the setting and the permission. */
function requireSettingPermissions (inspection: BotInspection, settings: GuildSettings): void {
  const missing = missingSettingPermissions(settings, inspection.permissions, inspection.facts.guild_id)
  if (missing.length > 0) throw new BotMissingPermissionError(`${missing.map((m) => m.message).join('; ')}: grant it (or Administrator) or change the setting`)
}

export interface GuildServiceDeps {
  store: DiscordStore
  bots: BotApiFactory
  /**
   * Clears the client's 401 lock on a token (`client.resetToken`). Saving a token is the
   * operator saying "this one is good now": without the reset, a token Discord once refused
   * would be refused again without a request, even after the operator fixed it in Discord.
   */
  resetToken?: (token: string) => void
  now?: () => Date
  /** `sync.nicknameVariables`: the profile fields a nickname template may use. */
  nicknameVariables?: readonly string[]
}

/** A guild whose bot was just inspected, with the plaintext token kept in memory only. */
export interface InspectedGuild {
  guild: GuildConfigRecord
  token: string
  inspection: BotInspection
}

function checkSettings (settings: GuildSettingsInputBody | undefined, nicknameVariables: readonly string[]): void {
  const template = settings?.nickname_template
  if (typeof template === 'string') {
    try {
      compileTemplate(template, nicknameVariables)
    } catch (err) {
      if (err instanceof NicknameTemplateError) throw new ValidationError(err.message)
      throw err
    }
  }
  const grace = settings?.access_lost_grace
  if (grace !== undefined) {
    const ms = parseDuration(grace)
    if (ms === null || ms > MAX_GRACE_MS) throw new ValidationError(`settings.access_lost_grace must be a duration from 0 to 90d, got "${grace}"`)
  }
  if (settings?.sync_interval === undefined) return
  const ms = parseDuration(settings.sync_interval)
  if (ms === null || ms < MIN_SYNC_INTERVAL_MS || ms > MAX_SYNC_INTERVAL_MS) {
    throw new ValidationError(`settings.sync_interval must be a duration from 1m to 7d, got "${settings.sync_interval}"`)
  }
}

function autoJoinNeedsToken (): Error {
  return new ValidationError('settings.auto_join can only be turned on with a bot token: the bot adds the members, so its Create Invite permission is checked with it. Send bot_token in the same request, or set the token first')
}

function enabledFrom (body: { enabled?: boolean, is_enabled?: boolean }): boolean | undefined {
  return aliasValue(body.enabled, body.is_enabled, ['enabled', 'is_enabled'])
}

/** The settings that name a channel the bot posts in. */
const CHANNEL_SETTINGS = ['audit_channel_id', 'notification_channel_id'] as const

interface ChannelChange { setting: string, channel_id: string }

/**
 * Channel settings this write sets to a new id. Only those are checked: an id saved again
 * unchanged (a form sends every field) must not block an unrelated edit if the channel has
 * changed in Discord since.
 */
function changedChannels (settings: GuildSettingsInputBody | undefined, stored: GuildSettings | null): ChannelChange[] {
  const changes: ChannelChange[] = []
  for (const name of CHANNEL_SETTINGS) {
    const value = settings?.[name]
    if (typeof value === 'string' && value !== stored?.[name]) changes.push({ setting: `settings.${name}`, channel_id: value })
  }
  return changes
}

function channelsNeedToken (changes: readonly ChannelChange[]): Error {
  const names = changes.map((c) => c.setting).join(' and ')
  return new ChannelInvalidError(`${names} can only be set with a bot token: the bot posts there, so the channel is checked with it. Send bot_token in the same request, or set the token first`)
}

/** What a proven bot token lets the service store, in the store's field names. */
interface VerifiedBot {
  fields: Required<Pick<UpdateGuildConfigInput, 'bot_token' | 'bot_permissions' | 'bot_user_id' | 'health_status' | 'last_health_check' | 'last_error'>>
  guild_name: string
}

export class GuildService {
  readonly #store: DiscordStore
  readonly #bots: BotApiFactory
  readonly #resetToken: (token: string) => void
  readonly #now: () => Date
  readonly #nicknameVariables: readonly string[]

  constructor (deps: GuildServiceDeps) {
    this.#store = deps.store
    this.#bots = deps.bots
    this.#resetToken = deps.resetToken ?? (() => {})
    this.#now = deps.now ?? (() => new Date())
    this.#nicknameVariables = deps.nicknameVariables ?? ['name', 'ticker']
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
    checkSettings(body.settings, this.#nicknameVariables)
    if (body.bot_token === undefined && body.guild_name === undefined) {
      throw new ValidationError('guild_name is required when no bot_token is given (with a token, Discord\'s guild name is used)')
    }
    // Checked before asking Discord so a duplicate costs no API call; the store's unique index still decides races.
    if (await this.#store.getGuild(body.guild_id) !== null) throw new StoreConflictError(`Guild ${body.guild_id} is already configured`)
    const channels = changedChannels(body.settings, null)

    const autoJoin = body.settings?.auto_join === true
    if (body.bot_token === undefined) {
      if (channels.length > 0) throw channelsNeedToken(channels)
      if (autoJoin) throw autoJoinNeedsToken()
      return await this.#store.createGuild({
        guild_id: body.guild_id,
        guild_name: body.guild_name as string,
        enabled: enabled ?? true,
        settings: body.settings ?? {},
        owner_id: actorId,
        health_status: 'unknown'
      })
    }
    const bot = await this.#verifyBot(body.guild_id, body.bot_token, [], channels, storedSettings(body.settings as Partial<GuildSettings> | undefined))
    return await this.#store.createGuild({
      guild_id: body.guild_id,
      guild_name: body.guild_name ?? bot.guild_name,
      enabled: enabled ?? true,
      settings: body.settings ?? {},
      owner_id: actorId,
      ...bot.fields
    })
  }

  async update (guildId: string, body: UpdateGuildBodyType): Promise<GuildConfigRecord> {
    const enabled = enabledFrom(body)
    checkSettings(body.settings, this.#nicknameVariables)
    const current = await this.get(guildId)
    const next = storedSettings({ ...current.settings, ...(body.settings as Partial<GuildSettings> | undefined) })
    const channels = changedChannels(body.settings, current.settings)
    const patch: UpdateGuildConfigInput = {}
    if (body.guild_name !== undefined) patch.guild_name = body.guild_name
    if (enabled !== undefined) patch.enabled = enabled
    if (body.settings !== undefined) patch.settings = body.settings as Partial<GuildSettings>

    const autoJoin = body.settings?.auto_join ?? current.settings.auto_join
    // Checked when it is turned on or the bot changes: a stored setting is the health check's job.
    const checkInvite = autoJoin && (!current.settings.auto_join || body.bot_token !== undefined)
    if (body.bot_token === null) {
      if (channels.length > 0) throw channelsNeedToken(channels)
      if (autoJoin) throw autoJoinNeedsToken()
      Object.assign(patch, { bot_token: null, bot_permissions: null, bot_user_id: null, health_status: 'unknown', last_error: null })
    } else if (body.bot_token !== undefined) {
      // The new bot may rank differently: judge the existing mappings against it right away.
      const bot = await this.#verifyBot(guildId, body.bot_token, await this.#store.listMappings({ guild_id: guildId }), channels, next)
      Object.assign(patch, bot.fields)
    } else if (channels.length > 0 || checkInvite || permissionSettingsChanged(body.settings, current.settings)) {
      const token = await this.#store.getBotToken(guildId)
      if (token === null) {
        if (channels.length > 0) throw channelsNeedToken(channels)
        if (checkInvite) throw autoJoinNeedsToken()
        // Without a token nothing else can be checked yet: saving one later checks these settings.
      } else {
        const inspection = await inspectBot(this.#bots(token), guildId)
        if (checkInvite) requireCreateInvite(inspection)
        requireSettingPermissions(inspection, next)
        await this.#checkChannels(token, inspection, channels)
      }
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

  /**
   * Proves a bot token for a write: the bot is in the guild with Manage Roles, and can post in
   * each newly set channel. Returns what to store; throws (before anything is stored) otherwise.
   */
  async #verifyBot (guildId: string, token: string, mappings: readonly RoleMappingRecord[], channels: readonly ChannelChange[], settings: GuildSettings): Promise<VerifiedBot> {
    // Re-checked against Discord even when it is the same value: a token still refused answers
    // 401 once more and is locked again, so the reset costs one request per save at most.
    this.#resetToken(token)
    const inspection = await inspectBot(this.#bots(token), guildId)
    requireManageRoles(inspection)
    if (settings.auto_join) requireCreateInvite(inspection)
    requireSettingPermissions(inspection, settings)
    await this.#checkChannels(token, inspection, channels)
    const assessment = assessGuild(inspection, mappings, settings)
    return {
      guild_name: inspection.guild_name,
      fields: {
        bot_token: token,
        bot_permissions: assessment.bot_permissions,
        bot_user_id: inspection.facts.bot_user_id,
        health_status: assessment.status,
        last_health_check: this.#now(),
        last_error: assessment.last_error
      }
    }
  }

  /** Refuses the first channel the bot cannot post in (one Discord call for all of them). */
  async #checkChannels (token: string, inspection: BotInspection, changes: readonly ChannelChange[]): Promise<void> {
    if (changes.length === 0) return
    const list = await listChannels(this.#bots(token), inspection.facts.guild_id)
    for (const change of changes) {
      const verdict = checkPostableChannel(inspection.facts, list, change.channel_id, change.setting)
      if (verdict.denial !== null) throw new ChannelInvalidError(verdict.message)
    }
  }

  /**
   * Checks a settings change on a guild whose bot was just inspected exactly as a save checks it
   * (values 400; Create Invite for auto_join, the permissions of setting-permissions.ts and the
   * channels 422), writing nothing. Returns the settings it would leave and the names of those
   * that change. Used by the import, which writes them with the mappings.
   */
  async checkSettingsChange (inspected: InspectedGuild, input: GuildSettingsInputBody): Promise<{ next: GuildSettings, changed: string[] }> {
    checkSettings(input, this.#nicknameVariables)
    const current = inspected.guild.settings
    const next = storedSettings({ ...current, ...(input as Partial<GuildSettings>) })
    const channels = changedChannels(input, current)
    const checkInvite = next.auto_join && !current.auto_join
    if (checkInvite) requireCreateInvite(inspected.inspection)
    if (checkInvite || channels.length > 0 || permissionSettingsChanged(input, current)) requireSettingPermissions(inspected.inspection, next)
    await this.#checkChannels(inspected.token, inspected.inspection, channels)
    const changed = (Object.keys(next) as Array<keyof GuildSettings>).filter((k) => next[k] !== current[k]).map((k) => `settings.${k}`)
    return { next, changed }
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
