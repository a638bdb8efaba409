import { afterEach, describe, expect, it } from 'vitest'
import type { MembershipInfo, MembershipProvider } from '../../src/index.js'
import { aliceNeedsPilot, buildSyncWorld, HOST, IDS, type SyncWorld } from './helpers.js'

/*
 * Host code the engine waits on is bounded in time: a membership provider call by
 * `sync.providerTimeout` (retried `sync.providerRetries` times), a guild's whole sync by
 * `sync.guildTimeout`. A provider whose promise never settles must never hold the guild lock.
 */

let w: SyncWorld
afterEach(async () => { await w?.close() })

/** A provider that never answers, counting the calls it swallowed. */
class HungProvider implements MembershipProvider {
  calls = 0
  async getMembership (): Promise<MembershipInfo | null> {
    this.calls++
    return await new Promise<never>(() => {})
  }
}

async function run (body: Record<string, unknown> = { guild_id: IDS.g1 }): Promise<any> {
  const res = await w.call('POST', '/sync/manual', { body: { ...body, wait: true } })
  expect(res.status).toBe(200)
  return res.body.run
}

describe('membership provider timeout', () => {
  it('a provider that never answers fails the member after its retries; the run ends and frees the lock', async () => {
    const hung = new HungProvider()
    w = await aliceNeedsPilot(await buildSyncWorld({ plugin: { membership: hung, sync: { providerTimeout: '150ms', providerRetries: 2 } } }))
    const started = performance.now()
    const first = await run()
    expect(first.status).toBe('completed')
    expect(first.results.guilds[0]).toMatchObject({ members_failed: 1, roles_added: 0 })
    expect(first.results.errors.some((e: any) => e.code === 'membership_unavailable')).toBe(true)
    expect(hung.calls).toBe(3)
    // 3 × 150 ms plus 200 + 400 ms of backoff, far from forever.
    expect(performance.now() - started).toBeLessThan(10_000)
    expect(w.roles(IDS.g1, IDS.alice)).toEqual([])
    // The lock is free: the next run starts at once instead of answering 409.
    const again = await w.call('POST', '/sync/manual', { body: { guild_id: IDS.g1 } })
    expect(again.status).toBe(202)
  })

  it('a provider that fails twice then answers is retried and the member synced', async () => {
    let calls = 0
    const flaky: MembershipProvider = {
      async getMembership (userId) {
        calls++
        if (calls <= 2) throw new Error('directory busy')
        return userId === HOST.alice ? { groups: [{ id: 'pilots', name: 'Pilots' }], character_count: 1, permissions: [] } : null
      }
    }
    w = await aliceNeedsPilot(await buildSyncWorld({ plugin: { membership: flaky, sync: { providerRetries: 2 } } }))
    const done = await run()
    expect(done.status).toBe('completed')
    expect(calls).toBe(3)
    expect(w.roles(IDS.g1, IDS.alice)).toEqual([IDS.pilot])
  })

  it('without retries, one failure fails the member', async () => {
    w = await aliceNeedsPilot(await buildSyncWorld({ plugin: { sync: { providerRetries: 0 } } }))
    w.membership.failing.add(HOST.alice)
    const done = await run()
    expect(done.results.guilds[0].members_failed).toBe(1)
    expect(w.membership.calls).toBe(1)
  })
})

describe('guild sync timeout', () => {
  it('a guild past sync.guildTimeout ends failed with the reason and frees its lock', async () => {
    const hung = new HungProvider()
    w = await aliceNeedsPilot(await buildSyncWorld({ plugin: { membership: hung, sync: { guildTimeout: '1s', providerTimeout: '1h' } } }))
    const done = await run()
    expect(done.status).toBe('failed')
    expect(done.results.guilds[0]).toMatchObject({ status: 'failed', reason: expect.stringMatching(/timed out after 1000 ms/) })
    expect(done.results.errors.some((e: any) => e.code === 'timeout')).toBe(true)
    expect(w.roles(IDS.g1, IDS.alice)).toEqual([])
    const stored = await w.store.getSyncRun(done.id)
    expect(stored?.status).toBe('failed')
    const again = await w.call('POST', '/sync/manual', { body: { guild_id: IDS.g1 } })
    expect(again.status).toBe(202)
  })

  it('a full run with a timed-out guild frees that guild\'s lock and ends failed', async () => {
    const hung = new HungProvider()
    w = await aliceNeedsPilot(await buildSyncWorld({ plugin: { membership: hung, sync: { guildTimeout: '1s', providerTimeout: '1h' } } }))
    const done = await run({})
    expect(done.status).toBe('failed')
    expect(done.results.guilds[0].reason).toMatch(/sync.guildTimeout/)
    const again = await w.call('POST', '/sync/manual', { body: { guild_id: IDS.g1 } })
    expect(again.status).toBe(202)
  })
})
