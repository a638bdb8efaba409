import { afterEach, describe, expect, it } from 'vitest'
import { WorkQueue, STREAM_HIGH_WATER } from '../../src/sync/guild-stream.js'
import { buildSyncWorld, IDS, isWrite, type SyncWorld } from './helpers.js'

/*
 * Large guilds (issue 16, "a million members"): a forced full-list sync reads, plans and writes
 * member pages as a pipeline, holding one page plus at most STREAM_HIGH_WATER candidates; an
 * unforced one plans every page before its first write (the brake needs the whole plan) and
 * keeps candidates only up to the limit. Two pages of members here (pages are 1000), with
 * changes on every page and across the page boundaries.
 */

describe('WorkQueue', () => {
  it('hands items out first in, first out, and answers undefined once closed and empty', async () => {
    const q = new WorkQueue<number>(2)
    q.push(1)
    q.push(2)
    expect(await q.take()).toBe(1)
    q.close()
    expect(await q.take()).toBe(2)
    expect(await q.take()).toBeUndefined()
    expect(() => q.push(3)).toThrow(/closed/)
  })

  it('room() waits while the queue holds more than its high-water mark', async () => {
    const q = new WorkQueue<number>(2)
    for (let i = 0; i < 4; i++) q.push(i)
    let roomy = false
    const room = q.room().then(() => { roomy = true })
    await q.take()
    await Promise.resolve()
    expect(roomy).toBe(false)
    await q.take()
    await room
    expect(roomy).toBe(true)
    expect(q.size).toBe(2)
    expect(q.peak).toBe(4)
  })

  it('a waiting taker gets the next pushed item; close() releases the others', async () => {
    const q = new WorkQueue<string>(10)
    const a = q.take()
    const b = q.take()
    q.push('x')
    expect(await a).toBe('x')
    q.close()
    expect(await b).toBeUndefined()
  })

  it('stays first in, first out across its internal compaction', async () => {
    const q = new WorkQueue<number>(5000)
    const got: number[] = []
    for (let i = 0; i < 3000; i++) {
      q.push(i)
      if (i % 3 === 2) got.push(await q.take() as number, await q.take() as number)
    }
    q.close()
    for (let v = await q.take(); v !== undefined; v = await q.take()) got.push(v)
    expect(got).toEqual(Array.from({ length: 3000 }, (_, i) => i))
  })
})

const PAGE = 1000
const memberId = (i: number): string => String(1_600_000_000_000_000_000n + BigInt(i))
/** Members in the guild besides the bot and the owner (who sort before them, on page 0). */
let N = 0

/**
 * Every member is a linked pilot. Three in five need a change: even ones lack Pilot (one PUT),
 * odd ones lack Pilot and hold Corp undeservedly (one PATCH); the others already hold exactly
 * the right roles. Every 3rd holds Hand Picked, which is not managed and must survive.
 */
const needsChange = (i: number): boolean => i % 5 < 3
function before (i: number): string[] {
  const hand = i % 3 === 0 ? [IDS.hand] : []
  if (!needsChange(i)) return [IDS.pilot, ...hand]
  return i % 2 === 0 ? hand : [IDS.corp, ...hand]
}
const indexes = (): number[] => Array.from({ length: N }, (_, i) => i)
const needing = (): number => indexes().filter(needsChange).length
const plannedChanges = (): number => indexes().reduce((n, i) => n + (needsChange(i) ? (i % 2 === 0 ? 1 : 2) : 0), 0)

let w: SyncWorld | undefined

/** A guild of `members` test members; its brake limit is `max` of the changes they need. */
async function world (members: number, max: (planned: number) => number = () => 100): Promise<SyncWorld> {
  N = members
  w = await buildSyncWorld({ plugin: { sync: { waitTimeout: '5m' } } })
  await w.guild(IDS.g1, 'Alpha Guild', { max_role_changes_per_sync: max(plannedChanges()) })
  await w.mapping({ group_id: 'pilots', discord_role_id: IDS.pilot })
  await w.mapping({ group_id: 'corp', discord_role_id: IDS.corp })
  const ids = Array.from({ length: N }, (_, i) => memberId(i))
  w.sim.state.addUsers(ids)
  w.sim.state.addMembers(IDS.g1, ids.map((userId, i) => ({ userId, roleIds: before(i) })))
  for (let i = 0; i < N; i++) {
    await w.link(`host-${i}`, memberId(i))
    w.membership.set(`host-${i}`, ['pilots'])
  }
  return w
}

afterEach(async () => {
  if (w === undefined) return
  const world = w
  w = undefined
  expect(world.sim.internalErrors).toEqual([])
  await world.close()
})

function wrongMembers (): number {
  let wrong = 0
  for (let i = 0; i < N; i++) {
    const want = [IDS.pilot, ...(i % 3 === 0 ? [IDS.hand] : [])].sort()
    if ((w as SyncWorld).roles(IDS.g1, memberId(i)).join() !== want.join()) wrong++
  }
  return wrong
}

function untouched (): number {
  let same = 0
  for (let i = 0; i < N; i++) if ((w as SyncWorld).roles(IDS.g1, memberId(i)).join() === [...before(i)].sort().join()) same++
  return same
}

const isListPage = (r: { method: string, route: string | null }): boolean => r.method === 'GET' && r.route === 'GET /guilds/:guild_id/members'

/** The index in the members of page `p` (the bot and the owner sort before the test members, on page 0). */
function pageOf (i: number): number {
  return Math.floor((i + 2) / PAGE)
}

