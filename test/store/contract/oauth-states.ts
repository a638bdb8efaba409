import { randomUUID } from 'node:crypto'
import { beforeEach, describe, expect, it } from 'vitest'
import type { SecretBox } from '../../../src/store/crypto.js'
import type { DiscordStore } from '../../../src/store/port/index.js'
import { expectConflict, type ContractFixture } from './fixture.js'

/** Single-use OAuth states. */
export function oauthStatesContract (fx: ContractFixture): void {
  let store: DiscordStore
  let secrets: SecretBox
  beforeEach(() => {
    store = fx.store
    secrets = fx.secrets
  })
  const { reopen } = fx

  // ------------------------------------------------------------ oauth states

  describe('discord_oauth_states', () => {
    const future = (): Date => new Date(Date.now() + 600_000)

    it('creates a state and consumes it exactly once', async () => {
      const expires = future()
      const s = await store.createOAuthState({
        state: `st-${randomUUID()}`,
        flow: 'link',
        user_id: 'host-1',
        redirect_url: 'https://app.example/after',
        scopes: ['identify', 'guilds'],
        code_verifier: 'verifier-abc',
        expires_at: expires
      })
      expect(s).toMatchObject({ flow: 'link', user_id: 'host-1', redirect_url: 'https://app.example/after', scopes: ['identify', 'guilds'], code_verifier: 'verifier-abc', used: false })
      expect(s.expires_at).toEqual(expires)
      expect(s.created_at).toBeInstanceOf(Date)

      const res = await store.consumeOAuthState(s.state)
      expect(res.ok).toBe(true)
      if (res.ok) expect(res.record).toEqual({ ...s, used: true })
      // The loser learns where the flow was to return, so a browser can be sent back there.
      expect(await store.consumeOAuthState(s.state)).toEqual({ ok: false, reason: 'used', redirect_url: 'https://app.example/after' })
    })

    it('defaults optional fields to null', async () => {
      const s = await store.createOAuthState({ state: `st-${randomUUID()}`, flow: 'login', scopes: [], expires_at: future() })
      expect(s).toMatchObject({ user_id: null, redirect_url: null, code_verifier: null, scopes: [], used: false })
    })

    it('reports unknown states as not_found', async () => {
      expect(await store.consumeOAuthState(`forged-${randomUUID()}`)).toEqual({ ok: false, reason: 'not_found' })
    })

    it('rejects a duplicate state value with a conflict and keeps the original', async () => {
      const state = `st-${randomUUID()}`
      await store.createOAuthState({ state, flow: 'login', redirect_url: 'https://first.example', scopes: ['identify'], expires_at: future() })
      await expectConflict(store.createOAuthState({ state, flow: 'link', redirect_url: 'https://second.example', scopes: [], expires_at: future() }))
      const res = await store.consumeOAuthState(state)
      expect(res.ok).toBe(true)
      if (res.ok) expect(res.record).toMatchObject({ flow: 'login', redirect_url: 'https://first.example' })
    })

    it('lets exactly one of 50 concurrent consumers win', async () => {
      const state = `st-${randomUUID()}`
      await store.createOAuthState({ state, flow: 'login', scopes: ['identify'], expires_at: future() })
      const results = await Promise.all(Array.from({ length: 50 }, () => store.consumeOAuthState(state)))
      expect(results.filter((r) => r.ok).length).toBe(1)
      const losers = results.filter((r) => !r.ok)
      expect(losers.length).toBe(49)
      for (const r of losers) expect(r).toEqual({ ok: false, reason: 'used', redirect_url: null })
    })

    it('lets exactly one consumer win across two store instances over the same data', async () => {
      // Two instances stand in for two processes of a scaled-out host.
      const other = await reopen(store, secrets)
      const states = Array.from({ length: 20 }, () => `st-${randomUUID()}`)
      for (const state of states) await store.createOAuthState({ state, flow: 'login', scopes: [], expires_at: future() })
      const attempts = states.flatMap((state) => [store, other, store, other].map((s) => s.consumeOAuthState(state)))
      const results = await Promise.all(attempts)
      expect(results.filter((r) => r.ok).length).toBe(states.length)
      expect(results.filter((r) => !r.ok && r.reason === 'used').length).toBe(states.length * 3)
    })

    it('never returns an expired state', async () => {
      const state = `st-${randomUUID()}`
      await store.createOAuthState({ state, flow: 'login', scopes: [], expires_at: new Date(Date.now() - 1_000) })
      const res = await store.consumeOAuthState(state)
      expect(res.ok).toBe(false)
      if (!res.ok) expect(['expired', 'not_found']).toContain(res.reason)

      // Judged against the caller's clock when one is given.
      const later = `st-${randomUUID()}`
      const expires = new Date(Date.now() + 60_000)
      await store.createOAuthState({ state: later, flow: 'login', redirect_url: 'https://app.example/late', scopes: [], expires_at: expires })
      const atExpiry = await store.consumeOAuthState(later, new Date(expires.getTime() + 1))
      // Still stored (not purged): reported as expired, with the URL the flow was to return to.
      expect(atExpiry).toEqual({ ok: false, reason: 'expired', redirect_url: 'https://app.example/late' })
      const res2 = await store.consumeOAuthState(later, new Date(expires.getTime() - 1_000))
      expect(res2.ok).toBe(true)
    })

    it('purges expired states and keeps live ones', async () => {
      const now = new Date()
      const live = `st-${randomUUID()}`
      const dead1 = `st-${randomUUID()}`
      const dead2 = `st-${randomUUID()}`
      await store.createOAuthState({ state: live, flow: 'login', scopes: [], expires_at: new Date(now.getTime() + 60_000) })
      await store.createOAuthState({ state: dead1, flow: 'login', scopes: [], expires_at: new Date(now.getTime() - 60_000) })
      await store.createOAuthState({ state: dead2, flow: 'link', scopes: [], expires_at: new Date(now.getTime() - 1_000) })
      expect(await store.purgeExpiredOAuthStates(now)).toBe(2)
      expect(await store.purgeExpiredOAuthStates(now)).toBe(0)
      expect(await store.consumeOAuthState(dead1, now)).toEqual({ ok: false, reason: 'not_found' })
      expect(await store.consumeOAuthState(dead2, now)).toEqual({ ok: false, reason: 'not_found' })
      expect((await store.consumeOAuthState(live, now)).ok).toBe(true)
      // Without an argument the store uses the current time.
      const stale = `st-${randomUUID()}`
      await store.createOAuthState({ state: stale, flow: 'login', scopes: [], expires_at: new Date(Date.now() - 5_000) })
      // The stale one, and the live one consumed just above (a used state goes too).
      expect(await store.purgeExpiredOAuthStates()).toBe(2)
    })

    it('purges used states too, live or not, and keeps unused live ones', async () => {
      const used = `st-${randomUUID()}`
      const unused = `st-${randomUUID()}`
      await store.createOAuthState({ state: used, flow: 'login', redirect_url: 'https://app.example/u', scopes: [], expires_at: future() })
      await store.createOAuthState({ state: unused, flow: 'login', scopes: [], expires_at: future() })
      expect((await store.consumeOAuthState(used)).ok).toBe(true)
      expect(await store.purgeExpiredOAuthStates()).toBe(1)
      // Gone: a replay is now indistinguishable from a forgery.
      expect(await store.consumeOAuthState(used)).toEqual({ ok: false, reason: 'not_found' })
      expect((await store.consumeOAuthState(unused)).ok).toBe(true)
    })
  })
}
