import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { loadConfig } from '../../examples/standalone/config.js'
import { startDemo } from '../../examples/standalone/demo.js'
import { createDiscordSimulator, type DiscordSimulator, type SimulatorOptions } from '../../src/testing/index.js'
import { RequestLog } from '../../src/testing/rest/request-log.js'
import type { RecordedRequest } from '../../src/testing/rest/request.js'
import { botFetch, IDS, seededSimulators } from './seed.js'

/*
 * The simulator keeps bounded history (src/testing/retention.ts): the request log is a ring of the
 * last `requestLogLimit` requests with exact counters beside it, the audit log and the channel
 * messages keep their newest entries, so a simulator left running does not grow with every call.
 */

const start = seededSimulators()
const ROUTE = 'GET /guilds/:guild_id/roles'
const unlimited: SimulatorOptions = { rateLimits: { enabled: false } }

/** `n` cheap, valid requests, `n` of them in flight at most `concurrency` at a time; each carries its index in the query. */
async function getRoles (sim: DiscordSimulator, n: number, concurrency = 1, from = 0): Promise<void> {
  let next = from
  const worker = async (): Promise<void> => {
    while (next < from + n) {
      const i = next++
      const res = await botFetch(sim, 'GET', `/guilds/${IDS.guild}/roles?i=${i}`)
      if (res.status !== 200) throw new Error(`request ${i} answered ${res.status}`)
      await res.arrayBuffer()
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
}

const indexes = (sim: DiscordSimulator): number[] => sim.requests.map((r) => Number(new URLSearchParams(r.query).get('i')))

describe('request log', () => {
  it('keeps exactly the last requestLogLimit requests, oldest dropped first; the counters count every one', async () => {
    const sim = await start({ ...unlimited, requestLogLimit: 5 })
    expect(sim.requestLogLimit).toBe(5)
    await getRoles(sim, 3)
    expect(indexes(sim)).toEqual([0, 1, 2])
    expect(sim.droppedRequests).toBe(0)
    await getRoles(sim, 9, 1, 3)
    expect(indexes(sim)).toEqual([7, 8, 9, 10, 11])
    expect(sim.droppedRequests).toBe(7)
    expect((await botFetch(sim, 'GET', `/guilds/${IDS.guild}/nope`)).status).toBe(404)
    expect(sim.requests).toHaveLength(5)
    expect(sim.requests.at(-1)).toMatchObject({ route: null, status: 404 })
    expect(sim.requestCounts()).toEqual([
      { method: 'GET', route: ROUTE, status: 200, count: 12 },
      { method: 'GET', route: null, status: 404, count: 1 }
    ])
    expect(sim.droppedRequests).toBe(8)
  })

  it('clearRequests empties the retained window only: counters and the dropped count keep their values', async () => {
    const sim = await start({ ...unlimited, requestLogLimit: 2 })
    await getRoles(sim, 3)
    sim.clearRequests()
    expect(sim.requests).toEqual([])
    expect(sim.droppedRequests).toBe(1)
    await getRoles(sim, 1, 1, 3)
    expect(indexes(sim)).toEqual([3])
    expect(sim.requestCounts()).toEqual([{ method: 'GET', route: ROUTE, status: 200, count: 4 }])
    // A snapshot: what a caller holds does not change under it, and cannot be changed by it.
    const held = sim.requests
    await getRoles(sim, 2, 1, 4)
    expect(indexes(sim)).toEqual([4, 5])
    expect(held.map((r) => r.query)).toEqual(['i=3'])
    expect(Object.isFrozen(held)).toBe(true)
  })

  it('defaults to 10,000; 0 keeps none but still counts; Infinity keeps all', async () => {
    expect((await start()).requestLogLimit).toBe(10_000)
    const none = await start({ ...unlimited, requestLogLimit: 0 })
    await getRoles(none, 3)
    expect(none.requests).toEqual([])
    expect(none.droppedRequests).toBe(3)
    expect(none.requestCounts()[0]?.count).toBe(3)
    const all = await start({ ...unlimited, requestLogLimit: Number.POSITIVE_INFINITY })
    await getRoles(all, 3)
    expect(indexes(all)).toEqual([0, 1, 2])
  })

  it.each(['requestLogLimit', 'auditLogLimit', 'messageLimit'] as const)('%s refuses what is not a whole number >= 0 or Infinity', async (option) => {
    for (const bad of [-1, 1.5, Number.NaN, Number.NEGATIVE_INFINITY, '10' as unknown as number]) {
      await expect(createDiscordSimulator({ [option]: bad })).rejects.toThrow(new RangeError(`${option} must be a whole number >= 0 or Infinity, got ${String(bad)}`))
    }
  })

  it('the ring keeps the last N in order through many wraps', () => {
    const log = new RequestLog(1000)
    const request = (i: number): RecordedRequest => ({ at: i, method: 'GET', path: '/x', query: `i=${i}`, route: ROUTE, majorId: '', bucket: null, status: i % 2 === 0 ? 200 : 429, auth: 'bot', tokenId: null, ip: '127.0.0.1', userAgent: null })
    for (let i = 0; i < 20_500; i++) log.add(request(i))
    expect(log.entries().map((r) => r.at)).toEqual(Array.from({ length: 1000 }, (_, k) => 19_500 + k))
    expect(log.dropped).toBe(19_500)
    expect(log.counts()).toEqual([
      { method: 'GET', route: ROUTE, status: 200, count: 10_250 },
      { method: 'GET', route: ROUTE, status: 429, count: 10_250 }
    ])
  })

  // 2,000 rather than 20,000 over HTTP: loopback costs ~2 ms a request on the shared test machine;
  // the ring itself is driven through 20,500 requests above.
  it('thousands of requests over loopback leave the retained log at its bound', async () => {
    const sim = await start({ ...unlimited, requestLogLimit: 500 })
    await getRoles(sim, 2000, 16)
    expect(sim.requests).toHaveLength(500)
    expect(sim.droppedRequests).toBe(1500)
    expect(sim.requestCounts()).toEqual([{ method: 'GET', route: ROUTE, status: 200, count: 2000 }])
    expect(new Set(indexes(sim)).size).toBe(500)
  }, 60_000)

  it('the standalone demo keeps a small log, since nobody clears it while the demo runs', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dsync-ring-'))
    const { info } = await startDemo(loadConfig({ PORT: '0', LOG_LEVEL: 'silent', DISCORD_DEMO: '1', DISCORD_DB_PATH: join(dir, 'demo.sqlite') }))
    try {
      expect(info.sim.requestLogLimit).toBe(500)
      // Unmatched paths: cheap, unauthenticated, and not counted as invalid requests toward a ban.
      for (let i = 0; i < 520; i++) await (await fetch(`${info.sim.apiBaseUrl}/nope?i=${i}`)).arrayBuffer()
      expect(info.sim.requests).toHaveLength(500)
      expect(info.sim.requestCounts()).toEqual([{ method: 'GET', route: null, status: 404, count: 520 }])
    } finally {
      await info.sim.close()
      rmSync(dir, { recursive: true, force: true })
    }
  }, 60_000)
})
