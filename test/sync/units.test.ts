import { describe, expect, it } from 'vitest'
import { resolveOptions } from '../../src/options/index.js'
import { resolveContexts, toUserContext, MembershipInvalidError, MembershipUnavailableError, type MembershipInfo } from '../../src/sync/membership.js'
import { auditReason, drain } from '../../src/sync/guild-apply.js'
import { restrictPlan } from '../../src/sync/guild-context.js'
import { guildConcurrency } from '../../src/sync/runner.js'
import { classifyFailure } from '../../src/sync/discord-errors.js'
import { planMemberRoles } from '../../src/sync/planner.js'
import { DiscordNotFoundError, DiscordPermissionError, DiscordRateLimitError, DiscordServerError, DiscordTokenInvalidError } from '../../src/discord/errors/index.js'
import { DEFAULT_MAPPING_CONDITIONS } from '../../src/store/port/index.js'
import { TEST_KEY } from '../helpers/world.js'

/* Pure parts of the engine: provider validation, options, plan restriction, failure classes. */

describe('membership provider answers are validated', () => {
  it('accepts a well-formed answer and turns null into "entitled to nothing"', () => {
    expect(toUserContext('u1', { groups: [{ id: 'g', name: 'G' }], character_count: 2, permissions: ['p'] }))
      .toEqual({ user_id: 'u1', groups: [{ id: 'g', name: 'G' }], character_count: 2, permissions: ['p'] })
    expect(toUserContext('u1', null)).toEqual({ user_id: 'u1', groups: [], character_count: 0, permissions: [] })
    // A missing group name falls back to the id (names are for reports only).
    expect(toUserContext('u1', { groups: [{ id: 'g' }], character_count: 0, permissions: [] }).groups).toEqual([{ id: 'g', name: 'g' }])
  })

  it.each([
    ['a string', 'admins'],
    ['groups not an array', { groups: 'g', character_count: 0, permissions: [] }],
    ['a group without an id', { groups: [{ name: 'x' }], character_count: 0, permissions: [] }],
    ['an over-long group id', { groups: [{ id: 'x'.repeat(257) }], character_count: 0, permissions: [] }],
    ['a negative character count', { groups: [], character_count: -1, permissions: [] }],
    ['a fractional character count', { groups: [], character_count: 1.5, permissions: [] }],
    ['permissions not strings', { groups: [], character_count: 0, permissions: [1] }],
    ['too many groups', { groups: Array.from({ length: 10_001 }, (_, i) => ({ id: `g${i}` })), character_count: 0, permissions: [] }]
  ])('refuses %s', (_what, raw) => {
    expect(() => toUserContext('u1', raw)).toThrow(MembershipInvalidError)
  })

  it('batch providers are asked once per page; single providers per user with bounded concurrency', async () => {
    const info: MembershipInfo = { groups: [{ id: 'g', name: 'G' }], character_count: 1, permissions: [] }
    let batches = 0
    const batch = await resolveContexts({
      getMembership: () => { throw new Error('not used') },
      getMemberships: (ids) => { batches++; return new Map(ids.filter((id) => id !== 'u3').map((id) => [id, info])) }
    }, ['u1', 'u2', 'u3', 'u1'], 4)
    expect(batches).toBe(1)
    expect([...batch.keys()]).toEqual(['u1', 'u2', 'u3'])
    expect(batch.get('u3')).toMatchObject({ groups: [] })

    let inFlight = 0
    let peak = 0
    const single = await resolveContexts({
      async getMembership (id) {
        inFlight++
        peak = Math.max(peak, inFlight)
        // A turn of the event loop keeps the call in flight while the others start.
        await new Promise((resolve) => setImmediate(resolve))
        inFlight--
        if (id === 'bad') throw new Error('db down at postgres://user:pw@host')
        return info
      }
    }, Array.from({ length: 12 }, (_, i) => `u${i}`).concat('bad'), 3)
    expect(peak).toBeLessThanOrEqual(3)
    const failure = single.get('bad')
    expect(failure).toBeInstanceOf(MembershipUnavailableError)
    expect((failure as Error).message).not.toContain('postgres')
  })

  it('a failing or malformed batch fails the whole batch, never plans it as "no groups"', async () => {
    const thrown = await resolveContexts({ getMembership: () => null, getMemberships: () => { throw new Error('boom') } }, ['a', 'b'], 2)
    expect([...thrown.values()].every((v) => v instanceof MembershipUnavailableError)).toBe(true)
    const notMap = await resolveContexts({ getMembership: () => null, getMemberships: () => ({}) as never }, ['a'], 2)
    expect(notMap.get('a')).toBeInstanceOf(MembershipInvalidError)
  })
})

