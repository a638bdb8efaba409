import { afterEach, describe, expect, it } from 'vitest'
import Fastify, { type FastifyInstance } from 'fastify'
import { Redis } from 'ioredis'
import fastifyJwt from '@fastify/jwt'
import Database from 'better-sqlite3'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TSchema } from '@sinclair/typebox'
import discordSync, { fastifyDiscordSync, resolveOptions, SecretBox, type DiscordStore, type FastifyDiscordSyncOptions } from '../src/index.js'
import { OptionsSchema } from '../src/options/index.js'
import { SqliteStore } from '../src/store/sqlite/index.js'
import { REDIS_URL, redisAvailable } from './helpers/redis.js'
import { RedisServer } from './helpers/redis-server.js'
import { buildWorld, TEST_KEY, type WorldOptions } from './helpers/world.js'

/** The plugin alone: no Discord, on a SQLite store it opens (and closes) itself. */
function bare (plugin: Partial<FastifyDiscordSyncOptions> = {}, more: WorldOptions = {}): WorldOptions {
  return { sim: false, ...more, plugin: { store: { type: 'sqlite', path: ':memory:' }, ...plugin } }
}

async function buildApp (plugin: Partial<FastifyDiscordSyncOptions> = {}): Promise<FastifyInstance> {
  return (await buildWorld(bare(plugin))).app
}

const apps: FastifyInstance[] = []
async function track (p: Promise<FastifyInstance>): Promise<FastifyInstance> {
  const app = await p
  apps.push(app)
  return app
}
afterEach(async () => {
  await Promise.all(apps.splice(0).map((a) => a.close()))
})

async function registerError (options: Record<string, unknown>): Promise<Error & { code?: string }> {
  const app = Fastify({ logger: false })
  app.register(discordSync, options as never)
  try {
    await app.ready()
  } catch (err) {
    await app.close().catch(() => {})
    return err as Error & { code?: string }
  }
  await app.close()
  throw new Error('register succeeded but was expected to fail')
}

describe('plugin registration', () => {
  it('exports the same plugin as default and named, wrapped by fastify-plugin', () => {
    expect(fastifyDiscordSync).toBe(discordSync)
    expect((discordSync as unknown as Record<symbol, unknown>)[Symbol.for('plugin-meta')]).toMatchObject({ name: 'fastify-discord-sync', fastify: '5.x' })
  })

  it('decorates the instance with one namespace holding the store', async () => {
    const app = await track(buildApp())
    expect(app.hasDecorator('discord')).toBe(true)
    expect(app.discord.store.kind).toBe('sqlite')
    expect(app.discord.options.routePrefix).toBe('/discord')
    expect(app.discord.discordConfigured).toBe(false)
  })

  it('mounts routes under the default prefix and under a host prefix', async () => {
    const a = await track(buildApp())
    expect((await a.inject({ url: '/discord/status' })).statusCode).toBe(200)

    const b = await track(buildApp({ prefix: '/api' } as never))
    expect((await b.inject({ url: '/api/discord/status' })).statusCode).toBe(200)
    expect((await b.inject({ url: '/discord/status' })).statusCode).toBe(404)

    const c = await track(buildApp({ routePrefix: '/integrations/discord' }))
    expect((await c.inject({ url: '/integrations/discord/status' })).statusCode).toBe(200)
  })

  it('refuses to register twice', async () => {
    const app = Fastify({ logger: false })
    apps.push(app)
    app.register(discordSync, { store: { type: 'sqlite', path: ':memory:' }, encryptionKey: TEST_KEY })
    app.register(discordSync, { store: { type: 'sqlite', path: ':memory:' }, encryptionKey: TEST_KEY })
    await expect(app.ready()).rejects.toMatchObject({ code: 'FST_DISCORD_ALREADY_REGISTERED' })
  })

  it('keeps the client secret out of the decorated options', async () => {
    const app = await track(buildApp({
      discord: { clientId: '123456789012345678', clientSecret: 'very-secret-client-secret', redirectUri: 'http://127.0.0.1:3000/api/discord/auth/callback' }
    }))
    expect(app.discord.discordConfigured).toBe(true)
    expect(app.discord.options.discord?.scopes).toEqual(['identify', 'guilds'])
    expect(JSON.stringify(app.discord.options)).not.toContain('very-secret-client-secret')
  })
})

