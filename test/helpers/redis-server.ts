import { spawn, type ChildProcess } from 'node:child_process'
import { createServer, connect } from 'node:net'

/*
 * A private redis-server process on a free loopback port, for fault tests: stop it (SIGSTOP, a
 * hung Redis), continue it, kill it (SIGKILL) and start an empty one on the same port. No
 * persistence, so a restart is always empty. Whoever starts one must call `close()` (afterEach),
 * which kills the process whatever state it is in, a stopped one included.
 */

/** A TCP port nobody listens on right now (127.0.0.1). */
export async function freePort (): Promise<number> {
  return await new Promise<number>((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 0))
    })
  })
}

/** Resolves once something accepts TCP connections on the port and answers PING, or rejects after `timeoutMs`. */
async function waitForPong (port: number, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect({ host: '127.0.0.1', port })
      const done = (v: boolean): void => { socket.destroy(); resolve(v) }
      socket.setTimeout(200, () => done(false))
      socket.once('error', () => done(false))
      socket.once('connect', () => socket.write('PING\r\n'))
      socket.once('data', (d) => done(String(d).startsWith('+PONG')))
    })
    if (ok) return
    if (performance.now() > deadline) throw new Error(`redis-server on port ${port} did not answer within ${timeoutMs} ms`)
    // Polling a process that is still binding its port: the wait is what is being measured.
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

export class RedisServer {
  readonly port: number
  #proc: ChildProcess | null = null
  #stopped = false

  private constructor (port: number) {
    this.port = port
  }

  /** Starts redis-server on a free port (or `port`) and waits until it answers. */
  static async start (port?: number): Promise<RedisServer> {
    const server = new RedisServer(port ?? await freePort())
    await server.restart()
    return server
  }

  get url (): string {
    return `redis://127.0.0.1:${this.port}`
  }

  get pid (): number | undefined {
    return this.#proc?.pid
  }

  /** Starts a fresh, empty process on the same port (after `kill`), and waits until it answers. */
  async restart (): Promise<void> {
    if (this.#proc !== null) throw new Error('redis-server is still running')
    const proc = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'yes'], { stdio: 'ignore' })
    this.#proc = proc
    proc.once('exit', () => { if (this.#proc === proc) this.#proc = null })
    await waitForPong(this.port, 10_000)
  }

  /** SIGSTOP: the process keeps its connections and answers nothing (a hung Redis). */
  stop (): void {
    this.#proc?.kill('SIGSTOP')
    this.#stopped = true
  }

  /** SIGCONT after `stop`. */
  resume (): void {
    this.#proc?.kill('SIGCONT')
    this.#stopped = false
  }

  /** SIGKILL, and waits until the process is gone (its port is then free for `restart`). */
  async kill (): Promise<void> {
    const proc = this.#proc
    if (proc === null) return
    if (proc.exitCode !== null || proc.signalCode !== null) {
      this.#proc = null
      return
    }
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()))
    proc.kill('SIGKILL')
    await exited
    this.#proc = null
    this.#stopped = false
  }

  /** Kills the process, stopped or not. Safe to call twice. */
  async close (): Promise<void> {
    if (this.#stopped) this.resume()
    await this.kill()
  }
}
