import { afterEach, describe, expect, it } from 'vitest'
import { Redis } from 'ioredis'
import { RoleCache, type RoleSnapshotApi } from '../../src/sync/role-cache.js'
import { REDIS_URL, redisAvailable, uniquePrefix } from '../helpers/redis.js'

/*
 * The guild role cache: one snapshot (roles, the bot's highest position, Manage Roles) per guild
 * for a TTL, shared through Redis when configured, dropped on invalidate (the engine does so on
 * 10011 and 50013). Discord is a counting fake here: what matters is how often it is asked.
 */

const GUILD = '1200000000000000001'
const BOT = '1100000000000000001'
const OWNER = '1100000000000000002'
const BOT_ROLE = '1210000000000000001'
const MANAGE_ROLES = String(1n << 28n)

/** A fake bot API answering for one guild; `calls` counts GET guild, `owner` and `botPosition` can change. */
function fakeApi (): RoleSnapshotApi & { calls: number, botPosition: number, owner: string, gate: Promise<void> | null, onGetGuild: (() => void) | null } {
  const api = {
    calls: 0,
    botPosition: 10,
    owner: OWNER,
    gate: null as Promise<void> | null,
    onGetGuild: null as (() => void) | null,
    async getCurrentUser () { return { id: BOT } },
    async getGuild () {
      api.calls++
      api.onGetGuild?.()
      if (api.gate !== null) await api.gate
      return {
        id: GUILD,
        name: 'Alpha Guild',
        owner_id: api.owner,
        roles: [
          { id: GUILD, name: '@everyone', position: 0, permissions: '0', managed: false },
          { id: BOT_ROLE, name: 'syncbot', position: api.botPosition, permissions: MANAGE_ROLES, managed: false },
          { id: '1210000000000000002', name: 'EVE Pilot', position: 5, permissions: '0', managed: false }
        ]
      }
    },
    async getGuildMember () { return { roles: [BOT_ROLE] } }
  }
  return api as never
}

describe('RoleCache (in-process)', () => {
  it('answers from the cache until the TTL passes, then asks Discord again', async () => {
    let now = 1_000_000
    const cache = new RoleCache({ ttlMs: 60_000, now: () => now })
    const api = fakeApi()
    const first = await cache.get(GUILD, api, BOT)
    expect(first).toMatchObject({ guild_id: GUILD, guild_name: 'Alpha Guild', bot_user_id: BOT, bot_top_position: 10, can_manage_roles: true })
    expect(first.roles.map((r) => r.name)).toEqual(['@everyone', 'syncbot', 'EVE Pilot'])
    api.botPosition = 3
    now += 59_999
    expect((await cache.get(GUILD, api, BOT)).bot_top_position).toBe(10)
    expect(api.calls).toBe(1)
    now += 1
    expect((await cache.get(GUILD, api, BOT)).bot_top_position).toBe(3)
    expect(api.calls).toBe(2)
  })

  it('invalidate drops the entry; concurrent misses share one fetch', async () => {
    const cache = new RoleCache({ ttlMs: 60_000 })
    const api = fakeApi()
    let open: () => void = () => {}
    api.gate = new Promise((resolve) => { open = resolve })
    const fetching = new Promise<void>((resolve) => { api.onGetGuild = resolve })
    const both = Promise.all([cache.get(GUILD, api, BOT), cache.get(GUILD, api, BOT)])
    // Both misses are in while the fetch waits at Discord.
    await fetching
    open()
    api.gate = null
    const [a, b] = await both
    expect(a).toBe(b)
    expect(api.calls).toBe(1)
    await cache.invalidate(GUILD)
    await cache.get(GUILD, api, BOT)
    expect(api.calls).toBe(2)
  })

  it('asks Discord for the bot\'s id only when it is not known', async () => {
    const cache = new RoleCache({ ttlMs: 60_000 })
    const api = fakeApi()
    expect((await cache.get(GUILD, api, null)).bot_user_id).toBe(BOT)
  })
})

const redisOk = await redisAvailable()

describe.skipIf(!redisOk)('RoleCache (Redis)', () => {
  const clients: Redis[] = []
  afterEach(() => {
    for (const c of clients.splice(0)) c.disconnect()
  })

  it('instances share a snapshot (an owner bot keeps its unbounded position), and an invalidation by one is seen by all', async () => {
    const prefix = uniquePrefix('role-cache')
    const [r1, r2] = [new Redis(REDIS_URL), new Redis(REDIS_URL)]
    clients.push(r1, r2)
    const a = new RoleCache({ ttlMs: 60_000, redis: r1, prefix })
    const b = new RoleCache({ ttlMs: 60_000, redis: r2, prefix })
    const api = fakeApi()
    api.owner = BOT
    const first = await a.get(GUILD, api, BOT)
    expect(first.bot_top_position).toBe(Number.POSITIVE_INFINITY)
    const shared = await b.get(GUILD, api, BOT)
    expect(shared).toEqual(first)
    expect(api.calls).toBe(1)
    expect(await r1.pttl(`${prefix}${GUILD}`)).toBeGreaterThan(59_000)
    await b.invalidate(GUILD)
    await a.get(GUILD, api, BOT)
    expect(api.calls).toBe(2)
  })
})
