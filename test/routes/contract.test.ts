import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Validator } from '@seriousme/openapi-schema-validator'
import { Redis } from 'ioredis'
import type { DiscordSimulator } from '../../src/testing/index.js'
import { REDIS_URL, redisAvailable, uniquePrefix } from '../helpers/redis.js'
import { buildWorld, type World } from '../helpers/world.js'
import { IDS, routeWorld, startSimulator } from './helpers.js'

/*
 * The API contract: the OpenAPI document built from the route schemas (valid OpenAPI 3.1,
 * every endpoint of the seed's table in it, every error status documented), and the
 * plugin's own rate limit.
 */

const HAS_REDIS = await redisAvailable()

let sim: DiscordSimulator
beforeAll(async () => { sim = await startSimulator() })
afterAll(async () => { await sim.close() })

/** The seed's "Available Endpoints" table, in OpenAPI path syntax. */
const SEED_ENDPOINTS: Array<[string, string]> = [
  ['get', '/discord/status'],
  ['get', '/discord/auth/login'],
  ['get', '/discord/auth/callback'],
  ['post', '/discord/auth/link'],
  ['delete', '/discord/auth/unlink/{discord_id}'],
  ['get', '/discord/auth/status'],
  ['get', '/discord/users'],
  ['get', '/discord/users/{user_id}'],
  ['get', '/discord/guilds'],
  ['post', '/discord/guilds'],
  ['get', '/discord/guilds/{guild_id}'],
  ['put', '/discord/guilds/{guild_id}'],
  ['delete', '/discord/guilds/{guild_id}'],
  ['get', '/discord/guilds/{guild_id}/role-mappings'],
  ['post', '/discord/guilds/{guild_id}/role-mappings'],
  ['get', '/discord/role-mappings/{mapping_id}'],
  ['put', '/discord/role-mappings/{mapping_id}'],
  ['delete', '/discord/role-mappings/{mapping_id}'],
  ['post', '/discord/sync/manual'],
  ['post', '/discord/sync/user/{user_id}'],
  ['get', '/discord/sync/status']
]
/** This extra endpoints (troubleshooting list, bulk import/export). */
const EXTRA_ENDPOINTS: Array<[string, string]> = [
  ['get', '/discord/role-mappings'],
  ['get', '/discord/guilds/{guild_id}/role-mappings/export'],
  ['post', '/discord/guilds/{guild_id}/role-mappings/import']
]

type Operation = { responses: Record<string, unknown>, requestBody?: { content: Record<string, { schema: Record<string, unknown> }> }, security?: unknown[] }
type OpenApiDoc = { openapi: string, paths: Record<string, Record<string, Operation>> }

describe('OpenAPI document', () => {
  let t: World
  let doc: OpenApiDoc
  beforeAll(async () => {
    t = await buildWorld(routeWorld(sim))
    const res = await t.inject({ url: '/discord/openapi.json' })
    expect(res.statusCode).toBe(200)
    doc = res.json()
  })
  afterAll(async () => { await t.close() })

  it('is a valid OpenAPI 3.1 document (checked by an OpenAPI schema validator)', async () => {
    expect(doc.openapi).toBe('3.1.0')
    const result = await new Validator().validate(doc as never)
    expect(result.errors ?? []).toEqual([])
    expect(result.valid).toBe(true)
  })

  it('registers and documents every endpoint of the seed\'s table and the import/export routes', () => {
    for (const [method, path] of [...SEED_ENDPOINTS, ...EXTRA_ENDPOINTS]) {
      const registered = t.app.hasRoute({ method: method.toUpperCase() as 'GET', url: path.replace(/\{(\w+)\}/g, ':$1') })
      const documented = doc.paths[path]?.[method] !== undefined
      expect({ path, method, registered, documented }).toEqual({ path, method, registered: true, documented: true })
    }
    expect(doc.paths['/discord/openapi.json']).toBeUndefined()
  })

  it('documents the error statuses and session security of each guild, mapping and user operation', () => {
    const ours = [...SEED_ENDPOINTS, ...EXTRA_ENDPOINTS].filter(([, p]) => /^\/discord\/(guilds|role-mappings|users)/.test(p))
    expect(ours.length).toBe(15)
    for (const [method, path] of ours) {
      const where = `${method.toUpperCase()} ${path}`
      const op = doc.paths[path]?.[method] as Operation
      for (const status of ['400', '401', '403', '429', '500']) expect({ where, status, documented: status in op.responses }).toEqual({ where, status, documented: true })
      expect(Object.keys(op.responses).some((s) => s.startsWith('2'))).toBe(true)
      expect(op.security).toEqual([{ bearerAuth: [] }, { cookieAuth: [] }])
      const body = op.requestBody?.content['application/json']?.schema
      if (body !== undefined) expect({ where, additionalProperties: body.additionalProperties }).toEqual({ where, additionalProperties: false })
    }
  })

  it('is not served when the openapi option is false', async () => {
    const off = await buildWorld(routeWorld(sim, { openapi: false }))
    try {
      expect((await off.inject({ url: '/discord/openapi.json' })).statusCode).toBe(404)
    } finally {
      await off.close()
    }
  })
})