describe('option validation names the option', () => {
  const base = { store: { type: 'sqlite', path: ':memory:' }, encryptionKey: TEST_KEY }
  const cases: Array<[string, Record<string, unknown>, RegExp]> = [
    ['unknown option', { ...base, colour: 'blue' }, /"colour"/],
    ['routePrefix', { ...base, routePrefix: 'no-slash' }, /"routePrefix"/],
    ['missing encryptionKey', { store: { type: 'sqlite', path: ':memory:' } }, /"encryptionKey": is required/],
    ['short encryptionKey', { ...base, encryptionKey: Buffer.alloc(16).toString('base64') }, /"encryptionKey"/],
    ['rotated key list', { ...base, encryptionKey: [TEST_KEY, 'nope'] }, /"encryptionKey\[1\]"/],
    ['store.type', { ...base, store: { type: 'postgres' } }, /"store.type"/],
    ['store.path', { ...base, store: { type: 'sqlite', path: '' } }, /"store.path"/],
    ['sqlite extra key', { ...base, store: { type: 'sqlite', uri: 'x' } }, /"store.uri"/],
    ['mongo without source', { ...base, store: { type: 'mongodb', dbName: 'x' } }, /"store": mongodb needs exactly one of uri, db or client/],
    ['mongo uri scheme', { ...base, store: { type: 'mongodb', uri: 'http://x', dbName: 'x' } }, /"store.uri"/],
    ['mongo dbName', { ...base, store: { type: 'mongodb', uri: 'mongodb://127.0.0.1:1' } }, /"store.dbName"/],
    ['mongo db with dbName', { ...base, store: { type: 'mongodb', db: { collection: () => null }, dbName: 'x' } }, /"store.dbName"/],
    ['redis', { ...base, redis: 'http://localhost' }, /"redis"/],
    ['redis object', { ...base, redis: { ping: 1 } }, /"redis"/],
    ['discord.clientId', { ...base, discord: { clientId: 'abc', clientSecret: 's', redirectUri: 'http://x/cb' } }, /"discord.clientId"/],
    ['discord.clientSecret', { ...base, discord: { clientId: '123456789012345678', clientSecret: '', redirectUri: 'http://x/cb' } }, /"discord.clientSecret"/],
    ['discord.redirectUri', { ...base, discord: { clientId: '123456789012345678', clientSecret: 's', redirectUri: 'ftp://x' } }, /"discord.redirectUri"/],
    ['discord.scopes', { ...base, discord: { clientId: '123456789012345678', clientSecret: 's', redirectUri: 'http://x/cb', scopes: 'identify bot' } }, /"discord.scopes": scope "bot" is not allowed/],
    ['stateExpiry', { ...base, stateExpiry: 'ten minutes' }, /"stateExpiry"/],
    ['stateExpiry too short', { ...base, stateExpiry: '1s' }, /"stateExpiry": must be at least/],
    ['syncInterval', { ...base, syncInterval: -5 }, /"syncInterval"/],
    ['apiBaseUrl', { ...base, apiBaseUrl: 'discord.com' }, /"apiBaseUrl"/]
  ]
  it.each(cases)('%s', async (_name, options, pattern) => {
    const err = await registerError(options)
    expect(err.code).toBe('FST_DISCORD_INVALID_OPTIONS')
    expect(err.message).toMatch(pattern)
    // Never echo a secret back in a validation error.
    expect(err.message).not.toContain(TEST_KEY)
  })

  it('names store.uri for a connection string the driver cannot parse, without echoing it', async () => {
    // A replica set's host list with a bad port: a WHATWG URL check would not even see the hosts.
    const err = await registerError({ ...base, store: { type: 'mongodb', uri: 'mongodb://admin:hunter2@h1:27017,h2:badport/app', dbName: 'app' } })
    expect(err.code).toBe('FST_DISCORD_INVALID_OPTIONS')
    expect(err.message).toMatch(/"store.uri": is not a valid MongoDB connection string/)
    expect(err.message).not.toContain('hunter2')
  })

  it.each(['a.b', 'with space', 'x/y', 'd'.repeat(64)])('refuses the MongoDB database name %j, which the server would refuse at the first write', async (dbName) => {
    const err = await registerError({ ...base, store: { type: 'mongodb', uri: 'mongodb://127.0.0.1:1', dbName } })
    expect(err.code).toBe('FST_DISCORD_INVALID_OPTIONS')
    expect(err.message).toMatch(/"store.dbName": must be a MongoDB database name/)
  })

  it('accepts Go-style durations and milliseconds', async () => {
    const app = await track(buildApp({ stateExpiry: '5m', tokenRefreshThreshold: '1h30m', syncInterval: 120_000 }))
    expect(app.discord.options).toMatchObject({ stateExpiryMs: 300_000, tokenRefreshThresholdMs: 5_400_000, syncIntervalMs: 120_000 })
  })
})

