import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { isIP } from 'node:net'
import { dirname, join, resolve } from 'node:path'
import { ALLOWED_SCOPES, SecretBox, generateKey, parseDuration, resolveOptions, type FastifyDiscordSyncOptions } from '../../src/index.js'

/*
 * Environment -> server and plugin options. Every problem names the variable,
 * and start-up stops before anything listens.
 */

export class ConfigError extends Error {
  constructor (readonly variable: string, why: string) {
    super(`${variable} ${why}`)
    this.name = 'ConfigError'
  }
}

export interface StandaloneConfig {
  host: string
  port: number
  logLevel: string
  demo: boolean
  jwtSecret: string
  /** Warnings to log once the logger exists (generated secrets in demo mode). */
  warnings: string[]
  plugin: FastifyDiscordSyncOptions
}

type Env = Record<string, string | undefined>

/*
 * Which variable sets each plugin option. The plugin validates its options itself (minimum
 * durations, MongoDB names and connection strings...); its error names the option, and this
 * turns it into the variable the operator actually wrote, so no check is written twice.
 */
const OPTION_VARIABLES: Readonly<Record<string, string>> = Object.freeze({
  encryptionKey: 'DISCORD_ENCRYPTION_KEY',
  apiBaseUrl: 'DISCORD_API_BASE_URL',
  stateExpiry: 'DISCORD_STATE_EXPIRY',
  tokenRefreshThreshold: 'DISCORD_TOKEN_REFRESH_THRESHOLD',
  syncInterval: 'DISCORD_SYNC_INTERVAL',
  store: 'MONGODB_URI',
  'store.path': 'DISCORD_DB_PATH',
  'store.uri': 'MONGODB_URI',
  'store.dbName': 'MONGODB_DB',
  redis: 'REDIS_URL',
  'auth.jwtSecret': 'JWT_SECRET',
  'auth.redirectUrls': 'DISCORD_REDIRECT_URLS',
  'auth.cookieSecure': 'AUTH_COOKIE_SECURE',
  'auth.sessionExpiry': 'AUTH_SESSION_EXPIRY',
  'tokenRefresh.interval': 'DISCORD_TOKEN_REFRESH_INTERVAL',
  'sync.writeDelay': 'DISCORD_RATE_LIMIT_DELAY',
  'sync.retention': 'DISCORD_SYNC_RETENTION',
  adminUi: 'DISCORD_ADMIN_UI',
  'gateway.enabled': 'DISCORD_GATEWAY',
  'jobs.backend': 'DISCORD_JOBS',
  'jobs.role': 'DISCORD_ROLE',
  'discord.clientId': 'DISCORD_CLIENT_ID',
  'discord.clientSecret': 'DISCORD_CLIENT_SECRET',
  'discord.redirectUri': 'DISCORD_REDIRECT_URI',
  'discord.scopes': 'DISCORD_SCOPES',
  'discord.apiBaseUrl': 'DISCORD_API_BASE_URL',
  'discord.authorizeUrl': 'DISCORD_AUTHORIZE_URL',
  'discord.publicKey': 'DISCORD_PUBLIC_KEY'
})

/**
 * A start-up failure caused by configuration, as the ConfigError naming its variable; null for
 * anything else. Covers the plugin's option errors (`Invalid fastify-discord-sync option "x": why`),
 * a store that cannot be opened at the configured place, and an address the server cannot listen on.
 */
export function configErrorOf (err: unknown, config: Pick<StandaloneConfig, 'host' | 'port' | 'plugin'>): ConfigError | null {
  if (err instanceof ConfigError) return err
  const e = err as { code?: unknown, message?: unknown } | null
  const code = typeof e?.code === 'string' ? e.code : ''
  const message = typeof e?.message === 'string' ? e.message : ''
  if (code === 'FST_DISCORD_INVALID_OPTIONS') {
    const m = /option "([^"]+)": (.*)$/s.exec(message)
    const variable = m === null ? undefined : OPTION_VARIABLES[(m[1] as string).replace(/\[\d+\]$/, '')]
    return variable === undefined ? null : new ConfigError(variable, m?.[2] as string)
  }
  const mongo = config.plugin.store !== undefined && 'type' in config.plugin.store && config.plugin.store.type === 'mongodb'
  if (code === 'FST_DISCORD_STORE_UNAVAILABLE') {
    return mongo
      ? new ConfigError('MONGODB_URI', `names a MongoDB that could not be used at start-up (${message})`)
      : new ConfigError('DISCORD_DB_PATH', `names a SQLite file that could not be opened (${message})`)
  }
  if (code === 'FST_DISCORD_STORE_IN_USE') {
    const holder = /another process \(([^)]*)\)/.exec(message)?.[1] ?? 'unknown'
    return new ConfigError('DISCORD_DB_PATH', `names a SQLite file another server process (${holder}) is already using. Without Redis each process keeps its own ` +
      'Discord rate limits and locks, so only one may use the file: stop the other process, give this one its own DISCORD_DB_PATH, or set REDIS_URL on both so they share them')
  }
  if (code === 'EADDRINUSE' || code === 'EACCES') return new ConfigError('PORT', `${config.port} cannot be listened on (${code})`)
  if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND' || code === 'EAI_AGAIN') return new ConfigError('HOST', `"${config.host}" is not an address of this machine (${code})`)
  return null
}

