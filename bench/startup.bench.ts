/*
 * Start-up benchmark (issue 16.4): the standalone server as it ships (dist/standalone/server.js,
 * the package's bin and `npm start`) against a bare Fastify server, in the same run, as ratios.
 * Not a test; run it with
 *
 *   npx tsx bench/startup.bench.ts [rounds]
 *
 * Each round starts both servers as fresh Node processes, one after the other (order alternating),
 * and measures from spawn to the moment the server logs that it listens, then reads the process's
 * resident set size (/proc/<pid>/status, VmRSS) at that moment. Both log through pino at info.
 * The standalone server runs with a real configuration, not the demo (which starts a simulator
 * and seeds a few hundred members): SQLite in a temporary file, no Redis, no MongoDB, so the
 * figure is what a deployment pays. Medians over the rounds (default 7).
 * Goal: standalone within 2x bare Fastify's time and 1.5x its RSS.
 */
import { spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { generateKey } from '../src/index.js'

const ROUNDS = Number(process.argv[2] ?? 7)
const root = resolve(import.meta.dirname, '..')

interface Sample { ms: number, rssMb: number }

const BARE = `
import Fastify from 'fastify'
const app = Fastify({ logger: { level: 'info' } })
app.get('/status', async () => ({ status: 'ok' }))
await app.listen({ host: '127.0.0.1', port: 0 })
app.log.info('bare fastify listening')
`

function rssMb (pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  if (m === null) throw new Error(`no VmRSS for ${pid}`)
  return Number(m[1]) / 1024
}

/** Spawns, waits for `ready` on stdout, samples time and RSS, then stops the process. */
async function measure (args: string[], env: NodeJS.ProcessEnv, ready: RegExp): Promise<Sample> {
  const started = process.hrtime.bigint()
  const child = spawn(process.execPath, args, { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  try {
    return await new Promise<Sample>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`not ready within 60 s:\n${out}`)), 60_000)
      const seen = (chunk: Buffer): void => {
        out += chunk.toString()
        if (!ready.test(out)) return
        clearTimeout(timer)
        resolve({ ms: Number(process.hrtime.bigint() - started) / 1e6, rssMb: rssMb(child.pid as number) })
      }
      child.stdout.on('data', seen)
      child.stderr.on('data', seen)
      child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`exited ${String(code)} before ready:\n${out}`)) })
    })
  } finally {
    const exited = new Promise((resolve) => child.once('exit', resolve))
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
    await exited
  }
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)] as number
}

async function main (): Promise<void> {
  // What runs is the built server: build it first when the sources are newer (as `npm start` does).
  const built = spawnSync(process.execPath, ['scripts/ensure-built.mjs'], { cwd: root, stdio: 'inherit' })
  if (built.status !== 0) throw new Error('build failed')

  const dir = mkdtempSync(join(tmpdir(), 'dsync-startup-'))
  const baseEnv = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root' }
  const standaloneEnv = {
    ...baseEnv,
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'info',
    DISCORD_CLIENT_ID: '900000000000000001',
    DISCORD_CLIENT_SECRET: 'startup-bench-client-secret',
    DISCORD_REDIRECT_URI: 'http://127.0.0.1:3000/api/discord/auth/callback',
    DISCORD_ENCRYPTION_KEY: generateKey(),
    JWT_SECRET: 'startup-bench-jwt-secret-of-at-least-32-chars'
  }
  const bare: Sample[] = []
  const standalone: Sample[] = []
  try {
    for (let i = 0; i < ROUNDS; i++) {
      const runStandalone = async (): Promise<void> => {
        // A fresh database each round: the first start of a deployment (migrations included).
        standalone.push(await measure(['dist/standalone/server.js'], { ...standaloneEnv, DISCORD_DB_PATH: join(dir, `round-${i}.sqlite`) }, /standalone server: http/))
      }
      const runBare = async (): Promise<void> => {
        bare.push(await measure(['--input-type=module', '-e', BARE], baseEnv, /bare fastify listening/))
      }
      if (i % 2 === 0) { await runBare(); await runStandalone() } else { await runStandalone(); await runBare() }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }

  const b = { ms: median(bare.map((s) => s.ms)), rss: median(bare.map((s) => s.rssMb)) }
  const s = { ms: median(standalone.map((x) => x.ms)), rss: median(standalone.map((x) => x.rssMb)) }
  console.log(`node ${process.version}; load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}; ${new Date().toISOString()}; ${ROUNDS} rounds, medians`)
  console.log(`bare Fastify        start ${b.ms.toFixed(0)} ms   RSS ${b.rss.toFixed(1)} MB`)
  console.log(`standalone (dist)   start ${s.ms.toFixed(0)} ms   RSS ${s.rss.toFixed(1)} MB`)
  console.log(`ratio               time ${(s.ms / b.ms).toFixed(2)}x (goal <= 2)   RSS ${(s.rss / b.rss).toFixed(2)}x (goal <= 1.5)`)
}

main().catch((err: unknown) => { console.error(err); process.exit(1) })
