import type { IncomingMessage, Server } from 'node:http'
import type { Duplex } from 'node:stream'
import { WebSocketServer } from 'ws'
import type { SimClock } from '../clock.js'
import type { SimulatorState } from '../state/simulator-state.js'
import { tokenId } from '../tokens.js'
import { GatewayConnection, type ConnectionHost } from './connection.js'
import type { DropOptions, GatewayOptions, GatewaySessionInfo, SimulatorGateway } from './controls.js'
import { subscribeDispatches } from './dispatcher.js'
import { checkIdentify } from './identify.js'
import { botGuilds, guildCreateData, readyData } from './payloads.js'
import { CloseCode, DEFAULT_HEARTBEAT_INTERVAL_MS, GATEWAY_VERSION, Op, payload } from './protocol.js'
import { GatewaySession, type DispatchGate } from './session.js'

/*
 * The Gateway (docs/gateway.mdx): WebSockets on the simulator's own HTTP server at /gateway.
 * It owns the sessions, answers IDENTIFY and RESUME, and carries the test controls.
 */

export const GATEWAY_PATH = '/gateway'
/** docs/gateway.mdx "Identifying": 1000 IDENTIFY calls per 24 hours. */
const SESSION_START_WINDOW_MS = 86_400_000

export class Gateway implements ConnectionHost, SimulatorGateway {
  readonly heartbeatIntervalMs: number
  readonly heartbeatDeadlineMs: number
  readonly missedHeartbeatCloseCode: number
  readonly #backlogSize: number
  readonly #options: GatewayOptions
  readonly #state: SimulatorState
  readonly #clock: SimClock
  readonly #wss = new WebSocketServer({ noServer: true })
  readonly #connections = new Set<GatewayConnection>()
  readonly #sessions = new Map<string, GatewaySession>()
  readonly #gate: DispatchGate = { held: false }
  readonly #unsubscribe: () => void
  #holdTimer: NodeJS.Timeout | undefined
  #refuseResumes = false
  #identifies: number[] = []
  #url = ''

  constructor (state: SimulatorState, clock: SimClock, options: GatewayOptions = {}) {
    this.#state = state
    this.#clock = clock
    this.#options = options
    this.heartbeatIntervalMs = Math.max(1, Math.round(options.heartbeatIntervalMs ?? clock.real(DEFAULT_HEARTBEAT_INTERVAL_MS)))
    this.heartbeatDeadlineMs = options.heartbeatTimeoutMs ?? Math.round(this.heartbeatIntervalMs * 1.5)
    this.missedHeartbeatCloseCode = options.missedHeartbeatCloseCode ?? CloseCode.UNKNOWN_ERROR
    this.#backlogSize = options.backlogSize ?? 1000
    this.#unsubscribe = subscribeDispatches(state, () => this.#sessions.values())
  }

  get url (): string {
    return this.#url
  }

