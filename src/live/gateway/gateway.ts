import { createHash } from 'node:crypto'
import type { GatewayDispatchPayload } from 'discord-api-types/v10'
import type { FastifyBaseLogger } from 'fastify'
import type { DiscordRestClient } from '../../discord/client.js'
import type { DiscordSyncEvents } from '../../events.js'
import type { ResolvedGatewayOptions } from '../../options/index.js'
import type { DiscordStore } from '../../store/port/index.js'
import type { TaskLock } from '../../tasks/lock.js'
import type { SyncMetrics } from '../../sync/metrics.js'
import { BotConnection, FATAL_CLOSE_CODES, type ConnectionState } from './connection.js'
import { Leadership } from './leader.js'
import type { MemberEvents } from './member-events.js'

/*
 * The live Gateway: one connection per distinct bot token of the enabled guilds, held by the
 * leader instance only (leader.ts). Dispatches are routed to the guild they name; a guild that is
 * not configured for that token is ignored. While a guild's connection is up the scheduled full
 * sync may be stretched (`gateway.safetyNetInterval`); a guild the bot was removed from is paused.
 */

const SNOWFLAKE = /^\d{17,20}$/
const MEMBER_EVENTS = new Set(['GUILD_MEMBER_ADD', 'GUILD_MEMBER_UPDATE', 'GUILD_MEMBER_REMOVE', 'GUILD_ROLE_UPDATE', 'GUILD_ROLE_DELETE'])
/** Guilds and tokens are re-read this often by the leader (new guilds connect within it). */
const RECONCILE_MS = 15_000
/** A connection that failed for good (bad token, intent not enabled) is retried this much later. */
const FATAL_RETRY_MS = 5 * 60_000

/** The Gateway state of one guild, as health, /status and the admin UI show it. */
export interface GuildGatewayState {
  connected: boolean
  last_event_at: string | null
  resumes: number
  /** The bot was removed from the guild (GUILD_DELETE): scheduled syncs are paused. */
  removed: boolean
  error: string | null
}

/** The Gateway as a whole, for /status. */
export interface GatewayStatus {
  enabled: boolean
  /** This instance holds the connections (always true without Redis). */
  leader: boolean
  connections: Array<Omit<ConnectionState, 'connected_at' | 'last_event_at'> & { connected_at: string | null, last_event_at: string | null, guilds: number }>
}

export interface LiveGatewayDeps {
  store: DiscordStore
  client: DiscordRestClient
  lock: TaskLock | null
  options: ResolvedGatewayOptions
  handler: MemberEvents
  events: DiscordSyncEvents
  metrics: SyncMetrics
  log: FastifyBaseLogger
}

interface Held {
  conn: BotConnection
  token: string
  retryAt: number
}

export class LiveGateway {
  readonly #d: LiveGatewayDeps
  readonly #leadership: Leadership
  readonly #held = new Map<string, Held>()
  /** guild id → key of the token it is configured with. */
  readonly #guildToken = new Map<string, string>()
  readonly #removed = new Set<string>()
  readonly #guildEventAt = new Map<string, Date>()
  #timer: NodeJS.Timeout | null = null
  #reconciling: Promise<void> | null = null
  #closed = false

