import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { createDiscordSimulator } from '../../src/testing/index.js'
import { botFetch, IDS, json, seededSimulators, seedWorld, useSimulatorTime } from './seed.js'

const start = seededSimulators()
afterEach(() => {
  vi.useRealTimers()
})

/** Resolves once an HTTP server in this process has received the next request (Node's own diagnostics channel). */
function nextServerRequest (): Promise<void> {
  return new Promise((resolve) => {
    const onStart = (): void => {
      unsubscribe('http.server.request.start', onStart)
      resolve()
    }
    subscribe('http.server.request.start', onStart)
  })
}
const memberPath = `/guilds/${IDS.guild}/members/${IDS.bob}`

describe('faults', () => {
  it('errorRate answers 5xx with a Discord-like JSON body, without rate-limit headers or bucket use', async () => {
    const sim = await start({ faults: { errorRate: 1 } })
    for (let i = 0; i < 5; i++) {
      const res = await botFetch(sim, 'GET', memberPath)
      expect([500, 502, 503]).toContain(res.status)
      const body = await json(res)
      expect(body).toEqual({ message: expect.stringMatching(new RegExp(`^${res.status}: `)), code: 0 })
      expect(res.headers.get('x-ratelimit-bucket')).toBeNull()
    }
    expect(sim.requests.every((r) => r.fault === 'error')).toBe(true)
    sim.setFaults({})
    const ok = await botFetch(sim, 'GET', memberPath)
    expect(ok.status).toBe(200)
    expect(ok.headers.get('x-ratelimit-remaining')).toBe('4')
  })

  it('resetRate destroys the connection without an answer', async () => {
    const sim = await start({ faults: { resetRate: 1 } })
    await expect(botFetch(sim, 'GET', memberPath)).rejects.toThrow()
    expect(sim.requests.at(-1)).toMatchObject({ status: 0, fault: 'reset', route: 'GET /guilds/:guild_id/members/:user_id' })
    expect(sim.state.memberRoles(IDS.guild, IDS.bob)).toEqual([])
  })

  // Real time is the point here: injected latency is a real delay the client has to sit through.
  it('latency delays answers by a fixed value or a value drawn from a range', async () => {
    const sim = await start({ faults: { latencyMs: 120 } })
    let t = performance.now()
    expect((await botFetch(sim, 'GET', memberPath)).status).toBe(200)
    expect(performance.now() - t).toBeGreaterThanOrEqual(115)
    sim.setFaults({ latencyMs: [30, 60] })
    t = performance.now()
    await botFetch(sim, 'GET', memberPath)
    const elapsed = performance.now() - t
    expect(elapsed).toBeGreaterThanOrEqual(28)
    expect(elapsed).toBeLessThan(1000)
  })

  it('is deterministic for a seed', async () => {
    const run = async (seed: number): Promise<number[]> => {
      const sim = await start({ faults: { errorRate: 0.5, seed }, rateLimits: { enabled: false } })
      const statuses: number[] = []
      for (let i = 0; i < 30; i++) statuses.push((await botFetch(sim, 'GET', memberPath)).status)
      return statuses
    }
    const a = await run(42)
    const b = await run(42)
    const c = await run(7)
    expect(a).toEqual(b)
    expect(a).not.toEqual(c)
    expect(a.filter((s) => s === 200).length).toBeGreaterThan(5)
    expect(a.filter((s) => s >= 500).length).toBeGreaterThan(5)
  })

  it('can be limited to routes, and scripted for the next requests', async () => {
    const sim = await start({ faults: { errorRate: 1, errorStatuses: [502], routes: ['PATCH /guilds/:guild_id/members/:user_id'] } })
    expect((await botFetch(sim, 'GET', memberPath)).status).toBe(200)
    expect((await botFetch(sim, 'PATCH', memberPath, { roles: [] })).status).toBe(502)
    sim.clearFaults()
    sim.scriptFault({ kind: 'error', status: 503, route: 'PUT /guilds/:guild_id/members/:user_id/roles/:role_id', times: 2 })
    const put = `${memberPath}/roles/${IDS.roleA}`
    const statuses = []
    for (let i = 0; i < 3; i++) statuses.push((await botFetch(sim, 'PUT', put)).status)
    expect(statuses).toEqual([503, 503, 204])
    sim.scriptFault({ kind: 'reset' })
    await expect(botFetch(sim, 'GET', memberPath)).rejects.toThrow()
    expect((await botFetch(sim, 'GET', memberPath)).status).toBe(200)
  })

  it('a scripted malformed answer: the API acts as usual, then the 2xx body is cut in half or replaced', async () => {
    const sim = await start()
    sim.scriptFault({ kind: 'malformed', route: 'PATCH /guilds/:guild_id/members/:user_id' })
    const res = await botFetch(sim, 'PATCH', memberPath, { roles: [IDS.roleA] })
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toMatch(/^application\/json/)
    // Rate-limit headers as on any API answer: the request was handled and counted.
    expect(res.headers.get('x-ratelimit-remaining')).toBe('9')
    const text = await res.text()
    expect(() => JSON.parse(text) as unknown).toThrow(SyntaxError)
    expect(text.length).toBeGreaterThan(10)
    expect(sim.state.memberRoles(IDS.guild, IDS.bob)).toEqual([IDS.roleA])
    expect(sim.requests.at(-1)).toMatchObject({ status: 200, fault: 'malformed' })
    // Only the next matching request.
    expect(await json(botFetch(sim, 'GET', memberPath))).toMatchObject({ roles: [IDS.roleA] })
    expect(sim.requests.at(-1)?.fault).toBeUndefined()

    // A wrong shape instead of broken JSON; a 204 keeps its empty body.
    sim.scriptFault({ kind: 'malformed', route: 'GET /guilds/:guild_id', body: '{"name":"no id"}' })
    expect(await json(botFetch(sim, 'GET', `/guilds/${IDS.guild}`))).toEqual({ name: 'no id' })
    sim.scriptFault({ kind: 'malformed', body: 'x' })
    const put = await botFetch(sim, 'PUT', `${memberPath}/roles/${IDS.roleB}`)
    expect(put.status).toBe(204)
    expect(await put.text()).toBe('')
    expect(sim.requests.at(-1)?.fault).toBeUndefined()
    // Error answers are left alone too.
    sim.scriptFault({ kind: 'malformed', body: 'x' })
    expect(await json(botFetch(sim, 'GET', `/guilds/${IDS.guild}/members/1100000000000000099`))).toMatchObject({ code: 10007 })
  })

  it('rejects invalid fault settings', async () => {
    const sim = await start()
    expect(() => sim.scriptFault({ kind: 'timeout' as 'reset' })).toThrow(RangeError)
    expect(() => sim.setFaults({ errorRate: 2 })).toThrow(RangeError)
    expect(() => sim.setFaults({ latencyMs: [10, 5] })).toThrow(RangeError)
    expect(() => sim.setFaults({ errorStatuses: [404] })).toThrow(RangeError)
  })
})

