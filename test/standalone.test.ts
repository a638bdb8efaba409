import { afterAll, describe, expect, it, vi } from 'vitest'
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { createHmac } from 'node:crypto'
import { createServer as createHttpServer } from 'node:http'
import { createServer, type AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ConfigError, loadConfig, type StandaloneConfig } from '../examples/standalone/config.js'
import { buildStandalone, listenStandalone } from '../examples/standalone/app.js'
import { BOT_TOKEN, IDS, startSimulator } from './routes/helpers.js'
import { REDIS_URL, redisAvailable } from './helpers/redis.js'

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

/** An admin session JWT (HS256), as the plugin signs them with JWT_SECRET. */
function adminJwt (secret: string): string {
  const part = (v: object): string => Buffer.from(JSON.stringify(v)).toString('base64url')
  const now = Math.floor(Date.now() / 1000)
  const unsigned = `${part({ alg: 'HS256', typ: 'JWT' })}.${part({ sub: 'admin-1', permissions: ['discord:admin'], iat: now, exp: now + 600 })}`
  return `${unsigned}.${createHmac('sha256', secret).update(unsigned).digest('base64url')}`
}

describe('standalone configuration', () => {
  it('starts in demo mode with no environment, generating and keeping secrets beside the database', () => {
    const dir = tempDir()
    const env = { DISCORD_DEMO: '1', DISCORD_DB_PATH: join(dir, 'db.sqlite') }
    const a = loadConfig(env)
    expect(a).toMatchObject({ demo: true, host: '127.0.0.1', port: 3000 })
    expect(a.plugin.discord).toBeUndefined()
    expect(a.warnings.join('\n')).toMatch(/DISCORD_ENCRYPTION_KEY is not set/)
    const keyFile = join(dir, '.demo-encryption-key')
    expect((statSync(keyFile).mode & 0o777).toString(8)).toBe('600')
    // A restart reuses the same key, so demo data stays readable.
    expect(loadConfig(env).plugin.encryptionKey).toEqual(a.plugin.encryptionKey)
  })

  it('names DISCORD_DB_PATH when demo mode cannot keep its generated secrets beside the database', () => {
    let err: unknown
    try { loadConfig({ DISCORD_DEMO: '1', DISCORD_DB_PATH: '/dev/null/demo.sqlite' }) } catch (e) { err = e }
    expect(err).toBeInstanceOf(ConfigError)
    expect((err as ConfigError).variable).toBe('DISCORD_DB_PATH')
  })

  describe('demo mode only when asked or on an obvious first run', () => {
    const deployment: Array<[string, () => Record<string, string>]> = [
      ['JWT_SECRET', () => ({ JWT_SECRET: 'x'.repeat(40) })],
      ['DISCORD_ENCRYPTION_KEY', () => ({ DISCORD_ENCRYPTION_KEY: KEY })],
      ['DISCORD_DB_PATH', () => ({ DISCORD_DB_PATH: join(tempDir(), 'prod.sqlite') })],
      ['MONGODB_URI', () => ({ MONGODB_URI: 'mongodb://127.0.0.1:1/prod' })],
      ['REDIS_URL', () => ({ REDIS_URL: 'redis://127.0.0.1:1' })]
    ]

    it.each(deployment)('with %s set, a missing DISCORD_CLIENT_ID stops start-up, naming both', (variable, env) => {
      let err: unknown
      try { loadConfig(env()) } catch (e) { err = e }
      expect(err).toBeInstanceOf(ConfigError)
      expect((err as ConfigError).variable).toBe('DISCORD_CLIENT_ID')
      expect((err as ConfigError).message).toContain(`${variable} is set`)
      expect((err as ConfigError).message).toContain('DISCORD_DEMO=1')
    })

    it('DISCORD_DEMO=0 without DISCORD_CLIENT_ID stops start-up too', () => {
      expect(() => loadConfig({ DISCORD_DEMO: '0' })).toThrow(expect.objectContaining({ variable: 'DISCORD_CLIENT_ID' }))
    })

    it.each(['JWT_SECRET', 'DISCORD_ENCRYPTION_KEY', 'MONGODB_URI', 'REDIS_URL'])('DISCORD_DEMO=1 refuses %s: the demo never uses a real secret, database or Redis', (variable) => {
      const env = deployment.find(([v]) => v === variable)?.[1]() ?? {}
      let err: unknown
      try { loadConfig({ DISCORD_DEMO: '1', DISCORD_DB_PATH: join(tempDir(), 'demo.sqlite'), ...env }) } catch (e) { err = e }
      expect(err).toBeInstanceOf(ConfigError)
      expect((err as ConfigError).variable).toBe(variable)
      expect((err as ConfigError).message).toContain('must not be set with DISCORD_DEMO=1')
    })

    it('DISCORD_DEMO=1 never writes into a database it did not create; one it created is reopened', () => {
      const dir = tempDir()
      const prod = join(dir, 'discord.sqlite')
      writeFileSync(prod, 'production data')
      let err: unknown
      try { loadConfig({ DISCORD_DEMO: '1', DISCORD_DB_PATH: prod }) } catch (e) { err = e }
      expect((err as ConfigError).variable).toBe('DISCORD_DB_PATH')
      expect((err as ConfigError).message).toContain('did not create')
      expect(readFileSync(prod, 'utf8')).toBe('production data')
      expect(existsSync(`${prod}.demo`)).toBe(false)
      expect(existsSync(join(dir, '.demo-jwt-secret'))).toBe(false)

      const demoDb = join(dir, 'demo.sqlite')
      expect(loadConfig({ DISCORD_DEMO: '1', DISCORD_DB_PATH: demoDb }).demo).toBe(true)
      // The database now exists (as after a first start): the demo's mark lets it reopen it.
      writeFileSync(demoDb, '')
      expect(loadConfig({ DISCORD_DEMO: '1', DISCORD_DB_PATH: demoDb }).demo).toBe(true)
    })

    it('a server with deployment settings but no DISCORD_CLIENT_ID exits 78 naming it, and creates no database', async () => {
      const db = join(tempDir(), 'discord.sqlite')
      const child = spawn(process.execPath, ['--import', 'tsx', 'examples/standalone/server.ts'], {
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root', PORT: '0', JWT_SECRET: 'x'.repeat(40), DISCORD_ENCRYPTION_KEY: KEY, DISCORD_DB_PATH: db },
        stdio: ['ignore', 'pipe', 'pipe']
      })
      let output = ''
      child.stdout?.on('data', (c: Buffer) => { output += c.toString() })
      child.stderr?.on('data', (c: Buffer) => { output += c.toString() })
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000)
      const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
      clearTimeout(timer)
      expect({ code, named: output.includes('DISCORD_CLIENT_ID') }).toEqual({ code: 78, named: true })
      expect(output).not.toContain('x'.repeat(40))
      expect(existsSync(db)).toBe(false)
    }, 40_000)
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
      DISCORD_API_BASE_URL: 'http://127.0.0.1:9999/api/v10',
      DISCORD_RATE_LIMIT_DELAY: '1s'
    })
    expect(c).toMatchObject({ demo: false, port: 8080, host: '0.0.0.0', warnings: [] })
    expect(c.plugin).toMatchObject({
      sync: { writeDelay: '1s' },
      syncInterval: '30m',
      stateExpiry: '5m',
      tokenRefreshThreshold: '12h',
      redis: 'redis://127.0.0.1:6379',
      apiBaseUrl: 'http://127.0.0.1:9999/api/v10',
      discord: { clientId: REAL.DISCORD_CLIENT_ID, scopes: ['identify', 'guilds', 'guilds.join'], redirectUri: REAL.DISCORD_REDIRECT_URI },
      store: { type: 'sqlite' }
    })
  })

  it('DISCORD_RATE_LIMIT_DELAY defaults to 0 (header-driven pacing) and must be a duration', () => {
    expect(loadConfig({ ...REAL, DISCORD_DB_PATH: join(tempDir(), 'x.sqlite') }).plugin.sync).toEqual({ writeDelay: '0' })
    let err: unknown
    try { loadConfig({ ...REAL, DISCORD_RATE_LIMIT_DELAY: 'soon' }) } catch (e) { err = e }
    expect(err).toBeInstanceOf(ConfigError)
    expect((err as ConfigError).variable).toBe('DISCORD_RATE_LIMIT_DELAY')
  })

  it('keeps the plugin\'s 90-day history unless DISCORD_SYNC_RETENTION says otherwise, and checks it like the plugin does', () => {
    const path = join(tempDir(), 'x.sqlite')
    expect(loadConfig({ ...REAL, DISCORD_DB_PATH: path }).plugin.sync?.retention).toBeUndefined()
    expect(loadConfig({ ...REAL, DISCORD_DB_PATH: path, DISCORD_SYNC_RETENTION: '30d' }).plugin.sync).toMatchObject({ retention: '30d' })
    for (const [value, why] of [['a while', /duration/], ['10m', /guildTimeout/]] as const) {
      let err: unknown
      try { loadConfig({ ...REAL, DISCORD_DB_PATH: path, DISCORD_SYNC_RETENTION: value }) } catch (e) { err = e }
      expect(err).toBeInstanceOf(ConfigError)
      expect((err as ConfigError).variable).toBe('DISCORD_SYNC_RETENTION')
      expect((err as ConfigError).message).toMatch(why)
    }
  })

  it('uses MongoDB when MONGODB_URI is set', () => {
    const c = loadConfig({ ...REAL, MONGODB_URI: 'mongodb://127.0.0.1:27017/falcon' })
    expect(c.plugin.store).toEqual({ type: 'mongodb', uri: 'mongodb://127.0.0.1:27017/falcon', dbName: 'falcon' })
  })

  it('accepts a replica set connection string (several hosts), which is not a WHATWG URL', () => {
    const uri = 'mongodb://app:s3cret@db1:27017,db2:27017,db3:27017/falcon?replicaSet=rs0'
    expect(loadConfig({ ...REAL, MONGODB_URI: uri }).plugin.store).toEqual({ type: 'mongodb', uri, dbName: 'falcon' })
    expect(loadConfig({ ...REAL, MONGODB_URI: 'mongodb+srv://cluster0.example.net/?retryWrites=true' }).plugin.store).toMatchObject({ dbName: 'fastify_discord_sync' })
    expect(loadConfig({ ...REAL, MONGODB_URI: uri, MONGODB_DB: 'other' }).plugin.store).toMatchObject({ dbName: 'other' })
  })

  async function buildError (config: StandaloneConfig): Promise<ConfigError> {
    const err = await buildStandalone({ ...config, logLevel: 'silent' }).then(async (app) => { await app.close(); return null }, (e: unknown) => e)
    expect(err).toBeInstanceOf(ConfigError)
    return err as ConfigError
  }

  it('names MONGODB_URI when the driver cannot parse it at start-up, without echoing its password', async () => {
    const err = await buildError(loadConfig({ ...REAL, MONGODB_URI: 'mongodb://app:hunter2@db1:27017,db2:nope/falcon' }))
    expect(err.variable).toBe('MONGODB_URI')
    expect(err.message).toMatch(/^MONGODB_URI is not a valid MongoDB connection string/)
    expect(err.message).not.toContain('hunter2')
  })

  it('names DISCORD_DB_PATH when the SQLite file cannot be opened there', async () => {
    const err = await buildError(loadConfig({ ...REAL, DISCORD_DB_PATH: '/dev/null/discord.sqlite' }))
    expect(err.variable).toBe('DISCORD_DB_PATH')
    expect(err.message).toMatch(/^DISCORD_DB_PATH names a SQLite file that could not be opened/)
  })

  it('names MEMBERSHIP_FILE when it cannot be read', async () => {
    vi.stubEnv('MEMBERSHIP_FILE', join(tempDir(), 'missing.json'))
    try {
      const err = await buildError(loadConfig({ ...REAL, DISCORD_DB_PATH: join(tempDir(), 'db.sqlite') }))
      expect(err.variable).toBe('MEMBERSHIP_FILE')
    } finally {
      vi.unstubAllEnvs()
    }
  })

  it('names PORT when the port is taken and HOST when the address is not this machine\'s, closing the app', async () => {
    const taken = createServer()
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve))
    const port = (taken.address() as AddressInfo).port
    try {
      const config = loadConfig({ ...REAL, DISCORD_DB_PATH: join(tempDir(), 'db.sqlite'), PORT: String(port) })
      const app = await buildStandalone({ ...config, logLevel: 'silent' })
      const err = await listenStandalone(app, config).then(() => null, (e: unknown) => e as ConfigError)
      expect(err).toBeInstanceOf(ConfigError)
      expect(err?.variable).toBe('PORT')
      expect(err?.message).toContain(`PORT ${port} cannot be listened on (EADDRINUSE)`)
      // Closed on the way out: the store it opened is closed too.
      await expect(app.discord.store.ping()).rejects.toThrow()
    } finally {
      taken.close()
    }
    // 203.0.113.0/24 is TEST-NET-3 (RFC 5737): never an address of this machine.
    const config = loadConfig({ ...REAL, DISCORD_DB_PATH: join(tempDir(), 'db.sqlite'), HOST: '203.0.113.7', PORT: '0' })
    const app = await buildStandalone({ ...config, logLevel: 'silent' })
    const err = await listenStandalone(app, config).then(() => null, (e: unknown) => e as ConfigError)
    expect(err).toBeInstanceOf(ConfigError)
    expect(err?.variable).toBe('HOST')
    expect(err?.message).toMatch(/^HOST "203\.0\.113\.7" is not an address of this machine \(EADDRNOTAVAIL\)/)
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
    ['DISCORD_API_BASE_URL', { DISCORD_API_BASE_URL: 'discord.com/api' }],
    ['HOST', { HOST: 'not a host!' }],
    ['MONGODB_URI', { MONGODB_URI: 'mongodb://' }],
    ['MONGODB_DB', { MONGODB_URI: 'mongodb://127.0.0.1:27017', MONGODB_DB: 'my.db' }],
    // Without MONGODB_DB the database is the URI's path, so the URI is what to fix.
    ['MONGODB_URI', { MONGODB_URI: 'mongodb://127.0.0.1:27017/bad$name' }],
    ['DISCORD_REDIRECT_URLS', { DISCORD_REDIRECT_URLS: 'https://app.example/done,/relative' }],
    ['DISCORD_AUTHORIZE_URL', { DISCORD_AUTHORIZE_URL: 'authorize' }],
    ['AUTH_COOKIE_SECURE', { AUTH_COOKIE_SECURE: 'maybe' }],
    ['AUTH_SESSION_EXPIRY', { AUTH_SESSION_EXPIRY: 'forever' }],
    ['DISCORD_TOKEN_REFRESH_INTERVAL', { DISCORD_TOKEN_REFRESH_INTERVAL: 'soon' }],
    ['DISCORD_ADMIN_UI', { DISCORD_ADMIN_UI: 'yes' }],
    ['DISCORD_GATEWAY', { DISCORD_GATEWAY: 'off' }],
    ['DISCORD_JOBS', { DISCORD_JOBS: 'kafka' }],
    ['DISCORD_ROLE', { DISCORD_JOBS: 'bullmq', REDIS_URL: 'redis://127.0.0.1:6379', DISCORD_ROLE: 'scheduler' }],
    // BullMQ keeps its queue in Redis: the plugin's refusal comes back naming the variable.
    ['DISCORD_JOBS', { DISCORD_JOBS: 'bullmq' }],
    ['DISCORD_ROLE', { DISCORD_ROLE: 'worker' }],
    // Well-formed but below what the plugin accepts: its option error comes back naming the variable.
    ['DISCORD_STATE_EXPIRY', { DISCORD_STATE_EXPIRY: '1s' }],
    ['DISCORD_SYNC_INTERVAL', { DISCORD_SYNC_INTERVAL: '30s' }],
    ['DISCORD_TOKEN_REFRESH_THRESHOLD', { DISCORD_TOKEN_REFRESH_THRESHOLD: '10s' }],
    ['AUTH_SESSION_EXPIRY', { AUTH_SESSION_EXPIRY: '10s' }],
    ['DISCORD_TOKEN_REFRESH_INTERVAL', { DISCORD_TOKEN_REFRESH_INTERVAL: '0' }]
  ]
  it('turns the live Gateway off with DISCORD_GATEWAY=0 (on by default)', () => {
    const env = { ...REAL, DISCORD_DB_PATH: join(tempDir(), 'db.sqlite') }
    expect(loadConfig(env).plugin.gateway?.enabled).toBe(true)
    expect(loadConfig({ ...env, DISCORD_GATEWAY: '0' }).plugin.gateway?.enabled).toBe(false)
  })

  it('runs background work as BullMQ jobs with DISCORD_JOBS=bullmq, in the role DISCORD_ROLE names (local, all by default)', () => {
    const env = { ...REAL, DISCORD_DB_PATH: join(tempDir(), 'db.sqlite') }
    expect(loadConfig(env).plugin.jobs).toBeUndefined()
    expect(loadConfig({ ...env, REDIS_URL: 'redis://127.0.0.1:6379', DISCORD_JOBS: 'bullmq', DISCORD_ROLE: 'worker' }).plugin.jobs).toEqual({ backend: 'bullmq', role: 'worker' })
  })

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
    const app = await buildStandalone({ ...loadConfig({ DISCORD_DEMO: '1', DISCORD_DB_PATH: join(tempDir(), 'db.sqlite') }), logLevel: 'silent' })
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

  it('serves GET /api/discord/status in demo mode (DISCORD_DEMO=1) on a SQLite file of its own', async () => {
    const dir = tempDir()
    const db = join(dir, 'discord.sqlite')
    // Its own process group: npm does not pass SIGTERM on to the server, which would outlive the test.
    const child = spawn('npm', ['start', '--silent'], { env: { ...baseEnv, PORT: '0', DISCORD_DEMO: '1', DISCORD_DB_PATH: db }, stdio: ['ignore', 'pipe', 'pipe'], detached: true })
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
        env: { ...baseEnv, PORT: '0', DISCORD_DEMO: '1', DISCORD_DB_PATH: db, LOG_LEVEL: 'info' },
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

  it('leaves nothing running after close: no timer, socket or connection keeps the process alive (SQLite, and Redis when it answers)', async () => {
    // No process.exit here: the process ends only if close() released everything the server started.
    const dir = tempDir()
    const script = join(dir, 'close-probe.mts')
    const repo = new URL('..', import.meta.url)
    writeFileSync(script, [
      `import { buildStandalone, listenStandalone } from ${JSON.stringify(new URL('examples/standalone/app.ts', repo).href)}`,
      `import { loadConfig } from ${JSON.stringify(new URL('examples/standalone/config.ts', repo).href)}`,
      'const config = loadConfig(process.env)',
      "const app = await buildStandalone({ ...config, logLevel: 'silent' })",
      'await listenStandalone(app, config)',
      "const res = await fetch('http://127.0.0.1:' + app.server.address().port + '/api/discord/status')",
      "console.log('status', res.status, (await res.json()).checks.redis)",
      'await app.close()',
      "console.log('closed')"
    ].join('\n'))
    const redis = await redisAvailable()
    const child = spawn(process.execPath, ['--import', 'tsx', script], {
      env: { ...baseEnv, ...REAL, PORT: '0', DISCORD_DB_PATH: join(dir, 'discord.sqlite'), ...(redis ? { REDIS_URL } : {}) },
      stdio: ['ignore', 'pipe', 'pipe']
    })
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
    const m = await waitForOutput(child, /status (\d+) (\w+)/, 30_000)
    expect(m[1]).toBe('200')
    expect(m[2]).toBe(redis ? 'ok' : 'not_configured')
    await waitForOutput(child, /closed/, 10_000)
    const closedAt = Date.now()
    const code = await Promise.race([exited, new Promise<'still running'>((resolve) => setTimeout(() => resolve('still running'), 5_000))])
    if (code === 'still running') child.kill('SIGKILL')
    expect(code).toBe(0)
    expect(Date.now() - closedAt).toBeLessThan(5_000)
  }, 60_000)

  it('loses no write on SIGTERM: a request in flight when the signal arrives completes, is answered and is in the database', async () => {
    // A guild created with a bot token waits for Discord (the token is checked first), then writes.
    // A gate in front of the simulator holds that check until SIGTERM has been delivered.
    const sim = await startSimulator()
    let reached!: () => void
    const atDiscord = new Promise<void>((resolve) => { reached = resolve })
    let release!: () => void
    const gate = new Promise<void>((resolve) => { release = resolve })
    let held = false
    const proxy = createHttpServer((req, res) => {
      const chunks: Buffer[] = []
      req.on('data', (c: Buffer) => chunks.push(c))
      req.on('end', () => {
        const hold = !held && req.url?.endsWith('/users/@me') === true
        if (hold) { held = true; reached() }
        ;(hold ? gate : Promise.resolve()).then(async () => {
          const upstream = await fetch(`${sim.url}${req.url as string}`, {
            method: req.method,
            headers: Object.fromEntries(Object.entries(req.headers).filter(([k]) => !['host', 'connection', 'content-length'].includes(k)) as Array<[string, string]>),
            body: chunks.length > 0 ? Buffer.concat(chunks) : undefined
          })
          res.writeHead(upstream.status, Object.fromEntries([...upstream.headers].filter(([k]) => !['content-encoding', 'content-length', 'transfer-encoding', 'connection'].includes(k))))
          res.end(Buffer.from(await upstream.arrayBuffer()))
        }).catch(() => res.destroy())
      })
    })
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve))
    const proxyPort = (proxy.address() as AddressInfo).port
    const db = join(tempDir(), 'discord.sqlite')
    const child = spawn(process.execPath, ['--import', 'tsx', 'examples/standalone/server.ts'], {
      env: { ...baseEnv, ...REAL, PORT: '0', DISCORD_DB_PATH: db, LOG_LEVEL: 'info', DISCORD_API_BASE_URL: `http://127.0.0.1:${proxyPort}/api/v10` },
      stdio: ['ignore', 'pipe', 'pipe']
    })
    try {
      const m = await waitForOutput(child, /http:\/\/127\.0\.0\.1:(\d+)\/api\/discord\/status/, 30_000)
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
      const write = fetch(`http://127.0.0.1:${m[1]}/api/discord/guilds`, {
        method: 'POST',
        headers: { authorization: `Bearer ${adminJwt(REAL.JWT_SECRET)}`, 'content-type': 'application/json' },
        body: JSON.stringify({ guild_id: IDS.guild, bot_token: BOT_TOKEN })
      })
      await atDiscord
      const closing = waitForOutput(child, /"msg":"shutting down"/, 10_000)
      child.kill('SIGTERM')
      await closing
      release()
      const res = await write
      expect(res.status).toBe(201)
      expect(await res.json()).toMatchObject({ guild_id: IDS.guild, has_bot_token: true })
      // 0, not the forced exit after 10 s: the answered request's keep-alive connection did not hold shutdown open.
      expect(await exited).toBe(0)
      const { default: Database } = await import('better-sqlite3')
      const handle = new Database(db, { readonly: true })
      const row = handle.prepare('SELECT guild_id, bot_token FROM discord_guild_configs WHERE guild_id = ?').get(IDS.guild) as { guild_id: string, bot_token: string } | undefined
      expect(handle.pragma('integrity_check', { simple: true })).toBe('ok')
      handle.close()
      expect(row?.guild_id).toBe(IDS.guild)
      expect(row?.bot_token.startsWith('dsenc:v1:')).toBe(true)
    } finally {
      release()
      if (child.exitCode === null) child.kill('SIGKILL')
      proxy.close()
      await sim.close()
    }
  }, 60_000)

  it('a second server on the same DISCORD_DB_PATH without Redis stops with exit code 78, naming DISCORD_DB_PATH and REDIS_URL', async () => {
    const db = join(tempDir(), 'discord.sqlite')
    const env = { ...baseEnv, ...REAL, PORT: '0', DISCORD_DB_PATH: db }
    // Its own process group: npm does not pass signals on to the server.
    const first = spawn('npm', ['start', '--silent'], { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true })
    try {
      await waitForOutput(first, /http:\/\/127\.0\.0\.1:(\d+)\/api\/discord\/status/, 30_000)
      const second = spawn('npm', ['start', '--silent'], { env, stdio: ['ignore', 'pipe', 'pipe'] })
      let out = ''
      second.stdout.on('data', (c: Buffer) => { out += c.toString() })
      second.stderr.on('data', (c: Buffer) => { out += c.toString() })
      const code = await new Promise<number | null>((resolve) => second.once('exit', (c) => resolve(c)))
      expect(code).toBe(78)
      expect(out).toMatch(/configuration error: DISCORD_DB_PATH names a SQLite file another server process \([^)]+\) is already using/)
      expect(out).toMatch(/give this one its own DISCORD_DB_PATH, or set REDIS_URL/)
      expect(out).not.toContain(REAL.DISCORD_CLIENT_SECRET)
    } finally {
      const exited = new Promise((resolve) => first.once('exit', resolve))
      process.kill(-(first.pid as number), 'SIGTERM')
      await exited
    }
  }, 60_000)

  it('stops at start-up naming the bad variable, with exit code 78, whether found reading the environment or opening the store', async () => {
    const cases: Array<[Record<string, string>, RegExp]> = [
      [{ PORT: 'eighty' }, /configuration error: PORT must be an integer/],
      // Found only when the plugin opens its store, after the environment was read.
      [{ ...REAL, PORT: '0', DISCORD_DB_PATH: '/dev/null/discord.sqlite' }, /configuration error: DISCORD_DB_PATH names a SQLite file that could not be opened/]
    ]
    for (const [env, expected] of cases) {
      const child = spawn('npm', ['start', '--silent'], { env: { ...baseEnv, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
      let out = ''
      child.stdout.on('data', (c: Buffer) => { out += c.toString() })
      child.stderr.on('data', (c: Buffer) => { out += c.toString() })
      const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)))
      expect(out).toMatch(expected)
      expect(code).toBe(78)
      expect(out).not.toContain(REAL.DISCORD_CLIENT_SECRET)
    }
  }, 60_000)
})
