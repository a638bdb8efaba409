import { describe, expect, it } from 'vitest'
import { WritePacer } from '../../src/sync/write-pacer.js'

/*
 * sync.writeDelay's pacer on real timers. Each write waits for the one ahead of it and goes
 * `delayMs` after that one actually went, so a blocked event loop (timers firing late) never lets
 * two writes of one guild out together.
 */

/** Keeps the event loop busy for `ms`: what a loaded process does to every timer due meanwhile. */
function block (ms: number): void {
  const until = performance.now() + ms
  while (performance.now() < until) { /* busy */ }
}

/** Starts `n` waits for one guild at once; resolves with when each was let go, in line order. */
function line (pacer: WritePacer, guild: string, n: number, signals: Array<AbortSignal | undefined> = []): Array<Promise<number>> {
  return Array.from({ length: n }, async (_, i) => {
    await pacer.wait(guild, signals[i])
    return performance.now()
  })
}

describe('WritePacer', () => {
  it('adds no wait when the delay is 0 (the default): no timer, the next microtask', async () => {
    const pacer = new WritePacer(0)
    let done = 0
    for (let i = 0; i < 3; i++) pacer.wait('g').then(() => { done++ }, () => {})
    await Promise.resolve()
    await Promise.resolve()
    expect(done).toBe(3)
  })

  it('spaces the writes of one guild by the delay even when the event loop ran their timers late', async () => {
    const pacer = new WritePacer(100)
    const [first, ...rest] = line(pacer, 'g', 3)
    const at = [await (first as Promise<number>)]
    // The second and third writes' turns fall inside this block: both are overdue when it ends.
    block(350)
    at.push(...await Promise.all(rest))
    for (let i = 1; i < at.length; i++) expect((at[i] as number) - (at[i - 1] as number)).toBeGreaterThanOrEqual(99)
  })

  it('lets an aborted writer reject with its reason and give up its place: the ones behind it still go, spaced', async () => {
    const pacer = new WritePacer(100)
    const abort = new AbortController()
    // w0 goes at once; a waits its turn; b gives up while a still waits; c must still follow a.
    const [w0, a, b, c] = line(pacer, 'g', 4, [undefined, undefined, abort.signal, undefined])
    await w0
    abort.abort(new Error('run cancelled'))
    await expect(b).rejects.toThrow('run cancelled')
    const [atA, atC] = await Promise.all([a, c]) as [number, number]
    expect(atC - atA).toBeGreaterThanOrEqual(99)
  })

  it('keeps guilds apart: one guild\'s line does not hold another\'s writes', async () => {
    const pacer = new WritePacer(60_000)
    await pacer.wait('g1')
    const queued = pacer.wait('g1', AbortSignal.timeout(50))
    const start = performance.now()
    await pacer.wait('g2')
    expect(performance.now() - start).toBeLessThan(60_000)
    await expect(queued).rejects.toThrow()
  })
})