async function sync (body: Record<string, unknown>): Promise<any> {
  const res = await (w as SyncWorld).call('POST', '/sync/manual', { body: { guild_id: IDS.g1, wait: true, ...body } })
  expect(res.status).toBe(200)
  return res.body
}

// Building 2,000 linked members and syncing them takes seconds on a loaded machine.
const SLOW = 180_000

describe('a forced full-list sync streams its pages', () => {
  it('writes each member needing a change exactly once, ends exact, and writes while the later pages are still unread', async () => {
    // Three pages: 1000, 1000 and 100 members.
    await world(2098)
    const body = await sync({ force: true })
    expect(body.run.status).toBe('completed')
    expect(body.run.results.guilds[0]).toMatchObject({ status: 'completed', members_to_change: needing(), planned_changes: plannedChanges(), members_failed: 0 })
    const calls = (w as SyncWorld).discordCalls()
    expect(calls.filter(isWrite)).toHaveLength(needing())
    expect(wrongMembers()).toBe(0)
    const pages = calls.map((c, at) => ({ c, at })).filter(({ c }) => isListPage(c)).map(({ at }) => at)
    expect(pages).toHaveLength(3)
    // Bounded holding: when page k+1 is asked for, at most STREAM_HIGH_WATER of the members
    // planned on pages 0..k wait unwritten (plus one in flight per worker). Planning every page
    // before writing (the unforced path) has written nothing by then.
    const workers = 5
    for (let k = 0; k + 1 < pages.length; k++) {
      const planned = indexes().filter((i) => needsChange(i) && pageOf(i) <= k).length
      const written = calls.slice(0, pages[k + 1]).filter(isWrite).length
      expect(planned - written).toBeLessThanOrEqual(STREAM_HIGH_WATER + workers)
    }
    // Pages 0 and 1 plan 1,200 members: the last page is read only once ~200 are written.
    expect(indexes().filter((i) => needsChange(i) && pageOf(i) <= 1).length).toBeGreaterThan(STREAM_HIGH_WATER + 100)
  }, SLOW)

  it('a halt mid-stream stops the reader and the writers: the guild fails with the halt, not as cancelled', async () => {
    await world(2098)
    const sim = (w as SyncWorld).sim
    let updates = 0
    const off = sim.state.events.on('memberUpdate', () => {
      // The bot loses Manage Roles after 50 writes (the next write answers 50013), while the
      // reader waits for room to read the last page (1,200 members planned, 1,000 may wait).
      if (++updates === 50) sim.state.setRolePermissions(IDS.g1, IDS.botRole, 0n)
    })
    const body = await sync({ force: true })
    off()
    const g = body.run.results.guilds[0]
    expect(g.status).toBe('failed')
    expect(g.reason).toMatch(/writes to this guild stopped/)
    const calls = (w as SyncWorld).discordCalls()
    // One refused write (a worker or two may have had one in flight), then nothing more.
    const refused = calls.findIndex((c) => isWrite(c) && c.status === 403)
    expect(refused).toBeGreaterThan(-1)
    expect(calls.slice(refused + 1).filter((c) => isWrite(c) || isListPage(c)).length).toBeLessThanOrEqual(5)
    // The reader stopped: the last page was never read.
    expect(calls.filter(isListPage).length).toBeLessThan(3)
    expect(N - untouched()).toBe(50)
  }, SLOW)
})

describe('an unforced sync plans every page before writing', () => {
  it('within max_role_changes_per_sync: applied exactly, and no write before the list is read to its end', async () => {
    // Two pages: 1000 and 200 members.
    await world(1198, (planned) => planned)
    const body = await sync({})
    expect(body.run.status).toBe('completed')
    const calls = (w as SyncWorld).discordCalls()
    expect(calls.filter(isListPage)).toHaveLength(2)
    expect(calls.filter(isWrite)).toHaveLength(needing())
    expect(wrongMembers()).toBe(0)
    const lastPage = calls.map((c, at) => ({ c, at })).filter(({ c }) => isListPage(c)).at(-1)?.at as number
    expect(calls.slice(0, lastPage).filter(isWrite)).toEqual([])
  }, SLOW)

  it('one change over the limit, on the last page: nothing written, every change audited as held back by the brake', async () => {
    await world(2098, (planned) => planned - 1)
    const body = await sync({})
    expect(body.run.status).toBe('blocked')
    expect(body.run.results.guilds[0]).toMatchObject({ status: 'blocked', members_to_change: needing(), planned_changes: plannedChanges() })
    expect((w as SyncWorld).discordCalls(isWrite)).toEqual([])
    expect(untouched()).toBe(N)
    expect(body.changes_total).toBe(plannedChanges())
    const outcomes = new Set(body.changes.map((c: any) => `${c.outcome}:${c.error_code}`))
    expect([...outcomes]).toEqual(['blocked:brake'])
  }, SLOW)

  it('a dry run, forced or not, writes nothing and audits every planned change', async () => {
    await world(2098)
    for (const force of [false, true]) {
      const body = await sync({ dry_run: true, force })
      expect(body.run.status).toBe('completed')
      expect(body.run.results.guilds[0]).toMatchObject({ members_to_change: needing(), planned_changes: plannedChanges() })
      expect(body.changes_total).toBe(plannedChanges())
    }
    expect((w as SyncWorld).discordCalls(isWrite)).toEqual([])
    expect(untouched()).toBe(N)
  }, SLOW)
})