describe('closing', () => {
  it('closes the store it opened', async () => {
    const app = await buildApp()
    const store = app.discord.store
    await store.ping()
    await app.close()
    await expect(store.ping()).rejects.toThrow()
  })

  it('never closes a store the host passed in', async () => {
    const host = new SqliteStore({ path: ':memory:', secrets: new SecretBox(TEST_KEY) })
    await host.init()
    const app = await buildApp({ store: host })
    expect(app.discord.store).toBe(host)
    await app.close()
    await expect(host.ping()).resolves.toBeUndefined()
    await host.close()
  })

  it('initialises a host store it was given before use (init is idempotent), and still leaves it open', async () => {
    const host = new SqliteStore({ path: ':memory:', secrets: new SecretBox(TEST_KEY) })
    const app = await buildApp({ store: host })
    expect((await app.inject({ url: '/discord/status' })).json()).toMatchObject({ status: 'healthy', checks: { store: 'ok' } })
    await expect(host.countUsers()).resolves.toBe(0)
    await app.close()
    await expect(host.ping()).resolves.toBeUndefined()
    await host.close()
  })
})

const hasRedis = await redisAvailable()

describe('a start-up that fails part-way', () => {
  /** The host's mistake: @fastify/jwt with namespaces and no auth.jwtSecret, refused after the store, Redis and the queue opened. */
  async function failedStart (plugin: Record<string, unknown>): Promise<void> {
    const app = Fastify({ logger: false })
    await app.register(fastifyJwt, { secret: 'host-secret-that-is-long-enough-0123456789', namespace: 'a' })
    app.register(discordSync, { encryptionKey: TEST_KEY, ...plugin } as never)
    await expect(app.ready()).rejects.toThrow(/namespaces/)
    await app.close()
  }

  it('gives up the SQLite writer lease once the host closes, so another process may start on the file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'failed-start-'))
    try {
      const store = { type: 'sqlite', path: join(dir, 'discord.sqlite') } as const
      await failedStart({ store })
      // Left held, the lease names this (live) process: any other process on the file is refused.
      const db = new Database(store.path, { readonly: true })
      expect(db.prepare('SELECT owner FROM discord_leases WHERE name = ?').all('writer')).toEqual([])
      db.close()
      const app = await track(buildApp({ store }))
      expect((await app.inject({ url: '/discord/status' })).json()).toMatchObject({ checks: { store: 'ok' } })
    } finally {
      await Promise.all(apps.splice(0).map((a) => a.close()))
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it.skipIf(!hasRedis)('closes its Redis connection and the BullMQ queue\'s once the host closes', async () => {
    const server = await RedisServer.start()
    const probe = new Redis(server.url)
    const clients = async (): Promise<number> => Number(/connected_clients:(\d+)/.exec(await probe.info('clients'))?.[1])
    try {
      await failedStart({ store: { type: 'sqlite', path: ':memory:' }, redis: server.url, jobs: { backend: 'bullmq' } })
      // The server drops a connection once it has read QUIT: wait for that, bounded.
      const deadline = Date.now() + 5000
      while (await clients() > 1 && Date.now() < deadline) await new Promise((resolve) => setImmediate(resolve))
      expect(await clients()).toBe(1)
    } finally {
      probe.disconnect()
      await server.close()
    }
  })
})

describe('GET /discord/status', () => {
  it('is healthy on SQLite without Redis and says Discord is not configured', async () => {
    const app = await track(buildApp())
    const res = await app.inject({ url: '/discord/status' })
    expect(res.statusCode).toBe(200)
    expect(res.json()).toEqual({
      module: 'discord',
      status: 'healthy',
      message: 'Discord application not configured',
      checks: { store: 'ok', redis: 'not_configured', discord: 'not_configured' }
    })
  })

  it('is unhealthy (503) when the store is unreachable, without leaking the driver error', async () => {
    const inner = new SqliteStore({ path: ':memory:', secrets: new SecretBox(TEST_KEY) })
    await inner.init()
    // The real store with only ping() failing (the plugin also calls init() on a host store).
    const failingPing = async (): Promise<void> => { throw new Error('connect ECONNREFUSED mongodb://admin:hunter2@db:27017') }
    const broken = new Proxy(inner, {
      get: (target, key) => {
        if (key === 'ping') return failingPing
        const value: unknown = Reflect.get(target, key)
        return typeof value === 'function' ? value.bind(target) : value
      }
    }) as DiscordStore
    const app = await track(buildApp({ store: broken }))
    const res = await app.inject({ url: '/discord/status' })
    expect(res.statusCode).toBe(503)
    expect(res.json()).toMatchObject({ module: 'discord', status: 'unhealthy', checks: { store: 'unreachable' } })
    expect(res.body).not.toContain('hunter2')
    await inner.close()
  })

  it('is degraded when the configured Redis does not answer, and closes its own connection', async () => {
    const app = await buildApp({ redis: 'redis://127.0.0.1:1' })
    const res = await app.inject({ url: '/discord/status' })
    expect(res.statusCode).toBe(200)
    expect(res.json()).toMatchObject({ status: 'degraded', checks: { store: 'ok', redis: 'unreachable' } })
    const redis = app.discord.redis as Redis
    await app.close()
    // A never-connected ioredis client stays in 'reconnecting' after disconnect(); what matters
    // is that it was closed on purpose and no reconnect timer is left to keep the process alive.
    const internals = redis as unknown as { manuallyClosing: boolean, reconnectTimeout: unknown }
    expect(redis.status === 'end' || (internals.manuallyClosing && internals.reconnectTimeout == null)).toBe(true)
  })
})

describe.skipIf(!hasRedis)('with Redis', () => {
  it('reports Redis ok and never closes a host Redis connection', async () => {
    const host = new Redis(REDIS_URL)
    const app = await buildApp({ redis: host })
    const res = await app.inject({ url: '/discord/status' })
    expect(res.json()).toMatchObject({ status: 'healthy', checks: { redis: 'ok' } })
    await app.close()
    expect(await host.ping()).toBe('PONG')
    await host.quit()
  })

  it('opens and closes its own connection from a URL', async () => {
    const app = await buildApp({ redis: REDIS_URL })
    expect((await app.inject({ url: '/discord/status' })).json()).toMatchObject({ checks: { redis: 'ok' } })
    const redis = app.discord.redis as Redis
    await app.close()
    expect(redis.status).toBe('end')
  })
})

describe('Discord-dependent routes without credentials', () => {
  it('answer 503 FST_DISCORD_NOT_CONFIGURED', async () => {
    const { app } = await buildWorld(bare({}, { after: (host) => { host.get('/needs-discord', { preHandler: host.discord.requireDiscord }, async () => ({ ok: true })) } }))
    apps.push(app)
    const res = await app.inject({ url: '/needs-discord' })
    expect(res.statusCode).toBe(503)
    expect(res.json()).toMatchObject({ code: 'FST_DISCORD_NOT_CONFIGURED' })
  })
})

describe('docs/configuration.md: the registration with every option', () => {
  // The object literal passed to register under "Every option at its default", evaluated as written.
  const doc = readFileSync(new URL('../docs/configuration.md', import.meta.url), 'utf8')
  const start = doc.indexOf('await app.register(discordSync, {', doc.indexOf('## Every option at its default'))
  const literal = doc.slice(start + 'await app.register(discordSync, '.length, doc.indexOf('\n})\n', start) + 2)
  const vars: Record<string, string> = { DISCORD_ENCRYPTION_KEY: TEST_KEY, DISCORD_CLIENT_ID: '123456789012345678', DISCORD_CLIENT_SECRET: 'readme-client-secret', JWT_SECRET: 'j'.repeat(40), DISCORD_BOT_TOKEN: 'MTEwMDAwMDAwMDAwMDAwMDAwMQ.Gdocs1.configuration-example-bot-token' }
  const env = (name: string): string => {
    const value = vars[name]
    if (value === undefined) throw new Error(`the example reads ${name}, which this test does not provide`)
    return value
  }
  // eslint-disable-next-line no-new-func -- the page's own text is the thing under test
  const example = new Function('env', `return (${literal})`)(env) as Record<string, unknown>

  /** Every option path the schema accepts (objects inside unions too, e.g. rateLimit). */
  function optionPaths (schema: TSchema, prefix = ''): string[] {
    const objects = [schema, ...((schema.anyOf ?? []) as TSchema[])].filter((s) => s.type === 'object' && s.properties !== undefined)
    return objects.flatMap((o) => Object.entries(o.properties as Record<string, TSchema>).flatMap(([k, v]) => [`${prefix}${k}`, ...optionPaths(v, `${prefix}${k}.`)]))
  }

  it('lists every public option', () => {
    const listed = (path: string): boolean => {
      let node: unknown = example
      for (const part of path.split('.')) {
        if (typeof node !== 'object' || node === null || !(part in node)) return false
        node = (node as Record<string, unknown>)[part]
      }
      return true
    }
    const missing = optionPaths(OptionsSchema).filter((p) => !listed(p))
    expect(missing, 'options missing from the docs/configuration.md registration').toEqual([])
  })

  it('is a valid registration whose every value is the default (apart from the credentials and host prefix it must give)', () => {
    const { prefix: _prefix, ...options } = example
    const required = {
      encryptionKey: env('DISCORD_ENCRYPTION_KEY'),
      discord: { clientId: env('DISCORD_CLIENT_ID'), clientSecret: env('DISCORD_CLIENT_SECRET'), redirectUri: (example.discord as { redirectUri: string }).redirectUri },
      auth: { jwtSecret: env('JWT_SECRET'), redirectUrls: [] },
      // Optional, but a group with required fields: the example gives it so every one of them is shown.
      linkedRoles: example.linkedRoles
    }
    expect(resolveOptions(options)).toEqual(resolveOptions(required))
  })
})
