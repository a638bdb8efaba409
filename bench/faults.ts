/*
 * Issue 12, faults: what the plugin does when its infrastructure fails, measured against real
 * processes (private redis-server instances on loopback ports, the simulator over loopback).
 * Run: `npx tsx bench/faults.ts` (needs `redis-server` on the PATH). Prints one row per scenario:
 * requests measured, the most Discord requests that arrived in any sliding second (Discord's
 * global limit is 50), the plugin's API p99 while Redis was stopped, and the final status.
 *
 * Add a scenario by appending to SCENARIOS: a name and a function that opens everything through
 * the Cleanup it is given (closed after the scenario, failed or not) and returns a FaultRow.
 */
import { loadavg } from 'node:os'
import { Cleanup, hungRedis, lateRedis, restartEmpty, type FaultRow } from '../test/faults/redis-scenarios.js'

interface Scenario {
  name: string
  run: (cleanup: Cleanup) => Promise<FaultRow>
}

const SCENARIOS: Scenario[] = [
  { name: 'redis-sigstop', run: (c) => hungRedis(c, { requests: 50, batch: 10 }) },
  { name: 'redis-restart-2-clients', run: (c) => restartEmpty(c, { clients: 2, perClient: 120 }) },
  { name: 'redis-restart-3-clients', run: (c) => restartEmpty(c, { clients: 3, perClient: 80 }) },
  { name: 'redis-late-at-boot', run: (c) => lateRedis(c) }
]

const only = process.argv.slice(2)
const rows: Array<FaultRow | { scenario: string, error: string }> = []
console.log(`node ${process.version}; load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}; ${new Date().toISOString()}`)
for (const scenario of SCENARIOS) {
  if (only.length > 0 && !only.includes(scenario.name)) continue
  const cleanup = new Cleanup()
  try {
    rows.push(await scenario.run(cleanup))
  } catch (err) {
    rows.push({ scenario: scenario.name, error: (err as Error).message })
  } finally {
    await cleanup.run()
  }
}

const cell = (v: unknown): string => v === null || v === undefined ? '-' : String(v)
const table = rows.map((r) => 'error' in r
  ? [r.scenario, 'ERROR', '-', '-', r.error]
  : [r.scenario, cell(r.requests), cell(r.maxPerSecond), r.apiP99Ms === null ? '-' : `${r.apiP99Ms} ms`, r.finalStatus])
const header = ['scenario', 'requests', 'max in any sliding 1 s', 'API p99 while stopped', 'final status']
const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => (row[i] as string).length)))
const line = (row: string[]): string => row.map((c, i) => c.padEnd(widths[i] as number)).join(' | ')
console.log(line(header))
console.log(widths.map((w) => '-'.repeat(w)).join('-|-'))
for (const row of table) console.log(line(row))
process.exitCode = rows.some((r) => 'error' in r) ? 1 : 0
