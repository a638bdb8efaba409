/*
 * `sync.writeDelay` (the seed's DISCORD_RATE_LIMIT_DELAY): a minimum spacing between role
 * writes to one guild, for operators who want a gentler pace than Discord's rate-limit headers
 * allow. 0 (the default) adds no wait: the headers alone set the pace. Workers of one guild
 * take turns: each write reserves the next slot, so N workers still write one per delay.
 */
export class WritePacer {
  readonly #delayMs: number
  readonly #next = new Map<string, number>()

  constructor (delayMs: number) {
    this.#delayMs = delayMs
  }

  get delayMs (): number {
    return this.#delayMs
  }

  /** Waits for this guild's next write slot (at once when the delay is 0); an abort stops the wait. */
  async wait (guildId: string, signal?: AbortSignal): Promise<void> {
    if (this.#delayMs <= 0) return
    signal?.throwIfAborted()
    const now = performance.now()
    const slot = Math.max(now, this.#next.get(guildId) ?? 0)
    this.#next.set(guildId, slot + this.#delayMs)
    const ms = slot - now
    if (ms <= 0) return
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => { signal?.removeEventListener('abort', onAbort); resolve() }, ms)
      const onAbort = (): void => { clearTimeout(timer); reject(signal?.reason) }
      signal?.addEventListener('abort', onAbort, { once: true })
    })
  }
}
