// `npm start` runs the built server (dist/standalone/server.js, the same file as the package's
// bin). On a fresh checkout, or after an edit, there is nothing current to run: this builds the
// JavaScript first (esbuild, a few seconds; declaration files are for `npm run build` and
// `npm pack`), and does nothing when dist is newer than every source, so `npm start` right after
// `npm run build` (CI, the test suite) never rewrites dist under a running server.
import { spawnSync } from 'node:child_process'
import { existsSync, readdirSync, statSync } from 'node:fs'
import { join, resolve } from 'node:path'

const root = resolve(import.meta.dirname, '..')
const OUTPUTS = ['dist/index.js', 'dist/testing/index.js', 'dist/standalone/server.js', 'dist/admin-ui/public/index.html']
const SOURCES = ['src', 'examples/standalone', 'tsup.config.ts', 'package.json']

function newest (path) {
  const s = statSync(path)
  if (!s.isDirectory()) return s.mtimeMs
  return readdirSync(path).reduce((max, name) => Math.max(max, newest(join(path, name))), s.mtimeMs)
}

const outputs = OUTPUTS.map((p) => join(root, p))
const builtAt = outputs.every((p) => existsSync(p)) ? Math.min(...outputs.map((p) => statSync(p).mtimeMs)) : -Infinity
const changedAt = Math.max(...SOURCES.map((p) => newest(join(root, p))))
if (builtAt < changedAt) {
  console.error('fastify-discord-sync: building dist/ (the sources changed since the last build)')
  const tsup = join(root, 'node_modules', '.bin', 'tsup')
  const r = spawnSync(tsup, ['--silent'], { cwd: root, stdio: 'inherit', env: { ...process.env, TSUP_SKIP_DTS: '1' } })
  if (r.status !== 0) process.exit(r.status ?? 1)
}
