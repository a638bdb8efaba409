import { existsSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { FastifyPluginAsync } from 'fastify'
import { forwardTo, lazyApp } from '../routes/deferred-app.js'

/*
 * The admin web UI: static files (the HTML page, its stylesheet and the browser ES modules under
 * public/js/, loaded from js/main.js) served by @fastify/static. No framework, no build step, no
 * CDN: the modules are served as they are written (type-checked from their JSDoc by
 * tsconfig.ui.json), and the page talks to the plugin's JSON API with the session cookie like any
 * other client, so everything it can do is an API call first.
 */

/**
 * Where the assets are. From the sources (tsx, vitest) this module sits beside `public/`; in the
 * published bundle (dist/index.js or dist/index.cjs) tsup copies them to `dist/admin-ui/public/`.
 */
export function adminUiRoot (): string {
  const candidates = [new URL('./public/', import.meta.url), new URL('./admin-ui/public/', import.meta.url)].map((u) => fileURLToPath(u))
  const found = candidates.find((dir) => existsSync(`${dir}index.html`))
  if (found === undefined) throw new Error(`fastify-discord-sync: the admin UI assets are missing (looked in ${candidates.join(', ')})`)
  return found
}

/**
 * Same-origin only: scripts, styles and API calls from this origin, no inline code, no framing
 * (clickjacking), no plugins, no <base> tricks. The UI needs nothing else.
 */
const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "form-action 'self'",
  "base-uri 'none'",
  "frame-ancestors 'none'"
].join('; ')

/**
 * Third-party browser files the UI loads, served from their npm packages (runtime dependencies,
 * installed with the plugin) rather than copied into public/: no build step, no CDN, and an
 * upgrade of the package is an upgrade of what the browser gets. URL name → package file.
 */
const VENDOR: Record<string, { pkg: string, file: string, type: string }> = {
  'uPlot.esm.js': { pkg: 'uplot', file: 'dist/uPlot.esm.js', type: 'text/javascript; charset=utf-8' },
  'uPlot.min.css': { pkg: 'uplot', file: 'dist/uPlot.min.css', type: 'text/css; charset=utf-8' }
}

/** A vendored file's content, read once from its package. */
function vendorFile (name: string): Buffer {
  const v = VENDOR[name] as { pkg: string, file: string }
  const require = createRequire(import.meta.url)
  return readFileSync(join(dirname(require.resolve(`${v.pkg}/package.json`)), v.file))
}

/**
 * Serves the UI at `/admin/` under the plugin's prefix (`/admin` redirects there, so relative URLs
 * work). @fastify/static (and glob, and a route per file) is loaded on the UI's first request, in
 * an instance of our own the requests are handed to (routes/deferred-app.ts).
 */
export const adminUi: FastifyPluginAsync = async (fastify) => {
  const prefix = fastify.prefix
  // Found now: an install without the assets fails at start, not on the first visit.
  const root = adminUiRoot()
  const files = lazyApp(fastify, async (own) => {
    const { default: fastifyStatic } = await import('@fastify/static')
    await own.register(fastifyStatic, {
      root,
      prefix: `${prefix}/admin/`,
      redirect: true,
      index: ['index.html'],
      // A host may have registered @fastify/static itself: leave its reply decorators alone.
      decorateReply: false,
      // The files are fixed at build time: one route each (subfolders included) instead of a wildcard over the directory.
      wildcard: false,
      schemaHide: true,
      dotfiles: 'deny',
      setHeaders (reply, path) {
        reply.header('content-security-policy', CSP)
        reply.header('x-content-type-options', 'nosniff')
        reply.header('referrer-policy', 'no-referrer')
        // HTML is revalidated on every visit so an upgrade's new script and page never mix.
        if (path.endsWith('.html')) reply.header('cache-control', 'no-cache')
      }
    })
  })
  forwardTo(fastify, ['/admin', '/admin/*'], files)
  for (const [name, v] of Object.entries(VENDOR)) {
    // Read on first use, then kept: start-up does not pay for a chart nobody opened.
    let body: Buffer | undefined
    fastify.get(`/admin/vendor/${name}`, { schema: { hide: true } }, async (_request, reply) => {
      reply.header('content-security-policy', CSP)
      reply.header('x-content-type-options', 'nosniff')
      reply.header('referrer-policy', 'no-referrer')
      body ??= vendorFile(name)
      return reply.type(v.type).send(body)
    })
  }
}
