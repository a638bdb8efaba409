/*
 * One of the processes of the multi-process part of bench/rest.bench.ts. Forked by the
 * parent (node --import tsx bench/rest-worker.ts); not meant to be run by hand.
 *
 * Protocol over IPC: parent -> { job }, worker -> ready (client built, Redis answered PING),
 * parent -> go (sent to every worker at once), worker -> done { result }, then the worker
 * closes its client and Redis connection and exits on its own. Every call carries an abort
 * signal of `maxMs`, and a hard timer ends the process if anything still hangs after that.
 */
import { setMaxListeners } from 'node:events'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { Redis } from 'ioredis'
import { DiscordRestClient } from '../src/discord/index.js'
import type { FromWorker, ToWorker, WorkerJob, WorkerResult } from './rest-shared.js'

const WORKER = Number(process.argv[2] ?? 0)

function send (message: FromWorker): Promise<void> {
  return new Promise((resolve) => {
    if (process.send === undefined) {
      resolve()
      return
    }
    process.send(message, () => resolve())
  })
}

function nextMessage (): Promise<ToWorker> {
  return new Promise((resolve) => process.once('message', (m) => resolve(m as ToWorker)))
}

async function run (job: WorkerJob): Promise<void> {
  // Safety net: whatever happens, this process is gone 15 s after its budget.
  setTimeout(() => process.exit(3), job.maxMs + 15_000).unref()

  const redis = job.redisUrl === null ? undefined : new Redis(job.redisUrl, { maxRetriesPerRequest: 1, connectTimeout: 2_000 })
  if (redis !== undefined) await redis.ping()
  // Defaults except the base URL, the shared Redis and its key prefix, and the global window
  // expressed in the simulator's time (1000 ms at timeScale 1, the default); offsetMs only
  // when the parent was given --proc-offset-ms.
  const client = new DiscordRestClient({
    baseUrl: job.baseUrl,
    globalWindowMs: job.globalWindowMs,
    ...(job.offsetMs !== undefined ? { offsetMs: job.offsetMs } : {}),
    ...(redis !== undefined ? { redis, redisKeyPrefix: job.redisKeyPrefix } : {})
  })
  const result: WorkerResult = {
    worker: WORKER,
    backend: client.limiterBackend,
    attempts: 0,
    ok: 0,
    failed: 0,
    firstError: null,
    rateLimited: { user: 0, global: 0, shared: 0 },
    fallbacks: 0,
    elapsedMs: 0,
    sentAt: [],
    lagMaxMs: 0
  }
  client.on('request', () => {
    result.attempts++
    result.sentAt.push(performance.timeOrigin + performance.now())
  })
  client.on('rateLimited', (e) => { result.rateLimited[e.scope]++ })
  client.on('store', (e) => { if (e.state === 'fallback') result.fallbacks++ })

  await send({ type: 'ready' })
  const go = await nextMessage()
  if (go.type !== 'go') throw new Error(`expected go, got ${go.type}`)

  const bot = client.bot(job.token)
  const signal = AbortSignal.timeout(job.maxMs)
  setMaxListeners(100_000, signal)
  // Three routes per guild (three buckets, 5 per second each by default), rotated over every
  // guild, so the buckets together allow far more than the global 50 per second.
  const calls: Array<Promise<void>> = []
  for (let i = 0; i < job.count; i++) {
    const k = i + job.offset
    const guild = job.guilds[k % job.guilds.length] as WorkerJob['guilds'][number]
    const kind = Math.floor(k / job.guilds.length) % 3
    const call: Promise<unknown> = kind === 0
      ? bot.getGuildMember(guild.id, guild.members[k % guild.members.length] as string, { signal })
      : kind === 1 ? bot.getGuild(guild.id, { signal }) : bot.getGuildRoles(guild.id, { signal })
    calls.push(call.then(() => { result.ok++ }, (err: unknown) => {
      result.failed++
      result.firstError ??= err instanceof Error ? `${err.name}: ${err.message}` : String(err)
    }))
  }
  const lag = monitorEventLoopDelay({ resolution: 10 })
  lag.enable()
  const t0 = performance.now()
  // --proc-stall-ms: a stalled process (a GC pause, a long synchronous task). Run from setImmediate,
  // as work in an I/O callback would: the next turn of the loop then starts with its timers.
  const stall = (): void => {
    const until = performance.now() + job.stallMs
    while (performance.now() < until) { /* busy */ }
  }
  const staller = job.stallMs > 0 && WORKER === 0 ? setInterval(() => setImmediate(stall), 1500) : undefined
  await Promise.all(calls)
  clearInterval(staller)
  result.elapsedMs = Math.round(performance.now() - t0)
  lag.disable()
  result.lagMaxMs = Math.round(lag.max / 1e6)
  result.backend = client.limiterBackend

  await client.close()
  if (redis !== undefined) await redis.quit()
  await send({ type: 'done', result })
  process.disconnect()
}

const first = await nextMessage()
if (first.type !== 'job') throw new Error(`expected a job, got ${first.type}`)
try {
  await run(first.job)
} catch (err) {
  await send({ type: 'error', message: err instanceof Error ? err.message : String(err) })
  process.exitCode = 1
  process.disconnect()
}
