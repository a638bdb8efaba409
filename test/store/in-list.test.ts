import { afterEach, describe, expect, it } from 'vitest'
import { SecretBox, generateKey } from '../../src/store/crypto.js'
import { chunks, IN_CHUNK, inList } from '../../src/store/sqlite/in-list.js'
import { SqliteStore } from '../../src/store/sqlite/index.js'

/*
 * IN lists in SQLite statements: every statement text stays prepared for the connection's life,
 * so the lists come in a few lengths (padded by repeating the last id) instead of one text per
 * chunk size, and the padding never changes what a query answers.
 */

describe('inList', () => {
  it('pads every list of 1 to 500 ids to one of a few lengths, repeating the last id', () => {
    const texts = new Set<string>()
    for (let n = 1; n <= IN_CHUNK; n++) {
      const ids = Array.from({ length: n }, (_, i) => `id${i}`)
      const { placeholders, values } = inList(ids)
      texts.add(placeholders)
      expect(values.slice(0, n)).toEqual(ids)
      expect(new Set(values.slice(n))).toEqual(n === values.length ? new Set() : new Set([`id${n - 1}`]))
      expect(placeholders.split(', ')).toHaveLength(values.length)
    }
    expect(texts.size).toBeLessThanOrEqual(7)
  })

  it('refuses an empty or oversized list, and chunks longer ones', () => {
    expect(() => inList([])).toThrow(RangeError)
    expect(() => inList(Array.from({ length: IN_CHUNK + 1 }, String))).toThrow(RangeError)
    expect([...chunks(Array.from({ length: 1001 }, String))].map((c) => c.length)).toEqual([500, 500, 1])
  })
})

describe('SQLite reads by id lists', () => {
  let store: SqliteStore | undefined
  afterEach(async () => { await store?.close() })

  it('answer each user once, whatever the padding', async () => {
    store = new SqliteStore({ path: ':memory:', secrets: new SecretBox(generateKey()) })
    await store.init()
    const ids = Array.from({ length: 130 }, (_, i) => String(1800000000000000000n + BigInt(i)))
    for (const [i, id] of ids.entries()) await store.createUser({ user_id: `host-${i}`, discord_user_id: id, username: `u${i}` })
    for (const n of [1, 3, 17, 130]) {
      const asked = [...ids.slice(0, n), 'no-such-user']
      expect((await store.listUsersByDiscordIds(asked)).map((u) => u.discord_user_id).sort()).toEqual(ids.slice(0, n).sort())
      expect((await store.listAccountNames(asked)).map((u) => u.discord_user_id).sort()).toEqual(ids.slice(0, n).sort())
    }
    await store.markAccessLost('g1', ids.slice(0, 5), new Date(1_000))
    expect([...(await store.listAccessLost('g1', ids.slice(0, 7))).keys()].sort()).toEqual(ids.slice(0, 5).sort())
    await store.clearAccessLost('g1', ids.slice(0, 2))
    expect([...(await store.listAccessLost('g1', ids)).keys()].sort()).toEqual(ids.slice(2, 5).sort())
  })
})