describe('time scale', () => {
  it('runs Discord windows faster while keeping limits, and reports real seconds', async () => {
    useSimulatorTime()
    const sim = await start({ timeScale: 5 })
    for (let i = 0; i < 10; i++) expect((await botFetch(sim, 'PUT', `${memberPath}/roles/${IDS.roleA}`)).status).toBe(204)
    const limited = await botFetch(sim, 'PUT', `${memberPath}/roles/${IDS.roleA}`)
    expect(limited.status).toBe(429)
    expect(limited.headers.get('x-ratelimit-limit')).toBe('10')
    const retryAfter = (await json(limited)).retry_after
    // 10 s of Discord time at 5x: two real seconds.
    expect(retryAfter).toBeGreaterThan(1)
    expect(retryAfter).toBeLessThanOrEqual(2)
    expect(limited.headers.get('retry-after')).toBe('2')
    vi.advanceTimersByTime(retryAfter * 1000 - 1)
    expect((await botFetch(sim, 'PUT', `${memberPath}/roles/${IDS.roleA}`)).status).toBe(429)
    vi.advanceTimersByTime(1)
    const again = await botFetch(sim, 'PUT', `${memberPath}/roles/${IDS.roleA}`)
    expect(again.status).toBe(204)
    expect(Number(again.headers.get('x-ratelimit-reset-after'))).toBe(2)
  })

  it('scales the global window and the ban too', async () => {
    const sim = await start({ timeScale: 10, rateLimits: { global: { limit: 3, windowMs: 10_000 }, invalidRequests: { threshold: 1, windowMs: 600_000, banMs: 2000 } } })
    for (let i = 0; i < 3; i++) await botFetch(sim, 'GET', `/guilds/${IDS.guild}`)
    const global = await botFetch(sim, 'GET', `/guilds/${IDS.guild}/roles`)
    expect(global.status).toBe(429)
    // A 10 s global window at 10x lasts one real second.
    const { retry_after: retryAfter } = await json(global)
    expect(retryAfter).toBeGreaterThan(0.5)
    expect(retryAfter).toBeLessThanOrEqual(1)
    await fetch(`${sim.apiBaseUrl}/users/@me`)
    expect(sim.banRemainingMs()).toBeGreaterThan(0)
    expect(sim.banRemainingMs()).toBeLessThanOrEqual(200)
  })

  it('rejects a non-positive time scale', async () => {
    await expect(createDiscordSimulator({ timeScale: 0 })).rejects.toThrow(RangeError)
  })
})

describe('lifecycle', () => {
  it('closes promptly with a request in flight and leaves no timers behind', async () => {
    const before = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length
    const sim = await createDiscordSimulator({ faults: { latencyMs: 10_000 } })
    seedWorld(sim)
    const arrived = nextServerRequest()
    const inFlight = botFetch(sim, 'GET', memberPath).then((r) => r.status, () => 'failed')
    // The server has the request (and its 10 s latency has started) before close() is called.
    await arrived
    const t = performance.now()
    await sim.close()
    expect(performance.now() - t).toBeLessThan(2000)
    expect(['failed', 200]).toContain(await inFlight)
    await sim.close() // idempotent
    const after = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length
    expect(after).toBeLessThanOrEqual(before)
  })

  it('exposes the clock of `at`: now() in this process, clockOrigin to compare with other processes', async () => {
    const sim = await start()
    const before = sim.now()
    const epochBefore = performance.timeOrigin + performance.now()
    await botFetch(sim, 'GET', memberPath)
    const after = sim.now()
    const epochAfter = performance.timeOrigin + performance.now()
    const { at } = sim.requests.at(-1)!
    expect(at).toBeGreaterThanOrEqual(before)
    expect(at).toBeLessThanOrEqual(after)
    expect(sim.clockOrigin + at).toBeGreaterThanOrEqual(epochBefore - 1)
    expect(sim.clockOrigin + at).toBeLessThanOrEqual(epochAfter + 1)
  })

  it('serves on an ephemeral loopback port, with apiBaseUrl under /api/v10', async () => {
    const sim = await start()
    expect(sim.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    expect(sim.apiBaseUrl).toBe(`${sim.url}/api/v10`)
    const other = await start()
    expect(other.url).not.toBe(sim.url)
  })
})