/** The database named in a MongoDB connection string's path, if any (the host list never holds a "/"). */
function mongoPathDb (uri: string): string | undefined {
  const path = /^mongodb(?:\+srv)?:\/\/[^/?]*\/([^?]*)/.exec(uri)?.[1]
  if (path === undefined || path === '') return undefined
  try { return decodeURIComponent(path) } catch { throw new ConfigError('MONGODB_URI', 'has a malformed database name in its path') }
}

/** Throws unless every key is base64 of 32 bytes (SecretBox refuses anything else). */
function keyCheck (keys: string[]): string {
  return new SecretBox(keys).currentKeyId
}

function get (env: Env, name: string): string | undefined {
  const v = env[name]
  return v === undefined || v.trim() === '' ? undefined : v.trim()
}

function duration (env: Env, name: string, fallback: string): string {
  const v = get(env, name) ?? fallback
  if (parseDuration(v) === null) throw new ConfigError(name, `must be a duration like "15m", "1h30m" or "90s" (got "${v}")`)
  return v
}

function url (env: Env, name: string, fallback?: string, schemes = ['http:', 'https:']): string | undefined {
  const v = get(env, name) ?? fallback
  if (v === undefined) return undefined
  let parsed: URL
  try { parsed = new URL(v) } catch { throw new ConfigError(name, 'must be an absolute URL') }
  if (!schemes.includes(parsed.protocol)) throw new ConfigError(name, `must use ${schemes.join(' or ')}`)
  return v
}

/** In demo mode a missing secret is generated once and kept beside the database so restarts keep working. */
function demoSecret (file: string | null, make: () => string): string {
  if (file === null) return make()
  try {
    if (existsSync(file)) return readFileSync(file, 'utf8').trim()
    mkdirSync(dirname(file), { recursive: true })
    const value = make()
    writeFileSync(file, value + '\n', { mode: 0o600 })
    chmodSync(file, 0o600)
    return value
  } catch (err) {
    // The file sits beside the database, so the directory to fix is the one DISCORD_DB_PATH names.
    throw new ConfigError('DISCORD_DB_PATH', `names a directory where demo mode cannot keep its generated secrets (${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'})`)
  }
}

/**
 * How much history demo mode keeps: sync runs, audit entries and token refresh runs for a day
 * (a deployment keeps the plugin's 90 days), pruned every hour (the plugin's default is 6 h).
 * DISCORD_SYNC_RETENTION overrides the sync part in either mode.
 */
export const DEMO_HISTORY = Object.freeze({ retention: '1d', cleanupInterval: '1h' })

/** Variables only a real deployment sets: any of them means this is not a first run. */
const DEPLOYMENT_VARIABLES = ['JWT_SECRET', 'DISCORD_ENCRYPTION_KEY', 'DISCORD_DB_PATH', 'MONGODB_URI', 'REDIS_URL'] as const
/** What a demo must never use: it hands out admin sessions (Demo Admin) and seeds its own data. */
const NOT_FOR_THE_DEMO = ['JWT_SECRET', 'DISCORD_ENCRYPTION_KEY', 'MONGODB_URI', 'REDIS_URL'] as const

/*
 * Demo mode only when asked (DISCORD_DEMO=1) or on an obvious first run (nothing of a deployment
 * set). A production server that lost DISCORD_CLIENT_ID must stop, not come up as a demo that
 * signs "Demo Admin" sessions with the production JWT_SECRET and seeds the production database.
 */
