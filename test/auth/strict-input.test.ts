import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RouteOptions } from 'fastify'
import type { DiscordSimulator } from '../../src/testing/index.js'
import { bearer, buildWorld, sessionFor, type World } from '../helpers/world.js'
import { authWorld, startSimulator } from './helpers.js'

/*
 * One validation mechanism for every route of the plugin: an unknown query or body field is a
 * 400 FST_DISCORD_VALIDATION naming the field, never silently dropped (Fastify's default Ajv
 * strips them). Routes are collected as they are registered, so a route group added later is
 * covered without touching this test. Validation runs before the auth preHandlers, so the
 * answer is the same with or without a session; an admin session is sent anyway so that a 400
 * cannot come from anywhere else.
 */

/** Discord's redirect may carry parameters we do not use (guild_id, permissions); the callback ignores them. */
const LENIENT_QUERY = new Set(['GET /discord/auth/callback'])

interface ObjectSchema { type?: string, properties?: Record<string, unknown>, additionalProperties?: unknown }

let sim: DiscordSimulator
let t: World
const routes: RouteOptions[] = []

beforeAll(async () => {
  sim = await startSimulator()
  t = await buildWorld(authWorld(sim, {}, { before: async (app) => { app.addHook('onRoute', (r) => { routes.push(r) }) } }))
})
afterAll(async () => {
  await t.close()
  await sim.close()
})

function methods (r: RouteOptions): string[] {
  return (Array.isArray(r.method) ? r.method : [r.method]).filter((m) => m !== 'HEAD')
}

/** A concrete URL for a route path: params get a value of their declared shape (a snowflake fits every one). */
function concrete (url: string): string {
  return url.replace(/:(\w+)/g, '200000000000000009')
}

function schemaPart (r: RouteOptions, part: 'querystring' | 'body'): ObjectSchema | null {
  const s = (r.schema as Record<string, unknown> | undefined)?.[part] as ObjectSchema | undefined
  return s !== undefined && s.type === 'object' ? s : null
}

describe('unknown fields on every route of the plugin', () => {
  it('found the routes of every group (auth, guilds, role mappings, users, sync, admin)', () => {
    const urls = routes.map((r) => r.url)
    for (const prefix of ['/discord/auth/', '/discord/guilds', '/discord/role-mappings', '/discord/users', '/discord/sync/', '/discord/session']) {
      expect({ prefix, found: urls.some((u) => u.startsWith(prefix)) }).toEqual({ prefix, found: true })
    }
  })

  it('every query and body object schema refuses additional properties (the callback excepted, documented)', () => {
    const open: string[] = []
    for (const r of routes) {
      for (const m of methods(r)) {
        for (const part of ['querystring', 'body'] as const) {
          const s = schemaPart(r, part)
          if (s === null || LENIENT_QUERY.has(`${m} ${r.url}`)) continue
          if (s.additionalProperties !== false) open.push(`${m} ${r.url} ${part}`)
        }
      }
    }
    expect(open).toEqual([])
  })

  it('an unknown query field is 400 FST_DISCORD_VALIDATION naming it, on every route with a query schema', async () => {
    const admin = bearer(sessionFor(t.app, 'admin-1', ['discord:admin']))
    let checked = 0
    for (const r of routes) {
      for (const m of methods(r)) {
        if (schemaPart(r, 'querystring') === null || LENIENT_QUERY.has(`${m} ${r.url}`)) continue
        const res = await t.inject({ method: m as 'GET', url: `${concrete(r.url)}?zz_unknown_field=1`, headers: admin })
        const where = `${m} ${r.url}`
        expect({ where, status: res.statusCode, code: res.json().code }).toEqual({ where, status: 400, code: 'FST_DISCORD_VALIDATION' })
        expect(res.json().message, where).toContain('zz_unknown_field')
        checked++
      }
    }
    // auth/login, users, guilds, role-mappings (two), sync runs and audit at least.
    expect(checked).toBeGreaterThanOrEqual(6)
  })

  it('an unknown body field is 400 FST_DISCORD_VALIDATION naming it, on every route with a body schema', async () => {
    const admin = bearer(sessionFor(t.app, 'admin-1', ['discord:admin']))
    let checked = 0
    for (const r of routes) {
      for (const m of methods(r)) {
        if (schemaPart(r, 'body') === null) continue
        const res = await t.inject({ method: m as 'POST', url: concrete(r.url), headers: admin, payload: { zz_unknown_field: 1 } })
        const where = `${m} ${r.url}`
        expect({ where, status: res.statusCode, code: res.json().code }).toEqual({ where, status: 400, code: 'FST_DISCORD_VALIDATION' })
        expect(res.json().message, where).toContain('zz_unknown_field')
        checked++
      }
    }
    // auth/link, guilds (create, update), role mappings (create, update, import), sync manual at least.
    expect(checked).toBeGreaterThanOrEqual(6)
  })

  it('the callback ignores parameters Discord may add, and still validates the ones it reads', async () => {
    const res = await t.inject({ method: 'GET', url: '/discord/auth/callback?state=short&guild_id=1&permissions=0' })
    expect(res.statusCode).toBe(400)
    expect(res.json()).toMatchObject({ code: 'FST_DISCORD_VALIDATION', message: expect.stringContaining('state') })
  })
})

describe('lone UTF-16 surrogates, on every route with a body schema', () => {
  const bodies: Array<[string, string]> = [
    ['a string value', '{"zz": "ok \\ud800"}'],
    ['a low surrogate alone', '{"zz": "\\udc00 ok"}'],
    ['a nested array item', '{"zz": [{"a": ["x", "\\udbff"]}]}'],
    ['an object key', '{"\\ud83d": 1}']
  ]

  it.each(bodies)('%s: 400 FST_DISCORD_VALIDATION, before any other check', async (_what, payload) => {
    const admin = bearer(sessionFor(t.app, 'admin-1', ['discord:admin']))
    let checked = 0
    for (const r of routes) {
      for (const m of methods(r)) {
        if (schemaPart(r, 'body') === null) continue
        const res = await t.inject({ method: m as 'POST', url: concrete(r.url), headers: { ...admin, 'content-type': 'application/json' }, payload })
        const where = `${m} ${r.url}`
        expect({ where, status: res.statusCode, code: res.json().code }).toEqual({ where, status: 400, code: 'FST_DISCORD_VALIDATION' })
        expect(res.json().message, where).toContain('lone surrogates')
        checked++
      }
    }
    expect(checked).toBeGreaterThanOrEqual(6)
  })

  it('a surrogate pair (an emoji) is text like any other: it reaches the route', async () => {
    const admin = bearer(sessionFor(t.app, 'admin-1', ['discord:admin']))
    // POST /auth/link refuses the redirect (not allowed), which proves the body passed validation.
    const res = await t.inject({ method: 'POST', url: '/discord/auth/link', headers: { ...admin, 'content-type': 'application/json' }, payload: '{"redirect_url": "https://app.example.test/\\ud83d\\ude80"}' })
    expect(res.json().code).toBe('FST_DISCORD_REDIRECT_NOT_ALLOWED')
  })
})
