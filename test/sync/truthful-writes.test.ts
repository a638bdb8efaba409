import { afterEach, describe, expect, it } from 'vitest'
import { lockKeys } from '../../src/sync/locks.js'
import { RoleSyncTask } from '../../src/tasks/role-sync.js'
import { buildSyncWorld, HOST, IDS, isWrite, until, type SyncWorld } from './helpers.js'

/*
 * What a run records is what Discord holds: a write whose answer was lost or unusable is
 * settled by reading the member (never resent blindly), passing read failures are retried
 * before they fail a guild, a lost lock is taken again or the guild ends incomplete (never
 * "completed"), and a run whose instance died is swept by the next scheduler tick.
 */

let w: SyncWorld

afterEach(async () => {
  expect(w.sim.internalErrors).toEqual([])
  await w.close()
})

const PATCH = 'PATCH /guilds/:guild_id/members/:user_id'
const PUT = 'PUT /guilds/:guild_id/members/:user_id/roles/:role_id'
const LIST = 'GET /guilds/:guild_id/members'
const MEMBER = 'GET /guilds/:guild_id/members/:user_id'

async function world (options: Parameters<typeof buildSyncWorld>[0] = {}): Promise<SyncWorld> {
  w = await buildSyncWorld(options)
  await w.guild(IDS.g1, 'Alpha Guild', { max_role_changes_per_sync: 10_000 })
  await w.mapping({ group_id: 'pilots', discord_role_id: IDS.pilot })
  return w
}

async function full (): Promise<any> {
  const res = await w.call('POST', '/sync/manual', { body: { wait: true } })
  expect(res.status).toBe(200)
  return res.body
}

async function auditOf (runId: string): Promise<Array<{ discord_user_id: string, outcome: string, error_code: string | null }>> {
  const res = await w.call('GET', `/sync/audit?run_id=${runId}&page_size=100`)
  return res.body.entries
}

/** Alice, linked, in pilots and corp: two changes, so one PATCH with the full role list. */
async function aliceNeedsTwo (): Promise<void> {
  await w.mapping({ group_id: 'corp', discord_role_id: IDS.corp })
  w.sim.state.addMember(IDS.g1, IDS.alice, [IDS.hand])
  await w.link(HOST.alice, IDS.alice)
  w.membership.set(HOST.alice, ['pilots', 'corp'])
}

/** `n` unlinked members holding the managed Pilot role: each loses it with one DELETE. */
function unlinkedPilots (n: number): string[] {
  return w.sim.state.seedMembers(IDS.g1, n, [IDS.pilot])
}

describe('writes with an unknown outcome', () => {
  it('a write Discord applied but answered with a malformed body is audited applied, and not sent again', async () => {
    await world()
    await aliceNeedsTwo()
    w.sim.scriptFault({ kind: 'malformed', route: PATCH })
    const body = await full()
    expect(body.run.status).toBe('completed')
    expect(w.roles(IDS.g1, IDS.alice).sort()).toEqual([IDS.hand, IDS.pilot, IDS.corp].sort())
    expect(w.sim.requests.filter((r) => r.route === PATCH)).toHaveLength(1)
    expect(body.run.results.users_failed).toBe(0)
    expect((await auditOf(body.run_id)).map((e) => e.outcome)).toEqual(['applied', 'applied'])
  })

  it('a write whose connection kept resetting is re-read, found not applied and sent again', async () => {
    await world()
    w.sim.state.addMember(IDS.g1, IDS.alice)
    await w.link(HOST.alice, IDS.alice)
    w.membership.set(HOST.alice, ['pilots'])
    // Sync writes are never resent by the client (resendUnknownOutcome: false): each reset reaches
    // the engine, which reads the member before it sends again (at most MAX_WRITE_TRIES sends).
    w.sim.scriptFault({ kind: 'reset', route: PUT, times: 2 })
    const body = await full()
    expect(body.run.status).toBe('completed')
    expect(w.roles(IDS.g1, IDS.alice)).toEqual([IDS.pilot])
    expect(body.run.results.users_failed).toBe(0)
    expect((await auditOf(body.run_id)).map((e) => e.outcome)).toEqual(['applied'])
    // The resend followed a read of the member, never the failed write directly.
    const calls = w.sim.requests.filter((r) => r.route === PUT || r.route === MEMBER).map((r) => r.route)
    expect(calls.filter((r) => r === PUT)).toHaveLength(3)
    expect(calls.slice(-4)).toEqual([MEMBER, PUT, MEMBER, PUT])
  })
})

