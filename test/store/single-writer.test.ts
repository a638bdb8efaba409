import { afterEach, describe, expect, it } from 'vitest'
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import Database from 'better-sqlite3'
import { REDIS_URL, redisAvailable } from '../helpers/redis.js'

/*
 * One writer per SQLite file without Redis, proved with real processes: a second process on the
 * same file refuses to start and says why; a holder killed with SIGKILL does not block a restart;
 * with Redis (shared limits and locks) several processes may use the file.
 */

const HAS_REDIS = await redisAvailable()
const SCRIPT = fileURLToPath(new URL('./writer-process.ts', import.meta.url))
const children: ChildProcess[] = []
const dirs: string[] = []
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL')
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

function dbFile (): string {
  const d = mkdtempSync(join(tmpdir(), 'dsync-writer-'))
  dirs.push(d)
  return join(d, 'discord.sqlite')
}

interface Outcome { line: string, code: number | null }

/** Starts the writer process; resolves on its first line ("ready …" or "refused: …") and, when it refused, its exit code. */
function start (file: string, redis?: string): { child: ChildProcess, first: Promise<Outcome> } {
  const child = spawn(process.execPath, ['--import', 'tsx', SCRIPT, file, ...(redis === undefined ? [] : [redis])], { stdio: ['pipe', 'pipe', 'pipe'] })
  children.push(child)
  const first = new Promise<Outcome>((resolve, reject) => {
    let out = ''
    const timer = setTimeout(() => reject(new Error(`no answer in 30 s; output:\n${out}`)), 30_000)
    child.stderr?.on('data', (c: Buffer) => { out += c.toString() })
    child.stdout?.on('data', (c: Buffer) => {
      out += c.toString()
      const line = out.split('\n').find((l) => l.startsWith('ready') || l.startsWith('refused'))
      if (line === undefined) return
      clearTimeout(timer)
      if (line.startsWith('ready')) resolve({ line, code: null })
      else child.once('exit', (code) => resolve({ line, code }))
    })
    child.once('exit', (code) => { if (!out.includes('ready') && !out.includes('refused')) { clearTimeout(timer); reject(new Error(`exited ${code}:\n${out}`)) } })
  })
  return { child, first }
}

async function stop (child: ChildProcess): Promise<number | null> {
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  child.stdin?.end()
  return await exited
}

describe('one writer per SQLite file without Redis', () => {
  it('a second process on the same file refuses to start, naming the holder and what to do', async () => {
    const file = dbFile()
    const a = start(file)
    expect((await a.first).line).toMatch(/^ready/)
    const b = start(file)
    const refused = await b.first
    expect(refused.code).toBe(78)
    expect(refused.line).toMatch(/^refused: FST_DISCORD_STORE_IN_USE: /)
    expect(refused.line).toContain(file)
    expect(refused.line).toContain(`:${a.child.pid as number})`)
    expect(refused.line).toMatch(/own database file \(store\.path\).*configure Redis \(redis\)/)
    // The holder is unaffected and shuts down cleanly, giving the file up for the next process.
    expect(await stop(a.child)).toBe(0)
    const raw = new Database(file, { readonly: true })
    try {
      expect(raw.prepare("SELECT owner FROM discord_leases WHERE name = 'writer'").all()).toEqual([])
    } finally {
      raw.close()
    }
  }, 60_000)

  it('a holder killed with SIGKILL does not block a restart on the same file', async () => {
    const file = dbFile()
    const a = start(file)
    expect((await a.first).line).toMatch(/^ready/)
    const gone = new Promise((resolve) => a.child.once('exit', resolve))
    a.child.kill('SIGKILL')
    await gone
    const b = start(file)
    expect((await b.first).line).toMatch(/^ready/)
    expect(await stop(b.child)).toBe(0)
  }, 60_000)

  it.skipIf(!HAS_REDIS)('with Redis, several processes share the file', async () => {
    const file = dbFile()
    const a = start(file, REDIS_URL)
    expect((await a.first).line).toMatch(/^ready/)
    const b = start(file, REDIS_URL)
    expect((await b.first).line).toMatch(/^ready/)
    expect(await stop(b.child)).toBe(0)
    expect(await stop(a.child)).toBe(0)
  }, 60_000)
})
