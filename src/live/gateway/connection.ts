import type { REST } from '@discordjs/rest'
import type { SessionInfo, WebSocketManager } from '@discordjs/ws'
import type { GatewayDispatchPayload } from 'discord-api-types/v10'
import type { FastifyBaseLogger } from 'fastify'
import type { DiscordBotClient } from '../../discord/bot.js'

/*
 * One Gateway connection for one bot token, on @discordjs/ws: it reads GET /gateway/bot for the
 * URL and shard count, identifies, heartbeats, resumes after drops and RECONNECT, re-identifies
 * after INVALID_SESSION (docs/gateway.mdx "Connection Lifecycle"). This class adds what the
 * plugin needs around it: the state operators see and the close codes that mean "stop trying".
 */

/**
 * GUILDS (1 << 0) for GUILD_CREATE/DELETE and role events; GUILD_MEMBERS (1 << 1, privileged)
 * for member events (docs/gateway.mdx "List of Intents"). Written out so that loading this module
 * does not load discord-api-types' enums.
 */
export const GATEWAY_INTENTS = (1 << 0) | (1 << 1)

/**
 * Close codes after which reconnecting cannot help (docs/gateway.mdx "Gateway Close Event
 * Codes", reconnect false), with what the operator has to do.
 */
export const FATAL_CLOSE_CODES: Readonly<Record<number, string>> = Object.freeze({
  4004: 'the bot token was refused (4004 Authentication failed): set a valid token',
  4010: 'invalid shard (4010)',
  4011: 'sharding required (4011)',
  4012: 'invalid API version (4012)',
  4013: 'invalid intents (4013)',
  4014: 'the privileged Server Members Intent is not enabled for this application (4014 Disallowed intent): enable it under Bot > Privileged Gateway Intents in the Developer Portal'
})

/** What operators see of one connection. */
export interface ConnectionState {
  status: 'connecting' | 'connected' | 'disconnected' | 'failed'
  shards: number
  connected_at: Date | null
  last_event_at: Date | null
  /** Sessions resumed after a drop, RECONNECT or missed heartbeat ACK. */
  resumes: number
  /** Fresh sessions started (the first IDENTIFY included). */
  identifies: number
  last_close_code: number | null
  /** Why the connection stopped for good (fatal close code, GET /gateway/bot refused). */
  error: string | null
}

export interface BotConnectionDeps {
  token: string
  bot: DiscordBotClient
  log: FastifyBaseLogger
  onDispatch: (payload: GatewayDispatchPayload) => void
  /** Called whenever `state` changes; `identified` means a fresh session (events may have been missed). */
  onState: (change: 'identified' | 'resumed' | 'closed' | 'failed') => void
  now?: () => Date
}

export class BotConnection {
  readonly state: ConnectionState = { status: 'connecting', shards: 0, connected_at: null, last_event_at: null, resumes: 0, identifies: 0, last_close_code: null, error: null }
  readonly #d: BotConnectionDeps
  /** Built by the first connect(): @discordjs/ws is loaded only by a process that opens a Gateway connection. */
  #manager: WebSocketManager | null = null
  readonly #now: () => Date
  readonly #sessions = new Map<number, SessionInfo>()
  #destroyed = false

  constructor (deps: BotConnectionDeps) {
    this.#d = deps
    this.#now = deps.now ?? (() => new Date())
  }

  /** The library's manager, built on first use (issue 16, part 4: @discordjs/ws is ~10 MB and ~150 ms to load). */
  async #managerOf (): Promise<WebSocketManager> {
    if (this.#manager !== null) return this.#manager
    const { WebSocketManager, WebSocketShardEvents } = await import('@discordjs/ws')
    const deps = this.#d
    // The manager only ever calls rest.get(Routes.gatewayBot()): answering it through the plugin's
    // own client keeps one rate limiter (and the token lock after a 401) for every Discord call.
    const rest = { get: async () => await deps.bot.getGatewayBot() } as unknown as REST
    const m = new WebSocketManager({
      token: deps.token,
      intents: GATEWAY_INTENTS,
      rest,
      // Per connection: the library's default session store is module-wide.
      retrieveSessionInfo: (id) => this.#sessions.get(id) ?? null,
      updateSessionInfo: (id, info) => { if (info === null) this.#sessions.delete(id); else this.#sessions.set(id, info) }
    })
    m.on(WebSocketShardEvents.Ready, () => this.#connected(false))
    m.on(WebSocketShardEvents.Resumed, () => this.#connected(true))
    m.on(WebSocketShardEvents.Closed, (code) => this.#closed(code))
    m.on(WebSocketShardEvents.Error, (err) => { deps.log.warn({ err: { message: err.message } }, 'gateway shard error') })
    m.on(WebSocketShardEvents.Dispatch, (payload) => {
      this.state.last_event_at = this.#now()
      deps.onDispatch(payload)
    })
    this.#manager = m
    return m
  }

  /** Connects every shard; rejects when GET /gateway/bot fails (the caller retries later). */
  async connect (): Promise<void> {
    this.state.status = 'connecting'
    try {
      const manager = await this.#managerOf()
      // Closed while the library loaded: nothing was opened yet, and nothing must be.
      if (this.#destroyed) return
      const info = await manager.fetchGatewayInformation(true)
      this.state.shards = info.shards
      await manager.connect()
    } catch (err) {
      // A fatal close code already said what is wrong, in words an operator can act on.
      if ((this.state.status as ConnectionState['status']) !== 'failed') {
        this.state.status = 'failed'
        this.state.error = `connecting failed: ${(err as Error)?.message ?? 'unknown error'}`
        this.#d.onState('failed')
      }
      throw err
    }
  }

  #connected (resumed: boolean): void {
    if (resumed) this.state.resumes++
    else this.state.identifies++
    this.state.status = 'connected'
    this.state.connected_at = this.#now()
    this.state.error = null
    this.#d.onState(resumed ? 'resumed' : 'identified')
  }

  #closed (code: number): void {
    this.state.last_close_code = code
    const fatal = FATAL_CLOSE_CODES[code]
    if (fatal !== undefined) {
      this.state.status = 'failed'
      this.state.error = fatal
      this.#d.log.error({ close_code: code }, `gateway connection stopped: ${fatal}`)
    } else if (!this.#destroyed) {
      // The library resumes or re-identifies on its own.
      this.state.status = 'disconnected'
      this.#d.log.warn({ close_code: code }, 'gateway connection closed; resuming')
    }
    this.#d.onState(fatal === undefined ? 'closed' : 'failed')
  }

  get failed (): boolean {
    return this.state.status === 'failed'
  }

  async destroy (): Promise<void> {
    if (this.#destroyed) return
    this.#destroyed = true
    await this.#manager?.destroy({ reason: 'shutting down' })
    this.state.status = 'disconnected'
  }
}