describe('passing read failures', () => {
  it('a malformed member-list page is asked for again; the guild completes', async () => {
    await world()
    const ids = unlinkedPilots(5)
    w.sim.scriptFault({ kind: 'malformed', route: LIST, times: 2 })
    const body = await full()
    expect(body.run.status).toBe('completed')
    expect(body.run.results.guilds[0]).toMatchObject({ status: 'completed', roles_removed: 5 })
    for (const id of ids) expect(w.roles(IDS.g1, id)).toEqual([])
  })

  it('5xx on the member list beyond the client\'s retries is retried by the sync before the guild fails', async () => {
    await world()
    const ids = unlinkedPilots(3)
    w.sim.scriptFault({ kind: 'error', status: 502, route: LIST, times: 5 })
    const body = await full()
    expect(body.run.results.guilds[0]).toMatchObject({ status: 'completed', roles_removed: 3 })
    for (const id of ids) expect(w.roles(IDS.g1, id)).toEqual([])
  })

  it('a malformed answer to the bot-member read (roles and hierarchy) is retried', async () => {
    await world()
    const ids = unlinkedPilots(2)
    // The first GET member of the run is the bot's own (the role cache is cold).
    w.sim.scriptFault({ kind: 'malformed', route: MEMBER, times: 2 })
    const body = await full()
    expect(body.run.results.guilds[0]).toMatchObject({ status: 'completed', roles_removed: 2 })
    for (const id of ids) expect(w.roles(IDS.g1, id)).toEqual([])
  })

  it('a read that keeps failing still fails the guild (bounded tries)', async () => {
    await world()
    unlinkedPilots(2)
    w.sim.scriptFault({ kind: 'malformed', route: LIST, times: 50 })
    const body = await full()
    expect(body.run.results.guilds[0].status).toBe('failed')
    expect(w.sim.requests.filter((r) => r.route === LIST)).toHaveLength(3)
  })
})

describe('sync lock loss', () => {
  // Writes at 10 per second (a tenth of Discord's window): a 30-member run outlives a few heartbeats.
  const slow = { simulator: { timeScale: 10 } }

  it('a lock that vanished (its store restarted empty) is taken again and the run completes', async () => {
    await world(slow)
    const ids = unlinkedPilots(30)
    const engine = w.app.discord.sync.engine
    const key = lockKeys.guild(IDS.g1)
    const started = await engine.startManual({ guild_id: IDS.g1 }, 'test')
    await until(async () => w.sim.requests.some(isWrite) ? true : null)
    expect(await engine.locks.releaseHeldBy(key, started.run.id)).toBe(true)
    // The next heartbeat finds the lock gone and takes it again.
    await until(async () => await engine.locks.holder(key) === started.run.id ? true : null)
    const final = await started.done
    expect(final.status).toBe('completed')
    expect(final.results.guilds?.[0]?.status).toBe('completed')
    for (const id of ids) expect(w.roles(IDS.g1, id)).toEqual([])
  })

  it('a lock another run took stops the run as incomplete (never completed); the next tick resumes the guild', async () => {
    await world(slow)
    const ids = unlinkedPilots(30)
    const engine = w.app.discord.sync.engine
    const key = lockKeys.guild(IDS.g1)
    const started = await engine.startGuild(IDS.g1)
    expect(started).not.toBeNull()
    const runId = started?.run.id as string
    await until(async () => w.sim.requests.some(isWrite) ? true : null)
    await engine.locks.releaseHeldBy(key, runId)
    const other = await engine.locks.acquire(key, 'other-run')
    expect(other.ok).toBe(true)
    const final = await started?.done
    expect(final?.status).toBe('failed')
    expect(final?.results.guilds?.[0]).toMatchObject({ status: 'failed' })
    expect(final?.results.guilds?.[0]?.reason).toMatch(/^incomplete:/)
    expect(ids.some((id) => w.roles(IDS.g1, id).length > 0)).toBe(true)
    const skipped = (await w.store.listAudit({ run_id: runId, page_size: 100 })).items.filter((e) => e.outcome === 'skipped')
    expect(skipped.length).toBeGreaterThan(0)

    if (other.ok) await engine.locks.release(other.handle)
    // The guild's interval (15 min) has not elapsed, but its last run did not finish: due now.
    const tick = await new RoleSyncTask({ engine, store: w.store, defaultIntervalMs: 900_000, log: w.app.log }).tick()
    expect(tick.started.map((s) => s.guild_id)).toEqual([IDS.g1])
    const resumed = await engine.waitFor(tick.started[0]?.run_id as string, 20_000)
    expect(resumed?.status).toBe('completed')
    for (const id of ids) expect(w.roles(IDS.g1, id)).toEqual([])
  })
})

