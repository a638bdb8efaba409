import { afterEach, describe, expect, it } from 'vitest'
import { ValidationError } from '../../src/errors.js'
import { MembershipPush } from '../../src/live/push.js'
import { ADMIN, aliceNeedsPilot, buildSyncWorld, HOST, IDS, type SyncWorld } from '../sync/helpers.js'

/*
 * Host push (issue 13, part 3): the host names users whose groups changed; they are coalesced for
 * sync.pushDebounce and each gets one targeted sync across every enabled guild.
 */

let w: SyncWorld | undefined
afterEach(async () => { await w?.close(); w = undefined })

const pushRuns = async (world: SyncWorld, userId: string): Promise<number> =>
  (await world.store.listSyncRuns({ limit: 100 })).filter((r) => r.initiated_by === 'push' && r.target_id === userId).length

describe('POST /sync/users and fastify.discord.notifyMembershipChanged', () => {
  it('applies a pushed group change within the window, without waiting for the interval', async () => {
    w = await aliceNeedsPilot(await buildSyncWorld({ plugin: { sync: { pushDebounce: '100ms' } } }))
    const finished = w.app.discord.events.next('sync.finished', (e) => e.initiated_by === 'push' && e.target_id === HOST.alice)
    const res = await w.inject({ method: 'POST', url: '/discord/sync/users', payload: { user_ids: [HOST.alice] }, as: ADMIN })
    expect(res.statusCode).toBe(202)
    expect(res.json()).toMatchObject({ queued: 1, pending: 1 })
    expect(res.json().flush_in_ms).toBeLessThanOrEqual(100)
    expect(await finished).toMatchObject({ status: 'completed', sync_type: 'user' })
    expect(w.roles(IDS.g1, IDS.alice)).toContain(IDS.pilot)
  })

  it('coalesces every call within the window into one sync per user, in order with later batches', async () => {
    w = await aliceNeedsPilot(await buildSyncWorld({ plugin: { sync: { pushDebounce: '200ms' } } }))
    await w.link(HOST.bob, IDS.bob)
    w.sim.state.addMember(IDS.g1, IDS.bob)
    w.membership.set(HOST.bob, ['pilots'])
    const first = w.app.discord.notifyMembershipChanged([HOST.alice])
    const second = w.app.discord.notifyMembershipChanged([HOST.alice, HOST.alice, 'never-linked'])
    expect(first).toMatchObject({ queued: 1, pending: 1 })
    expect(second).toMatchObject({ queued: 1, pending: 2 })
    await w.app.discord.events.next('sync.finished', (e) => e.initiated_by === 'push' && e.target_id === HOST.alice)
    // A later batch runs after the first one: by the time Bob is done, any extra Alice run would be too.
    const bobDone = w.app.discord.events.next('sync.finished', (e) => e.initiated_by === 'push' && e.target_id === HOST.bob)
    w.app.discord.notifyMembershipChanged([HOST.bob])
    await bobDone
    expect(await pushRuns(w, HOST.alice)).toBe(1)
    expect(await pushRuns(w, 'never-linked')).toBe(0)
    expect(w.roles(IDS.g1, IDS.bob)).toContain(IDS.pilot)
  })

  it('refuses bad input with 400 and queues nothing', async () => {
    w = await aliceNeedsPilot(await buildSyncWorld({ plugin: { sync: { pushDebounce: '10m' } } }))
    for (const payload of [{}, { user_ids: [] }, { user_ids: 'user-alice' }, { user_ids: ['has space'] }, { user_ids: [''] },
      { user_ids: Array.from({ length: 1001 }, (_, i) => `u${i}`) }, { user_ids: ['a'], extra: 1 }, { user_ids: ['a', 'a'] }]) {
      const res = await w.inject({ method: 'POST', url: '/discord/sync/users', payload, as: ADMIN })
      expect(res.statusCode, JSON.stringify(payload).slice(0, 60)).toBe(400)
      expect(res.json().code).toBe('FST_DISCORD_VALIDATION')
    }
    expect(() => w?.app.discord.notifyMembershipChanged([42 as unknown as string])).toThrow(ValidationError)
    expect(() => w?.app.discord.notifyMembershipChanged('x' as unknown as string[])).toThrow(ValidationError)
    // Nothing was queued by the refused calls.
    expect(w.app.discord.notifyMembershipChanged([HOST.alice])).toMatchObject({ queued: 1, pending: 1 })
  })

  it('is for admins: 401 anonymous, 403 for a user', async () => {
    w = await aliceNeedsPilot(await buildSyncWorld())
    const anonymous = await w.inject({ method: 'POST', url: '/discord/sync/users', payload: { user_ids: [HOST.alice] } })
    expect(anonymous.statusCode).toBe(401)
    const user = await w.inject({ method: 'POST', url: '/discord/sync/users', payload: { user_ids: [HOST.alice] }, as: { id: HOST.alice, permissions: [] } })
    expect(user.statusCode).toBe(403)
  })

  it('answers 503 FST_DISCORD_SYNC_NOT_CONFIGURED without a membership provider', async () => {
    w = await buildSyncWorld({ noMembership: true })
    const res = await w.inject({ method: 'POST', url: '/discord/sync/users', payload: { user_ids: [HOST.alice] }, as: ADMIN })
    expect(res.statusCode).toBe(503)
    expect(res.json().code).toBe('FST_DISCORD_SYNC_NOT_CONFIGURED')
    // The answer names the option to set (issue 15.5), not just the missing concept.
    expect(res.json().message).toContain('plugin option `membership`')
  })
})

describe('MembershipPush batches', () => {
  it('runs one batch at a time: users named while it runs wait once each, however often named', async () => {
    const synced: string[] = []
    let release: () => void = () => {}
    const held = new Promise<void>((resolve) => { release = resolve })
    let started: () => void = () => {}
    const running = new Promise<void>((resolve) => { started = resolve })
    const engine = {
      configured: true,
      async syncUser (userId: string) {
        synced.push(userId)
        started()
        await held
      }
    }
    const push = new MembershipPush({ engine: engine as never, debounceMs: 600_000, log: { warn () {} } as never })
    push.notify(['alice'])
    const first = push.flush()
    await running
    // A host pushing faster than the batch can finish: the same users, window after window.
    const later = []
    for (let i = 0; i < 5; i++) {
      expect(push.notify(['alice', 'bob'])).toMatchObject({ pending: 2 })
      later.push(push.flush())
    }
    release()
    await Promise.all([first, ...later])
    expect(synced.sort()).toEqual(['alice', 'alice', 'bob'])
    await push.close()
  })
})
