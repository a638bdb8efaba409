/*
 * Fault scenarios (issue 12): each is one function that runs a fault against the simulator on
 * 127.0.0.1 with real processes (forked workers, private redis-server instances on loopback
 * ports) and returns rows of figures; this file only picks and prints them. Add a scenario by
 * adding a function to SCENARIOS.
 *
 *   npx tsx bench/faults.ts [--only sigkill-sync|redis-sigstop|...] [--seed 7] [--members 5000] [--kills 10]
 *
 * The Redis rows: requests measured, the most Discord requests that arrived in any sliding second
 * (Discord's global limit is 50), the plugin's API p99 while Redis was stopped, the final status.
 *
 * Nothing here asserts: test/faults/ holds the bounded versions that do.
 */
import { parseArgs } from 'node:util'
import { loadavg } from 'node:os'
import { runKillScenario } from '../test/faults/fixtures/sync-kill.js'
import { Cleanup, hungRedis, lateRedis, restartEmpty, type FaultRow as RedisRow } from '../test/faults/redis-scenarios.js'

export type FaultRow = Record<string, string | number | boolean | null>

export interface FaultArgs {
  seed: number
  members: number | null
  kills: number | null
}

export interface FaultScenario {
  name: string
  /** What the rows show, printed above them. */
  question: string
  run: (args: FaultArgs) => Promise<FaultRow[]>
}

const WORKERS = 5

/**
 * SIGKILL mid-sync: a worker process syncing a 5,000-member guild (every member loses the
 * managed role) is killed at 10 random points; after each, a fresh worker on the same SQLite
 * file ticks once after `sync.staleAfter`. Per kill: runs left `running`, audit rows against
 * (applied − workers), and at the end whether every member holds exactly the planned roles.
 */
async function sigkillSync (args: FaultArgs): Promise<FaultRow[]> {
  const members = args.members ?? 5_000
  const report = await runKillScenario({
    members, kills: args.kills ?? 10, workers: WORKERS, staleAfterMs: 5_000, seed: args.seed, timeScale: 1_000, log: (l) => console.error(`  ${l}`)
  })
  const rows: FaultRow[] = report.kills.map((k, i) => ({
    kill: i + 1,
    killed_at_applied: k.killedAt,
    runs_left_running: k.runsLeftRunning,
    killed_run: `${k.killedRun.status}/${k.killedRun.code ?? '-'}`,
    applied: k.applied,
    audit_rows: k.auditRows,
    'applied-workers*kills': k.applied - WORKERS * (i + 1),
    missing_this_kill: k.missing,
    ok: k.runsLeftRunning === 0 && k.missing <= WORKERS && k.auditRows >= k.applied - WORKERS * (i + 1)
  }))
  rows.push({ kill: 'final', final_status: report.finalStatus, members, wrong_members: report.wrongMembers, exact: report.wrongMembers === 0, seed: report.seed, ms: report.ms })
  return rows
}

/** A Redis scenario: everything it opens goes through its Cleanup, closed after it, failed or not. */
function redis (run: (c: Cleanup) => Promise<RedisRow>): (args: FaultArgs) => Promise<FaultRow[]> {
  return async () => {
    const cleanup = new Cleanup()
    try {
      const r = await run(cleanup)
      return [{ requests: r.requests, 'max in any sliding 1 s': r.maxPerSecond, 'API p99 while stopped (ms)': r.apiP99Ms, final_status: r.finalStatus }]
    } finally {
      await cleanup.run()
    }
  }
}

const REDIS_QUESTION = 'Redis fails mid-run: most Discord requests in any sliding second (limit 50), API p99, final status?'

export const SCENARIOS: FaultScenario[] = [
  {
    name: 'sigkill-sync',
    question: 'After SIGKILLs mid-sync: runs left running, audit rows vs applied - workers, exact final state?',
    run: sigkillSync
  },
  { name: 'redis-sigstop', question: REDIS_QUESTION, run: redis((c) => hungRedis(c, { requests: 50, batch: 10 })) },
  { name: 'redis-restart-2-clients', question: REDIS_QUESTION, run: redis((c) => restartEmpty(c, { clients: 2, perClient: 120 })) },
  { name: 'redis-restart-3-clients', question: REDIS_QUESTION, run: redis((c) => restartEmpty(c, { clients: 3, perClient: 80 })) },
  { name: 'redis-late-at-boot', question: REDIS_QUESTION, run: redis((c) => lateRedis(c)) }
]

async function main (): Promise<void> {
  const { values } = parseArgs({
    options: { only: { type: 'string' }, seed: { type: 'string' }, members: { type: 'string' }, kills: { type: 'string' } }
  })
  const args: FaultArgs = {
    seed: values.seed === undefined ? Date.now() % 100_000 : Number(values.seed),
    members: values.members === undefined ? null : Number(values.members),
    kills: values.kills === undefined ? null : Number(values.kills)
  }
  console.log(`node ${process.version}; load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}; ${new Date().toISOString()}`)
  for (const s of SCENARIOS) {
    if (values.only !== undefined && values.only !== s.name) continue
    console.log(`\n## ${s.name}: ${s.question} (seed ${args.seed})`)
    console.table(await s.run(args))
  }
}

await main()
