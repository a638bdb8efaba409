import { afterAll, describe, expect, it } from 'vitest'
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ConfigError, loadConfig } from '../examples/standalone/config.js'
import { buildStandalone } from '../examples/standalone/app.js'

const dirs: string[] = []
function tempDir (): string {
  const d = mkdtempSync(join(tmpdir(), 'dsync-standalone-'))
  dirs.push(d)
  return d
}
afterAll(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }) })

const KEY = Buffer.alloc(32, 9).toString('base64')
const REAL = {
  DISCORD_CLIENT_ID: '123456789012345678',
  DISCORD_CLIENT_SECRET: 'client-secret-value',
  DISCORD_REDIRECT_URI: 'http://localhost:3000/api/discord/auth/callback',
  DISCORD_ENCRYPTION_KEY: KEY,
  JWT_SECRET: 'x'.repeat(40)
}

describe('standalone configuration', () => {
  it('starts in demo mode with no environment, generating and keeping secrets beside the database', () => {
    const dir = tempDir()
    const env = { DISCORD_DB_PATH: join(dir, 'db.sqlite') }
    const a = loadConfig(env)
    expect(a).toMatchObject({ demo: true, host: '127.0.0.1', port: 3000 })
    expect(a.plugin.discord).toBeUndefined()
    expect(a.warnings.join('\n')).toMatch(/DISCORD_ENCRYPTION_KEY is not set/)
    const keyFile = join(dir, '.demo-encryption-key')
    expect((statSync(keyFile).mode & 0o777).toString(8)).toBe('600')
    // A restart reuses the same key, so demo data stays readable.
    expect(loadConfig(env).plugin.encryptionKey).toEqual(a.plugin.encryptionKey)
  })

  it('maps the seed variables onto plugin options', () => {
    const c = loadConfig({
      ...REAL,
      PORT: '8080',
      HOST: '0.0.0.0',
      DISCORD_SCOPES: 'identify guilds guilds.join',
      DISCORD_SYNC_INTERVAL: '30m',
      DISCORD_STATE_EXPIRY: '5m',
      DISCORD_TOKEN_REFRESH_THRESHOLD: '12h',
      DISCORD_DB_PATH: join(tempDir(), 'x.sqlite'),
      REDIS_URL: 'redis://127.0.0.1:6379',
      DISCORD_API_BASE_URL: 'http://127.0.0.1:9999/api/v10'
    })
    expect(c).toMatchObject({ demo: false, port: 8080, host: '0.0.0.0', warnings: [] })
    expect(c.plugin).toMatchObject({
      syncInterval: '30m',
      stateExpiry: '5m',
      tokenRefreshThreshold: '12h',
      redis: 'redis://127.0.0.1:6379',
      apiBaseUrl: 'http://127.0.0.1:9999/api/v10',
      discord: { clientId: REAL.DISCORD_CLIENT_ID, scopes: ['identify', 'guilds', 'guilds.join'], redirectUri: REAL.DISCORD_REDIRECT_URI },
      store: { type: 'sqlite' }
    })
  })

  it('uses MongoDB when MONGODB_URI is set', () => {
    const c = loadConfig({ ...REAL, MONGODB_URI: 'mongodb://127.0.0.1:27017/falcon' })
    expect(c.plugin.store).toEqual({ type: 'mongodb', uri: 'mongodb://127.0.0.1:27017/falcon', dbName: 'falcon' })
  })

  const bad: Array<[string, Record<string, string>]> = [
    ['PORT', { PORT: 'eighty' }],
    ['PORT', { PORT: '70000' }],
    ['LOG_LEVEL', { LOG_LEVEL: 'loud' }],
    ['DISCORD_DEMO', { DISCORD_DEMO: 'yes' }],
    ['DISCORD_ENCRYPTION_KEY', { DISCORD_ENCRYPTION_KEY: 'c2hvcnQ=' }],
    ['DISCORD_ENCRYPTION_KEY', { DISCORD_ENCRYPTION_KEY: '' }],
    ['JWT_SECRET', { JWT_SECRET: 'short' }],
    ['JWT_SECRET', { JWT_SECRET: '' }],
    ['DISCORD_CLIENT_ID', { DISCORD_CLIENT_ID: 'my-app' }],
    ['DISCORD_CLIENT_SECRET', { DISCORD_CLIENT_SECRET: '' }],
    ['DISCORD_REDIRECT_URI', { DISCORD_REDIRECT_URI: 'not a url' }],
    ['DISCORD_REDIRECT_URI', { DISCORD_REDIRECT_URI: '' }],
    ['DISCORD_SCOPES', { DISCORD_SCOPES: 'identify bot' }],
    ['DISCORD_SYNC_INTERVAL', { DISCORD_SYNC_INTERVAL: 'often' }],
    ['DISCORD_STATE_EXPIRY', { DISCORD_STATE_EXPIRY: '10 minutes' }],
    ['DISCORD_TOKEN_REFRESH_THRESHOLD', { DISCORD_TOKEN_REFRESH_THRESHOLD: 'a day' }],
    ['MONGODB_URI', { MONGODB_URI: 'postgres://x' }],
    ['REDIS_URL', { REDIS_URL: 'http://127.0.0.1:6379' }],
    ['DISCORD_API_BASE_URL', { DISCORD_API_BASE_URL: 'discord.com/api' }]
  ]
  it.each(bad)('names %s when it is wrong', (variable, override) => {
    const env = { ...REAL, DISCORD_DB_PATH: join(tempDir(), 'db.sqlite'), ...override }
    // An empty value means "unset" except where the variable is then required.
    let err: unknown
    try { loadConfig(env) } catch (e) { err = e }
    expect(err).toBeInstanceOf(ConfigError)
    expect((err as ConfigError).variable).toBe(variable)
    expect((err as Error).message.startsWith(variable)).toBe(true)
    expect((err as Error).message).not.toContain(REAL.DISCORD_CLIENT_SECRET)
  })

  it('requires the encryption key and JWT secret outside demo mode', () => {
    const { DISCORD_ENCRYPTION_KEY: _k, ...noKey } = REAL
    expect(() => loadConfig(noKey)).toThrow(/DISCORD_ENCRYPTION_KEY is required/)
    const { JWT_SECRET: _j, ...noJwt } = REAL
    expect(() => loadConfig(noJwt)).toThrow(/JWT_SECRET is required/)
  })

  it('serves /api/discord/status in demo mode, with Discord configured as the in-process simulator (test/standalone-demo.test.ts covers the demo)', async () => {
    const app = await buildStandalone({ ...loadConfig({ DISCORD_DB_PATH: join(tempDir(), 'db.sqlite') }), logLevel: 'silent' })
    const res = await app.inject({ url: '/api/discord/status' })
    expect(res.statusCode).toBe(200)
    expect(res.json()).toMatchObject({ module: 'discord', status: 'healthy', checks: { discord: 'configured' } })
    await app.close()
  })
})

