/*
 * Read routes vs. a bare Fastify route (issue 16, part 3). Not a test: it prints figures. Run it with
 *
 *   npx tsx bench/http.bench.ts [--seconds 3] [--warmup 1] [--connections 10] [--only sync/status,guilds] [--runs 1000] [--store memory|file] [--rate-limit on|off] [--read-cache on|off]
 *
 * One Fastify process hosts the plugin (SQLite, rate limit on as shipped but with a `max` no
 * load test reaches, so its bookkeeping is measured and no answer is a 429) and a bare route
 * (`GET /bare`, no schema, no hook, a constant object). A second process (this file with
 * `--load`, so the load generator never competes for the server's event loop) keeps
 * `--connections` keep-alive connections busy through an undici Pool, one request in flight per
 * connection, for `--seconds` per route after `--warmup`. Each route is measured right after
 * its own bare measurement and the ratio is taken against that one, so load drift on a shared
 * machine moves both sides alike. Admin routes are called with an admin session (Bearer JWT).
 *
 * The store is seeded like a busy deployment: 3 enabled guilds with 30 mappings each, 500
 * linked users, `--runs` finished guild and full runs (errors and per-guild results included,
 * newest ones on top) and 5,000 audit entries. Any non-2xx answer is counted and printed.
 */
import { fork } from 'node:child_process'
import { loadavg } from 'node:os'
import { fileURLToPath } from 'node:url'
import { performance } from 'node:perf_hooks'
import Fastify from 'fastify'
import Database from 'better-sqlite3'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Pool } from 'undici'
import discordSync, { type FastifyDiscordSyncOptions } from '../src/index.js'
import type { DiscordStore, SyncGuildResult } from '../src/store/port/index.js'

