import { describe, expect, it } from 'vitest'
import { withTimeout } from '../src/util/timeout.js'

const later = <T>(ms: number, value: T): Promise<T> => new Promise((resolve) => setTimeout(() => resolve(value), ms))
function blockFor (ms: number): void {
  const end = performance.now() + ms
  while (performance.now() < end) { /* a synchronous stall of this process */ }
}

describe('withTimeout', () => {
  it('passes an answer through and rejections unchanged', async () => {
    await expect(withTimeout(later(5, 'ok'), 200, () => new Error('late'))).resolves.toBe('ok')
    await expect(withTimeout(Promise.reject(new Error('boom')), 200, () => new Error('late'))).rejects.toThrow('boom')
  })

  it('rejects with the caller\'s error when nothing answers within the budget', async () => {
    const started = performance.now()
    await expect(withTimeout(new Promise(() => {}), 50, () => new Error('Redis did not answer in time'))).rejects.toThrow('Redis did not answer in time')
    expect(performance.now() - started).toBeGreaterThanOrEqual(45)
  })

  it('does not blame the other side for a stall of this process: an answer that arrived during the stall wins', async () => {
    const answer = later(10, 'answered')
    const raced = withTimeout(answer, 50, () => new Error('late'))
    blockFor(150) // the answer is ready long before the timer can even run
    await expect(raced).resolves.toBe('answered')
  })

  it('gives one more budget when its own timer fired late, then gives up', async () => {
    const raced = withTimeout(later(120, 'slow but alive'), 50, () => new Error('late'))
    blockFor(100) // timer due at 50 fires at ~100: late by >= half the budget, so re-armed
    await expect(raced).resolves.toBe('slow but alive')
    await expect(withTimeout(new Promise(() => {}), 30, () => new Error('late'))).rejects.toThrow('late')
  })

  it('never leaves the losing promise unhandled', async () => {
    const losing = new Promise((_resolve, reject) => setTimeout(() => reject(new Error('after the race')), 40))
    await expect(withTimeout(losing, 10, () => new Error('late'))).rejects.toThrow('late')
    await later(60, null) // an unhandled rejection here would fail the run
  })
})
