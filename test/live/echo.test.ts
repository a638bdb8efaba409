import { describe, expect, it } from 'vitest'
import { EchoFilter } from '../../src/live/gateway/echo.js'

/*
 * The echo filter notes every role write the engine sends so the Gateway's GUILD_MEMBER_UPDATE of
 * it is not taken for drift. Echoes never come for writes Discord refused, or on an instance that
 * does not hold the Gateway connection: those expectations must lapse from memory as writes go on,
 * not only once 50,000 have piled up (issue 18's soak found them growing the heap ~1.2 MB/h).
 */
describe('echo filter memory', () => {
  it('drops lapsed expectations as writes go on, and still recognises a live echo', () => {
    let now = 0
    const echo = new EchoFilter({ ttlMs: 1000, now: () => now })
    const write = (i: number): void => { echo.expect({ guild_id: 'g', discord_user_id: `u${i}`, role_ids: ['r1'] }) }
    for (let i = 0; i < 1000; i++) write(i)
    expect(echo.size).toBe(1000)
    now = 5000
    for (let i = 1000; i < 1300; i++) write(i)
    // The 1,000 lapsed ones are gone; at most the new ones remain.
    expect(echo.size).toBeLessThanOrEqual(300)
    expect(echo.pending('g', 'u5')).toBe(false)
    expect(echo.consume('g', 'u1299', ['r1', 'unmanaged'], new Set(['r1']))).toBe(true)
    expect(echo.consume('g', 'u1299', ['r1'], new Set(['r1']))).toBe(false)
  })
})
