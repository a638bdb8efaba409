import { beforeEach, describe, expect, it } from 'vitest'
import { MAX_PAGE_SIZE } from '../../../src/store/port/index.js'
import type { CreateTaskRunInput, DiscordStore } from '../../../src/store/port/index.js'
import type { ContractFixture } from './fixture.js'

/** Recorded runs of scheduled tasks. */
export function taskRunsContract (fx: ContractFixture): void {
  let store: DiscordStore
  beforeEach(() => {
    store = fx.store
  })
  const { harness } = fx

  // ------------------------------------------------------------ task runs

  describe('discord_task_runs', () => {
    const at = (minutesAgo: number): Date => new Date(Date.now() - minutesAgo * 60_000)
    const runInput = (over: Partial<CreateTaskRunInput> = {}): CreateTaskRunInput => ({
      task: 'token_refresh',
      status: 'completed',
      reason: null,
      started_at: at(10),
      finished_at: at(9),
      duration_ms: 60_000,
      counts: { candidates: 3, refreshed: 2, reauth_required: 1, failed: 0, skipped: 0 },
      errors: [],
      ...over
    })

    it('records a run and returns it as stored: dates, counts, errors and reason round-trip', async () => {
      const input = runInput({
        status: 'failed',
        reason: 'lock lost',
        counts: { candidates: 2, refreshed: 0, failed: 2 },
        errors: [
          { discord_user_id: '100000000000000001', code: 'FST_DISCORD_API_SERVER_ERROR', message: 'POST /oauth2/token answered 500' },
          { code: 'FST_DISCORD_INTERNAL', message: 'unexpected error' }
        ]
      })
      const run = await store.recordTaskRun(input)
      expect(run).toEqual({ id: expect.any(String), ...input })
      expect(run.started_at).toBeInstanceOf(Date)
      expect(await store.listTaskRuns({ task: 'token_refresh' })).toEqual([run])
    })

    it('lists one task\'s runs newest first, 20 by default, at most MAX_PAGE_SIZE', async () => {
      for (let i = 0; i < 25; i++) await store.recordTaskRun(runInput({ started_at: at(100 - i), finished_at: at(99 - i), counts: { n: i } }))
      await store.recordTaskRun(runInput({ task: 'another_task' as CreateTaskRunInput['task'], started_at: at(0) }))
      const page = await store.listTaskRuns({ task: 'token_refresh' })
      expect(page.map((r) => r.counts.n)).toEqual(Array.from({ length: 20 }, (_, i) => 24 - i))
      expect((await store.listTaskRuns({ task: 'token_refresh', limit: 3 })).map((r) => r.counts.n)).toEqual([24, 23, 22])
      expect(await store.listTaskRuns({ task: 'token_refresh', limit: 1000 })).toHaveLength(25)
      expect(MAX_PAGE_SIZE).toBeGreaterThanOrEqual(25)
      expect(await store.listTaskRuns({ task: 'another_task' as CreateTaskRunInput['task'] })).toHaveLength(1)
    })

    it('stores only the known fields of an error and finite counters', async () => {
      const run = await store.recordTaskRun(runInput({
        counts: { refreshed: 1, bogus: Number.NaN },
        errors: [{ code: 'X', message: 'm', guild_id: null, access_token: 'leaked' } as CreateTaskRunInput['errors'][number]]
      }))
      expect(run.counts).toEqual({ refreshed: 1 })
      expect(run.errors).toEqual([{ code: 'X', message: 'm', guild_id: null }])
      expect(JSON.stringify(await store.listTaskRuns({ task: 'token_refresh' }))).not.toContain('leaked')
      expect(await harness.rawDump(store)).not.toContain('leaked')
    })

    it('prunes one task\'s runs that started before a date, keeping newer ones and other tasks', async () => {
      const old = await store.recordTaskRun(runInput({ started_at: at(120), finished_at: at(119) }))
      const recent = await store.recordTaskRun(runInput({ started_at: at(5), finished_at: at(4) }))
      const other = await store.recordTaskRun(runInput({ task: 'another_task' as CreateTaskRunInput['task'], started_at: at(120) }))
      expect(await store.pruneTaskRuns('token_refresh', at(60))).toBe(1)
      expect(await store.pruneTaskRuns('token_refresh', at(60))).toBe(0)
      expect(await store.listTaskRuns({ task: 'token_refresh' })).toEqual([recent])
      expect(await store.listTaskRuns({ task: 'another_task' as CreateTaskRunInput['task'] })).toEqual([other])
      expect(old.id).not.toBe(recent.id)
    })
  })
}
