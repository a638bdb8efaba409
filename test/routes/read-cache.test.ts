import { randomUUID } from 'node:crypto'
import Database from 'better-sqlite3'
import type { Db } from 'mongodb'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import type { DiscordSimulator } from '../../src/testing/index.js'
import { ReadCache } from '../../src/routes/read-cache.js'
import { buildWorld, type World } from '../helpers/world.js'
import { MongoDouble } from '../store/mongo-double.js'
import { IDS, routeWorld, startSimulator } from './helpers.js'

/*
 * The read cache (issue 16, part 3): list pages are kept while the store's change mark stays the
 * same, never past a write (this process's or another connection's), never for a caller the
 * route would refuse, and not at all when the store cannot tell when it changed.
 */

let sim: DiscordSimulator
let t: World | undefined

beforeAll(async () => { sim = await startSimulator() })
afterAll(async () => { await sim.close() })
afterEach(async () => { await t?.close(); t = undefined })

const link = async (w: World, n: number): Promise<void> => {
  await w.store.createUser({ user_id: `user-${n}`, discord_user_id: `22222222222222${String(n).padStart(4, '0')}`, username: `member-${n}` })
}

describe('read cache', () => {
  it('answers a repeated list read from the kept page and rebuilds it after a write', async () => {
    const w = t = await buildWorld(routeWorld(sim))
    await link(w, 1)
    const reads = vi.spyOn(w.store, 'listUsers')
    const first = await w.inject({ url: '/discord/users', as: 'admin' })
    const second = await w.inject({ url: '/discord/users', as: 'admin' })
    expect(second.statusCode).toBe(200)
    expect(second.body).toBe(first.body)
    expect(second.headers['content-type']).toBe(first.headers['content-type'])
    expect(reads).toHaveBeenCalledTimes(1)

    await link(w, 2)
    const third = await w.inject({ url: '/discord/users', as: 'admin' })
    expect(third.json().total).toBe(2)
    expect(reads).toHaveBeenCalledTimes(2)
    // Another query string is another page.
    await w.inject({ url: '/discord/users?page_size=1', as: 'admin' })
    expect(reads).toHaveBeenCalledTimes(3)
  })

  it('sees a commit made by another connection to the same SQLite file', async () => {
    const w = t = await buildWorld({ ...routeWorld(sim), store: 'file' })
    await link(w, 1)
    expect((await w.inject({ url: '/discord/users', as: 'admin' })).json().users[0].username).toBe('member-1')
    const other = new Database(w.dbPath as string)
    try {
      other.prepare('UPDATE discord_users SET username = ?').run('renamed-elsewhere')
    } finally {
      other.close()
    }
    expect((await w.inject({ url: '/discord/users', as: 'admin' })).json().users[0].username).toBe('renamed-elsewhere')
  })

  it('authorises before a kept page may answer: a user cannot read another user\'s audit page an admin read', async () => {
    const w = t = await buildWorld(routeWorld(sim))
    const url = '/discord/sync/audit?user_id=user-bob'
    expect((await w.inject({ url, as: 'admin' })).statusCode).toBe(200)
    expect((await w.inject({ url, as: 'admin' })).statusCode).toBe(200)
    const refused = await w.inject({ url, as: 'alice' })
    expect(refused.statusCode).toBe(403)
    expect(refused.json().code).toBe('FST_DISCORD_FORBIDDEN')
    expect((await w.inject({ url, as: 'bob' })).statusCode).toBe(200)
    expect((await w.inject({ url: '/discord/users', as: 'alice' })).statusCode).toBe(403)
    // One user's accounts: the user and admins read the same page; another user is refused.
    await link(w, 7)
    const own = '/discord/users/user-7'
    expect((await w.inject({ url: own, as: 'admin' })).statusCode).toBe(200)
    expect((await w.inject({ url: own, as: 'admin' })).statusCode).toBe(200)
    expect((await w.inject({ url: own, as: 'alice' })).statusCode).toBe(403)
  })

  it('a HEAD request keeps no empty page for the GET that follows', async () => {
    const w = t = await buildWorld(routeWorld(sim))
    await link(w, 1)
    const head = await w.inject({ method: 'HEAD', url: '/discord/users', as: 'admin' })
    expect(head.statusCode).toBe(200)
    expect(head.body).toBe('')
    const get = await w.inject({ url: '/discord/users', as: 'admin' })
    expect(get.json().users.map((u: { username: string }) => u.username)).toEqual(['member-1'])
    expect(Number(head.headers['content-length'])).toBe(get.body.length)
  })

  it('keeps no error answer: a 404 becomes a 200 once the guild exists', async () => {
    const w = t = await buildWorld(routeWorld(sim))
    const url = `/discord/guilds/${IDS.guild}/role-mappings`
    expect((await w.inject({ url, as: 'admin' })).statusCode).toBe(404)
    await w.store.createGuild({ guild_id: IDS.guild, guild_name: 'My Discord Server', bot_token: 'MTExMTExMTExMTExMTExMTEx.GsyncB.good-bot-token-value-0001' })
    const res = await w.inject({ url, as: 'admin' })
    expect(res.statusCode).toBe(200)
    expect(res.json()).toMatchObject({ mappings: [], total: 0 })
  })

  it('builds every page per request when turned off, and on a store without a change mark', async () => {
    for (const plugin of [{ readCache: false as const }, { store: { type: 'mongodb' as const, db: new MongoDouble(`fds_${randomUUID()}`) as unknown as Db } }]) {
      const w = t = await buildWorld(routeWorld(sim, plugin))
      const reads = vi.spyOn(w.store, 'listUsers')
      await w.inject({ url: '/discord/users', as: 'admin' })
      await w.inject({ url: '/discord/users', as: 'admin' })
      expect(reads).toHaveBeenCalledTimes(2)
      await w.close()
      t = undefined
    }
  })

  it('refuses bad options at register', async () => {
    await expect(buildWorld(routeWorld(sim, { readCache: { maxEntries: 0 } } as never))).rejects.toThrow(/readCache\.maxEntries|maxEntries/)
    await expect(buildWorld(routeWorld(sim, { readCache: { maxAge: 'soon' } } as never))).rejects.toThrow(/readCache\.maxAge/)
  })
})

