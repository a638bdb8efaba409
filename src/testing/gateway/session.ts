import { randomBytes } from 'node:crypto'
import type { SimBot } from '../state/types.js'
import { EVENT_INTENT, Op, shardOf, type GatewayPayload } from './protocol.js'

/*
 * A Gateway session: what IDENTIFY creates and RESUME continues. It outlives its WebSocket
 * (docs/gateway.mdx "Initiating a Disconnect": a session stays resumable after a drop), numbers
 * its dispatches, and keeps the last ones so a RESUME can replay what the client missed.
 */

/** Where a session writes: the live connection, if any. */
export interface SessionSink {
  send: (payload: GatewayPayload) => void
}

/** Held dispatches: shared by every session of one Gateway (sim.gateway.holdDispatches). */
export interface DispatchGate {
  held: boolean
}

export class GatewaySession {
  readonly id = randomBytes(16).toString('hex')
  readonly bot: SimBot
  /** Hash id of the token that identified (RESUME must present the same token). */
  readonly tokenId: string
  readonly intents: number
  readonly shard: [number, number] | null
  /** IDENTIFY's large_threshold (GUILD_CREATE `large`). */
  readonly largeThreshold: number
  seq = 0
  sink: SessionSink | null = null
  /** Set when the session can no longer be resumed (client closed with 1000/1001, op 9 d:false). */
  invalidated = false

  readonly #backlog: GatewayPayload[] = []
  readonly #backlogSize: number
  readonly #gate: DispatchGate
  /** Dispatches numbered while the gate was held, not yet written. */
  #pending: GatewayPayload[] = []

  constructor (input: { bot: SimBot, tokenId: string, intents: number, shard: [number, number] | null, largeThreshold: number, backlogSize: number, gate: DispatchGate }) {
    this.bot = input.bot
    this.largeThreshold = input.largeThreshold
    this.tokenId = input.tokenId
    this.intents = input.intents
    this.shard = input.shard
    this.#backlogSize = input.backlogSize
    this.#gate = input.gate
  }

  /** Whether this session receives event `t` about `guildId` (intent and shard routing). */
  wants (t: string, guildId: string | null): boolean {
    const intent = EVENT_INTENT[t]
    if (intent !== undefined && intent !== null && (this.intents & intent) === 0) return false
    return this.routes(guildId)
  }

  /** Whether this session's shard carries events about `guildId`. */
  routes (guildId: string | null): boolean {
    // docs/gateway.mdx "Sharding": events without a guild_id go to shard 0 only.
    if (this.shard === null) return true
    return guildId === null ? this.shard[0] === 0 : shardOf(guildId, this.shard[1]) === this.shard[0]
  }

  /** Numbers the dispatch, keeps it for replay, and writes it unless the gate holds it. */
  dispatch (t: string, d: unknown): void {
    if (this.invalidated) return
    const p: GatewayPayload = { op: Op.DISPATCH, d, s: ++this.seq, t }
    this.#backlog.push(p)
    if (this.#backlog.length > this.#backlogSize) this.#backlog.shift()
    if (this.#gate.held) this.#pending.push(p)
    else this.sink?.send(p)
  }

  /** Writes what the gate held, in order. */
  flush (): void {
    const pending = this.#pending
    this.#pending = []
    for (const p of pending) this.sink?.send(p)
  }

  /**
   * Dispatches after `seq`, for a RESUME; null when some of them are no longer kept (the client
   * must start a new session). A `seq` ahead of the session is not a sequence it ever received.
   */
  replayAfter (seq: number): GatewayPayload[] | null | 'invalid' {
    if (!Number.isInteger(seq) || seq < 0 || seq > this.seq) return 'invalid'
    const first = this.#backlog[0]?.s ?? this.seq + 1
    if (seq + 1 < first) return null
    return this.#backlog.filter((p) => (p.s ?? 0) > seq)
  }

  /** A new connection took the session over: what was held for the old one is replayed instead. */
  attach (sink: SessionSink): void {
    this.sink = sink
    this.#pending = []
  }
}