describe('sync options', () => {
  const base = { encryptionKey: TEST_KEY }

  it('defaults', () => {
    const o = resolveOptions(base)
    expect(o.sync).toEqual({
      enabled: true,
      workers: 5,
      guildConcurrency: undefined,
      lockTtlMs: 120_000,
      heartbeatMs: 15_000,
      staleAfterMs: 120_000,
      roleCacheTtlMs: 300_000,
      retentionMs: 90 * 86_400_000,
      cleanupIntervalMs: 6 * 3_600_000,
      schedulerTickMs: 60_000,
      waitTimeoutMs: 30_000,
      guildTimeoutMs: 45 * 60_000,
      providerTimeoutMs: 30_000,
      providerRetries: 2,
      writeDelayMs: 0,
      syncOnLink: true,
      pushDebounceMs: 2_000,
      auditChannel: true,
      nicknameVariables: ['name', 'ticker']
    })
    expect(o.metrics).toEqual({ enabled: true, registry: null, prefix: 'discord_sync_', route: true, access: 'admin' })
    expect(o.membership).toBeNull()
  })

  it.each([
    [{ sync: { workers: 0 } }, /sync\.workers/],
    [{ sync: { lockTtl: '10s', heartbeatInterval: '6s' } }, /sync\.lockTtl.*twice sync\.heartbeatInterval/],
    [{ sync: { staleAfter: '5s', heartbeatInterval: '4s' } }, /sync\.staleAfter/],
    [{ sync: { retention: '1m' } }, /sync\.retention/],
    // Shorter than the longest run (45m) + staleAfter (2m): a running run's audit could be pruned.
    [{ sync: { retention: '46m' } }, /sync\.retention.*guildTimeout \+ sync\.staleAfter/],
    [{ sync: { retention: '5m', guildTimeout: '3m', staleAfter: '2m1s' } }, /sync\.retention/],
    [{ sync: { unknown: true } }, /sync/],
    [{ membership: { getGroups: () => [] } }, /membership.*getMembership/],
    [{ membership: () => null }, /membership/],
    [{ metrics: { registry: {} } }, /metrics\.registry/],
    [{ metrics: { access: 'everyone' } }, /metrics\.access/],
    [{ metrics: { prefix: 'bad prefix' } }, /metrics\.prefix/]
  ])('refuses %j', (extra, message) => {
    expect(() => resolveOptions({ ...base, ...extra })).toThrow(message)
  })

  it('guild concurrency: derived from the global budget unless set, then the setting', () => {
    expect(guildConcurrency(undefined, 50)).toBe(50)
    // A bot whose global limit Discord raised gets as many more guilds at once.
    expect(guildConcurrency(undefined, 200)).toBe(200)
    expect(guildConcurrency(3, 50)).toBe(3)
    expect(resolveOptions({ ...base, sync: { guildConcurrency: 3 } }).sync.guildConcurrency).toBe(3)
  })

  it('accepts a retention of minutes when runs are bounded shorter (a demo, a soak)', () => {
    expect(resolveOptions({ ...base, sync: { retention: '47m' } }).sync.retentionMs).toBe(47 * 60_000)
    expect(resolveOptions({ ...base, sync: { retention: '5m', guildTimeout: '3m', staleAfter: '2m' } }).sync.retentionMs).toBe(300_000)
  })
})

