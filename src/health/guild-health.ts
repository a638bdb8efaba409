import type { FastifyBaseLogger } from 'fastify'
import type { DiscordStore, GuildConfigRecord, HealthStatus } from '../store/port/index.js'
import { BotNotInGuildError, BotTokenInvalidError, GuildUnknownError } from '../errors.js'
import { inspectBot, type BotApiFactory } from '../guilds/bot-inspector.js'
import { assessGuild } from './assess.js'
import type { TaskLock } from '../tasks/lock.js'
import { withTimeout } from '../util/timeout.js'

/*
 * The bot health check (seed: "Monitoring & Health Checks", every 5 minutes): for each
 * enabled guild with a bot token, ask Discord again whether the token works, whether the
 * bot still has Manage Roles and whether every enabled mapping's role is still below the
 * bot's highest role, and store the verdict (health_status, last_error, bot_permissions,
 * last_health_check).
 *
 * A check that cannot reach Discord (5xx, timeout, rate limit) proves nothing about the
 * bot: the previous status is kept and only last_error says the check failed, so one
 * Discord outage does not flip every guild to unhealthy.
 *
 * When a guild turns degraded or unhealthy and has a notification channel, the bot posts
 * one message there, if it still can; a guild staying in the same state posts nothing.
 */

export const HEALTH_CHECK_JOB_ID = 'fastify-discord-sync:guild-health'

export interface GuildHealthResult {
  guild_id: string
  previous: HealthStatus
  status: HealthStatus
  last_error: string | null
  /** True when the status changed into degraded or unhealthy and a notification was posted. */
  notified: boolean
}

export interface HealthRunSummary {
  /** False when another instance held the lock and this one did nothing. */
  ran: boolean
  checked: number
  results: GuildHealthResult[]
  /** True when the pass stopped at `healthCheck.runTimeout`, before every guild was checked. */
  timed_out?: boolean
}

export interface GuildHealthTaskDeps {
  store: DiscordStore
  bots: BotApiFactory
  log: FastifyBaseLogger
  /** Cross-instance lock (Redis); null runs unlocked (single instance). */
  lock?: TaskLock | null
  /** `healthCheck.runTimeout`: past it the pass stops and frees its lock (undefined: no limit). */
  runTimeoutMs?: number
  now?: () => Date
}

/** `canPost`: the bot answered, so it may still be able to post (a rejected token or a bot outside the guild cannot). */
type Verdict = { kind: 'checked', status: Exclude<HealthStatus, 'unknown'>, last_error: string | null, canPost: boolean, bot_permissions?: string, bot_user_id?: string }
  | { kind: 'unreachable', last_error: string }

export class GuildHealthTask {
  readonly #deps: GuildHealthTaskDeps
  readonly #now: () => Date
  #running: Promise<HealthRunSummary> | null = null
  #stopped = false

  constructor (deps: GuildHealthTaskDeps) {
    this.#deps = deps
    this.#now = deps.now ?? (() => new Date())
  }

  /** One pass over every enabled guild. Concurrent calls share the pass in progress. */
  run (): Promise<HealthRunSummary> {
    if (this.#running === null) {
      this.#running = this.#runLocked().finally(() => { this.#running = null })
    }
    return this.#running
  }

  async #runLocked (): Promise<HealthRunSummary> {
    const lock = this.#deps.lock ?? null
    const token = lock === null ? null : await lock.acquire()
    if (lock !== null && token === null) return { ran: false, checked: 0, results: [] }
    const results: GuildHealthResult[] = []
    const halt = { stopped: false }
    const pass = async (): Promise<void> => {
      // One guild at a time: the check is a background chore and must not compete with syncs for rate limit.
      for (const guild of await this.#deps.store.listGuilds({ enabled: true })) {
        if (this.#stopped || halt.stopped) break
        results.push(await this.#checkSafely(guild))
        // Renewed per guild so a long pass keeps the lock; a lost lock means another instance took over.
        if (lock !== null && token !== null && !await lock.renew(token).catch(() => false)) break
      }
    }
    const limitMs = this.#deps.runTimeoutMs
    try {
      const timeout = new Error(`timed out after ${limitMs ?? 0} ms (healthCheck.runTimeout)`)
      try {
        await (limitMs === undefined ? pass() : withTimeout(pass(), limitMs, () => timeout))
      } catch (err) {
        if (err !== timeout) throw err
        // Guilds not reached keep their stored status; the next pass checks them.
        halt.stopped = true
        this.#deps.log.error({ err: { message: timeout.message } }, 'guild health check pass stopped')
        return { ran: true, checked: results.length, results: [...results], timed_out: true }
      }
      return { ran: true, checked: results.length, results }
    } finally {
      if (lock !== null && token !== null) await lock.release(token).catch(() => {})
    }
  }

  /** One guild's failure on our side (store down, undecryptable token) must not stop the pass for the others. */
  async #checkSafely (guild: GuildConfigRecord): Promise<GuildHealthResult> {
    try {
      return await this.checkGuild(guild)
    } catch (err) {
      this.#deps.log.error({ guild_id: guild.guild_id, err: { message: (err as Error).message, code: (err as { code?: unknown }).code } }, 'guild health check failed')
      return { guild_id: guild.guild_id, previous: guild.health_status, status: guild.health_status, last_error: guild.last_error, notified: false }
    }
  }

