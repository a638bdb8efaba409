import { describe, expect, it } from 'vitest'
import { VerifiedSessions } from '../../src/auth/verified-sessions.js'
import type { AuthUser } from '../../src/auth/types.js'

const user = (id: string, claims: Record<string, unknown>): AuthUser => ({ id, permissions: ['discord:admin'], claims: Object.freeze(claims) })

describe('VerifiedSessions', () => {
  it('serves a verification for the same token text until the token expires, and only for it', () => {
    let clock = 1_000_000
    const cache = new VerifiedSessions(10, () => clock)
    cache.set('tok-a', user('a', { exp: 1_000 + 30 }))
    expect(cache.get('tok-a')).toEqual({ id: 'a', permissions: ['discord:admin'], claims: { exp: 1_030 } })
    expect(cache.get('tok-a ')).toBeNull()
    expect(cache.get('tok-b')).toBeNull()
    clock = 1_030_000
    expect(cache.get('tok-a')?.id).toBe('a') // fast-jwt: valid while now <= exp
    clock = 1_030_001
    expect(cache.get('tok-a')).toBeNull()
    expect(cache.size).toBe(0)
  })

  it('never serves before nbf, never longer than ten minutes, and nothing without exp', () => {
    let clock = 0
    const cache = new VerifiedSessions(10, () => clock)
    cache.set('early', user('e', { exp: 100_000, nbf: 60 }))
    cache.set('long', user('l', { exp: 100_000 }))
    cache.set('forever', user('f', {}))
    expect(cache.get('early')).toBeNull()
    clock = 60_000
    expect(cache.get('early')?.id).toBe('e')
    clock = 600_000
    expect(cache.get('long')?.id).toBe('l')
    clock = 600_001
    expect(cache.get('long')).toBeNull()
    expect(cache.get('forever')).toBeNull()
  })

  it('is bounded (the oldest entry goes first) and hands out copies', () => {
    const cache = new VerifiedSessions(2, () => 0)
    for (const t of ['t1', 't2', 't3']) cache.set(t, user(t, { exp: 10 }))
    expect(cache.size).toBe(2)
    expect(cache.get('t1')).toBeNull()
    const got = cache.get('t3') as AuthUser
    got.permissions.push('mutated')
    expect(cache.get('t3')?.permissions).toEqual(['discord:admin'])
  })
})