describe('stale runs', () => {
  it('every scheduler tick sweeps a run without a heartbeat: interrupted, its lock freed, its guild due again', async () => {
    await world()
    const ids = unlinkedPilots(2)
    const engine = w.app.discord.sync.engine
    const longAgo = new Date(Date.now() - 3_600_000)
    const dead = await w.store.createSyncRun({ sync_type: 'guild', target_id: IDS.g1, status: 'running', started_at: longAgo, initiated_by: 'system' })
    await w.store.updateSyncRun(dead.id, { heartbeat_at: longAgo })
    // Its lock outlived it (a Redis lock keeps its TTL after the holder is killed).
    expect((await engine.locks.acquire(lockKeys.guild(IDS.g1), dead.id)).ok).toBe(true)
    const task = new RoleSyncTask({ engine, store: w.store, defaultIntervalMs: 900_000, log: w.app.log })
    const tick = await task.tick()
    expect(tick.swept).toBe(1)
    const swept = await w.store.getSyncRun(dead.id)
    expect(swept?.status).toBe('failed')
    expect(swept?.results.errors.at(-1)).toMatchObject({ code: 'stale' })
    expect(swept?.results.errors.at(-1)?.error).toMatch(/^interrupted/)
    expect(tick.started.map((s) => s.guild_id)).toEqual([IDS.g1])
    expect((await engine.waitFor(tick.started[0]?.run_id as string, 10_000))?.status).toBe('completed')
    for (const id of ids) expect(w.roles(IDS.g1, id)).toEqual([])
  })

  it('the sweep audits a dead run\'s writes in flight from what Discord holds', async () => {
    await world()
    const [landed, lost] = unlinkedPilots(2) as [string, string]
    // The write to `landed` reached Discord before the crash; the one to `lost` never did.
    w.sim.state.setMemberRoles(IDS.g1, landed, [])
    const longAgo = new Date(Date.now() - 3_600_000)
    const dead = await w.store.createSyncRun({ sync_type: 'guild', target_id: IDS.g1, status: 'running', started_at: longAgo, initiated_by: 'system' })
    const change = { role_id: IDS.pilot, role_name: 'EVE Pilot', action: 'remove' as const, mapping_id: 'm-1' }
    const results = { ...dead.results, in_flight: [landed, lost].map((id) => ({ guild_id: IDS.g1, discord_user_id: id, user_id: null, changes: [change] })) }
    await w.store.updateSyncRun(dead.id, { heartbeat_at: longAgo, results })
    expect(await w.app.discord.sync.engine.sweepStale()).toBe(1)
    const entries = (await w.store.listAudit({ run_id: dead.id, page_size: 100 })).items
    expect(entries.map((e) => [e.discord_user_id, e.outcome, e.error_code])).toEqual([[landed, 'applied', 'reconciled']])
    // A second sweep finds nothing more to do.
    expect(await w.app.discord.sync.engine.sweepStale()).toBe(0)
  })
})
