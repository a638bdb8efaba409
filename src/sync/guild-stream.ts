/*
 * A forced full-list sync of a large guild as a pipeline: member pages are read and planned
 * while the members planned on earlier pages are written. Planning a page is cheap and a page
 * read costs one call of its own bucket, while writes go one at a time through the guild's
 * member-write bucket, so the writes set the pace and the reader waits for them: it reads the
 * next page only while fewer than `highWater` members wait to be written. What a sync holds is
 * therefore one page of members plus at most `highWater` candidates, however large the guild.
 *
 * Only a forced run streams: the safety brake must know the whole plan before the first write,
 * so an unforced run plans every page first (guild-sync.ts), keeping its candidates only while
 * they stay within `max_role_changes_per_sync`.
 */
import type { Candidate, GuildContext } from './guild-context.js'
import { applyOne, markIncomplete } from './guild-apply.js'
import { planGuild } from './guild-plan.js'

/**
 * A first-in first-out queue between one producer and a few consumers. `push` never waits;
 * the producer calls `room()` to wait until the queue is at or below its high-water mark.
 * `take()` resolves with the next item, or undefined once the queue is closed and empty.
 */
export class WorkQueue<T> {
  readonly highWater: number
  #items: Array<T | undefined> = []
  #head = 0
  #closed = false
  #takers: Array<() => void> = []
  #roomWaiters: Array<() => void> = []
  #peak = 0

  constructor (highWater: number) {
    this.highWater = Math.max(1, highWater)
  }

  get size (): number {
    return this.#items.length - this.#head
  }

  /** The most items the queue ever held at once. */
  get peak (): number {
    return this.#peak
  }

  push (item: T): void {
    if (this.#closed) throw new Error('the queue is closed')
    this.#items.push(item)
    if (this.size > this.#peak) this.#peak = this.size
    this.#takers.shift()?.()
  }

  /** Resolves once the queue holds no more than its high-water mark (at once when it already does). */
  async room (): Promise<void> {
    while (this.size > this.highWater) await new Promise<void>((resolve) => this.#roomWaiters.push(resolve))
  }

  async take (): Promise<T | undefined> {
    while (this.size === 0) {
      if (this.#closed) return undefined
      await new Promise<void>((resolve) => this.#takers.push(resolve))
    }
    const item = this.#items[this.#head] as T
    // Released at once, so the array never keeps a taken item alive.
    this.#items[this.#head++] = undefined
    if (this.#head >= 1024 && this.#head * 2 >= this.#items.length) {
      this.#items = this.#items.slice(this.#head)
      this.#head = 0
    }
    if (this.size <= this.highWater) for (const wake of this.#roomWaiters.splice(0)) wake()
    return item
  }

  /** No more items: consumers drain what is left, then `take()` answers undefined. */
  close (): void {
    this.#closed = true
    for (const wake of this.#takers.splice(0)) wake()
  }
}

/** Candidates waiting to be written, at most, before the reader waits: one page of 1000 members may all need a change. */
export const STREAM_HIGH_WATER = 1000

/**
 * Plans and applies every member of the guild page by page (a forced full-list real run). The
 * apply workers start at once and take candidates as the pages are planned.
 */
export async function streamGuild (g: GuildContext, botUserId: string, highWater = STREAM_HIGH_WATER): Promise<void> {
  const queue = new WorkQueue<Candidate>(highWater)
  const worker = async (): Promise<void> => {
    for (let c = await queue.take(); c !== undefined; c = await queue.take()) {
      await applyOne(g, c)
    }
  }
  const workers = Array.from({ length: Math.max(1, g.deps.workers) }, worker)
  let readError: { err: unknown } | null = null
  try {
    await planGuild(g, botUserId, async () => {
      for (const c of g.candidates) queue.push(c)
      g.candidates.length = 0
      await queue.room()
    })
  } catch (err) {
    readError = { err }
  } finally {
    queue.close()
  }
  g.run.progress.phase = 'applying'
  // Whatever stopped the reader, candidates already planned are written (or recorded as skipped).
  await Promise.all(workers)
  // A halt aborts the page read in flight: the halt is the guild's outcome, not the abort.
  if (readError !== null && g.halted === null) throw readError.err
  markIncomplete(g)
}
