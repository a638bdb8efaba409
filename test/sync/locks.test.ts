import { afterEach, describe, expect, it, vi } from 'vitest'
import { Redis } from 'ioredis'
import { FallbackSyncLocks, MemorySyncLocks, RedisSyncLocks } from '../../src/sync/locks.js'
import { REDIS_URL, redisAvailable, uniquePrefix } from '../helpers/redis.js'
import { aliceNeedsPilot, buildSyncWorld, HOST, IDS, type SyncWorld } from './helpers.js'

/*
 * One sync per guild at a time: in-process without Redis, across instances with it, and a
 * dead holder's Redis lock expires so the guild does not stay locked forever.
 */

const worlds: SyncWorld[] = []
afterEach(async () => {
  for (const w of worlds.splice(0)) {
    w.membership.gate = null
    expect(w.sim.internalErrors).toEqual([])
    await w.close()
  }
})

async function world (plugin: Parameters<typeof buildSyncWorld>[0] = {}): Promise<SyncWorld> {
  const w = await buildSyncWorld(plugin)
  worlds.push(w)
  return await aliceNeedsPilot(w)
}

/**
 * Starts a guild sync on `a`, held inside the membership provider, then asks `b` (the same
 * instance or another one) for the same guild: refused with 409 naming the running run.
 */
async function heldThenRefused (a: SyncWorld, b: SyncWorld = a): Promise<{ runId: string, refused: Awaited<ReturnType<SyncWorld['call']>>, release: () => void }> {
  const release = a.membership.hold()
  const first = await a.call('POST', '/sync/manual', { body: { guild_id: IDS.g1 } })
  expect(first.status).toBe(202)
  const refused = await b.call('POST', '/sync/manual', { body: { guild_id: IDS.g1 } })
  expect(refused.status).toBe(409)
  expect(refused.body.run_id).toBe(first.body.run_id)
  return { runId: first.body.run_id, refused, release }
}

describe('in-process locks', () => {
  it('a second manual sync of a guild being synced answers 409 with the running run\'s id', async () => {
    const w = await world()
    const { runId, refused: second, release } = await heldThenRefused(w)
    expect(second.body).toMatchObject({ statusCode: 409, code: 'FST_DISCORD_SYNC_IN_PROGRESS', error: 'Conflict', run_id: runId })
    expect(second.body.message).toContain(runId)
    // A mapping sync of the same guild is refused the same way.
    const mapping = (await w.store.listMappings({ guild_id: IDS.g1 }))[0]
    const third = await w.call('POST', '/sync/manual', { body: { mapping_id: mapping?.id } })
    expect(third.status).toBe(409)
    expect(third.body.run_id).toBe(runId)
    // No run record is created for a refused request.
    expect((await w.store.listSyncRuns({ limit: 100 })).map((r) => r.id)).toEqual([runId])

    release()
    const done = await w.app.discord.sync.engine.waitFor(runId, 10_000)
    expect(done?.status).toBe('completed')
    const again = await w.call('POST', '/sync/manual', { body: { guild_id: IDS.g1, wait: true } })
    expect(again.status).toBe(200)
  })

  it('a full sync skips a guild another run holds, and a guild sync during a full sync gets 409 with the full run\'s id', async () => {
    const w = await world()
    await w.guild(IDS.g2, 'Beta Guild')
    await w.mapping({ guild_id: IDS.g2, group_id: 'pilots', discord_role_id: IDS.pilot2 })
    const release = w.membership.hold()
    const guildRun = await w.call('POST', '/sync/manual', { body: { guild_id: IDS.g1 } })
    const fullRun = await w.call('POST', '/sync/manual', { body: {} })
    expect(fullRun.status).toBe(202)
    expect(fullRun.body.run.sync_type).toBe('full')
    const secondFull = await w.call('POST', '/sync/manual', { body: {} })
    expect(secondFull.status).toBe(409)
    expect(secondFull.body.run_id).toBe(fullRun.body.run_id)
    release()
    const full = await w.app.discord.sync.engine.waitFor(fullRun.body.run_id, 10_000)
    const g1 = full?.results.guilds?.find((g) => g.guild_id === IDS.g1)
    expect(g1).toMatchObject({ status: 'skipped', reason: `run ${guildRun.body.run_id as string} is syncing this guild` })
    expect(full?.results.guilds?.find((g) => g.guild_id === IDS.g2)?.status).toBe('completed')
    expect(full?.status).toBe('completed')
    await w.app.discord.sync.engine.waitFor(guildRun.body.run_id, 10_000)
  })

  it('user syncs take no guild lock (they re-read each member before writing)', async () => {
    const w = await world()
    const release = w.membership.hold()
    const guildRun = await w.call('POST', '/sync/manual', { body: { guild_id: IDS.g1 } })
    expect(guildRun.status).toBe(202)
    const users = await w.call('POST', '/sync/manual', { body: { user_ids: [HOST.alice] } })
    expect(users.status).toBe(202)
    release()
    await w.app.discord.sync.engine.waitFor(guildRun.body.run_id, 10_000)
    await w.app.discord.sync.engine.waitFor(users.body.run_id, 10_000)
    expect(w.roles(IDS.g1, IDS.alice)).toEqual([IDS.pilot])
  })
})