function arg (name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`)
  return i === -1 ? fallback : (process.argv[i + 1] ?? fallback)
}

interface LoadRequest { url: string, path: string, token: string | null, seconds: number, warmup: number, connections: number }
interface LoadResult { requests: number, total: number, seconds: number, rps: number, p50: number, p99: number, statuses: Record<string, number> }

// ------------------------------------------------------------------ the load process

async function loadLoop (req: LoadRequest): Promise<LoadResult> {
  const pool = new Pool(req.url, { connections: req.connections, pipelining: 1 })
  const headers: Record<string, string> = req.token === null ? {} : { authorization: `Bearer ${req.token}` }
  const statuses: Record<string, number> = {}
  const latencies: number[] = []
  const state = { measuring: false, stop: false }
  let total = 0
  const one = async (): Promise<void> => {
    while (!state.stop) {
      const t0 = performance.now()
      const res = await pool.request({ method: 'GET', path: req.path, headers })
      await res.body.dump()
      total++
      if (!state.measuring) continue
      latencies.push(performance.now() - t0)
      statuses[res.statusCode] = (statuses[res.statusCode] ?? 0) + 1
    }
  }
  const loops = Array.from({ length: req.connections }, one)
  await new Promise((resolve) => setTimeout(resolve, req.warmup * 1000))
  state.measuring = true
  const start = performance.now()
  await new Promise((resolve) => setTimeout(resolve, req.seconds * 1000))
  state.measuring = false
  const seconds = (performance.now() - start) / 1000
  state.stop = true
  await Promise.all(loops)
  await pool.close()
  latencies.sort((a, b) => a - b)
  const at = (q: number): number => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN
  return { requests: latencies.length, total, seconds, rps: latencies.length / seconds, p50: at(0.5), p99: at(0.99), statuses }
}

// ------------------------------------------------------------------ the server process

const GUILDS = ['300000000000000001', '300000000000000002', '300000000000000003']

async function seed (store: DiscordStore, runs: number): Promise<{ runId: string, userId: string }> {
  for (const [i, guild_id] of GUILDS.entries()) {
    await store.createGuild({ guild_id, guild_name: `Guild ${i}`, bot_token: `MTEx.bench.token-${i}`, bot_user_id: '400000000000000001', health_status: 'healthy' })
    for (let m = 0; m < 30; m++) {
      await store.createMapping({ guild_id, group_id: `group-${m}`, group_name: `Group ${m}`, discord_role_id: String(500000000000000000n + BigInt(i * 100 + m)), discord_role_name: `Role ${m}`, priority: m })
    }
  }
  for (let u = 0; u < 500; u++) {
    await store.createUser({ user_id: `user-${u}`, discord_user_id: String(600000000000000000n + BigInt(u)), username: `member${u}`, is_active: true })
  }
  let runId = ''
  const t0 = Date.now() - runs * 60_000
  for (let r = 0; r < runs; r++) {
    const full = r % 10 === 0
    const ids = full ? GUILDS : [GUILDS[r % GUILDS.length] as string]
    const guilds: SyncGuildResult[] = ids.map((guild_id) => ({
      guild_id, status: 'completed', members_scanned: 5000, members_to_change: 40, planned_changes: 60, blocked_changes: 2, roles_added: 30, roles_removed: 28, members_failed: 2, reason: null
    }))
    const at = new Date(t0 + r * 60_000)
    const run = await store.createSyncRun({ sync_type: full ? 'full' : 'guild', target_id: full ? null : ids[0] as string, status: 'running', started_at: at, initiated_by: 'scheduler' })
    await store.updateSyncRun(run.id, {
      status: 'completed',
      completed_at: new Date(at.getTime() + 30_000),
      duration: 30_000,
      results: {
        users_processed: 5000 * ids.length,
        users_synced: 4998 * ids.length,
        users_failed: 2 * ids.length,
        roles_added: 30,
        roles_removed: 28,
        guilds_processed: ids.length,
        errors: ids.flatMap((guild_id) => [0, 1].map((k) => ({ guild_id, discord_user_id: String(600000000000000000n + BigInt(k)), user_id: `user-${k}`, error: 'Missing Permissions', code: 50013, occurred_at: at }))),
        guilds
      }
    })
    runId = run.id
  }
  for (let b = 0; b < 50; b++) {
    await store.appendAudit(Array.from({ length: 100 }, (_, k) => ({
      run_id: runId, guild_id: GUILDS[k % 3] as string, discord_user_id: String(600000000000000000n + BigInt(k)), user_id: `user-${k}`, role_id: '500000000000000001', role_name: 'Role 1', action: k % 2 === 0 ? 'add' as const : 'remove' as const, mapping_id: null, outcome: 'applied' as const, error_code: null
    })))
  }
  return { runId, userId: 'user-1' }
}

async function main (): Promise<void> {
  const seconds = Number(arg('seconds', '3'))
  const warmup = Number(arg('warmup', '1'))
  const connections = Number(arg('connections', '10'))
  const runs = Number(arg('runs', '1000'))
  const only = arg('only', '').split(',').filter((s) => s !== '')
  const dir = arg('store', 'memory') === 'file' ? mkdtempSync(join(tmpdir(), 'http-bench-')) : null
  const db = new Database(dir === null ? ':memory:' : join(dir, 'discord.sqlite'))

  const app = Fastify({ logger: false })
  app.get('/bare', async () => ({ hello: 'world' }))
  await app.register(discordSync, {
    store: { type: 'sqlite', database: db },
    encryptionKey: Buffer.alloc(32, 5).toString('base64'),
    auth: { jwtSecret: 'http-bench-jwt-secret-that-is-long-enough-0123456789' },
    // 100,000 a second: the bare route reaches 60,000 a second on a quiet machine, so 1,000,000 a minute (the
    // largest `max`) would answer 429s within the run.
    rateLimit: arg('rate-limit', 'on') === 'off' ? false : { max: 1_000_000, timeWindow: '10s' },
    tokenRefresh: { enabled: false },
    // Off: every list page is built per request, as while a sync writes the store (the cache's misses).
    ...(arg('read-cache', 'on') === 'off' ? { readCache: false } : {})
  } as FastifyDiscordSyncOptions)
  await app.ready()
  const store = app.discord.store
  const seeded = await seed(store, runs)
  const url = await app.listen({ host: '127.0.0.1', port: 0 })
  const admin = app.discord.auth.issue({ id: 'admin-1', permissions: ['discord:admin'] }).token
  const user = app.discord.auth.issue({ id: seeded.userId, permissions: [] }).token

  const p = '/discord'
  const routes: Array<{ name: string, path: string, token: string | null }> = [
    { name: 'status', path: `${p}/status`, token: null },
    { name: 'auth/status', path: `${p}/auth/status`, token: user },
    { name: 'session', path: `${p}/session`, token: admin },
    { name: 'guilds', path: `${p}/guilds`, token: admin },
    { name: 'guilds/:id', path: `${p}/guilds/${GUILDS[0] as string}`, token: admin },
    { name: 'guilds/:id/role-mappings', path: `${p}/guilds/${GUILDS[0] as string}/role-mappings`, token: admin },
    { name: 'role-mappings', path: `${p}/role-mappings`, token: admin },
    { name: 'users', path: `${p}/users`, token: admin },
    { name: 'users/:id', path: `${p}/users/${seeded.userId}`, token: user },
    { name: 'sync/status', path: `${p}/sync/status`, token: admin },
    { name: 'sync/runs', path: `${p}/sync/runs`, token: admin },
    { name: 'sync/runs/:id', path: `${p}/sync/runs/${seeded.runId}`, token: admin },
    { name: 'sync/audit', path: `${p}/sync/audit`, token: admin },
    { name: 'auth/token-refresh/runs', path: `${p}/auth/token-refresh/runs`, token: admin }
  ].filter((r) => only.length === 0 || only.includes(r.name))

  const child = fork(fileURLToPath(import.meta.url), ['--load'], { execArgv: ['--import', 'tsx'], stdio: 'inherit' })
  // The server's own CPU time per answered request (warm-up included on both sides): what a
  // route costs whatever the load generator manages on a shared machine.
  const load = async (path: string, token: string | null): Promise<LoadResult & { cpuUs: number }> => {
    const cpu0 = process.cpuUsage()
    const r = await new Promise<LoadResult>((resolve, reject) => {
      child.once('message', (m: { ok: boolean, value?: LoadResult, error?: string }) => m.ok ? resolve(m.value as LoadResult) : reject(new Error(m.error)))
      child.send({ url, path, token, seconds, warmup, connections } satisfies LoadRequest)
    })
    const cpu = process.cpuUsage(cpu0)
    return { ...r, cpuUs: (cpu.user + cpu.system) / r.total }
  }
  const fmt = (n: number, w: number, d = 0): string => n.toFixed(d).padStart(w)
  const codes = (r: LoadResult): string => Object.entries(r.statuses).map(([k, v]) => `${k}:${v}`).join(' ')
  const l0 = loadavg()
  console.log(`node ${process.version}; load average ${l0.map((x) => x.toFixed(2)).join(' ')}; ${new Date().toISOString()}`)
  console.log(`${connections} connections, ${warmup} s warm-up + ${seconds} s per measurement; store: SQLite ${dir === null ? 'in memory' : 'file'}, ${runs} finished runs, 3 guilds x 30 mappings, 500 users, 5000 audit entries; rate limit ${arg('rate-limit', 'on') === 'off' ? 'off' : 'on (max 1e6 per 10 s)'}; read cache ${arg('read-cache', 'on')}`)
  console.log('ratio: req/s of the route / req/s of the bare route measured just before it; cpu ratio: server CPU per bare request / per route request')
  console.log(`${'route'.padEnd(26)} | ${'req/s'.padStart(7)} | ${'p99 ms'.padStart(7)} | ${'bare req/s'.padStart(10)} | ${'bare p99'.padStart(8)} | ratio  | µs cpu/req | bare µs | cpu ratio | answers`)
  console.log(`${'-'.repeat(26)}-|-${'-'.repeat(7)}-|-${'-'.repeat(7)}-|-${'-'.repeat(10)}-|-${'-'.repeat(8)}-|--------|------------|---------|-----------|--------`)
  // One untimed pass over every route first, so no row pays for JIT compilation or cold caches.
  for (const r of [{ path: '/bare', token: null }, ...routes]) await load(r.path, r.token)
  const ratios: number[] = []
  const cpuRatios: number[] = []
  for (const r of routes) {
    const bare = await load('/bare', null)
    const got = await load(r.path, r.token)
    const ratio = got.rps / bare.rps
    const cpuRatio = bare.cpuUs / got.cpuUs
    ratios.push(ratio)
    cpuRatios.push(cpuRatio)
    console.log(`${r.name.padEnd(26)} | ${fmt(got.rps, 7)} | ${fmt(got.p99, 7, 1)} | ${fmt(bare.rps, 10)} | ${fmt(bare.p99, 8, 1)} | ${fmt(ratio * 100, 5, 1)}% | ${fmt(got.cpuUs, 10)} | ${fmt(bare.cpuUs, 7)} | ${fmt(cpuRatio * 100, 8, 1)}% | ${codes(got)}`)
  }
  const l1 = loadavg()
  console.log(`lowest ratio ${(Math.min(...ratios) * 100).toFixed(1)}% (cpu ratio ${(Math.min(...cpuRatios) * 100).toFixed(1)}%); load average ${l0.map((x) => x.toFixed(2)).join(' ')} -> ${l1.map((x) => x.toFixed(2)).join(' ')}`)
  child.disconnect()
  await app.close()
  db.close()
  if (dir !== null) rmSync(dir, { recursive: true, force: true })
}

if (process.argv.includes('--load')) {
  process.on('message', (m: LoadRequest) => {
    loadLoop(m).then((r) => process.send?.({ ok: true, value: r }), (err: Error) => process.send?.({ ok: false, error: err.stack ?? err.message }))
  })
} else {
  await main()
}
