import { createHmac } from 'node:crypto'
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Ajv, type ValidateFunction } from 'ajv'
import addFormats from 'ajv-formats'
import type { InjectOptions, LightMyRequestResponse } from 'fastify'
import { buildStandalone } from '../../examples/standalone/app.js'
import { adminUiRoot } from '../../src/admin-ui/index.js'
import { loadConfig } from '../../examples/standalone/config.js'
import { buildWorld, JWT_SECRET, type World } from '../helpers/world.js'
import { ADMIN, BOT_TOKEN, HOST, IDS } from '../sync/helpers.js'
import { deployment, FRONTEND, PREFIX } from './helpers.js'

/*
 * No bad input ever gets a 5xx. Every route the plugin registers (seen by an onRoute hook, and
 * cross-checked with the OpenAPI document) gets hostile requests as anonymous, as a user and as
 * an admin, by Bearer token and by cookie: malformed JSON, wrong content types, oversized and
 * deeply nested bodies, every body field with values of every wrong type (only values the
 * documented schema rejects), extra fields, huge, unicode and NUL strings, bad numbers,
 * invalid and traversal-ish path parameters, bad and duplicated query values, and bad
 * credentials (garbage, oversized and duplicated cookies, malformed Authorization headers,
 * JWTs signed with another secret, alg=none, expired, with wrong claims).
 *
 * For every one: status < 500; an error body has the plugin's shape with an FST_DISCORD_ code;
 * input the schema rejects is refused (4xx) at every privilege; and a refused request leaves
 * the store byte for byte as it was. Failures are collected and compared with [] at the end of
 * each group, so one run lists all of them.
 */

let w: World
let mappingId: string
let runId: string
const USER = { id: HOST.alice, permissions: [] as string[] }
/** A user with no link of their own. */
const OTHER = { id: HOST.bob, permissions: [] as string[] }
/** A well-formed id nothing is stored under: writes aimed at it can only answer 404. */
const MISSING_SNOWFLAKE = '1999999999999999999'

type OpenApiOperation = {
  parameters?: Array<{ in: string, name: string, schema: Record<string, unknown>, required?: boolean }>
  requestBody?: { content: Record<string, { schema: Record<string, unknown> }> }
}
let openapi: { paths: Record<string, Record<string, OpenApiOperation>> }

beforeAll(async () => {
  w = await buildWorld(deployment())
  // A world where every id a route can name exists: a guild with its bot, a mapping, a linked
  // user with Discord tokens, a finished run and its audit entries.
  const admin = `Bearer ${w.tokenFor(ADMIN)}`
  const guild = await w.inject({ method: 'POST', url: `${PREFIX}/guilds`, headers: { authorization: admin }, payload: { guild_id: IDS.g1, bot_token: BOT_TOKEN } })
  expect(guild.statusCode).toBe(201)
  const mapping = await w.inject({ method: 'POST', url: `${PREFIX}/guilds/${IDS.g1}/role-mappings`, headers: { authorization: admin }, payload: { group_id: 'pilots', discord_role_id: IDS.pilot } })
  expect(mapping.statusCode).toBe(201)
  mappingId = mapping.json().id
  w.sim.state.addMember(IDS.g1, IDS.alice)
  await w.app.discord.store.createUser({
    user_id: HOST.alice,
    discord_user_id: IDS.alice,
    username: 'alice',
    guilds: [{ id: IDS.g1, name: 'Alpha Guild', permissions: '0' }],
    tokens: { access_token: 'alice-access-token-0123456789', refresh_token: 'alice-refresh-token-0123456789', expires_at: new Date(Date.now() + 86_400_000), scopes: ['identify', 'guilds'] }
  })
  w.membership.set(HOST.alice, ['pilots'])
  const run = await w.inject({ method: 'POST', url: `${PREFIX}/sync/manual`, headers: { authorization: admin }, payload: { guild_id: IDS.g1, dry_run: true, wait: true } })
  expect(run.statusCode).toBe(200)
  runId = run.json().run_id
  openapi = (await w.inject({ url: `${PREFIX}/openapi.json` })).json()
}, 30_000)

afterAll(async () => { await w?.close() })

// ------------------------------------------------------------------ the routes and a valid request for each

interface Template {
  /** Valid path parameters naming stored records. */
  params?: Record<string, string>
  /** Valid-shaped parameters naming nothing stored (writes aimed there cannot change anything). */
  missing?: Record<string, string>
  query?: Record<string, string>
  /** A body the route accepts. */
  body?: Record<string, unknown>
}

/** The admin UI's static files, one GET route each (`GET /admin/js/main.js`...): the suite sends them hostile input too. */
function adminUiFileRoutes (): string[] {
  const root = adminUiRoot()
  return readdirSync(root, { recursive: true, encoding: 'utf8' })
    .filter((f) => statSync(join(root, f)).isFile())
    .map((f) => `GET /admin/${f.split('\\').join('/')}`)
}

const VENDOR_ROUTES = ['GET /admin/vendor/uPlot.esm.js', 'GET /admin/vendor/uPlot.min.css']

/** The API reference page's paths (@fastify/swagger-ui): the page, its initializer, the document it loads (JSON and YAML) and a static file. */
const DOCS_PAGE = ['GET /docs/', 'GET /docs/static/index.html', 'GET /docs/static/swagger-initializer.js', 'GET /docs/json', 'GET /docs/yaml', 'GET /docs/static/swagger-ui.css']

/*
 * The admin UI and the API reference are built on their first request (src/routes/deferred-app.ts):
 * the host's router holds one catch-all for each, which the suite expands to the paths behind it,
 * so every file and page still gets the hostile input.
 */
function deferredPaths (): Record<string, string[]> {
  return { 'GET /admin/*': ['GET /admin/', ...adminUiFileRoutes()], 'GET /docs/*': DOCS_PAGE }
}