describe('lock primitives', () => {
  it('memory: held until released or expired; only the holder renews or releases', async () => {
    let now = 1_000
    const locks = new MemorySyncLocks(100, () => now)
    const a = await locks.acquire('guild:1', 'run-a')
    expect(a.ok).toBe(true)
    expect(await locks.acquire('guild:1', 'run-b')).toEqual({ ok: false, heldBy: 'run-a' })
    if (!a.ok) throw new Error('unreachable')
    now += 90
    expect(await locks.renew(a.handle)).toBe(true)
    now += 90
    expect(await locks.holder('guild:1')).toBe('run-a')
    now += 20
    expect(await locks.holder('guild:1')).toBeNull()
    const b = await locks.acquire('guild:1', 'run-b')
    expect(b.ok).toBe(true)
    // The expired holder can neither extend nor free the new holder's lock.
    expect(await locks.renew(a.handle)).toBe(false)
    await locks.release(a.handle)
    expect(await locks.holder('guild:1')).toBe('run-b')
  })
})

describe('Redis outage: in-process fallback', () => {
  function deadRedis (): Redis {
    // Nothing listens on port 1; no offline queue and no retries, so every command fails at once.
    const r = new Redis('redis://127.0.0.1:1', { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => null })
    r.on('error', () => {})
    return r
  }

  it('the lock falls back to this process and keeps excluding within it', async () => {
    const redis = deadRedis()
    const fallbacks: string[] = []
    const locks = new FallbackSyncLocks(new RedisSyncLocks(redis, 'x:', 1_000), new MemorySyncLocks(1_000), (op) => fallbacks.push(op))
    const a = await locks.acquire('guild:1', 'run-a')
    expect(a.ok).toBe(true)
    expect(await locks.acquire('guild:1', 'run-b')).toEqual({ ok: false, heldBy: 'run-a' })
    expect(await locks.holder('guild:1')).toBe('run-a')
    if (!a.ok) throw new Error('unreachable')
    expect(await locks.renew(a.handle)).toBe(true)
    await locks.release(a.handle)
    expect(await locks.holder('guild:1')).toBeNull()
    expect(fallbacks).toContain('acquire')
    redis.disconnect()
  })

  it('syncs keep running when the configured Redis is down; a second sync of the guild still gets 409', async () => {
    const redis = deadRedis()
    try {
      const w = await world({ plugin: { redis } })
      const { runId, release } = await heldThenRefused(w)
      release()
      expect((await w.app.discord.sync.engine.waitFor(runId, 10_000))?.status).toBe('completed')
      expect(w.roles(IDS.g1, IDS.alice)).toEqual([IDS.pilot])
    } finally {
      redis.disconnect()
    }
  })
})