describe('plan restriction (mapping runs) and audit reasons', () => {
  const guild = { guild_id: '1', remove_roles_on_leave: true }
  const roles = [{ id: '1', name: '@everyone', position: 0, managed: false }, { id: '10', name: 'A', position: 1, managed: false }, { id: '11', name: 'B', position: 2, managed: false }]
  const mapping = (id: string, group: string, role: string): any => ({ id, guild_id: '1', group_id: group, discord_role_id: role, discord_role_name: null, conditions: { ...DEFAULT_MAPPING_CONDITIONS }, priority: 1, exclusive_set: null, enabled: true })

  it('keeps only the chosen roles\' changes and recomputes the role list', () => {
    const plan = planMemberRoles({ guild, roles, bot_top_position: 5, mappings: [mapping('m1', 'a', '10'), mapping('m2', 'b', '11')], member: { discord_user_id: '9', roles: ['11', '77'] }, user: { user_id: 'u', groups: [{ id: 'a', name: 'a' }], character_count: 0, permissions: [] } })
    expect(plan.add.map((c) => c.role_id)).toEqual(['10'])
    expect(plan.remove.map((c) => c.role_id)).toEqual(['11'])
    const onlyA = restrictPlan(plan, ['11', '77'], new Set(['10']))
    expect(onlyA).toMatchObject({ changed: true, desired_roles: ['11', '77', '10'] })
    expect(onlyA.remove).toEqual([])
    const none = restrictPlan(plan, ['11', '77'], new Set(['99']))
    expect(none).toMatchObject({ changed: false, add: [], remove: [], desired_roles: ['11', '77'] })
    expect(auditReason('run-1', plan)).toBe('fastify-discord-sync role sync run-1: +A (mapping m1), -B (mapping m2)')
  })
})

describe('apply phase: drain', () => {
  it('works through every item once, in order, at most `workers` at a time, holding no finished item', async () => {
    const items = Array.from({ length: 50 }, (_, i) => ({ i }))
    const refs = items.slice()
    const started: number[] = []
    let inFlight = 0
    let maxInFlight = 0
    await drain(items, 3, async (item) => {
      started.push(item.i)
      inFlight++
      maxInFlight = Math.max(maxInFlight, inFlight)
      // The item being worked on, and every one before it, is no longer held by the list.
      expect(items.slice(0, item.i + 1).every((x) => x === undefined)).toBe(true)
      // Uneven work (1 to 4 event-loop turns), so items finish out of order.
      for (let turn = 0; turn <= item.i % 4; turn++) await new Promise((resolve) => setImmediate(resolve))
      inFlight--
    })
    expect(started).toEqual(refs.map((r) => r.i))
    expect(maxInFlight).toBe(3)
    expect(items).toEqual([])
  })

  it('an empty list and more workers than items are fine', async () => {
    const seen: string[] = []
    await drain([], 5, async () => { seen.push('never') })
    await drain(['a', 'b'], 8, async (x) => { seen.push(x) })
    expect(seen).toEqual(['a', 'b'])
  })
})

describe('Discord failures: member-level or guild-level', () => {
  const base = { method: 'PUT', route: '/guilds/:guild_id/members/:user_id/roles/:role_id', message: 'x' }
  it.each([
    [new DiscordNotFoundError({ ...base, status: 404, discordCode: 10007 }), 'unknown_member', '10007'],
    [new DiscordNotFoundError({ ...base, status: 404, discordCode: 10011 }), 'unknown_role', '10011'],
    [new DiscordNotFoundError({ ...base, status: 404, discordCode: 10004 }), 'guild_fatal', '10004'],
    [new DiscordPermissionError({ ...base, status: 403, discordCode: 50013 }), 'guild_fatal', '50013'],
    [new DiscordPermissionError({ ...base, status: 403, discordCode: 50001 }), 'guild_fatal', '50001'],
    [new DiscordTokenInvalidError({ ...base }), 'guild_fatal', '401'],
    [new DiscordRateLimitError({ ...base, status: 429, retryAfterMs: 1, scope: 'user', global: false }), 'rate_limited', '429'],
    [new DiscordServerError({ ...base, status: 502, discordCode: 0 }), 'transient', '502'],
    [new Error('ECONNREFUSED 10.0.0.1 password=x'), 'transient', 'internal']
  ])('%s → %s', (err, kind, code) => {
    const f = classifyFailure(err)
    expect(f).toMatchObject({ kind, code })
    expect(f.message).not.toContain('password')
  })
})