function waitForOutput (child: ReturnType<typeof spawn>, pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    let seen = ''
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${pattern}; output:\n${seen}`)), timeoutMs)
    const onData = (chunk: Buffer): void => {
      seen += chunk.toString()
      const m = seen.match(pattern)
      if (m) { clearTimeout(timer); resolve(m) }
    }
    child.stdout?.on('data', onData)
    child.stderr?.on('data', onData)
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`exited with ${code}; output:\n${seen}`)) })
  })
}

describe('npm start', () => {
  const baseEnv = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root' }

  it('serves GET /api/discord/status on SQLite with nothing else configured', async () => {
    const dir = tempDir()
    const db = join(dir, 'discord.sqlite')
    // Its own process group: npm does not pass SIGTERM on to the server, which would outlive the test.
    const child = spawn('npm', ['start', '--silent'], { env: { ...baseEnv, PORT: '0', DISCORD_DB_PATH: db }, stdio: ['ignore', 'pipe', 'pipe'], detached: true })
    try {
      const m = await waitForOutput(child, /http:\/\/127\.0\.0\.1:(\d+)\/api\/discord\/status/, 30_000)
      const res = await fetch(`http://127.0.0.1:${m[1]}/api/discord/status`)
      expect(res.status).toBe(200)
      expect(await res.json()).toMatchObject({ module: 'discord', status: 'healthy' })
      expect(existsSync(db)).toBe(true)
    } finally {
      const exited = new Promise((resolve) => child.once('exit', resolve))
      process.kill(-(child.pid as number), 'SIGTERM')
      await exited
    }
  }, 45_000)

  it('shuts down cleanly on SIGTERM and SIGINT: exit code 0, database closed and consistent', async () => {
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      const db = join(tempDir(), 'discord.sqlite')
      // The server process itself (npm re-raises signals, which hides the server's exit code).
      const child = spawn(process.execPath, ['--import', 'tsx', 'examples/standalone/server.ts'], {
        env: { ...baseEnv, PORT: '0', DISCORD_DB_PATH: db, LOG_LEVEL: 'info' },
        stdio: ['ignore', 'pipe', 'pipe']
      })
      const m = await waitForOutput(child, /http:\/\/127\.0\.0\.1:(\d+)\/api\/discord\/status/, 30_000)
      expect((await fetch(`http://127.0.0.1:${m[1]}/api/discord/status`)).status).toBe(200)
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
      child.kill(signal)
      expect(await exited).toBe(0)
      // A clean close checkpoints the WAL: the file opens and passes an integrity check.
      const { default: Database } = await import('better-sqlite3')
      const handle = new Database(db, { readonly: true })
      expect(handle.pragma('integrity_check', { simple: true })).toBe('ok')
      handle.close()
    }
  }, 60_000)

  it('stops at start-up naming the bad variable', async () => {
    const child = spawn('npm', ['start', '--silent'], { env: { ...baseEnv, PORT: 'eighty' }, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    child.stdout.on('data', (c: Buffer) => { out += c.toString() })
    child.stderr.on('data', (c: Buffer) => { out += c.toString() })
    const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)))
    expect(code).not.toBe(0)
    expect(out).toMatch(/configuration error: PORT must be an integer/)
  }, 45_000)
})
