import { spawn, type ChildProcess } from 'node:child_process'
import { createServer } from 'node:net'

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

/**
 * Resolves when redis-server logs that it accepts connections (its own event, on stdout: no
 * logfile is given), rejects if it exits first or says nothing within `timeoutMs`.
 */
async function waitForReady (proc: ChildProcess, port: number, timeoutMs: number): Promise<void> {
  const stdout = proc.stdout
  if (stdout === null) throw new Error('redis-server has no stdout')
  await new Promise<void>((resolve, reject) => {
    let seen = ''
    const finish = (err?: Error): void => {
      clearTimeout(timer)
      stdout.off('data', onData)
      proc.off('exit', onExit)
      // Keep draining, so a full pipe never blocks the server.
      stdout.resume()
      if (err === undefined) resolve()
      else reject(err)
    }
    const onData = (chunk: Buffer): void => {
      seen = (seen + chunk.toString('utf8')).slice(-4096)
      if (seen.includes('Ready to accept connections')) finish()
    }
    const onExit = (): void => finish(new Error(`redis-server on port ${port} exited before it was ready: ${seen.slice(-500)}`))
    const timer = setTimeout(() => finish(new Error(`redis-server on port ${port} was not ready within ${timeoutMs} ms`)), timeoutMs)
    stdout.on('data', onData)
    proc.once('exit', onExit)
  })
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
    const proc = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'yes'], { stdio: ['ignore', 'pipe', 'ignore'] })
    this.#proc = proc
    proc.once('exit', () => { if (this.#proc === proc) this.#proc = null })
    await waitForReady(proc, this.port, 10_000)
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