/** One entry per route (method + Fastify URL). The suite fails if the plugin registers a route not listed here. */
function templates (): Record<string, Template> {
  const g = { guild_id: IDS.g1 }
  const noGuild = { guild_id: MISSING_SNOWFLAKE }
  return {
    'GET /status': {},
    'GET /auth/login': { query: { redirect_url: FRONTEND, scopes: 'identify guilds' } },
    'GET /auth/callback': { query: { state: 'A'.repeat(43), code: 'some-code' } },
    'POST /auth/link': { body: { redirect_url: FRONTEND, scopes: 'identify guilds' } },
    'DELETE /auth/unlink/:discord_id': { params: { discord_id: IDS.alice }, missing: { discord_id: MISSING_SNOWFLAKE } },
    'GET /auth/status': {},
    'GET /auth/token-refresh/runs': { query: { limit: '10' } },
    'GET /guilds': { query: { enabled: 'true' } },
    'POST /guilds': { body: { guild_id: IDS.g2, guild_name: 'Beta', enabled: true, bot_token: BOT_TOKEN, settings: { auto_sync: false, sync_interval: '15m', max_role_changes_per_sync: 100, audit_channel_id: IDS.channel } } },
    'GET /guilds/:guild_id': { params: g, missing: noGuild },
    'PUT /guilds/:guild_id': { params: g, missing: noGuild, body: { guild_name: 'Renamed', enabled: true, settings: { sync_interval: '30m', max_role_changes_per_sync: 50 } } },
    'DELETE /guilds/:guild_id': { params: g, missing: noGuild },
    'GET /guilds/:guild_id/role-mappings': { params: g, missing: noGuild, query: { enabled: 'true' } },
    'POST /guilds/:guild_id/role-mappings': { params: g, missing: noGuild, body: { group_id: 'staff', discord_role_id: IDS.corp, group_name: 'Staff', priority: 2, exclusive_set: 'rank', enabled: true, conditions: { require_all: true, character_count_min: 1, character_count_max: 5, required_permissions: ['fly'], excluded_groups: ['banned'] } } },
    'GET /guilds/:guild_id/role-mappings/export': { params: g, missing: noGuild },
    'POST /guilds/:guild_id/role-mappings/import': { params: g, missing: noGuild, body: { version: 1, guild_id: IDS.g1, mode: 'replace', dry_run: true, mappings: [{ group_id: 'pilots', discord_role_id: IDS.pilot, priority: 1 }] } },
    'GET /role-mappings': { query: { guild_id: IDS.g1, enabled: 'true' } },
    'GET /role-mappings/:mapping_id': { params: { mapping_id: mappingId }, missing: { mapping_id: 'no-such-mapping' } },
    'PUT /role-mappings/:mapping_id': { params: { mapping_id: mappingId }, missing: { mapping_id: 'no-such-mapping' }, body: { priority: 3, exclusive_set: null } },
    'DELETE /role-mappings/:mapping_id': { params: { mapping_id: mappingId }, missing: { mapping_id: 'no-such-mapping' } },
    'GET /users': { query: { page: '1', page_size: '20', is_active: 'true', guild_id: IDS.g1 } },
    'GET /users/:user_id': { params: { user_id: HOST.alice }, missing: { user_id: 'nobody' } },
    'POST /sync/manual': { body: { guild_id: IDS.g1, dry_run: true, wait: false } },
    'POST /sync/user/:user_id': { params: { user_id: HOST.alice }, missing: { user_id: 'nobody' } },
    // A host user with no link: accepted and queued, and the batch finds nothing to sync (no store change).
    'POST /sync/users': { body: { user_ids: ['host-user-without-link'] } },
    'GET /sync/status': {},
    'GET /sync/runs': { query: { sync_type: 'guild', status: 'completed', target_id: IDS.g1, limit: '10' } },
    'GET /sync/runs/:id': { params: { id: runId }, missing: { id: 'no-such-run' } },
    'GET /sync/audit': { query: { guild_id: IDS.g1, discord_user_id: IDS.alice, user_id: HOST.alice, run_id: runId, page: '1', page_size: '10' } },
    'GET /metrics': {},
    'POST /webhooks/events': { body: { type: 0 } },
    'GET /session': {},
    'DELETE /session': {},
    'GET /guilds/:guild_id/discord-roles': { params: g, missing: noGuild },
    'POST /guilds/:guild_id/health-check': { params: g, missing: noGuild },
    'GET /guilds/:guild_id/activity': { params: g, missing: noGuild },
    // The admin members page (src/routes/members) and the provider's group list.
    'GET /members': { query: { q: 'alice', filter: 'out_of_sync', limit: '10' } },
    'GET /members/:discord_user_id': { params: { discord_user_id: IDS.alice }, missing: { discord_user_id: MISSING_SNOWFLAKE } },
    'GET /membership/groups': {},
    'GET /openapi.json': {},
    'GET /admin': {},
    'GET /admin/': {},
    ...Object.fromEntries(adminUiFileRoutes().map((key) => [key, {}])),
    // The chart library, served from its npm package (src/admin-ui/index.ts).
    ...Object.fromEntries(VENDOR_ROUTES.map((key) => [key, {}])),
    // The API reference page (@fastify/swagger-ui).
    'GET /docs': {},
    ...Object.fromEntries(DOCS_PAGE.map((key) => [key, {}]))
  }
}

interface RouteUnderTest {
  key: string
  method: string
  /** Fastify URL without the prefix, e.g. /guilds/:guild_id */
  path: string
  template: Template
  op: OpenApiOperation | undefined
}

function openapiPath (path: string): string {
  return PREFIX + path.replace(/:([A-Za-z_]+)/g, '{$1}')
}

/** Every registered route, HEAD included (it runs the GET handler). */
function routesUnderTest (): RouteUnderTest[] {
  const table = templates()
  const seen = new Set<string>()
  const out: RouteUnderTest[] = []
  const deferred = deferredPaths()
  for (const r of w.routes) {
    if (!r.url.startsWith(PREFIX)) continue
    const registered = r.url.slice(PREFIX.length) || '/'
    const behind = deferred[`GET ${registered}`]
    for (const path of behind === undefined ? [registered] : behind.map((k) => k.slice('GET '.length))) {
      const key = `${r.method} ${path}`
      if (seen.has(key)) continue
      seen.add(key)
      const template = table[r.method === 'HEAD' ? `GET ${path}` : key]
      if (template === undefined) throw new Error(`route ${key} has no template in bad-input.test.ts: add one, so the new route is covered`)
      out.push({ key, method: r.method, path, template, op: openapi.paths[openapiPath(path)]?.[(r.method === 'HEAD' ? 'get' : r.method).toLowerCase()] })
    }
  }
  return out
}

function urlOf (route: RouteUnderTest, params: Record<string, string> | undefined, query: string): string {
  let path = route.path
  for (const [k, v] of Object.entries(params ?? {})) path = path.replace(`:${k}`, v)
  return `${PREFIX}${path}${query === '' ? '' : `?${query}`}`
}

function qs (query: Record<string, string> | undefined): string {
  return new URLSearchParams(query ?? {}).toString()
}

// ------------------------------------------------------------------ credentials

const b64url = (v: string | Buffer): string => Buffer.from(v).toString('base64url')

