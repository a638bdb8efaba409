import type { FastifyBaseLogger } from 'fastify'
import type { TaskLock } from '../../tasks/lock.js'

/*
 * Which instance holds the Gateway connection. Discord delivers each event to every session, so
 * two instances connected at once would handle every join and drift twice; one leader holds the
 * connections and the others wait. The lock lives in Redis with a TTL renewed every third of it:
 * a leader that dies (SIGKILL, network cut) stops renewing, its lock lapses, and the next attempt
 * of another instance takes over — within one TTL plus one renewal period. Without Redis the
 * single instance is always the leader.
 */

export interface LeadershipDeps {
  /** null: no Redis, this instance leads. */
  lock: TaskLock | null
  ttlMs: number
  log: FastifyBaseLogger
  /** Called when this instance becomes the leader, and when it stops being one. */
  onChange: (leader: boolean) => void
  now?: () => number
}

export class Leadership {
  readonly #d: LeadershipDeps
  readonly #now: () => number
  #token: string | null = null
  #renewedAt = 0
  #timer: NodeJS.Timeout | null = null
  #stepping: Promise<void> = Promise.resolve()
  #stopped = false

  constructor (deps: LeadershipDeps) {
    this.#d = deps
    this.#now = deps.now ?? Date.now
  }

  get leader (): boolean {
    return this.#d.lock === null ? !this.#stopped : this.#token !== null
  }

  /** Starts competing; resolves after the first attempt (so a lone instance leads at once). */
  async start (): Promise<void> {
    this.#stopped = false
    if (this.#d.lock === null) {
      this.#d.onChange(true)
      return
    }
    await this.step()
    this.#timer = setInterval(() => { this.step().catch(() => {}) }, Math.max(500, Math.floor(this.#d.ttlMs / 3)))
    // Leadership must never keep a host process alive on its own.
    this.#timer.unref()
  }

  /** One attempt: renew when leading, acquire otherwise. Serialised, so a slow Redis cannot overlap two steps. */
  step (): Promise<void> {
    this.#stepping = this.#stepping.then(() => this.#step())
    return this.#stepping
  }

  async #step (): Promise<void> {
    const lock = this.#d.lock
    if (lock === null || this.#stopped) return
    try {
      if (this.#token === null) {
        const token = await lock.acquire()
        if (token === null || this.#stopped) {
          if (token !== null) await lock.release(token).catch(() => {})
          return
        }
        this.#token = token
        this.#renewedAt = this.#now()
        this.#d.log.info('gateway leadership acquired')
        this.#d.onChange(true)
        return
      }
      if (await lock.renew(this.#token)) {
        this.#renewedAt = this.#now()
        return
      }
      this.#lose('lost to another instance')
    } catch (err) {
      // Redis unreachable: nobody else can take the lock before it lapses, so keep leading until
      // then; past it another instance may hold it, and two connections must never run at once.
      if (this.#token !== null && this.#now() - this.#renewedAt >= this.#d.ttlMs) this.#lose('lock could not be renewed in time')
      this.#d.log.warn({ err: { message: (err as Error)?.message } }, 'gateway leadership: Redis unavailable')
    }
  }

  #lose (why: string): void {
    this.#token = null
    this.#d.log.warn({ why }, 'gateway leadership lost')
    this.#d.onChange(false)
  }

  /** Stops competing and hands the lock back, so another instance takes over at once. */
  async stop (): Promise<void> {
    this.#stopped = true
    if (this.#timer !== null) clearInterval(this.#timer)
    this.#timer = null
    await this.#stepping
    const token = this.#token
    this.#token = null
    if (token !== null) await this.#d.lock?.release(token).catch(() => {})
    this.#d.onChange(false)
  }
}