function demoMode (env: Env, clientId: string | undefined): boolean {
  const flag = get(env, 'DISCORD_DEMO')
  if (flag !== undefined && !['0', '1', 'true', 'false'].includes(flag)) throw new ConfigError('DISCORD_DEMO', 'must be 1 or 0')
  const deployment = DEPLOYMENT_VARIABLES.filter((v) => get(env, v) !== undefined)
  if (flag === '1' || flag === 'true') {
    const refused = NOT_FOR_THE_DEMO.find((v) => get(env, v) !== undefined)
    if (refused !== undefined) {
      throw new ConfigError(refused, 'must not be set with DISCORD_DEMO=1: the demo hands out admin sessions and seeds its own data, so it never uses a real secret, database or Redis (unset one of them)')
    }
    return true
  }
  if (clientId !== undefined) return false
  if (flag === undefined && deployment.length === 0) return true
  const why = flag === undefined
    ? `${deployment.join(', ')} ${deployment.length === 1 ? 'is' : 'are'} set, so this is not a first run and demo mode does not start on its own`
    : 'DISCORD_DEMO=0 turns demo mode off'
  throw new ConfigError('DISCORD_CLIENT_ID', `is required (the application id): ${why}. Set DISCORD_DEMO=1 to run the demo instead`)
}

/**
 * DISCORD_DB_PATH with DISCORD_DEMO=1: the demo writes only into a database it created, which it
 * marks with a `<file>.demo` file beside it. An existing database without the mark is refused.
 */
function claimDemoDatabase (dbPath: string): void {
  if (dbPath === resolve(':memory:')) return
  const mark = `${dbPath}.demo`
  if (existsSync(dbPath) && !existsSync(mark)) {
    throw new ConfigError('DISCORD_DB_PATH', `names an existing database the demo did not create (${dbPath}): the demo never writes into one. Name a new file, or unset DISCORD_DEMO`)
  }
  try {
    mkdirSync(dirname(dbPath), { recursive: true })
    if (!existsSync(mark)) writeFileSync(mark, 'created by the fastify-discord-sync demo\n')
  } catch (err) {
    throw new ConfigError('DISCORD_DB_PATH', `names a place where the demo cannot create its database (${dbPath}: ${(err as NodeJS.ErrnoException).code ?? 'error'})`)
  }
}