  /** Takes WebSocket upgrades on `server`; `baseUrl` is the server's http:// address. */
  attach (server: Server, baseUrl: string): void {
    this.#url = `${baseUrl.replace(/^http/, 'ws')}${GATEWAY_PATH}`
    server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
      const url = new URL(request.url ?? '/', 'http://127.0.0.1')
      if (url.pathname !== GATEWAY_PATH && url.pathname !== `${GATEWAY_PATH}/`) {
        socket.destroy()
        return
      }
      this.#wss.handleUpgrade(request, socket, head, (ws) => {
        const connection = new GatewayConnection(ws, this)
        this.#connections.add(connection)
        const v = url.searchParams.get('v')
        if (v !== null && v !== String(GATEWAY_VERSION)) connection.close(CloseCode.INVALID_API_VERSION, 'Invalid API version.')
      })
    })
  }

  /** GET /gateway/bot (docs/gateway.mdx "Get Gateway Bot", "Session Start Limit Object"). */
  botInfo (): Record<string, unknown> {
    const now = this.#clock.now()
    const windowMs = this.#clock.real(SESSION_START_WINDOW_MS)
    this.#identifies = this.#identifies.filter((at) => now - at < windowMs)
    const total = this.#options.sessionStartLimit ?? 1000
    const first = this.#identifies[0]
    return {
      url: this.#url,
      shards: this.#options.recommendedShards ?? 1,
      session_start_limit: {
        total,
        remaining: Math.max(0, total - this.#identifies.length),
        reset_after: Math.round(first === undefined ? windowMs : windowMs - (now - first)),
        max_concurrency: this.#options.maxConcurrency ?? 1
      }
    }
  }

  // ------------------------------------------------------------ ConnectionHost

  identify (connection: GatewayConnection, d: unknown): void {
    const result = checkIdentify(this.#state, d)
    if (!result.ok) {
      connection.close(result.code, result.reason)
      return
    }
    this.#identifies.push(this.#clock.now())
    const session = new GatewaySession({
      bot: result.bot,
      tokenId: tokenId(result.token),
      intents: result.intents,
      shard: result.shard,
      largeThreshold: result.largeThreshold,
      backlogSize: this.#backlogSize,
      gate: this.#gate
    })
    this.#sessions.set(session.id, session)
    session.attach(connection)
    connection.session = session
    const guilds = botGuilds(this.#state, result.bot).filter((g) => session.routes(g.id))
    session.dispatch('READY', readyData(this.#state, { bot: result.bot, guilds, sessionId: session.id, resumeUrl: this.#url, shard: result.shard }))
    // docs/gateway-events.mdx "Guild Create", scenario 1: backfill every guild READY listed as unavailable.
    for (const guild of guilds) {
      if (session.wants('GUILD_CREATE', guild.id)) session.dispatch('GUILD_CREATE', guildCreateData(this.#state, guild, result.bot, result.intents, result.largeThreshold))
    }
  }

  resume (connection: GatewayConnection, d: unknown): void {
    const r = d as { token?: unknown, session_id?: unknown, seq?: unknown } | null
    if (r === null || typeof r !== 'object' || typeof r.token !== 'string' || typeof r.session_id !== 'string') {
      connection.close(CloseCode.DECODE_ERROR, 'Decode error.')
      return
    }
    const session = this.#sessions.get(r.session_id)
    if (session !== undefined && tokenId(r.token) !== session.tokenId) {
      connection.close(CloseCode.AUTHENTICATION_FAILED, 'Authentication failed.')
      return
    }
    if (session === undefined || this.#refuseResumes) {
      if (session !== undefined) this.#end(session)
      connection.send(payload(Op.INVALID_SESSION, false))
      return
    }
    // A null seq: the client saw no dispatch (docs: heartbeats send null before the first one).
    const replay = session.replayAfter(r.seq === null || r.seq === undefined ? 0 : r.seq as number)
    if (replay === 'invalid') {
      connection.close(CloseCode.INVALID_SEQ, 'Invalid seq.')
      return
    }
    if (replay === null) {
      this.#end(session)
      connection.send(payload(Op.INVALID_SESSION, false))
      return
    }
    // The old socket may still look alive to the server (a zombie): the new one takes over.
    const previous = session.sink
    if (previous instanceof GatewayConnection && previous !== connection) {
      previous.session = null
      previous.drop()
    }
    session.attach(connection)
    connection.session = session
    // docs/gateway.mdx "Resuming": the missed events in order, then RESUMED.
    for (const p of replay) connection.send(p)
    session.dispatch('RESUMED', null)
  }

  closed (connection: GatewayConnection, code: number): void {
    this.#connections.delete(connection)
    const session = connection.session
    if (session === null || session.sink !== connection) return
    session.sink = null
    // docs/gateway.mdx "Initiating a Disconnect": closing with 1000 or 1001 invalidates the session.
    if (code === 1000 || code === 1001) this.#end(session)
  }

  #end (session: GatewaySession): void {
    session.invalidated = true
    // The socket stays open (the client decides when to close), but may IDENTIFY afresh on it.
    if (session.sink instanceof GatewayConnection) session.sink.session = null
    session.sink = null
    this.#sessions.delete(session.id)
  }

  // ------------------------------------------------------------ test controls

  sessions (): GatewaySessionInfo[] {
    return [...this.#sessions.values()].map((s) => ({
      sessionId: s.id,
      botUserId: s.bot.userId,
      applicationId: s.bot.applicationId,
      intents: s.intents,
      shard: s.shard,
      seq: s.seq,
      connected: s.sink !== null,
      heartbeats: s.sink instanceof GatewayConnection ? s.sink.heartbeats : 0
    }))
  }

  /** Connections of one session, or every connection (identified or not) when no id is given. */
  #targets (sessionId: string | undefined, identifiedOnly: boolean): GatewayConnection[] {
    return [...this.#connections].filter((c) => c.open && (sessionId === undefined ? !identifiedOnly || c.session !== null : c.session?.id === sessionId))
  }

  dropConnection (options: DropOptions = {}): number {
    const targets = this.#targets(options.sessionId, false)
    for (const c of targets) {
      if (options.code === undefined) c.drop()
      else c.close(options.code, 'Closed by the simulator.')
    }
    return targets.length
  }

  holdDispatches (options: { ms?: number } = {}): () => void {
    this.#gate.held = true
    clearTimeout(this.#holdTimer)
    if (options.ms !== undefined) {
      this.#holdTimer = setTimeout(() => this.releaseDispatches(), options.ms)
      this.#holdTimer.unref()
    }
    return () => this.releaseDispatches()
  }

  releaseDispatches (): void {
    clearTimeout(this.#holdTimer)
    this.#gate.held = false
    for (const session of this.#sessions.values()) session.flush()
  }

  refuseResumes (refuse = true): void {
    this.#refuseResumes = refuse
  }

  requestReconnect (sessionId?: string): number {
    return this.#sendTo(sessionId, Op.RECONNECT, null)
  }

  requestHeartbeat (sessionId?: string): number {
    return this.#sendTo(sessionId, Op.HEARTBEAT, null)
  }

  invalidateSession (sessionId?: string, resumable = false): number {
    const targets = this.#targets(sessionId, true)
    for (const c of targets) {
      if (!resumable && c.session !== null) this.#end(c.session)
      c.send(payload(Op.INVALID_SESSION, resumable))
    }
    return targets.length
  }

  #sendTo (sessionId: string | undefined, op: number, d: unknown): number {
    const targets = this.#targets(sessionId, true)
    for (const c of targets) c.send(payload(op, d))
    return targets.length
  }

  async close (): Promise<void> {
    this.#unsubscribe()
    clearTimeout(this.#holdTimer)
    for (const c of this.#connections) c.drop()
    this.#connections.clear()
    await new Promise<void>((resolve) => this.#wss.close(() => resolve()))
  }
}
