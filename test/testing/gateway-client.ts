import { WebSocket } from 'ws'
import type { GatewayPayload } from '../../src/testing/index.js'

/*
 * A bare Gateway client for the simulator's tests: it speaks only what a test tells it to, and
 * lets the test await the next payload that matches (no sleeps: every wait ends on a message or
 * a close, with a timeout only as the failure path).
 */

const WAIT_MS = 5000

interface Waiter {
  match: (p: GatewayPayload) => boolean
  resolve: (p: GatewayPayload) => void
}

export class RawGatewayClient {
  readonly received: GatewayPayload[] = []
  /** The close code the client saw (1006 when the TCP connection just went away). */
  readonly closed: Promise<number>
  readonly #ws: WebSocket
  /** Payloads before this index were handed to a waiter already. */
  #cursor = 0
  #waiters: Waiter[] = []

  private constructor (ws: WebSocket) {
    this.#ws = ws
    this.closed = new Promise((resolve) => ws.on('close', (code) => resolve(code)))
    ws.on('message', (data) => {
      const p = JSON.parse(String(data)) as GatewayPayload
      this.received.push(p)
      this.#settle()
    })
  }

  static async connect (url: string): Promise<RawGatewayClient> {
    const ws = new WebSocket(url)
    const client = new RawGatewayClient(ws)
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve())
      ws.once('error', reject)
    })
    return client
  }

  send (op: number, d: unknown): void {
    this.#ws.send(JSON.stringify({ op, d }))
  }

  sendRaw (data: string): void {
    this.#ws.send(data)
  }

  close (code = 4999): void {
    this.#ws.close(code)
  }

  /** The next payload (after those already taken) that matches; the ones skipped stay taken. */
  async next (match: (p: GatewayPayload) => boolean = () => true, what = 'a payload'): Promise<GatewayPayload> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${what} within ${WAIT_MS} ms; received ${JSON.stringify(this.received.map((p) => p.t ?? p.op))}`)), WAIT_MS)
      this.#waiters.push({ match, resolve: (p) => { clearTimeout(timer); resolve(p) } })
      this.#settle()
    })
  }

  async op (op: number): Promise<GatewayPayload> {
    return this.next((p) => p.op === op, `op ${op}`)
  }

  async dispatch (t: string): Promise<GatewayPayload> {
    return this.next((p) => p.op === 0 && p.t === t, t)
  }

  /**
   * Every payload up to a heartbeat request the server sends now. WebSocket frames keep their order,
   * so whatever the server wrote before the request is in the list, and nothing after it: this
   * proves an event was NOT sent without waiting for it.
   */
  async until (barrier: () => void): Promise<GatewayPayload[]> {
    const from = this.#cursor
    barrier()
    await this.op(1)
    return this.received.slice(from, this.#cursor - 1)
  }

  #settle (): void {
    while (this.#waiters.length > 0) {
      const waiter = this.#waiters[0]!
      let found = -1
      for (let i = this.#cursor; i < this.received.length; i++) {
        if (waiter.match(this.received[i]!)) {
          found = i
          break
        }
      }
      if (found === -1) return
      this.#cursor = found + 1
      this.#waiters.shift()
      waiter.resolve(this.received[found]!)
    }
  }
}