  /** Lets the pass in progress finish its current guild, then stops (called before the store closes). */
  async stop (): Promise<void> {
    this.#stopped = true
    await this.#running?.catch(() => {})
  }

  async #verdict (guild: GuildConfigRecord, botToken: string): Promise<Verdict> {
    try {
      const inspection = await inspectBot(this.#deps.bots(botToken), guild.guild_id)
      const assessment = assessGuild(inspection, await this.#deps.store.listMappings({ guild_id: guild.guild_id }), guild.settings)
      return { kind: 'checked', status: assessment.status, last_error: assessment.last_error, canPost: true, bot_permissions: assessment.bot_permissions, bot_user_id: inspection.facts.bot_user_id }
    } catch (err) {
      if (err instanceof BotTokenInvalidError || err instanceof GuildUnknownError || err instanceof BotNotInGuildError) {
        return { kind: 'checked', status: 'unhealthy', last_error: (err as Error).message, canPost: false }
      }
      return { kind: 'unreachable', last_error: `Health check could not complete: ${(err as Error).message}` }
    }
  }

  /** Checks one guild and stores the verdict. Never throws for a Discord failure. */
  async checkGuild (guild: GuildConfigRecord): Promise<GuildHealthResult> {
    const { store, log } = this.#deps
    const previous = guild.health_status
    const botToken = await store.getBotToken(guild.guild_id)
    if (botToken === null) {
      return { guild_id: guild.guild_id, previous, status: previous, last_error: guild.last_error, notified: false }
    }
    const verdict = await this.#verdict(guild, botToken)
    const checkedAt = this.#now()
    if (verdict.kind === 'unreachable') {
      log.warn({ guild_id: guild.guild_id, status: previous }, verdict.last_error)
      await store.updateGuild(guild.guild_id, { last_health_check: checkedAt, last_error: verdict.last_error })
      return { guild_id: guild.guild_id, previous, status: previous, last_error: verdict.last_error, notified: false }
    }
    await store.updateGuild(guild.guild_id, {
      health_status: verdict.status,
      last_error: verdict.last_error,
      last_health_check: checkedAt,
      ...(verdict.bot_permissions === undefined ? {} : { bot_permissions: verdict.bot_permissions }),
      ...(verdict.bot_user_id === undefined ? {} : { bot_user_id: verdict.bot_user_id })
    })
    if (verdict.status !== 'healthy') log.warn({ guild_id: guild.guild_id, previous, status: verdict.status }, verdict.last_error ?? 'guild health check failed')
    const turnedBad = verdict.status !== previous && verdict.status !== 'healthy'
    const notified = turnedBad && verdict.canPost && await this.#notify(guild, botToken, verdict.status, verdict.last_error)
    return { guild_id: guild.guild_id, previous, status: verdict.status, last_error: verdict.last_error, notified }
  }

  /** Posts the transition to the notification channel; a failure is logged, never thrown (the bot may be the problem). */
  async #notify (guild: GuildConfigRecord, botToken: string, status: HealthStatus, lastError: string | null): Promise<boolean> {
    const channelId = guild.settings.notification_channel_id
    if (channelId === null) return false
    const content = `Role sync for **${guild.guild_name}** is now **${status}**: ${lastError ?? 'no details'}`.slice(0, 2000)
    try {
      // allowed_mentions empty: a role or user name in the message must never ping anyone.
      await this.#deps.bots(botToken).createMessage(channelId, { content, allowed_mentions: { parse: [] } })
      return true
    } catch (err) {
      this.#deps.log.warn({ guild_id: guild.guild_id, channel_id: channelId, err: { message: (err as Error).message } }, 'could not post the health notification')
      return false
    }
  }
}
