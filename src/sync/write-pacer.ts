/*
 * `sync.writeDelay` (the seed's DISCORD_RATE_LIMIT_DELAY): a minimum spacing between role
 * writes to one guild, for operators who want a gentler pace than Discord's rate-limit headers
 * allow. 0 (the default) adds no wait: the headers alone set the pace.
 *
 * Workers of one guild wait in line, and each is let go `delayMs` after the previous one was
 * actually let go, not at a slot planned in advance: planned slots bunch up when the event loop
 * runs timers late (a busy process fires two overdue slots together), which is when a gentle pace
 * matters most.
 */
import { sleep } from '../discord/util.js'
import { abortable } from './membership.js'

export class WritePacer {
  readonly #delayMs: number
  /** Per guild: settles once the last writer in line has been let go (or gave up its turn). */
  readonly #line = new Map<string, Promise<void>>()
  /** Per guild: when its last write was let go (performance.now()). */
  readonly #lastAt = new Map<string, number>()

  constructor (delayMs: number) {
    this.#delayMs = delayMs
  }

  get delayMs (): number {
    return this.#delayMs
  }

  /** Waits for this guild's turn to write (at once when the delay is 0); an abort stops the wait. */
  async wait (guildId: string, signal?: AbortSignal): Promise<void> {
    if (this.#delayMs <= 0) return
    signal?.throwIfAborted()
    const before = this.#line.get(guildId) ?? Promise.resolve()
    let done!: () => void
    const mine = new Promise<void>((resolve) => { done = resolve })
    this.#line.set(guildId, mine)
    // The next in line may go once this one went or gave up, never before the one ahead of it.
    const leave = (): void => {
      done()
      if (this.#line.get(guildId) === mine) this.#line.delete(guildId)
    }
    try {
      if (signal !== undefined) await abortable(before, signal)
      else await before
    } catch (err) {
      before.then(leave, leave)
      throw err
    }
    try {
      // Timers may fire a fraction of a millisecond early against performance.now(): wait again.
      for (let ms = this.#remaining(guildId); ms > 0; ms = this.#remaining(guildId)) {
        await sleep(Math.ceil(ms), signal)
      }
      this.#lastAt.set(guildId, performance.now())
    } finally {
      leave()
    }
  }

  #remaining (guildId: string): number {
    const last = this.#lastAt.get(guildId)
    return last === undefined ? 0 : last + this.#delayMs - performance.now()
  }
}
