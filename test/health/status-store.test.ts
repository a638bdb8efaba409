import { afterEach, describe, expect, it } from 'vitest'
import type { Db } from 'mongodb'
import { SecretBox } from '../../src/store/crypto.js'
import { MongoStore } from '../../src/store/mongo/index.js'
import type { DiscordStore } from '../../src/store/port/index.js'
import { ADMIN, buildWorld, TEST_KEY, type World } from '../helpers/world.js'
import { MongoDouble } from '../store/mongo-double.js'

/*
 * GET /status (issue 18): everyone gets the module's health; an admin session also gets the
 * store's size and rows per table, so growth is visible. Anyone else, a session that is not an
 * admin's and a session that no longer verifies see exactly the public answer.
 */

const USER = { id: 'user-1', permissions: [] as string[] }
const worlds: World[] = []
afterEach(async () => {
  while (worlds.length > 0) await (worlds.pop() as World).close()
})

async function world (plugin: Parameters<typeof buildWorld>[0] = {}): Promise<World> {
  const w = await buildWorld({ sim: false, store: 'file', ...plugin })
  worlds.push(w)
  return w
}

const PUBLIC_KEYS = ['checks', 'message', 'module', 'status']

describe('GET /status store figures', () => {
  it('shows an admin the SQLite file size and the rows of every table, counted as they grow', async () => {
    const w = await world()
    const guild = await w.store.createGuild({ guild_id: '123456789012345678', guild_name: 'Alpha' })
    const run = await w.store.createSyncRun({ sync_type: 'guild', target_id: guild.guild_id, initiated_by: 'test' })
    const entry = { run_id: run.id, guild_id: guild.guild_id, discord_user_id: '223456789012345678', user_id: null, role_id: '1', role_name: null, action: 'add' as const, mapping_id: null, outcome: 'applied' as const, error_code: null }
    await w.store.appendAudit(Array.from({ length: 7 }, () => entry))

    const res = await w.inject({ url: '/discord/status', as: ADMIN })
    expect(res.statusCode).toBe(200)
    expect(res.headers['cache-control']).toBe('private, no-store')
    const body = res.json()
    expect(body).toMatchObject({ module: 'discord', status: 'healthy', checks: { store: 'ok' } })
    expect(body.store.kind).toBe('sqlite')
    const rows = Object.fromEntries((body.store.tables as Array<{ name: string, rows: number }>).map((t) => [t.name, t.rows]))
    expect(rows).toMatchObject({ discord_guild_configs: 1, discord_sync_status: 1, discord_audit_log: 7, discord_users: 0, discord_oauth_states: 0 })
    const pages = (w.db.pragma('page_count', { simple: true }) as number) * (w.db.pragma('page_size', { simple: true }) as number)
    expect(body.store.bytes).toBeGreaterThanOrEqual(pages)

    // Same answer through a cookie session (the admin UI's).
    const viaCookie = await w.inject({ url: '/discord/status', as: ADMIN, cookie: true })
    expect(viaCookie.json().store.tables).toEqual(body.store.tables)
  })

  it('shows no figures to anonymous callers, non-admin sessions or sessions that no longer verify', async () => {
    const w = await world()
    for (const res of [
      await w.inject({ url: '/discord/status' }),
      await w.inject({ url: '/discord/status', as: USER }),
      await w.inject({ url: '/discord/status', headers: { authorization: 'Bearer not.a.jwt' } })
    ]) {
      expect(res.statusCode).toBe(200)
      expect(Object.keys(res.json()).sort()).toEqual(PUBLIC_KEYS)
      expect(res.body).not.toContain('discord_audit_log')
      expect(res.headers['cache-control']).toBeUndefined()
    }
  })

  it('counts MongoDB collections (the in-process double) the same way', async () => {
    const db = new MongoDouble('status_store')
    const store = new MongoStore({ db: db as unknown as Db, secrets: new SecretBox(TEST_KEY) })
    const w = await world({ plugin: { store } })
    await store.createOAuthState({ state: `s-${'x'.repeat(40)}`, flow: 'login', scopes: [], expires_at: new Date(Date.now() + 60_000) })
    const body = (await w.inject({ url: '/discord/status', as: ADMIN })).json()
    expect(body.store.kind).toBe('mongodb')
    expect(body.store.tables).toContainEqual({ name: 'discord_oauth_states', aggregate: 'oauth_states', rows: 1 })
    expect(body.store.bytes).toBeGreaterThan(0)
  })

  it('answers with store: null for a host store without stats(), health unchanged', async () => {
    const w = await world()
    const inner = w.store
    const hostStore = new Proxy(inner, {
      get: (target, key) => {
        if (key === 'stats') return undefined
        const value: unknown = Reflect.get(target, key)
        return typeof value === 'function' ? value.bind(target) : value
      }
    }) as DiscordStore
    const h = await world({ plugin: { store: hostStore } })
    const res = await h.inject({ url: '/discord/status', as: ADMIN })
    expect(res.statusCode).toBe(200)
    expect(res.json()).toMatchObject({ status: 'healthy', store: null })
  })
})
