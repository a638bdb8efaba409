import { beforeEach, describe, expect, it } from 'vitest'
import { EMPTY_SYNC_RESULTS, MAX_PAGE_SIZE } from '../../../src/store/port/index.js'
import type { CreateAuditEntryInput, DiscordStore } from '../../../src/store/port/index.js'
import { later, first, type ContractFixture } from './fixture.js'

/** Sync runs and the audit log of their role changes. */
export function syncRunsContract (fx: ContractFixture): void {
  let store: DiscordStore
  beforeEach(() => {
    store = fx.store
  })

  // ------------------------------------------------------------ sync runs

  describe('discord_sync_status', () => {
    it('creates a run with defaults and reads it back', async () => {
      const r = await store.createSyncRun({ sync_type: 'guild', target_id: '123', initiated_by: 'system' })
      expect(r).toMatchObject({
        sync_type: 'guild',
        target_id: '123',
        status: 'pending',
        dry_run: false,
        force: false,
        started_at: null,
        completed_at: null,
        duration: null,
        results: { ...EMPTY_SYNC_RESULTS, errors: [] },
        initiated_by: 'system'
      })
      expect(r.created_at).toBeInstanceOf(Date)
      expect(await store.getSyncRun(r.id)).toEqual(r)
      expect(await store.getSyncRun('does-not-exist')).toBeNull()

      const started = new Date('2025-01-01T00:00:00.000Z')
      const full = await store.createSyncRun({ sync_type: 'full', status: 'running', dry_run: true, force: true, started_at: started, initiated_by: 'host-admin' })
      expect(full).toMatchObject({ target_id: null, status: 'running', dry_run: true, force: true })
      expect(full.started_at).toEqual(started)
      expect(await store.getSyncRun(full.id)).toEqual(full)
    })

    it('updates a run, round-tripping results with dated errors', async () => {
      const r = await store.createSyncRun({ sync_type: 'user', target_id: 'host-1', initiated_by: 'host-1' })
      const occurred = new Date('2025-07-07T07:07:07.000Z')
      const results = {
        users_processed: 3,
        users_synced: 2,
        users_failed: 1,
        roles_added: 4,
        roles_removed: 1,
        guilds_processed: 1,
        errors: [{ user_id: 'host-1', discord_user_id: '42', guild_id: '7', error: 'Missing Permissions', code: 50013, occurred_at: occurred }]
      }
      const done = new Date('2025-07-07T07:08:00.000Z')
      const heartbeat = new Date('2025-07-07T07:07:30.000Z')
      const u = await store.updateSyncRun(r.id, { status: 'completed', completed_at: done, duration: 53_000, heartbeat_at: heartbeat, results })
      expect(u).toMatchObject({ id: r.id, status: 'completed', duration: 53_000, results })
      expect(u?.completed_at).toEqual(done)
      expect(u?.heartbeat_at).toEqual(heartbeat)
      expect(first(u?.results.errors ?? []).occurred_at).toBeInstanceOf(Date)
      expect(await store.getSyncRun(r.id)).toEqual(u)
      expect(await store.updateSyncRun('does-not-exist', { status: 'failed' })).toBeNull()
    })

    it('round-trips the per-guild breakdown of a run, and leaves it absent when never set', async () => {
      const r = await store.createSyncRun({ sync_type: 'full', initiated_by: 'system' })
      expect(r.results.guilds).toBeUndefined()
      const guilds = [
        { guild_id: '1200000000000000001', status: 'blocked' as const, members_scanned: 1000, members_to_change: 150, planned_changes: 160, blocked_changes: 2, roles_added: 0, roles_removed: 0, members_failed: 0, reason: '160 planned changes exceed max_role_changes_per_sync (100)' },
        { guild_id: '1200000000000000002', status: 'completed' as const, members_scanned: 10, members_to_change: 1, planned_changes: 1, blocked_changes: 0, roles_added: 1, roles_removed: 0, members_failed: 0, reason: null }
      ]
      const u = await store.updateSyncRun(r.id, { status: 'blocked', results: { ...EMPTY_SYNC_RESULTS, errors: [], guilds } })
      expect(u?.results.guilds).toEqual(guilds)
      expect((await store.getSyncRun(r.id))?.results.guilds).toEqual(guilds)
      expect((await store.listSyncRuns({ status: 'blocked' }))[0]?.results.guilds).toEqual(guilds)
    })

    it('lists newest first with filters and a clamped limit', async () => {
      const a = await store.createSyncRun({ sync_type: 'guild', target_id: 'g1', initiated_by: 'system' })
      later()
      const b = await store.createSyncRun({ sync_type: 'user', target_id: 'u1', status: 'running', initiated_by: 'system' })
      later()
      const c = await store.createSyncRun({ sync_type: 'guild', target_id: 'g2', status: 'completed', initiated_by: 'system' })
      later()
      const d = await store.createSyncRun({ sync_type: 'guild', target_id: 'g1', status: 'completed', initiated_by: 'system' })
      expect((await store.listSyncRuns()).map((r) => r.id)).toEqual([d.id, c.id, b.id, a.id])
      expect((await store.listSyncRuns({ sync_type: 'guild' })).map((r) => r.id)).toEqual([d.id, c.id, a.id])
      expect((await store.listSyncRuns({ status: 'completed' })).map((r) => r.id)).toEqual([d.id, c.id])
      expect((await store.listSyncRuns({ sync_type: 'guild', target_id: 'g1' })).map((r) => r.id)).toEqual([d.id, a.id])
      expect((await store.listSyncRuns({ limit: 2 })).map((r) => r.id)).toEqual([d.id, c.id])
      expect(await store.listSyncRuns({ target_id: 'nobody' })).toEqual([])
      expect(first(await store.listSyncRuns({ limit: 1 }))).toEqual(d)
    })

    it('defaults the list to 20 runs and never returns more than MAX_PAGE_SIZE', async () => {
      for (let i = 0; i < MAX_PAGE_SIZE + 3; i++) await store.createSyncRun({ sync_type: 'user', target_id: `u${i}`, initiated_by: 'system' })
      expect((await store.listSyncRuns()).length).toBe(20)
      expect((await store.listSyncRuns({ limit: 1000 })).length).toBe(MAX_PAGE_SIZE)
    })

    it('fails stale pending and running runs, leaving live and finished runs alone', async () => {
      const longAgo = new Date(Date.now() - 3_600_000)
      const recent = new Date(Date.now() - 1_000)
      const staleHeartbeat = await store.createSyncRun({ sync_type: 'full', status: 'running', started_at: longAgo, initiated_by: 'system' })
      await store.updateSyncRun(staleHeartbeat.id, { heartbeat_at: longAgo })
      const staleStart = await store.createSyncRun({ sync_type: 'guild', status: 'pending', started_at: longAgo, initiated_by: 'system' })
      const liveHeartbeat = await store.createSyncRun({ sync_type: 'full', status: 'running', started_at: longAgo, initiated_by: 'system' })
      await store.updateSyncRun(liveHeartbeat.id, { heartbeat_at: recent })
      const liveStart = await store.createSyncRun({ sync_type: 'user', status: 'running', started_at: recent, initiated_by: 'system' })
      const finished = await store.createSyncRun({ sync_type: 'user', status: 'completed', started_at: longAgo, initiated_by: 'system' })

      const cutoff = new Date(Date.now() - 60_000)
      expect(await store.failStaleSyncRuns(cutoff, 'worker lost')).toBe(2)
      for (const id of [staleHeartbeat.id, staleStart.id]) {
        const r = await store.getSyncRun(id)
        expect(r?.status).toBe('failed')
        expect(r?.completed_at).toBeInstanceOf(Date)
        expect(r?.results.errors.some((e) => e.error === 'worker lost')).toBe(true)
      }
      expect((await store.getSyncRun(liveHeartbeat.id))?.status).toBe('running')
      expect(await store.getSyncRun(liveStart.id)).toEqual(liveStart)
      expect(await store.getSyncRun(finished.id)).toEqual(finished)
      expect(await store.failStaleSyncRuns(cutoff, 'worker lost')).toBe(0)
    })

    it('prunes finished runs created before a date and keeps active ones', async () => {
      const done = await store.createSyncRun({ sync_type: 'user', status: 'completed', initiated_by: 'system' })
      const failed = await store.createSyncRun({ sync_type: 'user', status: 'failed', initiated_by: 'system' })
      const running = await store.createSyncRun({ sync_type: 'user', status: 'running', initiated_by: 'system' })
      const pending = await store.createSyncRun({ sync_type: 'user', initiated_by: 'system' })
      expect(await store.pruneSyncRuns(new Date(Date.now() - 3_600_000))).toBe(0)
      expect(await store.pruneSyncRuns(new Date(Date.now() + 3_600_000))).toBe(2)
      expect(await store.getSyncRun(done.id)).toBeNull()
      expect(await store.getSyncRun(failed.id)).toBeNull()
      expect(await store.getSyncRun(running.id)).toEqual(running)
      expect(await store.getSyncRun(pending.id)).toEqual(pending)
    })
  })

  // ------------------------------------------------------------ audit

  describe('discord_audit_log', () => {
    function entry (overrides: Partial<CreateAuditEntryInput> = {}): CreateAuditEntryInput {
      return {
        run_id: null,
        guild_id: 'g1',
        discord_user_id: 'd1',
        user_id: null,
        role_id: 'r1',
        role_name: null,
        action: 'add',
        mapping_id: null,
        outcome: 'applied',
        error_code: null,
        ...overrides
      }
    }

    it('appends entries and lists them newest first with every field', async () => {
      const base = Date.now() - 10_000
      const full = entry({ run_id: 'run-1', user_id: 'host-1', role_name: 'Pilot', action: 'remove', mapping_id: 'm-1', outcome: 'failed', error_code: '50013', trigger: 'join', created_at: new Date(base + 2_000) })
      expect(await store.appendAudit([
        entry({ created_at: new Date(base) }),
        full,
        entry({ created_at: new Date(base + 1_000) })
      ])).toBe(3)
      expect(await store.appendAudit([])).toBe(0)
      const page = await store.listAudit()
      expect(page.total).toBe(3)
      expect(page.items.map((e) => e.created_at.getTime())).toEqual([base + 2_000, base + 1_000, base])
      const top = first(page.items)
      expect(typeof top.id).toBe('string')
      expect(top).toEqual({ ...full, id: top.id, created_at: new Date(base + 2_000) })

      await store.appendAudit([entry()])
      const latest = first((await store.listAudit()).items)
      expect(Math.abs(latest.created_at.getTime() - Date.now())).toBeLessThan(60_000)
    })

    it('filters by guild, discord user, host user and run', async () => {
      await store.appendAudit([
        entry({ guild_id: 'gA', discord_user_id: 'dA', user_id: 'hA', run_id: 'run-A' }),
        entry({ guild_id: 'gA', discord_user_id: 'dB', user_id: 'hB', run_id: 'run-A' }),
        entry({ guild_id: 'gB', discord_user_id: 'dA', user_id: 'hA', run_id: 'run-B' }),
        entry({ guild_id: 'gB', discord_user_id: 'dC', user_id: null, run_id: null })
      ])
      expect((await store.listAudit({ guild_id: 'gA' })).total).toBe(2)
      expect((await store.listAudit({ discord_user_id: 'dA' })).items.map((e) => e.guild_id).sort()).toEqual(['gA', 'gB'])
      expect((await store.listAudit({ user_id: 'hB' })).items.map((e) => e.discord_user_id)).toEqual(['dB'])
      expect((await store.listAudit({ run_id: 'run-B' })).items.map((e) => e.discord_user_id)).toEqual(['dA'])
      const combined = await store.listAudit({ guild_id: 'gB', discord_user_id: 'dA' })
      expect(combined.total).toBe(1)
      expect(first(combined.items).run_id).toBe('run-B')
      expect((await store.listAudit({ run_id: 'none' })).items).toEqual([])
    })

    it('records the trigger (manual when none is given) and filters by outcome, action, trigger and time', async () => {
      const base = Date.now() - 100_000
      await store.appendAudit([
        entry({ role_id: 'a', outcome: 'applied', action: 'add', trigger: 'schedule', created_at: new Date(base) }),
        entry({ role_id: 'b', outcome: 'failed', action: 'remove', trigger: 'join', created_at: new Date(base + 1_000) }),
        entry({ role_id: 'c', outcome: 'dry_run', action: 'add', trigger: 'drift', created_at: new Date(base + 2_000) }),
        entry({ role_id: 'd', outcome: 'blocked', action: 'add', error_code: 'brake', created_at: new Date(base + 3_000) }),
        entry({ role_id: 'e', outcome: 'blocked', action: 'nick', error_code: 'blocked_hierarchy', trigger: 'link', created_at: new Date(base + 4_000) })
      ])
      const ids = async (q: Parameters<typeof store.listAudit>[0]): Promise<string[]> => (await store.listAudit(q)).items.map((e) => e.role_id).sort()
      expect((await store.listAudit({ outcome: ['blocked'] })).items.map((e) => e.trigger).sort()).toEqual(['link', 'manual'])
      expect(await ids({ outcome: ['applied', 'failed'] })).toEqual(['a', 'b'])
      expect(await ids({ outcome: [] })).toEqual([])
      expect(await ids({ action: ['remove', 'nick'] })).toEqual(['b', 'e'])
      expect(await ids({ trigger: ['manual'] })).toEqual(['d'])
      expect(await ids({ trigger: ['join', 'drift'], action: ['add'] })).toEqual(['c'])
      expect(await ids({ from: new Date(base + 1_000), to: new Date(base + 3_000) })).toEqual(['b', 'c'])
      // Effects only: no dry run and nothing the brake held; a change the bot may not make stays (it is a finding).
      expect(await ids({ effects_only: true })).toEqual(['a', 'b', 'e'])
      expect((await store.listAudit({ effects_only: true })).total).toBe(3)
    })

    it('orders a run\'s changes by member, then role, on request', async () => {
      const base = Date.now() - 100_000
      await store.appendAudit([
        entry({ run_id: 'r', user_id: 'zed', discord_user_id: 'd3', role_name: 'Alpha', created_at: new Date(base) }),
        entry({ run_id: 'r', user_id: 'amy', discord_user_id: 'd1', role_name: 'Pilot', created_at: new Date(base + 1_000) }),
        entry({ run_id: 'r', user_id: 'amy', discord_user_id: 'd1', role_name: 'Member', created_at: new Date(base + 2_000) }),
        entry({ run_id: 'r', user_id: 'bob', discord_user_id: 'd2', role_name: 'Officer', created_at: new Date(base + 3_000) })
      ])
      const page = await store.listAudit({ run_id: 'r', order: 'member' })
      expect(page.items.map((e) => `${e.user_id ?? ''}/${e.role_name ?? ''}`)).toEqual(['amy/Member', 'amy/Pilot', 'bob/Officer', 'zed/Alpha'])
      expect((await store.listAudit({ run_id: 'r' })).items.map((e) => e.role_name)).toEqual(['Officer', 'Member', 'Pilot', 'Alpha'])
    })

    it('pages newest first without duplicates or gaps and clamps page_size', async () => {
      const base = Date.now() - 1_000_000
      // Pairs share a timestamp so the id tie-break is exercised.
      const entries = Array.from({ length: MAX_PAGE_SIZE + 20 }, (_, i) => entry({ role_id: `r${i}`, created_at: new Date(base + Math.floor(i / 2) * 1_000) }))
      expect(await store.appendAudit(entries)).toBe(MAX_PAGE_SIZE + 20)

      const all: string[] = []
      let total = -1
      for (let page = 1; page <= 6; page++) {
        const p = await store.listAudit({ page, page_size: 25 })
        total = p.total
        all.push(...p.items.map((e) => e.id))
        if (page === 6) expect(p.items).toEqual([])
      }
      expect(total).toBe(MAX_PAGE_SIZE + 20)
      expect(all.length).toBe(MAX_PAGE_SIZE + 20)
      expect(new Set(all).size).toBe(MAX_PAGE_SIZE + 20)

      const clamped = await store.listAudit({ page_size: 500 })
      expect(clamped.page_size).toBe(MAX_PAGE_SIZE)
      expect(clamped.items.length).toBe(MAX_PAGE_SIZE)
      expect(clamped.items.map((e) => e.id)).toEqual(all.slice(0, MAX_PAGE_SIZE))
      const times = clamped.items.map((e) => e.created_at.getTime())
      expect([...times].sort((a, b) => b - a)).toEqual(times)
      // Within equal timestamps the order is id descending.
      for (let i = 1; i < clamped.items.length; i++) {
        const prev = clamped.items[i - 1]
        const cur = clamped.items[i]
        if (prev && cur && prev.created_at.getTime() === cur.created_at.getTime()) expect(prev.id > cur.id).toBe(true)
      }
    })

    it('prunes entries created before a date', async () => {
      const old = new Date(Date.now() - 86_400_000)
      await store.appendAudit([entry({ created_at: old }), entry({ created_at: old }), entry()])
      expect(await store.pruneAudit(new Date(Date.now() - 3_600_000))).toBe(2)
      const rest = await store.listAudit()
      expect(rest.total).toBe(1)
      expect(first(rest.items).created_at.getTime()).toBeGreaterThan(old.getTime())
      expect(await store.pruneAudit(new Date(Date.now() - 3_600_000))).toBe(0)
    })
  })
}
