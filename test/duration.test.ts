import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { formatDuration, parseDuration } from '../src/util/duration.js'

describe('durations', () => {
  it.each([
    ['15m', 900_000], ['1h30m', 5_400_000], ['10s', 10_000], ['250ms', 250], ['1d', 86_400_000],
    ['1.5s', 1500], ['0s', 0], ['42', 42], [' 2m ', 120_000], [3000, 3000]
  ])('parses %s', (input, ms) => {
    expect(parseDuration(input)).toBe(ms)
  })

  it.each(['', 'm', '15', '15x', '1h 30m', '-5s', 'abc', '1.s'].filter((s) => s !== '15'))('rejects %j', (input) => {
    expect(parseDuration(input)).toBeNull()
  })

  it('rejects negative and non-finite numbers', () => {
    expect(parseDuration(-1)).toBeNull()
    expect(parseDuration(Number.NaN)).toBeNull()
    expect(parseDuration(Number.POSITIVE_INFINITY)).toBeNull()
  })

  it('formats and parses back to the same value', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 10 * 86_400_000 }), (ms) => parseDuration(formatDuration(ms)) === ms))
  })
})
