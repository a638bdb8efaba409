import { WebSocket, type RawData } from 'ws'
import { CLIENT_OPS, CloseCode, MAX_CLIENT_PAYLOAD_BYTES, Op, payload, type GatewayPayload } from './protocol.js'
import type { GatewaySession, SessionSink } from './session.js'

/*
 * One WebSocket to the Gateway: HELLO on open, the heartbeat watch, decoding what the client
 * sends and the close codes for doing it wrong (docs/opcodes-and-status-codes.mdx). IDENTIFY and
 * RESUME are the host's business, since they create or take over a session.
 */

export interface ConnectionHost {
  readonly heartbeatIntervalMs: number
  /** How long after the last heartbeat (or HELLO) the connection is closed as a zombie. */
  readonly heartbeatDeadlineMs: number
  readonly missedHeartbeatCloseCode: number
  identify: (connection: GatewayConnection, d: unknown) => void
  resume: (connection: GatewayConnection, d: unknown) => void
  closed: (connection: GatewayConnection, code: number) => void
}

export class GatewayConnection implements SessionSink {
  /** The session this socket serves, once IDENTIFY or RESUME succeeded. */
  session: GatewaySession | null = null
  /** Heartbeats received (tests read it through the session info). */
  heartbeats = 0
  readonly #ws: WebSocket
  readonly #host: ConnectionHost
  #deadline: NodeJS.Timeout | undefined

  constructor (ws: WebSocket, host: ConnectionHost) {
    this.#ws = ws
    this.#host = host
    ws.on('message', (data, isBinary) => this.#receive(data, isBinary))
    ws.on('close', (code) => {
      clearTimeout(this.#deadline)
      host.closed(this, code)
    })
    // A client that vanished mid-write is the same as a drop: 'close' follows.
    ws.on('error', () => {})
    this.send(payload(Op.HELLO, { heartbeat_interval: host.heartbeatIntervalMs }))
    this.#armDeadline()
  }

  get open (): boolean {
    return this.#ws.readyState === WebSocket.OPEN
  }

  send (p: GatewayPayload): void {
    if (this.open) this.#ws.send(JSON.stringify(p))
  }

  /** A clean close with a Gateway close code. */
  close (code: number, reason = ''): void {
    clearTimeout(this.#deadline)
    if (this.#ws.readyState === WebSocket.OPEN || this.#ws.readyState === WebSocket.CONNECTING) this.#ws.close(code, reason)
  }

  /** The TCP connection just goes away: the client sees 1006 and no close code. */
  drop (): void {
    clearTimeout(this.#deadline)
    this.#ws.terminate()
  }

  #armDeadline (): void {
    clearTimeout(this.#deadline)
    this.#deadline = setTimeout(() => {
      // docs/gateway.mdx "Heartbeat Interval": "If your app fails to send a heartbeat event in time,
      // your connection will be closed and you will be forced to Resume."
      this.close(this.#host.missedHeartbeatCloseCode, 'Heartbeat missed.')
    }, this.#host.heartbeatDeadlineMs)
    this.#deadline.unref()
  }

  #receive (data: RawData, isBinary: boolean): void {
    const bytes = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer)
    if (bytes.length > MAX_CLIENT_PAYLOAD_BYTES) {
      this.close(CloseCode.DECODE_ERROR, 'Payload too large.')
      return
    }
    let message: unknown
    try {
      // The simulator speaks encoding=json only; ETF and compressed frames do not decode.
      message = isBinary ? undefined : JSON.parse(bytes.toString('utf8'))
    } catch {
      message = undefined
    }
    if (message === null || typeof message !== 'object' || typeof (message as { op?: unknown }).op !== 'number') {
      this.close(CloseCode.DECODE_ERROR, 'Decode error.')
      return
    }
    const { op, d } = message as { op: number, d?: unknown }
    if (!CLIENT_OPS.has(op)) {
      this.close(CloseCode.UNKNOWN_OPCODE, 'Unknown opcode.')
      return
    }
    switch (op) {
      case Op.HEARTBEAT:
        this.heartbeats++
        this.#armDeadline()
        this.send(payload(Op.HEARTBEAT_ACK, null))
        return
      case Op.IDENTIFY:
        if (this.session !== null) this.close(CloseCode.ALREADY_AUTHENTICATED, 'Already authenticated.')
        else this.#host.identify(this, d)
        return
      case Op.RESUME:
        if (this.session !== null) this.close(CloseCode.ALREADY_AUTHENTICATED, 'Already authenticated.')
        else this.#host.resume(this, d)
        return
      default:
        // Presence, voice, member and channel requests are accepted but not simulated.
        if (this.session === null) this.close(CloseCode.NOT_AUTHENTICATED, 'Not authenticated.')
    }
  }
}