  constructor (deps: LiveGatewayDeps) {
    this.#d = deps
    this.#leadership = new Leadership({
      lock: deps.lock,
      ttlMs: deps.options.leaderTtlMs,
      log: deps.log,
      onChange: (leader) => { if (leader) this.reconcile().catch(() => {}); else this.#dropAll().catch(() => {}) }
    })
  }

  /** Starts competing for leadership; the leader connects at once and re-reads guilds every 15 s. */
  async start (): Promise<void> {
    if (!this.#d.options.enabled) return
    await this.#leadership.start()
    this.#timer = setInterval(() => { if (this.#leadership.leader) this.reconcile().catch(() => {}) }, RECONCILE_MS)
    this.#timer.unref()
  }

  /** Members whose managed roles this instance remembers, over every guild (for tests and diagnostics). */
  get rememberedMembers (): number {
    return this.#d.handler.remembered
  }

  /** Opens connections for tokens newly configured and closes those no guild uses any more. */
  reconcile (): Promise<void> {
    this.#reconciling ??= this.#reconcile().finally(() => { this.#reconciling = null })
    return this.#reconciling
  }

  async #reconcile (): Promise<void> {
    if (this.#closed || !this.#leadership.leader) return
    const wanted = new Map<string, string>()
    const before = [...this.#guildToken.keys()]
    this.#guildToken.clear()
    try {
      for (const g of await this.#d.store.listGuilds({ enabled: true })) {
        if (!g.has_bot_token) continue
        const token = await this.#d.store.getBotToken(g.guild_id)
        if (token === null) continue
        const key = tokenKey(token)
        wanted.set(key, token)
        this.#guildToken.set(g.guild_id, key)
      }
    } catch (err) {
      this.#d.log.warn({ err: { message: (err as Error)?.message } }, 'gateway: reading the configured guilds failed')
      return
    }
    // Removed or disabled: what was seen of its members goes with it.
    for (const guildId of before) if (!this.#guildToken.has(guildId)) this.#d.handler.forgetGuild(guildId)
    for (const [key, held] of this.#held) {
      if (wanted.get(key) !== held.token) await this.#drop(key)
    }
    for (const [key, token] of wanted) {
      const held = this.#held.get(key)
      if (held !== undefined && (!held.conn.failed || Date.now() < held.retryAt)) continue
      if (held !== undefined) await this.#drop(key)
      if (this.#closed || !this.#leadership.leader) return
      await this.#open(key, token)
    }
  }

  async #open (key: string, token: string): Promise<void> {
    const log = this.#d.log.child({ gateway: key })
    const conn = new BotConnection({ token, bot: this.#d.client.bot(token), log, onDispatch: (p) => this.#dispatch(key, p), onState: (change) => this.#stateChanged(key, conn, change) })
    const held: Held = { conn, token, retryAt: Date.now() + FATAL_RETRY_MS }
    this.#held.set(key, held)
    try {
      await conn.connect()
    } catch (err) {
      // GET /gateway/bot refused or unreachable: tried again at the next re-read. A fatal close code
      // (bad token, intent not enabled) waits longer: each attempt spends one of the day's 1000 IDENTIFYs.
      const fatal = conn.state.last_close_code !== null && FATAL_CLOSE_CODES[conn.state.last_close_code] !== undefined
      held.retryAt = Date.now() + (fatal ? FATAL_RETRY_MS : RECONCILE_MS)
      log.warn({ err: { message: (err as Error)?.message } }, 'gateway connection could not start')
    }
  }

  #stateChanged (key: string, conn: BotConnection, change: string): void {
    // A new session (not a resume) may have missed events: what was seen of members is stale.
    if (change === 'identified') {
      for (const [guildId, k] of this.#guildToken) if (k === key) this.#d.handler.forgetGuild(guildId)
    }
    this.#d.events.emit('gateway.state', { connection: key, status: conn.state.status, resumes: conn.state.resumes, error: conn.state.error })
  }

  async #drop (key: string): Promise<void> {
    const held = this.#held.get(key)
    this.#held.delete(key)
    await held?.conn.destroy().catch(() => {})
  }

  async #dropAll (): Promise<void> {
    for (const key of [...this.#held.keys()]) await this.#drop(key)
    // No events reach this instance any more: when it leads again, it starts from fresh sessions.
    this.#d.handler.forgetAll()
  }

  #dispatch (key: string, payload: GatewayDispatchPayload): void {
    const t = payload.t as string
    const d = payload.d as unknown
    const guildId = t === 'GUILD_CREATE' || t === 'GUILD_DELETE' ? (d as { id?: unknown })?.id : (d as { guild_id?: unknown })?.guild_id
    if (typeof guildId !== 'string' || !SNOWFLAKE.test(guildId)) {
      if (t.startsWith('GUILD_')) {
        this.#d.metrics.gatewayEvent(t, 'invalid')
        this.#d.log.warn({ event: t }, 'malformed gateway event skipped')
      }
      return
    }
    // Not one of ours (or configured with another bot): ignored.
    if (this.#guildToken.get(guildId) !== key) {
      if (MEMBER_EVENTS.has(t)) this.#d.metrics.gatewayEvent(t, 'ignored')
      return
    }
    this.#guildEventAt.set(guildId, new Date())
    if (t === 'GUILD_CREATE') {
      this.#removed.delete(guildId)
      return
    }
    if (t === 'GUILD_DELETE') {
      // `unavailable: true` is an outage; without it the bot was removed (docs/gateway-events.mdx "Guild Delete").
      if ((d as { unavailable?: unknown }).unavailable !== true) this.#botRemoved(guildId).catch(() => {})
      return
    }
    if (!MEMBER_EVENTS.has(t)) return
    const held = this.#held.get(key)
    // A token locked after a 401 writes nothing until an operator fixes it.
    if (held === undefined || this.#d.client.isTokenLocked(held.token)) {
      this.#d.metrics.gatewayEvent(t, 'ignored')
      this.#d.log.warn({ guild_id: guildId, event: t }, 'gateway event not acted on: the bot token is locked')
      return
    }
    this.#handle(guildId, t, d).catch(() => {})
  }

  async #handle (guildId: string, t: string, d: unknown): Promise<void> {
    try {
      const guild = await this.#d.store.getGuild(guildId)
      if (guild === null || !guild.enabled) return
      await this.#d.handler.handle(guild, t, d)
    } catch (err) {
      this.#d.log.warn({ guild_id: guildId, event: t, err: { message: (err as Error)?.message } }, 'gateway event handling failed')
    }
  }

  async #botRemoved (guildId: string): Promise<void> {
    this.#removed.add(guildId)
    this.#d.log.error({ guild_id: guildId }, 'the bot was removed from the guild; its syncs are paused')
    await this.#d.store.updateGuild(guildId, { health_status: 'unhealthy', last_error: 'the bot was removed from the guild (GUILD_DELETE): scheduled syncs are paused until it is added back', last_health_check: new Date() })
      .catch((err: unknown) => this.#d.log.warn({ guild_id: guildId, err: { message: (err as Error)?.message } }, 'recording the bot removal failed'))
  }

  #connectionOf (guildId: string): BotConnection | null {
    const key = this.#guildToken.get(guildId)
    return key === undefined ? null : this.#held.get(key)?.conn ?? null
  }

  /** The guild's state; null when the Gateway is off or this instance is not the leader. */
  guildState (guildId: string): GuildGatewayState | null {
    if (!this.#d.options.enabled || !this.#leadership.leader) return null
    const conn = this.#connectionOf(guildId)
    return {
      connected: conn?.state.status === 'connected' && !this.#removed.has(guildId),
      last_event_at: this.#guildEventAt.get(guildId)?.toISOString() ?? null,
      resumes: conn?.state.resumes ?? 0,
      removed: this.#removed.has(guildId),
      error: conn?.state.error ?? null
    }
  }

  /**
   * The scheduled sync interval to use for a guild: null while the bot is known removed (paused),
   * stretched to `gateway.safetyNetInterval` while its connection is up, else its own.
   */
  cadence (guildId: string, intervalMs: number): number | null {
    if (this.#removed.has(guildId)) return null
    const connected = this.#connectionOf(guildId)?.state.status === 'connected'
    return connected ? Math.max(intervalMs, this.#d.options.safetyNetIntervalMs) : intervalMs
  }

  status (): GatewayStatus {
    const iso = (d: Date | null): string | null => d?.toISOString() ?? null
    const count = (key: string): number => [...this.#guildToken.values()].filter((k) => k === key).length
    return {
      enabled: this.#d.options.enabled,
      leader: this.#d.options.enabled && this.#leadership.leader,
      connections: [...this.#held].map(([key, h]) => ({ ...h.conn.state, connected_at: iso(h.conn.state.connected_at), last_event_at: iso(h.conn.state.last_event_at), guilds: count(key) }))
    }
  }

  async close (): Promise<void> {
    this.#closed = true
    if (this.#timer !== null) clearInterval(this.#timer)
    await this.#reconciling
    await this.#leadership.stop()
    await this.#dropAll()
  }
}

/** Tokens are never kept as map keys or logged: a short digest names each connection. */
function tokenKey (token: string): string {
  return createHash('sha256').update(token).digest('hex').slice(0, 12)
}