describe('ReadCache bounds', () => {
  const page = (chars: number): string => `"${'x'.repeat(chars - 2)}"`
  const harness = (opts: { maxEntries?: number, maxChars?: number, maxAgeMs?: number }) => {
    const clock = { now: 0, mark: 'm1' }
    const cache = new ReadCache({ maxEntries: opts.maxEntries ?? 100, maxChars: opts.maxChars ?? 1_000_000, maxAgeMs: opts.maxAgeMs ?? 1000 }, () => clock.mark, () => clock.now)
    const route = { method: 'GET', url: '/x', handler: () => {}, config: { discordReadCache: true } } as never as Parameters<typeof cache.onRoute>[0]
    cache.onRoute(route)
    const [lookup] = (route.preHandler as Function[]).slice(-1) as [(req: unknown, reply: unknown, done: () => void) => void]
    const [keep] = (route.onSend as Function[]).slice(-1) as [(req: unknown, reply: unknown, payload: unknown, done: () => void) => void]
    /** One GET of `url`: true when a kept page answered, else the page of `chars` characters is rendered and offered. */
    const get = (url: string, chars = 100, cacheControl?: string): boolean => {
      const request = { url, method: 'GET' }
      let answered = false
      const headers: Record<string, string | undefined> = { 'content-type': 'application/json; charset=utf-8', 'cache-control': cacheControl }
      const reply = { statusCode: 200, header: () => reply, send: () => { answered = true; return reply }, getHeader: (name: string) => headers[name] }
      lookup(request, reply, () => {})
      if (!answered) keep(request, reply, page(chars), () => {})
      return answered
    }
    return { cache, clock, get }
  }

  it('drops the least recently read page beyond maxEntries', () => {
    const { cache, get } = harness({ maxEntries: 2 })
    get('/a'); get('/b')
    expect(get('/a')).toBe(true)
    get('/c') // drops /b, read longest ago
    expect(get('/a')).toBe(true)
    expect(get('/b')).toBe(false)
    expect(cache.stats().pages).toBe(2)
  })

  it('stays within maxChars and never keeps a page over an eighth of it', () => {
    const { cache, get } = harness({ maxChars: 8_000 })
    for (let i = 0; i < 20; i++) get(`/p${i}`, 900)
    expect(cache.stats().chars).toBeLessThanOrEqual(8_000)
    expect(cache.stats().pages).toBe(8)
    get('/big', 1_001)
    expect(get('/big', 1_001)).toBe(false)
  })

  it('answers from a page only while the mark is unchanged and the page is younger than maxAge', () => {
    const { clock, get } = harness({ maxAgeMs: 1000 })
    get('/a')
    clock.now = 1000
    expect(get('/a')).toBe(true)
    clock.now = 1001
    expect(get('/a')).toBe(false) // rebuilt at 1001
    expect(get('/a')).toBe(true)
    clock.mark = 'm2'
    expect(get('/a')).toBe(false)
  })

  it('keeps no answer its handler marked no-store', () => {
    const { cache, get } = harness({})
    get('/live', 100, 'no-store')
    expect(get('/live')).toBe(false)
    expect(cache.stats().pages).toBe(1) // the second, unmarked answer
  })
})
