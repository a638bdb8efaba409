import { beforeEach, describe, expect, it } from 'vitest'
import type { AccessLossStore, DiscordStore } from '../../../src/store/port/index.js'
import type { ContractFixture } from './fixture.js'

/** When each member was first seen without access (access_lost_grace), and nick/kick audit entries. */
export function accessLossContract (fx: ContractFixture): void {
  let store: DiscordStore & AccessLossStore
  beforeEach(() => {
    store = fx.store as DiscordStore & AccessLossStore
  })

  describe('discord_access_loss', () => {
    it('implements the access-loss port', () => {
      expect(typeof store.markAccessLost).toBe('function')
      expect(typeof store.clearAccessLost).toBe('function')
      expect(typeof store.listAccessLost).toBe('function')
      expect(typeof store.sweepAccessLost).toBe('function')
    })

    it('keeps the first lost_since of a member, per guild, and answers for every id asked', async () => {
      const t1 = new Date(Date.UTC(2026, 0, 1, 12))
      const t2 = new Date(t1.getTime() + 3_600_000)
      const first = await store.markAccessLost('g1', ['u1', 'u2', 'u1'], t1)
      expect([...first.entries()].sort()).toEqual([['u1', t1], ['u2', t1]])
      const again = await store.markAccessLost('g1', ['u1', 'u3'], t2)
      expect(again.get('u1')).toEqual(t1)
      expect(again.get('u3')).toEqual(t2)
      expect(again.has('u2')).toBe(false)
      // Another guild is independent.
      expect((await store.markAccessLost('g2', ['u1'], t2)).get('u1')).toEqual(t2)
      expect(await store.markAccessLost('g1', [], t2)).toEqual(new Map())
      // Reading records nothing.
      expect(await store.listAccessLost('g1', ['u1', 'u4'])).toEqual(new Map([['u1', t1]]))
      expect((await store.markAccessLost('g1', ['u4'], t2)).get('u4')).toEqual(t2)
      expect(await store.listAccessLost('g1', [])).toEqual(new Map())
    })

    it('clears members so a later loss starts a new grace', async () => {
      const t1 = new Date(Date.UTC(2026, 0, 1))
      const t2 = new Date(t1.getTime() + 60_000)
      await store.markAccessLost('g1', ['u1', 'u2'], t1)
      await store.markAccessLost('g2', ['u1'], t1)
      await store.clearAccessLost('g1', ['u1'])
      await store.clearAccessLost('g1', [])
      expect((await store.markAccessLost('g1', ['u1', 'u2'], t2))).toEqual(new Map([['u1', t2], ['u2', t1]]))
      expect((await store.markAccessLost('g2', ['u1'], t2)).get('u1')).toEqual(t1)
    })

    it('sweeps the members of a guild not seen since a time', async () => {
      const t1 = new Date(Date.UTC(2026, 0, 1))
      const t2 = new Date(t1.getTime() + 60_000)
      await store.markAccessLost('g1', ['gone', 'stays'], t1)
      await store.markAccessLost('g2', ['gone'], t1)
      await store.markAccessLost('g1', ['stays'], t2)
      expect(await store.sweepAccessLost('g1', t2)).toBe(1)
      const t3 = new Date(t2.getTime() + 60_000)
      const after = await store.markAccessLost('g1', ['gone', 'stays'], t3)
      expect(after.get('gone')).toEqual(t3)
      expect(after.get('stays')).toEqual(t1)
      expect((await store.markAccessLost('g2', ['gone'], t3)).get('gone')).toEqual(t1)
    })

    it('stores nick and kick audit entries', async () => {
      const base = { run_id: 'r', guild_id: 'g1', discord_user_id: 'u1', user_id: null, role_id: '', mapping_id: null, outcome: 'applied' as const, error_code: null }
      expect(await store.appendAudit([
        { ...base, role_name: '[ABC] Jane', action: 'nick' },
        { ...base, role_name: null, action: 'kick' }
      ])).toBe(2)
      const page = await store.listAudit({ run_id: 'r' })
      expect(page.items.map((e) => [e.action, e.role_id, e.role_name]).sort()).toEqual([['kick', '', null], ['nick', '', '[ABC] Jane']])
    })
  })
}