export function loadConfig (env: Env = process.env): StandaloneConfig {
  const warnings: string[] = []

  const portRaw = get(env, 'PORT') ?? '3000'
  if (!/^\d+$/.test(portRaw) || Number(portRaw) > 65535) throw new ConfigError('PORT', `must be an integer from 0 to 65535 (got "${portRaw}")`)
  const host = get(env, 'HOST') ?? '127.0.0.1'
  // An IP address or a host name; whether this machine has it is known only at listen time.
  if (isIP(host) === 0 && !/^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/.test(host)) {
    throw new ConfigError('HOST', `must be an IP address or a host name (got "${host}")`)
  }
  const logLevel = get(env, 'LOG_LEVEL') ?? 'info'
  if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(logLevel)) throw new ConfigError('LOG_LEVEL', 'must be one of fatal, error, warn, info, debug, trace, silent')

  const clientId = get(env, 'DISCORD_CLIENT_ID')
  const demo = demoMode(env, clientId)

  // Not a WHATWG URL: a replica set's host list ("h1:27017,h2:27017") does not parse as one.
  // The driver parses it when the store is built; its error is mapped back to this variable.
  const mongoUri = get(env, 'MONGODB_URI')
  if (mongoUri !== undefined && !/^mongodb(\+srv)?:\/\/[^/?]/.test(mongoUri)) throw new ConfigError('MONGODB_URI', 'must be a mongodb:// or mongodb+srv:// connection string')
  // The demo keeps its own file, so switching to a real application starts from a clean database.
  const dbPath = resolve(get(env, 'DISCORD_DB_PATH') ?? (demo ? './data/demo.sqlite' : './data/discord.sqlite'))
  const secretsDir = mongoUri ? null : dirname(dbPath)
  if (demo && get(env, 'DISCORD_DB_PATH') !== undefined) claimDemoDatabase(dbPath)

  let encryptionKey: string[]
  const keyRaw = get(env, 'DISCORD_ENCRYPTION_KEY')
  if (keyRaw !== undefined) {
    // Comma-separated for rotation: the first key seals new values, all keys open old ones.
    encryptionKey = keyRaw.split(',').map((k) => k.trim())
    // SecretBox refuses any key that is not base64 of 32 bytes. The server uses the package's public
    // surface only (src/index.ts): it is built into dist/standalone against the published bundle.
    try { keyCheck(encryptionKey) } catch { throw new ConfigError('DISCORD_ENCRYPTION_KEY', 'must be base64 of 32 bytes (comma-separated, newest first, to rotate); generate one with `openssl rand -base64 32`') }
  } else if (demo) {
    encryptionKey = [demoSecret(secretsDir && join(secretsDir, '.demo-encryption-key'), generateKey)]
    warnings.push('DISCORD_ENCRYPTION_KEY is not set: demo mode uses a generated key' + (secretsDir ? ` kept in ${join(secretsDir, '.demo-encryption-key')}` : ' that lasts until this process exits') + '. Set it for real deployments.')
  } else {
    throw new ConfigError('DISCORD_ENCRYPTION_KEY', 'is required (base64 of 32 bytes; generate one with `openssl rand -base64 32`)')
  }

  let jwtSecret = get(env, 'JWT_SECRET')
  if (jwtSecret !== undefined && jwtSecret.length < 32) throw new ConfigError('JWT_SECRET', 'must be at least 32 characters')
  if (jwtSecret === undefined) {
    if (!demo) throw new ConfigError('JWT_SECRET', 'is required (at least 32 characters)')
    jwtSecret = demoSecret(secretsDir && join(secretsDir, '.demo-jwt-secret'), generateKey)
    warnings.push('JWT_SECRET is not set: demo mode uses a generated secret. Set it for real deployments.')
  }

  const plugin: FastifyDiscordSyncOptions = {
    routePrefix: '/discord',
    encryptionKey,
    apiBaseUrl: url(env, 'DISCORD_API_BASE_URL', 'https://discord.com/api/v10'),
    stateExpiry: duration(env, 'DISCORD_STATE_EXPIRY', '10m'),
    tokenRefreshThreshold: duration(env, 'DISCORD_TOKEN_REFRESH_THRESHOLD', '24h'),
    syncInterval: duration(env, 'DISCORD_SYNC_INTERVAL', '15m'),
    store: mongoUri
      ? { type: 'mongodb', uri: mongoUri, dbName: get(env, 'MONGODB_DB') ?? mongoPathDb(mongoUri) ?? 'fastify_discord_sync' }
      : { type: 'sqlite', path: dbPath }
  }
  const redisUrl = url(env, 'REDIS_URL', undefined, ['redis:', 'rediss:'])
  if (redisUrl) plugin.redis = redisUrl

  // Sessions: the plugin signs them with JWT_SECRET; the browser is sent back only to allowed URLs.
  const redirectUrls = (get(env, 'DISCORD_REDIRECT_URLS') ?? '').split(',').map((v) => v.trim()).filter(Boolean)
  redirectUrls.forEach((v) => {
    let u: URL
    try { u = new URL(v) } catch { throw new ConfigError('DISCORD_REDIRECT_URLS', `contains "${v}", which is not an absolute URL (comma-separated list)`) }
    if (!['http:', 'https:'].includes(u.protocol) || u.search !== '' || u.hash !== '' || u.username !== '') {
      throw new ConfigError('DISCORD_REDIRECT_URLS', `contains "${v}": each entry must be an http(s) origin and path, without query, fragment or credentials`)
    }
  })
  // The demo is plain http on loopback, where browsers differ on Secure cookies (Safari drops them).
  const secureRaw = get(env, 'AUTH_COOKIE_SECURE') ?? (demo ? '0' : '1')
  if (!['0', '1', 'true', 'false'].includes(secureRaw)) throw new ConfigError('AUTH_COOKIE_SECURE', 'must be 1 or 0')
  plugin.auth = {
    jwtSecret,
    redirectUrls,
    cookieSecure: secureRaw === '1' || secureRaw === 'true',
    sessionExpiry: duration(env, 'AUTH_SESSION_EXPIRY', '24h')
  }
  plugin.tokenRefresh = { interval: duration(env, 'DISCORD_TOKEN_REFRESH_INTERVAL', '30m') }
  // The seed's variable: a minimum spacing between role writes to one guild; 0 leaves the pace to Discord's headers.
  plugin.sync = { writeDelay: duration(env, 'DISCORD_RATE_LIMIT_DELAY', '0') }
  // History kept (docs/operations.md): the plugin's 90 days in a deployment unless
  // DISCORD_SYNC_RETENTION says otherwise; a demo left running keeps a day (issue 18).
  const retention = get(env, 'DISCORD_SYNC_RETENTION') === undefined && !demo ? undefined : duration(env, 'DISCORD_SYNC_RETENTION', DEMO_HISTORY.retention)
  if (retention !== undefined) plugin.sync.retention = retention
  if (demo) {
    plugin.sync.cleanupInterval = DEMO_HISTORY.cleanupInterval
    plugin.tokenRefresh.retention = DEMO_HISTORY.retention
  }
  const adminUi = get(env, 'DISCORD_ADMIN_UI') ?? '1'
  if (!['0', '1', 'true', 'false'].includes(adminUi)) throw new ConfigError('DISCORD_ADMIN_UI', 'must be 1 or 0')
  plugin.adminUi = adminUi === '1' || adminUi === 'true'
  // The live Gateway is on by default (it connects only for guilds with a bot token); 0 turns it off.
  const gateway = get(env, 'DISCORD_GATEWAY') ?? '1'
  if (!['0', '1', 'true', 'false'].includes(gateway)) throw new ConfigError('DISCORD_GATEWAY', 'must be 1 or 0')
  plugin.gateway = { ...plugin.gateway, enabled: gateway === '1' || gateway === 'true' }

  // Background work: this process (local), or BullMQ jobs on REDIS_URL shared by API and worker processes.
  const jobs = get(env, 'DISCORD_JOBS') ?? 'local'
  if (jobs !== 'local' && jobs !== 'bullmq') throw new ConfigError('DISCORD_JOBS', 'must be local or bullmq')
  const role = get(env, 'DISCORD_ROLE') ?? 'all'
  if (role !== 'all' && role !== 'api' && role !== 'worker') throw new ConfigError('DISCORD_ROLE', 'must be all, api or worker')
  if (jobs !== 'local' || role !== 'all') plugin.jobs = { backend: jobs, role }

  const scopes = (get(env, 'DISCORD_SCOPES') ?? 'identify guilds').split(/\s+/)
  for (const s of scopes) if (!ALLOWED_SCOPES.includes(s)) throw new ConfigError('DISCORD_SCOPES', `contains "${s}", which is not an allowed scope (${ALLOWED_SCOPES.join(', ')})`)

  if (!demo) {
    const clientSecret = get(env, 'DISCORD_CLIENT_SECRET')
    if (!/^\d{17,20}$/.test(clientId as string)) throw new ConfigError('DISCORD_CLIENT_ID', 'must be the application id (a 17-20 digit snowflake)')
    if (clientSecret === undefined) throw new ConfigError('DISCORD_CLIENT_SECRET', 'is required when DISCORD_CLIENT_ID is set')
    const redirectUri = url(env, 'DISCORD_REDIRECT_URI')
    if (redirectUri === undefined) throw new ConfigError('DISCORD_REDIRECT_URI', 'is required when DISCORD_CLIENT_ID is set')
    const authorizeUrl = url(env, 'DISCORD_AUTHORIZE_URL', 'https://discord.com/oauth2/authorize') as string
    const publicKey = get(env, 'DISCORD_PUBLIC_KEY')
    if (publicKey !== undefined && !/^[0-9a-f]{64}$/i.test(publicKey)) throw new ConfigError('DISCORD_PUBLIC_KEY', 'must be the application public key (64 hexadecimal characters)')
    plugin.discord = { clientId: clientId as string, clientSecret, redirectUri, scopes, apiBaseUrl: plugin.apiBaseUrl, authorizeUrl, ...(publicKey === undefined ? {} : { publicKey }) }
  }

  const config = { host, port: Number(portRaw), logLevel, demo, jwtSecret, warnings, plugin }
  // The plugin's own checks (minimum durations, names...) run now, before anything starts.
  try {
    resolveOptions(plugin)
  } catch (err) {
    const named = configErrorOf(err, config)
    // Without MONGODB_DB the database name came from the URI's path: that is what to fix.
    if (named?.variable === 'MONGODB_DB' && get(env, 'MONGODB_DB') === undefined) throw new ConfigError('MONGODB_URI', `names a database in its path that ${named.message.slice('MONGODB_DB '.length)}`)
    throw named ?? err
  }
  return config
}
