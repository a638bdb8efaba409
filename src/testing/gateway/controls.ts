/*
 * What tests hold: `sim.gateway`, the Gateway's options, and what they can read about sessions.
 */

export interface GatewayOptions {
  /** HELLO's `heartbeat_interval` in real ms (default 45000, the docs' example, divided by `timeScale`). */
  heartbeatIntervalMs?: number
  /** Real ms without a heartbeat (or since HELLO) before the connection is closed (default 1.5 x the interval). */
  heartbeatTimeoutMs?: number
  /**
   * Close code for a missed heartbeat. The docs name none ("your connection will be closed and you
   * will be forced to Resume"), so the default is 4000 (Unknown error), a code clients may resume after.
   */
  missedHeartbeatCloseCode?: number
  /** Dispatches each session keeps for RESUME (default 1000). A RESUME from further back gets op 9 d:false. */
  backlogSize?: number
  /** GET /gateway/bot `shards` (default 1). */
  recommendedShards?: number
  /** GET /gateway/bot `session_start_limit.max_concurrency` (default 1). */
  maxConcurrency?: number
  /** GET /gateway/bot `session_start_limit.total` (default 1000, docs/gateway.mdx "Identifying"). */
  sessionStartLimit?: number
}

/** What tests can read about a Gateway session. */
export interface GatewaySessionInfo {
  sessionId: string
  botUserId: string
  applicationId: string
  intents: number
  shard: [number, number] | null
  /** The last sequence number dispatched (0 before READY). */
  seq: number
  /** Whether a WebSocket serves the session now. */
  connected: boolean
  /** Heartbeats received on the current connection. */
  heartbeats: number
}

export interface DropOptions {
  /** Only this session's socket (default: every connection). */
  sessionId?: string
  /**
   * Close with this code (a Gateway close code such as 4000, or 1000/1001 which invalidate the
   * session). Without a code the TCP connection just goes away and the client sees 1006.
   */
  code?: number
}

/** `sim.gateway`: the Gateway's address and the controls tests use to disturb it. */
export interface SimulatorGateway {
  /** ws://127.0.0.1:PORT/gateway: what GET /gateway/bot returns as `url` and READY as `resume_gateway_url`. */
  readonly url: string
  /** Sessions that can still be resumed (connected or not), oldest first. */
  sessions: () => GatewaySessionInfo[]
  /** Drops the socket of one session (or every connection). Returns how many sockets were dropped. */
  dropConnection: (options?: DropOptions) => number
  /**
   * Holds dispatches: they are numbered and kept for RESUME at once, but written only on release
   * (after `ms` real milliseconds, or when the returned function or `releaseDispatches` is called).
   */
  holdDispatches: (options?: { ms?: number }) => () => void
  /** Writes every held dispatch, in order, and stops holding. */
  releaseDispatches: () => void
  /** While set, every RESUME is answered with op 9 INVALID_SESSION d:false and its session ends. */
  refuseResumes: (refuse?: boolean) => void
  /** Sends op 7 RECONNECT to one session (or every identified connection). Returns how many got it. */
  requestReconnect: (sessionId?: string) => number
  /** Sends op 1 HEARTBEAT (a heartbeat request) to one session or every identified connection. */
  requestHeartbeat: (sessionId?: string) => number
  /** Sends op 9 INVALID_SESSION with `d: resumable`; unless resumable, the session ends. */
  invalidateSession: (sessionId?: string, resumable?: boolean) => number
}
