import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { buildSyncWorld, HOST, IDS, type SyncWorld } from './helpers.js'

/*
 * GET /sync/status keeps its summary of the finished runs between requests (issue 16 part 3).
 * It must still change the moment a run finishes: in this instance, and in another instance on
 * the same store, which never sees this one's events. And GET /sync/runs pages by cursor.
 */

const worlds: SyncWorld[] = []
let dir: string | undefined
afterEach(async () => {
  vi.useRealTimers()
  for (const w of worlds.splice(0)) await w.close()
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true })
  dir = undefined
})

async function world (options: Parameters<typeof buildSyncWorld>[0] = {}): Promise<SyncWorld> {
  const w = await buildSyncWorld(options)
  worlds.push(w)
  return w
}

/** Guild 1 with a Pilot mapping and two linked pilots lacking the role. */
async function seed (w: SyncWorld): Promise<void> {
  await w.guild(IDS.g1, 'Alpha Guild')
  await w.mapping({ group_id: 'pilots', discord_role_id: IDS.pilot })
  for (const [host, id] of [[HOST.alice, IDS.alice], [HOST.bob, IDS.bob]] as const) {
    w.sim.state.addMember(IDS.g1, id)
    await w.link(host, id)
    w.membership.set(host, ['pilots'])
  }
}

async function status (w: SyncWorld): Promise<any> {
  const res = await w.call('GET', '/sync/status')
  expect(res.status).toBe(200)
  return res.body
}

async function manual (w: SyncWorld, body: Record<string, unknown> = {}): Promise<any> {
  const res = await w.call('POST', '/sync/manual', { body: { ...body, wait: true } })
  expect(res.status).toBe(200)
  return res.body.run
}

describe('GET /sync/status summary', () => {
  it('changes as soon as a run finishes, and stays put while nothing does', async () => {
    const w = await world()
    await seed(w)
    const empty = await status(w)
    expect(empty).toMatchObject({ last_full_sync: null, synced_users: 0, failed_users: 0, total_guilds: 1, last_dry_run: null })
    expect(await status(w)).toEqual(empty)

    const dry = await manual(w, { dry_run: true })
    expect((await status(w)).last_dry_run).toMatchObject({ run_id: dry.id, planned_changes: 2 })

    const run = await manual(w)
    expect(run.status).toBe('completed')
    const after = await status(w)
    expect(after.synced_users).toBe(3) // alice, bob and the guild owner
    expect(Date.parse(after.last_full_sync)).toBe(Date.parse(run.completed_at))

    // A guild run's failure recorded straight in the store (as another writer would) shows too.
    const failed = await w.store.createSyncRun({ sync_type: 'guild', target_id: IDS.g1, status: 'running', started_at: new Date(), initiated_by: 'test' })
    await w.store.updateSyncRun(failed.id, {
      status: 'failed',
      completed_at: new Date(),
      results: { ...failed.results, errors: [{ guild_id: IDS.g1, error: 'boom', code: 'x1', occurred_at: new Date() }], guilds: [{ guild_id: IDS.g1, status: 'failed', members_scanned: 3, members_to_change: 0, planned_changes: 0, blocked_changes: 0, roles_added: 0, roles_removed: 0, members_failed: 3, reason: 'boom' }] }
    })
    const later = await status(w)
    expect(later).toMatchObject({ synced_users: 0, failed_users: 3 })
    expect(later.recent_errors[0]).toMatchObject({ run_id: failed.id, error: 'boom', code: 'x1' })
  })

  it('two instances on one store see each other\'s runs finish', async () => {
    dir = mkdtempSync(join(tmpdir(), 'status-summary-'))
    const store = { type: 'sqlite' as const, path: join(dir, 'discord.sqlite') }
    const a = await world({ plugin: { store } })
    await seed(a)
    const b = await world({ plugin: { store } })
    // b computes (and keeps) its summary before a's run exists.
    expect(await status(b)).toMatchObject({ last_full_sync: null, synced_users: 0, total_guilds: 1 })

    const run = await manual(a)
    expect(run.status).toBe('completed')
    const seen = await status(b)
    expect(seen.synced_users).toBe(3)
    expect(Date.parse(seen.last_full_sync)).toBe(Date.parse(run.completed_at))

    const dry = await manual(b, { dry_run: true })
    expect((await status(a)).last_dry_run).toMatchObject({ run_id: dry.id })
  })

  it('reuses a whole answer for at most a second: counts not covered by the runs catch up after it', async () => {
    const w = await world()
    await seed(w)
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() })
    expect(await status(w)).toMatchObject({ total_guilds: 1, total_users: 2, active_role_mappings: 1 })
    await w.guild(IDS.g2, 'Beta Guild')
    await w.link('user-extra', IDS.dave)
    vi.setSystemTime(Date.now() + 999)
    expect(await status(w)).toMatchObject({ total_guilds: 1, total_users: 2 })
    vi.setSystemTime(Date.now() + 2)
    expect(await status(w)).toMatchObject({ total_guilds: 2, total_users: 3 })
    // A run starting (here: recorded by another writer) is never held back by the reuse.
    const other = await w.store.createSyncRun({ sync_type: 'guild', target_id: IDS.g2, status: 'running', started_at: new Date(), initiated_by: 'other-instance' })
    const s = await status(w)
    expect(s.sync_in_progress).toBe(true)
    expect(s.current_runs.map((r: { id: string }) => r.id)).toEqual([other.id])
  })
})

describe('GET /sync/runs pages', () => {
  it('walks every run once, newest first, by next_cursor; null after the last page', async () => {
    const w = await world()
    const made: string[] = []
    for (let i = 0; i < 7; i++) made.push((await w.store.createSyncRun({ sync_type: 'guild', target_id: IDS.g1, status: 'completed', initiated_by: 'test' })).id)
    const seen: string[] = []
    const cursors: Array<string | null> = []
    let path = '/sync/runs?limit=3'
    for (let page = 0; page < 5; page++) {
      const res = await w.call('GET', path)
      expect(res.status).toBe(200)
      seen.push(...res.body.runs.map((r: { id: string }) => r.id))
      cursors.push(res.body.next_cursor)
      if (res.body.next_cursor === null) break
      path = `/sync/runs?limit=3&before=${res.body.next_cursor as string}`
    }
    expect(cursors.map((c) => c === null)).toEqual([false, false, true])
    expect(new Set(seen).size).toBe(7)
    expect([...seen].sort()).toEqual([...made].sort())
    const all = await w.call('GET', '/sync/runs?limit=100')
    expect(all.body.runs.map((r: { id: string }) => r.id)).toEqual(seen)
  })

  it('400 FST_DISCORD_VALIDATION for a cursor it never issued, a limit out of bounds or an unknown parameter', async () => {
    const w = await world()
    const bad = [
      'before=not%20base64!',
      `before=${Buffer.from('yesterday:abc').toString('base64url')}`,
      `before=${Buffer.from('123:../../etc').toString('base64url')}`,
      `before=${'A'.repeat(201)}`,
      'before=',
      'limit=0',
      'limit=101',
      'limit=ten',
      'offset=20'
    ]
    for (const q of bad) {
      const res = await w.call('GET', `/sync/runs?${q}`)
      expect({ q, status: res.status, code: res.body.code }).toEqual({ q, status: 400, code: 'FST_DISCORD_VALIDATION' })
    }
  })
})