/** A JWT by hand (HS256 unless the header says otherwise), so the suite controls every part of it. */
function jwt (payload: Record<string, unknown>, { secret = JWT_SECRET, header = { alg: 'HS256', typ: 'JWT' } as Record<string, unknown>, signature }: { secret?: string, header?: Record<string, unknown>, signature?: string } = {}): string {
  const body = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}`
  return `${body}.${signature ?? createHmac('sha256', secret).update(body).digest('base64url')}`
}

const now = (): number => Math.floor(Date.now() / 1000)
const adminClaims = (): Record<string, unknown> => ({ sub: ADMIN.id, permissions: ADMIN.permissions, iat: now() })

/** Session tokens that must never authenticate anyone. */
function badTokens (): Record<string, string> {
  const good = w.tokenFor(ADMIN)
  return {
    'another secret': jwt(adminClaims(), { secret: 'not-the-secret-of-this-app-0123456789abcdef' }),
    'alg none': jwt(adminClaims(), { header: { alg: 'none', typ: 'JWT' }, signature: '' }),
    'alg none, no dot': `${b64url('{"alg":"none"}')}.${b64url(JSON.stringify(adminClaims()))}`,
    'alg RS256 on an HMAC signature': jwt(adminClaims(), { header: { alg: 'RS256', typ: 'JWT' } }),
    expired: jwt({ ...adminClaims(), iat: now() - 7200, exp: now() - 3600 }),
    // Signed with the app's secret, admin claims, no exp: a session that would never end.
    'no exp': jwt(adminClaims()),
    'not before the future': jwt({ ...adminClaims(), nbf: now() + 3600 }),
    'exp a string': jwt({ ...adminClaims(), exp: 'never' }),
    'sub an object': jwt({ sub: { id: 'admin-1' }, permissions: ['discord:admin'] }),
    'sub missing': jwt({ permissions: ['discord:admin'] }),
    'sub huge': jwt({ sub: 'a'.repeat(10_000), permissions: ['discord:admin'] }),
    'permissions a number': jwt({ sub: ADMIN.id, permissions: 5 }),
    'permissions objects': jwt({ sub: ADMIN.id, permissions: [{ admin: true }] }),
    'payload an array': `${b64url('{"alg":"HS256","typ":"JWT"}')}.${b64url('[1,2]')}.${createHmac('sha256', JWT_SECRET).update(`${b64url('{"alg":"HS256","typ":"JWT"}')}.${b64url('[1,2]')}`).digest('base64url')}`,
    'payload not JSON': `${b64url('{"alg":"HS256"}')}.${b64url('not json')}.sig`,
    'header not JSON': `${b64url('{alg')}.${b64url('{}')}.sig`,
    tampered: `${good.slice(0, -4)}AAAA`,
    'signature stripped': good.split('.').slice(0, 2).join('.') + '.',
    'two parts': good.split('.').slice(0, 2).join('.'),
    garbage: 'garbage',
    'non-ascii': 'ééé.ééé.ééé',
    huge: 'A'.repeat(20_000),
    empty: ''
  }
}

interface Credential { name: string, headers: Record<string, string> }

function badCredentials (): Credential[] {
  const out: Credential[] = []
  for (const [name, token] of Object.entries(badTokens())) {
    out.push({ name: `Bearer: ${name}`, headers: { authorization: `Bearer ${token}` } })
    // With the CSRF header, so a write reaches the token check.
    out.push({ name: `cookie: ${name}`, headers: { cookie: `falcon_auth_token=${encodeURIComponent(token)}`, 'x-requested-with': 'XMLHttpRequest' } })
  }
  const good = w.tokenFor(ADMIN)
  for (const [name, value] of Object.entries({
    'Authorization: Bearer alone': 'Bearer',
    'Authorization: Bearer and blanks': 'Bearer    ',
    'Authorization: Basic': `Basic ${b64url('admin:password')}`,
    'Authorization: lower-case scheme, two tokens': `bearer ${good} ${good}`,
    'Authorization: token without scheme': good,
    'Authorization: Bot token': `Bot ${BOT_TOKEN}`,
    'Authorization: comma list': `Bearer ${good}, Bearer ${good}`,
    'Authorization: latin-1 bytes': 'Bearer \u00e9\u00ff',
    'Authorization: oversized': `Bearer ${'x'.repeat(60_000)}`
  })) out.push({ name, headers: { authorization: value } })
  for (const [name, cookie] of Object.entries({
    'cookie: garbage': 'garbage',
    'cookie: only separators': ';;; = ; =;',
    'cookie: bad percent-encoding': 'falcon_auth_token=%E0%A4%A; other=%ZZ',
    'cookie: oversized': `falcon_auth_token=${'A'.repeat(60_000)}`,
    'cookie: many cookies': Array.from({ length: 500 }, (_, i) => `c${i}=${i}`).join('; '),
    'cookie: duplicated, first bad': `falcon_auth_token=bad; falcon_auth_token=${good}`,
    'cookie: duplicated, second bad': `falcon_auth_token=${good}; falcon_auth_token=bad`,
    'cookie: quoted value': 'falcon_auth_token="abc.def.ghi"',
    'cookie: NUL escaped': 'falcon_auth_token=%00%00'
  })) out.push({ name, headers: { cookie, 'x-requested-with': 'XMLHttpRequest' } })
  return out
}

// ------------------------------------------------------------------ identities

interface Identity { name: string, level: 'anonymous' | 'user' | 'admin', headers: () => Record<string, string> }
const IDENTITIES: Identity[] = [
  { name: 'anonymous', level: 'anonymous', headers: () => ({}) },
  { name: 'user (Bearer)', level: 'user', headers: () => ({ authorization: `Bearer ${w.tokenFor(USER)}` }) },
  { name: 'user (cookie)', level: 'user', headers: () => ({ cookie: `falcon_auth_token=${w.tokenFor(USER)}`, 'x-requested-with': 'XMLHttpRequest' }) },
  { name: 'admin (Bearer)', level: 'admin', headers: () => ({ authorization: `Bearer ${w.tokenFor(ADMIN)}` }) },
  { name: 'admin (cookie)', level: 'admin', headers: () => ({ cookie: `falcon_auth_token=${w.tokenFor(ADMIN)}`, 'x-requested-with': 'XMLHttpRequest' }) }
]

// ------------------------------------------------------------------ hostile values, kept only where the documented schema refuses them

const ajv = new Ajv({ strict: false, allErrors: false, validateFormats: true })
addFormats.default(ajv)
/** Query strings and path parameters arrive as text and are converted before validation. */
const ajvCoercing = new Ajv({ strict: false, allErrors: false, coerceTypes: 'array', validateFormats: true })
addFormats.default(ajvCoercing)
const compiled = new Map<string, ValidateFunction>()
/** Whether the documented schema accepts a value (coerce: as text from a URL, converted first). */
function accepts (schema: Record<string, unknown>, value: unknown, coerce = false): boolean {
  const key = `${coerce ? 'text' : 'json'}:${JSON.stringify(schema)}`
  let validate = compiled.get(key)
  if (validate === undefined) {
    validate = (coerce ? ajvCoercing : ajv).compile(schema)
    compiled.set(key, validate)
  }
  // Ajv coerces in place: validate a copy.
  return validate(structuredClone(value)) === true
}

const HUGE = 'x'.repeat(100_000)
/** JSON values of every type, strings that break patterns and bounds. */
const JSON_VALUES: unknown[] = [
  null, true, false, 0, -1, 1.5, -0.5, 1e308, -1e308, 2 ** 53 + 1, '', ' ', 'x', HUGE, '\u0000', 'a\u0000b', 'é🚀\u202e', '\ud800',
  '../../../etc/passwd', '..%2F..%2Fetc', '<script>alert(1)</script>', "'; DROP TABLE guilds; --", '1e309', 'NaN', '-1', '99999999999999999999999',
  [], [null], [1, 2], ['x', 'x'], Array.from({ length: 1000 }, (_, i) => `g${i}`), {}, { a: 1 }, { $gt: '' }, JSON.parse('{"__proto__": {"is_admin": true}}')
]
/** Text values of query strings and path parameters. */
const TEXT_VALUES: string[] = [
  '', ' ', 'NaN', 'Infinity', '-1', '0', '-0', '1.5', '1e309', '0x10', '99999999999999999999999999', 'true', 'null', 'undefined',
  'x'.repeat(5000), '\u0000', 'a\u0000b', 'é🚀\u202e', '../../etc/passwd', '..\\..\\windows', '%2e%2e%2f', '<script>', "' OR 1=1 --", '{"$gt":""}'
]
/** Raw path segments: encoded in every way a client can get wrong. */
const PATH_SEGMENTS: string[] = [
  'abc', '0', '-1', '1e30', '12345678901234567890123', 'NaN', '%00', 'a%00b', '%E0%A4%A', '%ZZ', '%25', '..', '..%2F..%2Fetc%2Fpasswd', '%2e%2e%2f%2e%2e',
  '..%5c..%5cwindows', 'x'.repeat(3000), '%F0%9F%9A%80', '%C3%A9', 'null', '%20', '1300000000000000001%0A', '123456789012345678;drop'
]

interface Variant {
  name: string
  opts: InjectOptions
  /** Input the documented schema refuses: any identity must get a 4xx. Otherwise only "no 5xx". */
  mustReject: boolean
}

function bodySchemaOf (route: RouteUnderTest): Record<string, unknown> | undefined {
  return route.op?.requestBody?.content?.['application/json']?.schema
}

function paramSchemas (route: RouteUnderTest, where: 'path' | 'query'): Array<{ name: string, schema: Record<string, unknown> }> {
  return (route.op?.parameters ?? []).filter((p) => p.in === where).map((p) => ({ name: p.name, schema: p.schema }))
}

function inputVariants (route: RouteUnderTest): Variant[] {
  const t = route.template
  const writes = !['GET', 'HEAD'].includes(route.method)
  // Writes aimed at what is stored use the valid target only where the input itself must be refused.
  const target = t.params
  const safeTarget = writes ? (t.missing ?? t.params) : t.params
  const query = qs(t.query)
  const out: Variant[] = []
  const json = (payload: unknown): InjectOptions['payload'] => JSON.stringify(payload)
  const bodySchema = bodySchemaOf(route)

  // Path parameters.
  for (const { name, schema } of paramSchemas(route, 'path')) {
    for (const seg of PATH_SEGMENTS) {
      let decoded: string | null
      try { decoded = decodeURIComponent(seg) } catch { decoded = null }
      const refused = decoded === null || !accepts(schema, decoded, true)
      out.push({
        name: `param ${name}=${seg.slice(0, 40)}`,
        opts: { method: route.method as never, url: urlOf(route, { ...safeTarget, [name]: seg }, query), ...(t.body ? { payload: json(t.body), headers: { 'content-type': 'application/json' } } : {}) },
        // ".." is resolved away by the client ("/guilds/.." is "/"): another URL, which may exist.
        mustReject: seg !== '..' && refused
      })
    }
  }

  // Query values, one parameter at a time, and duplicated keys.
  const queryParams = paramSchemas(route, 'query')
  for (const { name, schema } of queryParams) {
    for (const value of TEXT_VALUES) {
      if (accepts(schema, value, true)) continue
      out.push({ name: `query ${name}=${value.slice(0, 40)}`, opts: { method: route.method as never, url: urlOf(route, safeTarget, qs({ ...t.query, [name]: value })) }, mustReject: true })
    }
    // The extremes the schema allows (page 1,000,000 is an offset of 10^8 rows): answered, never a 5xx.
    for (const bound of [schema.minimum, schema.maximum]) {
      if (typeof bound !== 'number') continue
      out.push({ name: `query ${name}=${bound} (a bound)`, opts: { method: route.method as never, url: urlOf(route, safeTarget, qs({ ...t.query, [name]: String(bound) })) }, mustReject: false })
    }
    const dup = new URLSearchParams(t.query)
    dup.append(name, t.query?.[name] ?? 'x')
    dup.append(name, 'other')
    out.push({ name: `query ${name} twice`, opts: { method: route.method as never, url: urlOf(route, safeTarget, dup.toString()) }, mustReject: !accepts(schema, [t.query?.[name] ?? 'x', 'other'], true) })
  }
  for (const extra of ['nope=1', '__proto__=x&__proto__[admin]=1', 'constructor[prototype][admin]=1', 'hasOwnProperty=1&toString=x']) {
    out.push({ name: `query: unknown ${extra}`, opts: { method: route.method as never, url: urlOf(route, safeTarget, `${query}${query === '' ? '' : '&'}${extra}`) }, mustReject: false })
  }
  out.push({ name: 'query: malformed escapes', opts: { method: route.method as never, url: urlOf(route, safeTarget, `${query}${query === '' ? '' : '&'}%E0%A4%A=%ZZ&&&=&a[b][c]=d`) }, mustReject: false })
  out.push({ name: 'query: 2000 keys', opts: { method: route.method as never, url: urlOf(route, safeTarget, Array.from({ length: 2000 }, (_, i) => `k${i}=${i}`).join('&')) }, mustReject: queryParams.length > 0 && route.key !== 'GET /auth/callback' && route.key !== 'HEAD /auth/callback' })

  // HEAD runs the GET handler: its parameters and query are the GET's, and it has no body.
  if (route.method === 'HEAD') return out

  // Bodies that cannot be parsed, or are not JSON, or are too large: refused by every route that reads a body.
  const reads = bodySchema !== undefined
  const raw = (name: string, payload: string | Buffer, contentType: string | null, mustReject = reads): void => {
    out.push({ name: `body: ${name}`, opts: { method: route.method as never, url: urlOf(route, reads ? target : safeTarget, query), payload, headers: contentType === null ? {} : { 'content-type': contentType } }, mustReject: mustReject && writes })
  }
  const valid = JSON.stringify(t.body ?? {})
  raw('malformed JSON', '{"guild_id": ', 'application/json', writes)
  raw('truncated JSON', valid.slice(0, -1), 'application/json', writes)
  raw('JSON with a trailing comma', '{"a": 1,}', 'application/json', writes)
  raw('empty JSON body', '', 'application/json')
  raw('JSON null', 'null', 'application/json')
  raw('JSON array', '[]', 'application/json')
  raw('JSON string', '"text"', 'application/json')
  raw('JSON number', '12345', 'application/json')
  raw('__proto__ key', '{"__proto__": {"is_admin": true}, "constructor": {"prototype": {"x": 1}}}', 'application/json', writes)
  raw('deeply nested arrays', '['.repeat(50_000) + ']'.repeat(50_000), 'application/json')
  raw('deeply nested objects', '{"a":'.repeat(20_000) + '1' + '}'.repeat(20_000), 'application/json')
  // JSON.parse keeps the last of duplicated keys: the last one here is invalid, whatever the field.
  const first = Object.keys(t.body ?? {})[0] ?? 'unexpected_field'
  raw('duplicate keys, the last invalid', valid.replace(/\}$/, `${valid === '{}' ? '' : ','}"${first}":{"nested":["x"]}}`), 'application/json')
  raw('invalid UTF-8', Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0xc3, 0x28, 0x22, 0x7d]), 'application/json')
  raw('UTF-16 declared', Buffer.from(valid, 'utf16le'), 'application/json; charset=utf-16', writes)
  raw('oversized (2 MiB)', JSON.stringify({ ...t.body, pad: 'x'.repeat(2 * 1024 * 1024) }), 'application/json', writes)
  raw('text/plain', valid, 'text/plain')
  raw('form-urlencoded', 'guild_id=1&bot_token=x', 'application/x-www-form-urlencoded', writes)
  raw('multipart', '--b\r\nContent-Disposition: form-data; name="guild_id"\r\n\r\n1\r\n--b--\r\n', 'multipart/form-data; boundary=b', writes)
  raw('XML', '<guild><id>1</id></guild>', 'application/xml', writes)
  raw('JSON look-alike type', valid, 'application/jsonx', writes)
  raw('vendor JSON type', valid, 'application/vnd.api+json', writes)
  raw('content type with junk parameters', valid, 'application/json; charset=; boundary="', false)
  raw('no content type', valid, null, false)
  raw('octet-stream', Buffer.alloc(64, 0xff), 'application/octet-stream', writes)

  if (bodySchema !== undefined && t.body !== undefined) {
    const props = (bodySchema.properties ?? {}) as Record<string, Record<string, unknown>>
    const fieldVariant = (path: string[], value: unknown): void => {
      const body = structuredClone(t.body) as Record<string, unknown>
      let cursor: Record<string, unknown> = body
      for (const p of path.slice(0, -1)) {
        if (typeof cursor[p] !== 'object' || cursor[p] === null || Array.isArray(cursor[p])) cursor[p] = {}
        cursor = cursor[p] as Record<string, unknown>
      }
      cursor[path.at(-1) as string] = value
      if (accepts(bodySchema, body)) return
      const shown = typeof value === 'string' ? JSON.stringify(value.slice(0, 30)) : JSON.stringify(value)?.slice(0, 30)
      out.push({ name: `field ${path.join('.')}=${shown}`, opts: { method: route.method as never, url: urlOf(route, target, query), payload: JSON.stringify(body), headers: { 'content-type': 'application/json' } }, mustReject: true })
    }
    for (const [name, schema] of Object.entries(props)) {
      for (const value of JSON_VALUES) fieldVariant([name], value)
      // One level down (settings, conditions): every nested field too.
      const nested = (schema.properties ?? {}) as Record<string, unknown>
      for (const sub of Object.keys(nested)) for (const value of JSON_VALUES) fieldVariant([name, sub], value)
      // Array items (mappings of an import, user_ids of a sync).
      const items = schema.items as Record<string, unknown> | undefined
      if (items?.properties !== undefined) {
        for (const sub of Object.keys(items.properties as object)) {
          for (const value of JSON_VALUES) {
            const body = structuredClone(t.body) as Record<string, unknown>
            const list = Array.isArray(body[name]) ? body[name] as Array<Record<string, unknown>> : [{}]
            body[name] = [{ ...(list[0] ?? {}), [sub]: value }]
            if (accepts(bodySchema, body)) continue
            out.push({ name: `field ${name}[0].${sub}=${JSON.stringify(value)?.slice(0, 30)}`, opts: { method: route.method as never, url: urlOf(route, target, query), payload: JSON.stringify(body), headers: { 'content-type': 'application/json' } }, mustReject: true })
          }
        }
      }
    }
    // Extra fields, at the top and nested.
    fieldVariant(['unexpected_field'], 'x')
    fieldVariant(['is_admin'], true)
    fieldVariant(['toString'], 'x')
    fieldVariant(['hasOwnProperty'], 1)
    for (const [name, schema] of Object.entries(props)) if (schema.properties !== undefined) fieldVariant([name, 'unexpected_field'], 1)
    // Every field at once with its worst string.
    const all = Object.fromEntries(Object.keys(props).map((k) => [k, HUGE]))
    if (!accepts(bodySchema, all)) out.push({ name: 'every field huge', opts: { method: route.method as never, url: urlOf(route, target, query), payload: JSON.stringify(all), headers: { 'content-type': 'application/json' } }, mustReject: true })
  }
  return out
}

// ------------------------------------------------------------------ checking one answer

/**
 * Fastify's own codes that a plugin cannot turn into its own: the router raises them while it
 * decodes the URL, before any route or plugin context (and so before the plugin's error handler)
 * is chosen. Only the server's `frameworkErrors` option sees them; the standalone server maps them
 * (tested below).
 */
const FRAMEWORK_CODES = new Set(['FST_ERR_BAD_URL', 'FST_ERR_MAX_PARAM_LENGTH'])

interface Baseline { value: string, changes: number }

interface Failure { route: string, who: string, variant: string, status: number, problem: string, body: string }

function checkAnswer (res: LightMyRequestResponse, route: RouteUnderTest, mustReject: boolean): string | null {
  if (res.statusCode >= 500) return '5xx'
  if (mustReject && res.statusCode < 400) return `accepted input the schema refuses (${res.statusCode})`
  if (res.statusCode < 400 || route.method === 'HEAD') return null
  let body: Record<string, unknown>
  try { body = res.json() } catch { return 'error body is not JSON' }
  const shapeOk = body !== null && typeof body === 'object' && body.statusCode === res.statusCode &&
    typeof body.code === 'string' && typeof body.error === 'string' && typeof body.message === 'string'
  if (!shapeOk) return 'error body lacks {statusCode, code, error, message}'
  const code = body.code as string
  if (!code.startsWith('FST_DISCORD_') && !FRAMEWORK_CODES.has(code)) return `code ${code} is not FST_DISCORD_`
  if (/at .+\.(ts|js):\d+/.test(String(body.message))) return 'stack trace in the message'
  return null
}

/** Sends one hostile request and records what is wrong with the answer; returns its status and code. */
async function probe (route: RouteUnderTest, who: string, variant: Variant, baseline: Baseline, failures: Failure[]): Promise<string> {
  let res: LightMyRequestResponse
  try {
    res = await w.inject(variant.opts)
  } catch (err) {
    failures.push({ route: route.key, who, variant: variant.name, status: 0, problem: `inject threw: ${(err as Error).message}`, body: '' })
    return 'threw'
  }
  const problem = checkAnswer(res, route, variant.mustReject)
  // An accepted write may have started a sync (a POST /sync/manual whose only oddity is an unknown
  // query key): let it finish, so its writes are not charged to the next request.
  if (res.statusCode < 400 && !['GET', 'HEAD'].includes(route.method)) await settle()
  let storeProblem: string | null = null
  // Every write of the plugin goes through this connection: no change counted, nothing to compare.
  const changes = w.changes()
  if (changes !== baseline.changes) {
    baseline.changes = changes
    const after = w.snapshot()
    if (after !== baseline.value) {
      if (res.statusCode >= 400) storeProblem = 'a refused request changed the store'
      baseline.value = after
    }
  }
  for (const p of [problem, storeProblem]) {
    if (p !== null) failures.push({ route: route.key, who, variant: variant.name, status: res.statusCode, problem: p, body: res.body.slice(0, 300) })
  }
  let code: unknown
  try { code = res.json().code } catch { code = undefined }
  return `${res.statusCode} ${typeof code === 'string' ? code : ''}`.trim()
}

/** Waits until no sync run is in progress (at most 10 s), on each run's own completion. */
async function settle (): Promise<void> {
  const engine = w.app.discord.sync.engine
  const deadline = Date.now() + 10_000
  for (let status = await engine.status(); status.sync_in_progress; status = await engine.status()) {
    for (const { run } of status.current_runs) {
      const left = deadline - Date.now()
      const done = left > 0 ? await engine.waitFor(run.id, left) : null
      if (done === null || done.status === 'running') throw new Error(`sync run ${run.id}, started by an accepted request, did not finish within 10 s`)
    }
  }
}

function summary (failures: Failure[]): string[] {
  return failures.map((f) => `${f.route} [${f.who}] ${f.variant} -> ${f.status}: ${f.problem} ${f.body}`)
}

// ------------------------------------------------------------------ the suites

describe('every route the plugin registers', () => {
  it('is enumerated: onRoute saw every route, each has a template, and every operation of the OpenAPI document is one of them', () => {
    const routes = routesUnderTest()
    const registered = new Set(routes.map((r) => r.key))
    // Every documented operation is a registered route...
    for (const [path, ops] of Object.entries(openapi.paths)) {
      for (const method of Object.keys(ops)) {
        const fastifyPath = path.slice(PREFIX.length).replace(/\{([A-Za-z_]+)\}/g, ':$1')
        expect(registered.has(`${method.toUpperCase()} ${fastifyPath}`), `${method} ${path}`).toBe(true)
      }
    }
    // The undocumented ones are the UI's static files, the document itself, the API reference page, and HEAD twins.
    const undocumented = routes.filter((r) => r.method !== 'HEAD' && r.op === undefined).map((r) => r.key).sort()
    const uiFiles = adminUiFileRoutes()
    expect(uiFiles).toEqual(expect.arrayContaining(['GET /admin/index.html', 'GET /admin/app.css', 'GET /admin/js/main.js', 'GET /admin/js/pages/overview.js']))
    expect(undocumented).toEqual(['GET /admin', 'GET /admin/', ...uiFiles, ...VENDOR_ROUTES, 'GET /docs', ...DOCS_PAGE, 'GET /openapi.json'].sort())
  })
})

describe('hostile credentials, on every route', () => {
  it('never a 5xx, always the error shape, never authenticated, never a store change', async () => {
    const failures: Failure[] = []
    const baseline = { value: w.snapshot(), changes: w.changes() }
    let count = 0
    for (const route of routesUnderTest()) {
      const t = route.template
      const writes = !['GET', 'HEAD'].includes(route.method)
      const url = urlOf(route, writes ? (t.missing ?? t.params) : t.params, qs(t.query))
      const isPublic = route.op === undefined || !('security' in (route.op as object))
      for (const cred of badCredentials()) {
        const payload = t.body === undefined ? {} : { payload: JSON.stringify(t.body) }
        const headers = { ...cred.headers, ...(t.body === undefined ? {} : { 'content-type': 'application/json' }) }
        // A protected route must refuse every one of them; public ones may answer as anonymous.
        // (Of two cookies of the same name the first counts: a valid one first is a valid session.)
        const mustReject = !isPublic && cred.name !== 'cookie: duplicated, second bad'
        await probe(route, cred.name, { name: cred.name, opts: { method: route.method as never, url, headers, ...payload }, mustReject }, baseline, failures)
        count++
      }
    }
    expect(summary(failures)).toEqual([])
    expect(count).toBeGreaterThan(2000)
  }, 120_000)
})

describe('hostile input, on every route, as anonymous, a user and an admin', () => {
  for (const identity of IDENTITIES) {
    it(`${identity.name}: never a 5xx, always the error shape, refused input changes nothing`, async () => {
      const failures: Failure[] = []
      const baseline = { value: w.snapshot(), changes: w.changes() }
      const answers = new Map<string, number>()
      for (const route of routesUnderTest()) {
        for (const variant of inputVariants(route)) {
          const opts = { ...variant.opts, headers: { ...identity.headers(), ...(variant.opts.headers as Record<string, string> | undefined) } }
          const answer = await probe(route, identity.name, { ...variant, opts }, baseline, failures)
          answers.set(answer, (answers.get(answer) ?? 0) + 1)
        }
      }
      expect(summary(failures)).toEqual([])
      expect([...answers.values()].reduce((a, b) => a + b, 0)).toBeGreaterThan(3000)
      // The variants reach every layer that can refuse them, at this privilege.
      const expected = {
        anonymous: ['401 FST_DISCORD_AUTH_REQUIRED', '400 FST_DISCORD_VALIDATION', '404 FST_DISCORD_NOT_FOUND', '400 FST_ERR_BAD_URL', '414 FST_ERR_MAX_PARAM_LENGTH'],
        user: ['403 FST_DISCORD_FORBIDDEN', '400 FST_DISCORD_VALIDATION', '413 FST_DISCORD_PAYLOAD_TOO_LARGE', '415 FST_DISCORD_UNSUPPORTED_MEDIA_TYPE'],
        admin: ['400 FST_DISCORD_VALIDATION', '404 FST_DISCORD_NOT_FOUND', '413 FST_DISCORD_PAYLOAD_TOO_LARGE', '415 FST_DISCORD_UNSUPPORTED_MEDIA_TYPE']
      }[identity.level]
      for (const answer of expected) expect(answers.has(answer), `${answer} among ${[...answers.keys()].join(', ')}`).toBe(true)
    }, 300_000)
  }
})

describe('paths under the prefix that no route matches', () => {
  it('answer 404 FST_DISCORD_NOT_FOUND without echoing the query; the host\'s own 404s stay the host\'s', async () => {
    const host = await buildWorld({ sim: false })
    const bare = await buildWorld({ sim: false, plugin: { routePrefix: '', auth: { jwtSecret: undefined } } })
    try {
      for (const url of [`${PREFIX}/nope`, `${PREFIX}/guilds/1/nope`, `${PREFIX}`, `${PREFIX}/admin/missing.js`]) {
        const res = await host.inject({ url: `${url}?code=secret-code&state=secret-state` })
        expect(res.statusCode, url).toBe(404)
        expect(res.json(), url).toEqual({ statusCode: 404, code: 'FST_DISCORD_NOT_FOUND', error: 'Not Found', message: `Route GET ${url} not found` })
      }
      // A method the route does not have.
      expect((await host.inject({ method: 'PATCH', url: `${PREFIX}/guilds/${IDS.g1}` })).json().code).toBe('FST_DISCORD_NOT_FOUND')
      // Outside the prefix, and with no prefix at all, Fastify's (or the host's) handler answers.
      for (const [app, url] of [[host, '/elsewhere'], [host, `${PREFIX}x`], [bare, '/elsewhere']] as const) {
        const res = await app.inject({ url })
        expect(res.statusCode, url).toBe(404)
        expect(res.json().code, url).toBeUndefined()
      }
    } finally {
      await host.close()
      await bare.close()
    }
  })
})

describe('the router\'s own URL errors', () => {
  it('reach a bare host as documented Fastify codes; the standalone server answers them in the plugin\'s shape', async () => {
    const bad = { url: `${PREFIX}/guilds/%E0%A4%A?code=secret-code`, long: `${PREFIX}/guilds/${'1'.repeat(200)}` }
    expect((await w.inject({ url: bad.url })).json()).toMatchObject({ statusCode: 400, code: 'FST_ERR_BAD_URL' })
    expect((await w.inject({ url: bad.long })).json()).toMatchObject({ statusCode: 414, code: 'FST_ERR_MAX_PARAM_LENGTH' })

    const dir = mkdtempSync(join(tmpdir(), 'discord-standalone-urls-'))
    const standalone = await buildStandalone(loadConfig({ HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'silent', DISCORD_DEMO: '1', DISCORD_DB_PATH: join(dir, 'demo.sqlite') }))
    try {
      await standalone.ready()
      const answers = await Promise.all([bad.url, bad.long].map(async (url) => (await standalone.inject({ url: `/api${url}` })).json()))
      expect(answers).toEqual([
        { statusCode: 400, code: 'FST_DISCORD_VALIDATION', error: 'Bad Request', message: 'Invalid params: a path segment is not valid percent-encoding' },
        { statusCode: 400, code: 'FST_DISCORD_VALIDATION', error: 'Bad Request', message: 'Invalid params: a path segment is longer than 100 characters' }
      ])
      expect((await standalone.inject({ url: '/api/discord/status' })).statusCode).toBe(200)
    } finally {
      await standalone.close()
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe('numbers and booleans in a URL', () => {
  it('are read only as written: "1e2", "1.5", "0x10" and "true" are not the integer 1 or 16, "0" and "1" not booleans', async () => {
    const admin = { authorization: `Bearer ${w.tokenFor(ADMIN)}` }
    const read = async (query: string): Promise<{ status: number, body: Record<string, unknown> }> => {
      const res = await w.inject({ url: `${PREFIX}/users?${query}`, headers: admin })
      return { status: res.statusCode, body: res.json() }
    }
    for (const query of ['page=1e2', 'page=1.5', 'page=0x10', 'page=true', 'page=%202', 'page=+2', 'page_size=99999999999999999', 'is_active=0', 'is_active=1', 'is_active=TRUE']) {
      const { status, body } = await read(query)
      expect({ query, status, code: body.code }).toEqual({ query, status: 400, code: 'FST_DISCORD_VALIDATION' })
      expect(body.message).toMatch(/^Invalid querystring: \/(page|page_size|is_active) Expected (an integer written in decimal digits|true or false)$/)
    }
    expect(await read('page=2&page_size=5&is_active=false')).toMatchObject({ status: 200, body: { page: 2, page_size: 5 } })
  })
})

describe('input the schema allows but the store or Discord refuses', () => {
  interface Case { name: string, as: 'anonymous' | 'user' | 'other' | 'admin', method: string, url: () => string, body?: unknown, status: number, code: string, headers?: () => Record<string, string> }
  const g = `${PREFIX}/guilds/${IDS.g1}`
  const CASES: Case[] = [
    { name: 'a bot token Discord never issued', as: 'admin', method: 'POST', url: () => `${PREFIX}/guilds`, body: { guild_id: IDS.g2, bot_token: 'MTEwMDAwMDAwMDAwMDAwMDAwOQ.Gnone1.never-issued-token-value' }, status: 422, code: 'FST_DISCORD_BOT_TOKEN_INVALID' },
    { name: 'a guild Discord does not know', as: 'admin', method: 'POST', url: () => `${PREFIX}/guilds`, body: { guild_id: MISSING_SNOWFLAKE, bot_token: BOT_TOKEN }, status: 422, code: 'FST_DISCORD_GUILD_UNKNOWN' },
    { name: 'a guild configured twice', as: 'admin', method: 'POST', url: () => `${PREFIX}/guilds`, body: { guild_id: IDS.g1, guild_name: 'Again' }, status: 409, code: 'FST_DISCORD_CONFLICT' },
    { name: 'a guild without a token or a name', as: 'admin', method: 'POST', url: () => `${PREFIX}/guilds`, body: { guild_id: IDS.g2 }, status: 400, code: 'FST_DISCORD_VALIDATION' },
    { name: 'a new bot token Discord rejects', as: 'admin', method: 'PUT', url: () => g, body: { bot_token: 'MTEwMDAwMDAwMDAwMDAwMDAwOQ.Gnone1.never-issued-token-value' }, status: 422, code: 'FST_DISCORD_BOT_TOKEN_INVALID' },
    { name: 'a sync interval out of range', as: 'admin', method: 'PUT', url: () => g, body: { settings: { sync_interval: '10s' } }, status: 400, code: 'FST_DISCORD_VALIDATION' },
    { name: 'a guild nobody configured', as: 'admin', method: 'PUT', url: () => `${PREFIX}/guilds/${MISSING_SNOWFLAKE}`, body: { guild_name: 'x' }, status: 404, code: 'FST_DISCORD_NOT_FOUND' },
    { name: 'a role that does not exist', as: 'admin', method: 'POST', url: () => `${g}/role-mappings`, body: { group_id: 'ghosts', discord_role_id: MISSING_SNOWFLAKE }, status: 422, code: 'FST_DISCORD_ROLE_NOT_FOUND' },
    { name: 'a role above the bot', as: 'admin', method: 'POST', url: () => `${g}/role-mappings`, body: { group_id: 'admins', discord_role_id: IDS.admins }, status: 422, code: 'FST_DISCORD_ROLE_ABOVE_BOT' },
    { name: 'an integration-managed role', as: 'admin', method: 'POST', url: () => `${g}/role-mappings`, body: { group_id: 'boosters', discord_role_id: IDS.booster }, status: 422, code: 'FST_DISCORD_ROLE_MANAGED' },
    { name: '@everyone', as: 'admin', method: 'POST', url: () => `${g}/role-mappings`, body: { group_id: 'all', discord_role_id: IDS.g1 }, status: 422, code: 'FST_DISCORD_ROLE_EVERYONE' },
    { name: 'a mapping that exists', as: 'admin', method: 'POST', url: () => `${g}/role-mappings`, body: { group_id: 'pilots', discord_role_id: IDS.pilot }, status: 409, code: 'FST_DISCORD_CONFLICT' },
    { name: 'a mapping in an unconfigured guild', as: 'admin', method: 'POST', url: () => `${PREFIX}/guilds/${MISSING_SNOWFLAKE}/role-mappings`, body: { group_id: 'x', discord_role_id: IDS.pilot }, status: 404, code: 'FST_DISCORD_NOT_FOUND' },
    { name: 'moving a mapping above the bot', as: 'admin', method: 'PUT', url: () => `${PREFIX}/role-mappings/${mappingId}`, body: { discord_role_id: IDS.admins }, status: 422, code: 'FST_DISCORD_ROLE_ABOVE_BOT' },
    { name: 'an import with one bad entry (nothing written)', as: 'admin', method: 'POST', url: () => `${g}/role-mappings/import`, body: { version: 1, mode: 'replace', mappings: [{ group_id: 'a', discord_role_id: IDS.corp }, { group_id: 'b', discord_role_id: IDS.admins }] }, status: 422, code: 'FST_DISCORD_IMPORT_INVALID' },
    { name: 'an import for another guild', as: 'admin', method: 'POST', url: () => `${g}/role-mappings/import`, body: { version: 1, guild_id: IDS.g2, mappings: [] }, status: 400, code: 'FST_DISCORD_VALIDATION' },
    { name: 'an import of the same pair twice', as: 'admin', method: 'POST', url: () => `${g}/role-mappings/import`, body: { version: 1, mappings: [{ group_id: 'a', discord_role_id: IDS.corp }, { group_id: 'a', discord_role_id: IDS.corp }] }, status: 422, code: 'FST_DISCORD_IMPORT_INVALID' },
    { name: 'a sync of an unconfigured guild', as: 'admin', method: 'POST', url: () => `${PREFIX}/sync/manual`, body: { guild_id: MISSING_SNOWFLAKE }, status: 404, code: 'FST_DISCORD_NOT_FOUND' },
    { name: 'a sync of an unknown mapping', as: 'admin', method: 'POST', url: () => `${PREFIX}/sync/manual`, body: { mapping_id: 'no-such-mapping' }, status: 404, code: 'FST_DISCORD_NOT_FOUND' },
    { name: 'a user sync of someone never linked', as: 'admin', method: 'POST', url: () => `${PREFIX}/sync/user/nobody`, status: 404, code: 'FST_DISCORD_USER_NOT_LINKED' },
    { name: 'a user syncing someone else', as: 'user', method: 'POST', url: () => `${PREFIX}/sync/user/${HOST.bob}`, status: 403, code: 'FST_DISCORD_FORBIDDEN' },
    { name: 'a user reading someone else\'s audit', as: 'user', method: 'GET', url: () => `${PREFIX}/sync/audit?user_id=${HOST.bob}`, status: 403, code: 'FST_DISCORD_FORBIDDEN' },
    { name: 'a user reading someone else\'s links', as: 'user', method: 'GET', url: () => `${PREFIX}/users/${HOST.bob}`, status: 403, code: 'FST_DISCORD_FORBIDDEN' },
    { name: 'a user unlinking an account that is not theirs', as: 'user', method: 'DELETE', url: () => `${PREFIX}/auth/unlink/${IDS.bob}`, status: 404, code: 'FST_DISCORD_NOT_FOUND' },
    { name: 'an unlink of an account never linked', as: 'admin', method: 'DELETE', url: () => `${PREFIX}/auth/unlink/${MISSING_SNOWFLAKE}`, status: 404, code: 'FST_DISCORD_NOT_FOUND' },
    // Linked, to someone else: the same answer as linked to no one, so ids cannot be probed.
    { name: 'a user unlinking an account linked to another user', as: 'other', method: 'DELETE', url: () => `${PREFIX}/auth/unlink/${IDS.alice}`, status: 404, code: 'FST_DISCORD_NOT_FOUND' },
    { name: 'a user unlinking an id linked to no one', as: 'other', method: 'DELETE', url: () => `${PREFIX}/auth/unlink/${MISSING_SNOWFLAKE}`, status: 404, code: 'FST_DISCORD_NOT_FOUND' },
    { name: 'a redirect over 512 characters', as: 'anonymous', method: 'GET', url: () => `${PREFIX}/auth/login?redirect_url=${encodeURIComponent(`${FRONTEND}?q=${'x'.repeat(513 - FRONTEND.length - 3)}`)}`, status: 400, code: 'FST_DISCORD_VALIDATION' },
    { name: 'an allowed scope the deployment does not ask for', as: 'anonymous', method: 'GET', url: () => `${PREFIX}/auth/login?scopes=identify+email`, status: 400, code: 'FST_DISCORD_SCOPE_NOT_ALLOWED' },
    { name: 'a lone surrogate in a JSON body', as: 'admin', method: 'PUT', url: () => g, body: '{"guild_name": "Alpha \\ud800"}', status: 400, code: 'FST_DISCORD_VALIDATION' },
    { name: 'a redirect to another site', as: 'anonymous', method: 'GET', url: () => `${PREFIX}/auth/login?redirect_url=${encodeURIComponent('https://evil.example/done')}`, status: 400, code: 'FST_DISCORD_REDIRECT_NOT_ALLOWED' },
    { name: 'a redirect with credentials in it', as: 'anonymous', method: 'GET', url: () => `${PREFIX}/auth/login?redirect_url=${encodeURIComponent('https://user:pw@app.example.test/done')}`, status: 400, code: 'FST_DISCORD_REDIRECT_NOT_ALLOWED' },
    { name: 'a scope the plugin never asks for', as: 'anonymous', method: 'GET', url: () => `${PREFIX}/auth/login?scopes=identify+bot`, status: 400, code: 'FST_DISCORD_SCOPE_NOT_ALLOWED' },
    { name: 'a forged OAuth state', as: 'anonymous', method: 'GET', url: () => `${PREFIX}/auth/callback?state=${'Z'.repeat(43)}&code=abc`, status: 400, code: 'FST_DISCORD_OAUTH_STATE_UNKNOWN' },
    { name: 'a callback with neither code nor error', as: 'anonymous', method: 'GET', url: () => `${PREFIX}/auth/callback?state=${'Z'.repeat(43)}`, status: 400, code: 'FST_DISCORD_OAUTH_CODE_MISSING' },
    { name: 'a link completed with a forged state', as: 'user', method: 'POST', url: () => `${PREFIX}/auth/link`, body: { code: 'abc', state: 'Y'.repeat(43) }, status: 400, code: 'FST_DISCORD_OAUTH_STATE_UNKNOWN' },
    { name: 'a cookie write without the CSRF proof', as: 'admin', method: 'POST', url: () => `${PREFIX}/guilds`, body: 'guild_id=1', status: 403, code: 'FST_DISCORD_CSRF_HEADER_REQUIRED', headers: () => ({ cookie: `falcon_auth_token=${w.tokenFor(ADMIN)}`, 'content-type': 'text/plain' }) },
    { name: 'a sign-out without the CSRF proof', as: 'anonymous', method: 'DELETE', url: () => `${PREFIX}/session`, status: 403, code: 'FST_DISCORD_CSRF_HEADER_REQUIRED' },
    { name: 'the roles of an unconfigured guild', as: 'admin', method: 'GET', url: () => `${PREFIX}/guilds/${MISSING_SNOWFLAKE}/discord-roles`, status: 404, code: 'FST_DISCORD_NOT_FOUND' },
    { name: 'a health check of an unconfigured guild', as: 'admin', method: 'POST', url: () => `${PREFIX}/guilds/${MISSING_SNOWFLAKE}/health-check`, status: 404, code: 'FST_DISCORD_NOT_FOUND' },
    { name: 'a run that does not exist', as: 'admin', method: 'GET', url: () => `${PREFIX}/sync/runs/no-such-run`, status: 404, code: 'FST_DISCORD_NOT_FOUND' }
  ]

  it('answers each with its 4xx and stable code, and writes nothing', async () => {
    const answers: Array<{ name: string, status: number, code: unknown }> = []
    const before = w.snapshot()
    for (const c of CASES) {
      const auth = c.as === 'anonymous' ? {} : { authorization: `Bearer ${w.tokenFor(c.as === 'admin' ? ADMIN : c.as === 'other' ? OTHER : USER)}` }
      const headers = c.headers?.() ?? { ...auth, ...(c.body === undefined ? {} : { 'content-type': 'application/json' }) }
      const res = await w.inject({ method: c.method as never, url: c.url(), headers, ...(c.body === undefined ? {} : { payload: typeof c.body === 'string' ? c.body : JSON.stringify(c.body) }) })
      answers.push({ name: c.name, status: res.statusCode, code: res.json().code })
    }
    expect(answers).toEqual(CASES.map((c) => ({ name: c.name, status: c.status, code: c.code })))
    expect(w.snapshot()).toBe(before)
  })
})

describe('what only the wire shows (real HTTP, not inject)', () => {
  /** One raw request on its own socket; the answer's status line and body. */
  async function raw (port: number, request: string): Promise<{ status: number, body: string }> {
    return await new Promise((resolve, reject) => {
      const socket = connect(port, '127.0.0.1')
      let data = ''
      socket.setEncoding('latin1')
      socket.on('data', (chunk: string) => { data += chunk })
      socket.on('error', reject)
      socket.on('close', () => {
        const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(data)?.[1] ?? 0)
        resolve({ status, body: data.split('\r\n\r\n').slice(1).join('\r\n\r\n') })
      })
      socket.end(request)
    })
  }

  it('malformed request lines, headers and lengths answer 4xx (Node\'s parser or Fastify\'s client error handler), never 5xx', async () => {
    const address = await w.app.listen({ host: '127.0.0.1', port: 0 })
    const port = Number(new URL(address).port)
    const admin = w.tokenFor(ADMIN)
    const host = `Host: 127.0.0.1:${port}\r\nConnection: close\r\n`
    const cases: Record<string, string> = {
      'percent-encoding broken in the path': `GET ${PREFIX}/guilds/%E0%A4%A HTTP/1.1\r\n${host}Authorization: Bearer ${admin}\r\n\r\n`,
      'raw non-ASCII bytes in the path': `GET ${PREFIX}/guilds/\u00e9\u00ff HTTP/1.1\r\n${host}Authorization: Bearer ${admin}\r\n\r\n`,
      'header section over 16 KiB': `GET ${PREFIX}/status HTTP/1.1\r\n${host}Cookie: falcon_auth_token=${'A'.repeat(20_000)}\r\n\r\n`,
      'Content-Length not a number': `POST ${PREFIX}/guilds HTTP/1.1\r\n${host}Authorization: Bearer ${admin}\r\nContent-Type: application/json\r\nContent-Length: abc\r\n\r\n{}`,
      'two different Content-Lengths': `POST ${PREFIX}/guilds HTTP/1.1\r\n${host}Authorization: Bearer ${admin}\r\nContent-Type: application/json\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}`,
      'Content-Length and chunked together': `POST ${PREFIX}/guilds HTTP/1.1\r\n${host}Authorization: Bearer ${admin}\r\nContent-Type: application/json\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n{}`,
      'header line without a colon': `GET ${PREFIX}/status HTTP/1.1\r\n${host}this is not a header\r\n\r\n`,
      'NUL byte in a header value': `GET ${PREFIX}/session HTTP/1.1\r\n${host}Cookie: falcon_auth_token=a\u0000b\r\n\r\n`
    }
    const before = w.snapshot()
    const answers: Record<string, number> = {}
    for (const [name, request] of Object.entries(cases)) answers[name] = (await raw(port, request)).status
    for (const [name, status] of Object.entries(answers)) {
      expect(status, name).toBeGreaterThanOrEqual(400)
      expect(status, name).toBeLessThan(500)
    }
    expect(w.snapshot()).toBe(before)
  })
})