describe('rate limit of the plugin\'s routes', () => {
  it('answers 429 FST_DISCORD_RATE_LIMITED with Retry-After; keyed per user when authenticated, per IP otherwise', async () => {
    const t = await buildWorld(routeWorld(sim, { rateLimit: { max: 3, timeWindow: '1m' } }))
    try {
      for (let i = 0; i < 3; i++) expect((await t.inject({ url: '/discord/guilds' })).statusCode).toBe(401)
      const limited = await t.inject({ url: '/discord/guilds' })
      expect(limited.statusCode).toBe(429)
      expect(limited.json()).toMatchObject({ statusCode: 429, code: 'FST_DISCORD_RATE_LIMITED', error: 'Too Many Requests' })
      expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0)
      // A forged token does not buy a fresh quota: it counts against the IP.
      const forged = await t.inject({ url: '/discord/guilds', headers: { authorization: 'Bearer not.a.jwt' } })
      expect(forged.statusCode).toBe(429)
      // A verified user has their own quota, independent of the IP's and of other users'.
      for (let i = 0; i < 3; i++) expect((await t.inject({ url: '/discord/guilds', as: 'admin' })).statusCode).toBe(200)
      expect((await t.inject({ url: '/discord/guilds', as: 'admin' })).statusCode).toBe(429)
      expect((await t.inject({ url: '/discord/guilds', as: 'alice' })).statusCode).toBe(403)
    } finally {
      await t.close()
    }
  })

  it.runIf(HAS_REDIS)('shares the limit across instances through Redis', async () => {
    const redis = new Redis(REDIS_URL)
    const prefix = uniquePrefix('routes-ratelimit')
    const a = await buildWorld(routeWorld(sim, { redis, redisKeyPrefix: prefix, rateLimit: { max: 2, timeWindow: '1m' } }))
    const b = await buildWorld(routeWorld(sim, { redis, redisKeyPrefix: prefix, rateLimit: { max: 2, timeWindow: '1m' } }))
    try {
      expect((await a.inject({ url: `/discord/guilds/${IDS.guild}`, as: 'admin' })).statusCode).toBe(404)
      expect((await b.inject({ url: `/discord/guilds/${IDS.guild}`, as: 'admin' })).statusCode).toBe(404)
      expect((await a.inject({ url: `/discord/guilds/${IDS.guild}`, as: 'admin' })).statusCode).toBe(429)
      expect(await redis.keys(`${prefix}ratelimit:*`)).not.toEqual([])
    } finally {
      await a.close()
      await b.close()
      const keys = await redis.keys(`${prefix}*`)
      if (keys.length > 0) await redis.del(...keys)
      redis.disconnect()
    }
  })
})
