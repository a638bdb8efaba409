import { beforeEach, describe, expect, it } from 'vitest'
import type { DiscordStore, LeaseStore } from '../../../src/store/port/index.js'
import type { ContractFixture } from './fixture.js'

/** Named expiring claims: due guild syncs run once across instances; one writer per SQLite file. */
export function leasesContract (fx: ContractFixture): void {
  let store: DiscordStore & LeaseStore
  beforeEach(() => {
    store = fx.store as DiscordStore & LeaseStore
  })

  describe('discord_leases', () => {
    it('implements the lease port', () => {
      expect(typeof store.claimLease).toBe('function')
      expect(typeof store.releaseLease).toBe('function')
      expect(typeof store.getLease).toBe('function')
    })

    it('gives a free lease to one owner, refuses others while it lives, renews for its owner', async () => {
      expect(await store.getLease('due:guild:1')).toBeNull()
      expect(await store.claimLease('due:guild:1', 'a', 60_000)).toBe(true)
      expect(await store.claimLease('due:guild:1', 'b', 60_000)).toBe(false)
      expect(await store.claimLease('due:guild:1', 'a', 120_000)).toBe(true)
      const held = await store.getLease('due:guild:1')
      expect(held).toMatchObject({ name: 'due:guild:1', owner: 'a' })
      expect(held?.expires_at.getTime()).toBeGreaterThan(Date.now() + 60_000)
      // Names are independent.
      expect(await store.claimLease('due:guild:2', 'b', 60_000)).toBe(true)
    })

    it('releases only for its owner; a released or expired lease is free again', async () => {
      await store.claimLease('writer', 'a', 60_000)
      expect(await store.releaseLease('writer', 'b')).toBe(false)
      expect(await store.releaseLease('writer', 'a')).toBe(true)
      expect(await store.releaseLease('writer', 'a')).toBe(false)
      expect(await store.claimLease('writer', 'b', 0)).toBe(true)
      // ttl 0: expired at once, so it is nobody's.
      expect(await store.getLease('writer')).toBeNull()
      expect(await store.claimLease('writer', 'c', 60_000)).toBe(true)
      expect((await store.getLease('writer'))?.owner).toBe('c')
    })

    it('takes a live lease from the holder named as replaced, and only from that one', async () => {
      await store.claimLease('writer', 'host:1', 60_000)
      expect(await store.claimLease('writer', 'host:2', 60_000, { replacing: 'host:9' })).toBe(false)
      expect(await store.claimLease('writer', 'host:2', 60_000, { replacing: 'host:1' })).toBe(true)
      expect((await store.getLease('writer'))?.owner).toBe('host:2')
    })

    it('judges expiry on the caller\'s clock when given one', async () => {
      const t0 = new Date('2030-01-01T00:00:00Z')
      expect(await store.claimLease('due:guild:9', 'a', 15 * 60_000, { now: t0 })).toBe(true)
      expect(await store.claimLease('due:guild:9', 'b', 15 * 60_000, { now: new Date(t0.getTime() + 14 * 60_000) })).toBe(false)
      expect(await store.claimLease('due:guild:9', 'b', 15 * 60_000, { now: new Date(t0.getTime() + 15 * 60_000) })).toBe(true)
    })

    it('of owners racing for one lease, exactly one wins', async () => {
      const owners = ['a', 'b', 'c', 'd', 'e', 'f']
      const won = await Promise.all(owners.map((o) => store.claimLease('race', o, 60_000)))
      expect(won.filter(Boolean)).toHaveLength(1)
      expect((await store.getLease('race'))?.owner).toBe(owners[won.indexOf(true)])
    })
  })
}
