import { describe, expect, it } from 'vitest'
import { runKillScenario } from './fixtures/sync-kill.js'

/*
 * A host process killed mid-sync (SIGKILL, no shutdown hook) against the simulator over loopback:
 * each worker records a member's audit row before its next write, so a kill leaves at most the
 * writes in flight (one per worker) without a row; a fresh process on the same SQLite file
 * sweeps the dead run at its first tick after `sync.staleAfter` (no run left `running`), audits
 * those in-flight writes from what Discord holds, and resumes the guild; the last run leaves
 * every member with exactly the planned roles.
 */

const WORKERS = 4

describe('SIGKILL mid-sync', () => {
  it('leaves no run running, at most the in-flight writes unaudited, and the exact state after the next run', async () => {
    const seed = Number(process.env.SYNC_KILL_SEED ?? Date.now() % 100_000)
    const report = await runKillScenario({ members: 2_000, kills: 3, workers: WORKERS, staleAfterMs: 5_000, seed, timeScale: 1_000 })
    // The seed replays the kill points (SYNC_KILL_SEED=<seed>).
    const context = JSON.stringify(report)
    expect(report.kills.length, context).toBeGreaterThanOrEqual(2)
    for (const k of report.kills) {
      expect(k.runsLeftRunning, context).toBe(0)
      expect(k.killedRun, context).toEqual({ status: 'failed', code: 'stale' })
      expect(k.missing, context).toBeGreaterThanOrEqual(0)
      expect(k.missing, context).toBeLessThanOrEqual(WORKERS)
      expect(k.auditRows, context).toBeGreaterThanOrEqual(k.applied - WORKERS * report.kills.length)
      // The sweep read the members whose writes were in flight and audited what Discord held.
      expect(k.auditRows, context).toBe(k.applied)
    }
    expect(report.finalStatus, context).toBe('completed')
    expect(report.wrongMembers, context).toBe(0)
  }, 90_000)
})