const redisOk = await redisAvailable()

describe.skipIf(!redisOk)('Redis locks', () => {
  const clients: Redis[] = []
  afterEach(async () => {
    for (const c of clients.splice(0)) c.disconnect()
  })

  it('a dead holder\'s lock expires: the guild is refused (409 naming it), then free once the TTL passes', async () => {
    const prefix = uniquePrefix('sync-lock')
    const w = await world({ plugin: { redis: REDIS_URL, redisKeyPrefix: prefix } })
    // Another instance took the lock and died without releasing it.
    const redis = new Redis(REDIS_URL)
    clients.push(redis)
    const dead = new RedisSyncLocks(redis, `${prefix}sync-lock:`, 400)
    const held = await dead.acquire(`guild:${IDS.g1}`, 'crashed-run-1')
    expect(held.ok).toBe(true)
    const refused = await w.call('POST', '/sync/manual', { body: { guild_id: IDS.g1 } })
    expect(refused.status).toBe(409)
    expect(refused.body.run_id).toBe('crashed-run-1')
    // Redis expires the key on its own clock (no fake timer reaches it): wait for the expiry.
    await vi.waitUntil(async () => await dead.holder(`guild:${IDS.g1}`) === null, { timeout: 5_000, interval: 20 })
    const ok = await w.call('POST', '/sync/manual', { body: { guild_id: IDS.g1, wait: true } })
    expect(ok.status).toBe(200)
    expect(ok.body.run.status).toBe('completed')
    // Released at the end of the run.
    expect(await dead.holder(`guild:${IDS.g1}`)).toBeNull()
  })

  it('two instances sharing Redis: the second is refused while the first syncs the guild', async () => {
    const prefix = uniquePrefix('sync-lock-2')
    const a = await world({ plugin: { redis: REDIS_URL, redisKeyPrefix: prefix } })
    const b = await world({ plugin: { redis: REDIS_URL, redisKeyPrefix: prefix } })
    const { runId, release } = await heldThenRefused(a, b)
    // The scheduler of instance B treats the guild as locked, not as an error.
    const started = await b.app.discord.sync.engine.startGuild(IDS.g1)
    expect(started).toBeNull()
    release()
    await a.app.discord.sync.engine.waitFor(runId, 10_000)
    expect((await b.call('POST', '/sync/manual', { body: { guild_id: IDS.g1, wait: true } })).status).toBe(200)
  })

  it('renewal keeps a live holder\'s lock past its TTL; a lock lost to expiry cannot be renewed or released', async () => {
    const redis = new Redis(REDIS_URL)
    clients.push(redis)
    const prefix = uniquePrefix('sync-lock-3')
    const locks = new RedisSyncLocks(redis, prefix, 300)
    const a = await locks.acquire('guild:9', 'run-a')
    if (!a.ok) throw new Error('expected the lock')
    for (let i = 0; i < 3; i++) {
      // Real time is the point: the TTL runs on Redis's clock, which no fake timer reaches, and
      // the renewals must carry the lock past it (3 x 150 ms > 300 ms).
      await new Promise((resolve) => setTimeout(resolve, 150))
      expect(await locks.renew(a.handle)).toBe(true)
    }
    expect(await locks.holder('guild:9')).toBe('run-a')
    // Not renewed any more: wait for Redis to expire it.
    await vi.waitUntil(async () => await locks.holder('guild:9') === null, { timeout: 5_000, interval: 20 })
    const b = await locks.acquire('guild:9', 'run-b')
    expect(b.ok).toBe(true)
    expect(await locks.renew(a.handle)).toBe(false)
    await locks.release(a.handle)
    expect(await locks.holder('guild:9')).toBe('run-b')
  })
})
