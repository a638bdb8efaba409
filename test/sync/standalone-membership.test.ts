import { afterAll, afterEach, describe, expect, it, vi } from 'vitest'
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { JsonFileMembership, membershipFromEnv } from '../../examples/standalone/membership.js'
import { ConfigError, loadConfig } from '../../examples/standalone/config.js'
import { buildStandalone } from '../../examples/standalone/app.js'

/* The standalone server's JSON-file membership provider, and its wiring outside demo mode. */

const dir = mkdtempSync(join(tmpdir(), 'dsync-membership-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

function file (name: string, content: unknown): string {
  const path = join(dir, name)
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content))
  return path
}

const ALICE = { groups: [{ id: 'pilots', name: 'Pilots' }], character_count: 2, permissions: ['fleet.read'] }

describe('JsonFileMembership', () => {
  // The provider looks at the file at most once a second (Date.now): fake the clock, not the wait.
  afterEach(() => { vi.useRealTimers() })

  it('answers from the file, null for unknown users, and picks up edits', async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    const path = file('m1.json', { users: { alice: ALICE } })
    const p = new JsonFileMembership(path)
    expect(p.getMembership('alice')).toEqual(ALICE)
    expect(p.getMembership('bob')).toBeNull()
    expect(p.getMemberships(['alice', 'bob'])).toEqual(new Map([['alice', ALICE], ['bob', null]]))
    writeFileSync(path, JSON.stringify({ users: { bob: ALICE } }))
    const later = new Date(Date.now() + 5_000)
    utimesSync(path, later, later)
    vi.advanceTimersByTime(1_050)
    expect(p.getMembership('alice')).toBeNull()
    expect(p.getMembership('bob')).toEqual(ALICE)
  })

  it('lists the file\'s groups, then the groups users name, once each, for the admin UI\'s picker', () => {
    const p = new JsonFileMembership(file('groups.json', {
      groups: [{ id: 'veterans', name: 'Veterans' }, { id: 'pilots', name: 'Pilot wing' }],
      users: { alice: ALICE, bob: { groups: [{ id: 'officers', name: 'Officers' }, { id: 'pilots', name: 'Pilots' }], character_count: 1, permissions: [] } }
    }))
    expect(p.listGroups()).toEqual([{ id: 'veterans', name: 'Veterans' }, { id: 'pilots', name: 'Pilot wing' }, { id: 'officers', name: 'Officers' }])
    expect(() => new JsonFileMembership(file('bad-groups.json', { groups: {}, users: {} })).listGroups()).toThrow(/"groups" must be an array/)
  })

  it('a broken file makes the provider throw (members are then skipped, not stripped)', async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    const path = file('m2.json', { users: { alice: ALICE } })
    const p = new JsonFileMembership(path)
    expect(p.getMembership('alice')).toEqual(ALICE)
    writeFileSync(path, '{ not json')
    const later = new Date(Date.now() + 10_000)
    utimesSync(path, later, later)
    vi.advanceTimersByTime(1_050)
    expect(() => p.getMembership('alice')).toThrow()
    // Still broken a moment later: every page of a sync is refused alike, none is planned on
    // the content from before the edit.
    expect(() => p.getMemberships(['alice'])).toThrow()
    expect(() => p.getMembership('alice')).toThrow()
    // Fixed: answered again at once.
    writeFileSync(path, JSON.stringify({ users: { bob: ALICE } }))
    const fixed = new Date(Date.now() + 20_000)
    utimesSync(path, fixed, fixed)
    expect(p.getMembership('alice')).toBeNull()
    expect(p.getMembership('bob')).toEqual(ALICE)
  })

  it('MEMBERSHIP_FILE: unset means none; a missing or malformed file is a ConfigError naming the variable', () => {
    expect(membershipFromEnv({})).toBeNull()
    expect(membershipFromEnv({ MEMBERSHIP_FILE: file('ok.json', { users: {} }) })).toBeInstanceOf(JsonFileMembership)
    for (const bad of [join(dir, 'missing.json'), file('bad.json', '[1,2]'), file('worse.json', 'nope')]) {
      let err: unknown
      try { membershipFromEnv({ MEMBERSHIP_FILE: bad }) } catch (e) { err = e }
      expect(err).toBeInstanceOf(ConfigError)
      expect((err as ConfigError).variable).toBe('MEMBERSHIP_FILE')
    }
  })
})

describe('standalone wiring', () => {
  const saved = process.env.MEMBERSHIP_FILE
  afterEach(() => {
    if (saved === undefined) delete process.env.MEMBERSHIP_FILE
    else process.env.MEMBERSHIP_FILE = saved
  })

  it('outside demo mode, MEMBERSHIP_FILE configures role sync; without it the sync routes are off', async () => {
    const env = {
      DISCORD_CLIENT_ID: '123456789012345678',
      DISCORD_CLIENT_SECRET: 'client-secret-value',
      DISCORD_REDIRECT_URI: 'http://localhost:3000/api/discord/auth/callback',
      DISCORD_ENCRYPTION_KEY: Buffer.alloc(32, 9).toString('base64'),
      JWT_SECRET: 'x'.repeat(40),
      DISCORD_DB_PATH: join(dir, 'standalone.sqlite')
    }
    process.env.MEMBERSHIP_FILE = file('standalone.json', { users: { alice: ALICE } })
    const on = await buildStandalone({ ...loadConfig(env), logLevel: 'silent' })
    try {
      expect(on.discord.sync.engine.configured).toBe(true)
    } finally {
      await on.close()
    }
    delete process.env.MEMBERSHIP_FILE
    const off = await buildStandalone({ ...loadConfig(env), logLevel: 'silent' })
    try {
      expect(off.discord.sync.engine.configured).toBe(false)
      const res = await off.inject({ method: 'POST', url: '/api/discord/sync/manual', headers: { authorization: `Bearer ${off.discord.auth.issue({ id: 'a', permissions: ['discord:admin'] }).token}` }, payload: {} })
      expect(res.statusCode).toBe(503)
      expect(res.json().code).toBe('FST_DISCORD_SYNC_NOT_CONFIGURED')
    } finally {
      await off.close()
    }
  })
})
