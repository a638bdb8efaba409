import { afterEach, describe, expect, it } from 'vitest'
import { buildWorld, type World } from '../helpers/world.js'

/*
 * Issue 15.4: the API reference page at {prefix}/docs, rendered by @fastify/swagger-ui from the
 * OpenAPI document the plugin builds (the same one GET /openapi.json answers), linked from the
 * admin UI, and removed by `apiDocs: false`.
 */

let t: World | undefined
afterEach(async () => { await t?.close(); t = undefined })

describe('API reference page', () => {
  it('answers HTML at /discord/docs/ whose page loads the plugin\'s own OpenAPI document', async () => {
    t = await buildWorld({ sim: false })
    const page = await t.app.inject({ url: '/discord/docs/' })
    expect(page.statusCode).toBe(200)
    expect(page.headers['content-type']).toMatch(/^text\/html/)
    expect(page.body).toContain('swagger-ui')

    // The page's initializer names the document it loads; it must be the plugin's.
    const init = await t.app.inject({ url: '/discord/docs/static/swagger-initializer.js' })
    expect(init.statusCode).toBe(200)
    // swagger-ui resolves it against the page's URL with a trailing slash (/discord/docs/).
    const url = /\burl: resolveUrl\('([^']+)'\)/.exec(init.body)?.[1]
    expect(url).toBeDefined()
    const loaded = await t.app.inject({ url: new URL(url as string, 'http://h/discord/docs/').pathname })
    expect(loaded.statusCode).toBe(200)
    const doc = loaded.json()
    expect(doc).toEqual((await t.app.inject({ url: '/discord/openapi.json' })).json())
    expect(doc.info.title).toBe('fastify-discord-sync')
    expect(Object.keys(doc.paths)).toContain('/discord/status')
    // The reference describes the plugin, not its own page.
    expect(Object.keys(doc.paths).some((p) => p.startsWith('/discord/docs'))).toBe(false)
  })

  it('serves its assets from the package, with no request to another origin', async () => {
    t = await buildWorld({ sim: false })
    const page = await t.app.inject({ url: '/discord/docs/' })
    const assets = [...page.body.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1] as string)
    expect(assets.length).toBeGreaterThan(0)
    for (const a of assets) {
      expect(a).not.toMatch(/^(https?:)?\/\//)
      const res = await t.app.inject({ url: new URL(a, 'http://h/discord/docs/').pathname })
      expect(res.statusCode, a).toBe(200)
    }
    const init = await t.app.inject({ url: '/discord/docs/static/swagger-initializer.js' })
    expect(init.body).toContain('validatorUrl')
    expect(init.headers['content-security-policy'] ?? page.headers['content-security-policy']).not.toContain('upgrade-insecure-requests')
  })

  it('sends /discord/docs to /discord/docs/ (relative Location, query kept), whose page links its assets relatively', async () => {
    t = await buildWorld({ sim: false })
    for (const [url, location] of [['/discord/docs', 'docs/'], ['/discord/docs?x=1', 'docs/?x=1']] as const) {
      for (const method of ['GET', 'HEAD'] as const) {
        const res = await t.app.inject({ method, url })
        expect(res.statusCode, `${method} ${url}`).toBe(302)
        expect(res.headers.location).toBe(location)
      }
    }
    const page = await t.app.inject({ url: new URL('docs/', 'http://h/discord/docs').pathname })
    expect(page.statusCode).toBe(200)
    // At /discord/docs itself the page linked /docs/static/..., outside the plugin's prefix.
    expect(page.body).not.toMatch(/(src|href)="\/docs\//)
  })

  it('serves /discord/docs/ to a host whose router ignores trailing slashes (no redirect loop)', async () => {
    t = await buildWorld({ sim: false, fastify: { routerOptions: { ignoreTrailingSlash: true } } })
    const page = await t.app.inject({ url: '/discord/docs/' })
    expect(page.statusCode).toBe(200)
    expect(page.body).toContain('swagger-ui')
    expect((await t.app.inject({ url: '/discord/docs' })).headers.location).toBe('docs/')
  })

  it('is gone with apiDocs: false (404), while the JSON document stays', async () => {
    t = await buildWorld({ sim: false, plugin: { apiDocs: false } })
    expect((await t.app.inject({ url: '/discord/docs' })).statusCode).toBe(404)
    expect((await t.app.inject({ url: '/discord/docs/json' })).statusCode).toBe(404)
    expect((await t.app.inject({ url: '/discord/openapi.json' })).statusCode).toBe(200)
  })

  it('is gone with openapi: false (there is no document to render)', async () => {
    t = await buildWorld({ sim: false, plugin: { openapi: false } })
    expect((await t.app.inject({ url: '/discord/docs' })).statusCode).toBe(404)
  })

  it('is linked from the admin UI', async () => {
    t = await buildWorld({ sim: false, plugin: { adminUi: true } })
    const ui = await t.app.inject({ url: '/discord/admin/' })
    expect(ui.statusCode).toBe(200)
    const href = /<a href="([^"]+)" id="api-docs-link">/.exec(ui.body)?.[1]
    expect(href).toBeDefined()
    expect((await t.app.inject({ url: new URL(href as string, 'http://h/discord/admin/').pathname })).statusCode).toBe(200)
  })
})
