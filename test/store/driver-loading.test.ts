import { execFile } from 'node:child_process'
import { cpSync, mkdirSync, rmSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { promisify } from 'node:util'
import { build, type Options } from 'tsup'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { packageBuild } from '../../tsup.config.js'

/*
 * A host on one backend must never load the other backend's driver: a SQLite-only host
 * may not even have `mongodb` installed, and a MongoDB host should not pay for the native
 * SQLite module. Source-level laziness is not enough: the published bundle is what runs,
 * and a bundler hoists a lazily imported module's static imports to the top of an ESM
 * bundle. So this builds the package root with the project's own tsup settings, runs it
 * in a fresh Node process per format, and asks Node's module cache what was loaded.
 */

const exec = promisify(execFile)
const root = resolve(import.meta.dirname, '../..')
// Inside the project (and git-ignored), so the bundle resolves node_modules as dist/ does.
const outDir = join(root, 'test-results', `driver-loading-${process.pid}`)

interface Loaded { mongodb: boolean, sqlite: boolean, redis: boolean }
interface Report { atImport: Loaded, afterStore: Loaded | null, storeError?: string, heavyAfterReady?: Record<string, boolean> }

/** The script each child runs: import the bundle, report, optionally build a store, report again. */
type Backend = 'none' | 'sqlite' | 'mongodb' | 'plugin-sqlite' | 'plugin-redis'

function script (format: 'esm' | 'cjs', backend: Backend): string {
  const file = join(outDir, format === 'esm' ? 'index.js' : 'index.cjs')
  const load = format === 'esm'
    ? `const { createRequire } = await import('node:module'); const req = createRequire(${JSON.stringify(pathToFileURL(file).href)}); const pkg = await import(${JSON.stringify(pathToFileURL(file).href)})`
    : `const req = require; const pkg = require(${JSON.stringify(file)})`
  const store = backend === 'sqlite'
    ? "{ type: 'sqlite', path: ':memory:' }"
    // Port 9 (discard) refuses quickly: the store is built, the driver loaded, init fails.
    : "{ type: 'mongodb', uri: 'mongodb://127.0.0.1:9/?serverSelectionTimeoutMS=200', dbName: 'driver_loading' }"
  return `(async () => {
    ${load}
    // Driver modules are CommonJS, so Node's CommonJS cache lists them however they were reached.
    const loaded = () => {
      const files = Object.keys(req.cache)
      return {
        mongodb: files.some((f) => /[\\\\/]node_modules[\\\\/]mongodb[\\\\/]/.test(f)),
        sqlite: files.some((f) => /[\\\\/]node_modules[\\\\/]better-sqlite3[\\\\/]/.test(f)),
        redis: files.some((f) => /[\\\\/]node_modules[\\\\/]ioredis[\\\\/]/.test(f))
      }
    }
    // Libraries the plugin loads on first use only (issue 16, part 4), CommonJS like the drivers.
    const heavy = () => {
      const files = Object.keys(req.cache)
      const has = (name) => files.some((f) => f.split(/[\\/]/).join('/').includes('/node_modules/' + name + '/'))
      return { oauth2: has('@fastify/oauth2'), simpleOauth2: has('simple-oauth2'), undici: has('undici'), discordApiTypes: has('discord-api-types') }
    }
    // Built on the first request of the admin UI, the API reference or the OpenAPI document; prom-client's index never.
    const pages = () => {
      const files = Object.keys(req.cache).map((f) => f.split(/[\\/]/).join('/'))
      const has = (name) => files.some((f) => f.includes('/node_modules/' + name + '/'))
      return { static: has('@fastify/static'), swagger: has('@fastify/swagger'), swaggerUi: has('@fastify/swagger-ui'), yaml: has('yaml'), promClientIndex: files.some((f) => f.endsWith('/node_modules/prom-client/index.js')), openTelemetry: has('@opentelemetry/api') }
    }
    const report = { atImport: loaded(), afterStore: null }
    if (${JSON.stringify(backend)}.startsWith('plugin-')) {
      // The whole plugin on SQLite, with or without a Redis URL (port 9: nothing answers, the plugin degrades).
      try {
        const Fastify = req('fastify')
        const app = Fastify()
        await app.register(pkg.default, { adminUi: true, store: { type: 'sqlite', path: ':memory:' }, encryptionKey: pkg.generateKey(), auth: { jwtSecret: 'driver-loading-jwt-secret-of-32-chars-or-more' }, discord: { clientId: '900000000000000001', clientSecret: 'driver-loading-secret', redirectUri: 'http://127.0.0.1:9/discord/auth/callback' }, ${backend === 'plugin-redis' ? "redis: 'redis://127.0.0.1:9'" : ''} })
        await app.ready()
        report.afterStore = loaded()
        report.heavyAfterReady = heavy()
        report.pagesAfterReady = pages()
        // The first login start loads @fastify/oauth2 (so the probe above can see it).
        const login = await app.inject({ url: '/discord/auth/login' })
        if (login.statusCode !== 200) throw new Error('login start answered ' + login.statusCode + ': ' + login.body)
        report.heavyAfterLogin = heavy()
        for (const url of ['/discord/admin/', '/discord/docs/', '/discord/openapi.json']) {
          const page = await app.inject({ url })
          if (page.statusCode !== 200) throw new Error(url + ' answered ' + page.statusCode + ': ' + page.body)
        }
        report.pagesAfterUse = pages()
        await app.close()
      } catch (err) {
        report.storeError = String(err && (err.code || err.message))
      }
    } else if (${JSON.stringify(backend)} !== 'none') {
      try {
        const s = await pkg.createStore({ store: ${store}, encryptionKeys: [pkg.generateKey()] })
        await s.createGuild({ guild_id: '1', guild_name: 'G' })
        await s.close()
      } catch (err) {
        report.storeError = String(err && err.code)
      }
      report.afterStore = loaded()
    }
    process.stdout.write(JSON.stringify(report))
  })().catch((err) => { console.error(err); process.exit(1) })`
}

async function run (format: 'esm' | 'cjs', backend: Backend): Promise<Report> {
  const args = format === 'esm' ? ['--input-type=module', '-e', script(format, backend)] : ['-e', script(format, backend)]
  const { stdout } = await exec(process.execPath, args, { cwd: root })
  return JSON.parse(stdout) as Report
}

describe('store drivers are loaded only by the backend that needs them (built package)', () => {
  beforeAll(async () => {
    mkdirSync(outDir, { recursive: true })
    const options: Options = {
      ...packageBuild,
      entry: { index: 'src/index.ts' },
      outDir,
      dts: false,
      sourcemap: false,
      clean: false,
      onSuccess: undefined,
      silent: true,
      config: false
    }
    await build(options)
    // The admin UI's assets beside the bundle, as the package build's onSuccess copies them.
    cpSync(join(root, 'src/admin-ui/public'), join(outDir, 'admin-ui/public'), { recursive: true })
  }, 120_000)

  afterAll(() => {
    rmSync(outDir, { recursive: true, force: true })
  })

  for (const format of ['esm', 'cjs'] as const) {
    it(`${format}: importing the package root loads neither driver`, async () => {
      const report = await run(format, 'none')
      expect(report.atImport).toEqual({ mongodb: false, sqlite: false, redis: false })
    })

    it(`${format}: a SQLite-only host loads better-sqlite3 and never mongodb`, async () => {
      const report = await run(format, 'sqlite')
      expect(report.storeError).toBeUndefined()
      expect(report.atImport).toEqual({ mongodb: false, sqlite: false, redis: false })
      // The probe sees a driver once it is loaded, so the mongodb: false above means something.
      expect(report.afterStore).toEqual({ mongodb: false, sqlite: true, redis: false })
    })

    it(`${format}: a MongoDB host loads mongodb and never better-sqlite3`, async () => {
      const report = await run(format, 'mongodb')
      // Nothing listens on port 9, so init fails; the store was still built from the uri.
      expect(report.storeError).toBe('FST_DISCORD_STORE_UNAVAILABLE')
      expect(report.afterStore).toEqual({ mongodb: true, sqlite: false, redis: false })
    })

    it(`${format}: the plugin on SQLite without Redis never loads ioredis (with a Redis URL it does); @fastify/oauth2, undici, discord-api-types and the UI/docs libraries wait for first use`, async () => {
      const without = await run(format, 'plugin-sqlite')
      expect(without.storeError).toBeUndefined()
      expect(without.afterStore).toEqual({ mongodb: false, sqlite: true, redis: false })
      // With a Discord application configured, ready() has loaded none of the on-first-use libraries.
      expect(without.heavyAfterReady).toEqual({ oauth2: false, simpleOauth2: false, undici: false, discordApiTypes: false })
      expect((without as Report & { heavyAfterLogin?: Record<string, boolean> }).heavyAfterLogin).toMatchObject({ oauth2: true, simpleOauth2: true })
      // The admin UI (on here), the API reference and the OpenAPI document are built on their first request.
      const pages = without as Report & { pagesAfterReady?: Record<string, boolean>, pagesAfterUse?: Record<string, boolean> }
      expect(pages.pagesAfterReady).toEqual({ static: false, swagger: false, swaggerUi: false, yaml: false, promClientIndex: false, openTelemetry: false })
      expect(pages.pagesAfterUse).toEqual({ static: true, swagger: true, swaggerUi: true, yaml: true, promClientIndex: false, openTelemetry: false })
      const withRedis = await run(format, 'plugin-redis')
      expect(withRedis.storeError).toBeUndefined()
      expect(withRedis.afterStore).toEqual({ mongodb: false, sqlite: true, redis: true })
      // Two fresh processes each loading the whole plugin: slow on a loaded machine, not a timing check.
    }, 60_000)
  }
})
