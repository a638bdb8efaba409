import { execFile, execFileSync, spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

/*
 * Issue 15 "Show": the package as another team gets it. A clean copy of the checkout (no dist/)
 * is packed with `npm pack`, so prepack has to build; the tarball is installed into a fresh host
 * project OFFLINE, from the tarball and the local npm cache only, with fastify as the host's own
 * dependency and none of the optional peers; a host written against the published names compiles
 * with strict tsc (skipLibCheck false), starts against the simulator from ./testing and completes
 * a login; and the installed bin (`npx fastify-discord-sync`) serves /status.
 *
 * Offline resolution needs every package's tarball URL: the host's lockfile is derived from the
 * repository's (same versions, registry URLs filled in), whose tarballs `npm ci` has put in the
 * cache. Install scripts are skipped and better-sqlite3's native module is copied from the
 * repository's install (same Node, same ABI): offline there is no prebuilt binary to download and
 * no Node headers to compile against, and a compile would take minutes.
 */

const exec = promisify(execFile)
const root = resolve(import.meta.dirname, '../..')
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as Record<string, any>
const work = mkdtempSync(join(tmpdir(), 'dsync-package-'))
const host = join(work, 'host')

interface PackResult { filename: string, size: number, unpackedSize: number, entryCount: number, files: Array<{ path: string }> }
let packed: PackResult
let installLog = ''

/** The first TypeScript block under README.md's "Quickstart in a host". */
function readmeQuickstart (): string {
  const readme = readFileSync(join(root, 'README.md'), 'utf8')
  const section = readme.slice(readme.indexOf('## Quickstart in a host'))
  const block = /```ts\n([\s\S]*?)```/.exec(section)
  if (block === null) throw new Error('README.md has no ts block under "Quickstart in a host"')
  return block[1] as string
}

/** Runs a command; a failure carries its output (tsc prints its errors on stdout). */
async function run (cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  try {
    const { stdout, stderr } = await exec(cmd, args, { cwd, env, maxBuffer: 64 * 1024 * 1024 })
    return `${stdout}\n${stderr}`
  } catch (err) {
    const e = err as Error & { stdout?: string, stderr?: string }
    throw new Error(`${cmd} ${args.join(' ')} failed: ${e.message}\n${e.stdout ?? ''}\n${e.stderr ?? ''}`)
  }
}

/** The repository's files as a clone has them (tracked and new, not ignored: no dist/, no data/). */
function cleanCheckout (dir: string): void {
  const files = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: root }).toString().split('\0').filter(Boolean)
  for (const f of files) {
    if (!existsSync(join(root, f))) continue
    mkdirSync(dirname(join(dir, f)), { recursive: true })
    copyFileSync(join(root, f), join(dir, f))
  }
  symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'), 'dir')
}

/** The host's lockfile: the repository's resolution of every package, plus the tarball. */
function hostLockfile (manifest: Record<string, any>, tarball: string): unknown {
  const repoLock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as { packages: Record<string, Record<string, any>> }
  const packages: Record<string, unknown> = { '': { name: manifest.name, version: manifest.version, dependencies: manifest.dependencies, devDependencies: manifest.devDependencies } }
  for (const [path, entry] of Object.entries(repoLock.packages)) {
    if (path === '' || entry.link === true) continue
    const name = (entry.name as string | undefined) ?? path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length)
    packages[path] = { ...entry, resolved: entry.resolved ?? `https://registry.npmjs.org/${name}/-/${name.split('/').pop() as string}-${entry.version as string}.tgz` }
  }
  packages['node_modules/fastify-discord-sync'] = {
    version: pkg.version,
    resolved: `file:${tarball}`,
    integrity: `sha512-${createHash('sha512').update(readFileSync(join(host, tarball))).digest('base64')}`,
    dependencies: pkg.dependencies,
    peerDependencies: pkg.peerDependencies,
    peerDependenciesMeta: pkg.peerDependenciesMeta,
    bin: pkg.bin,
    engines: pkg.engines
  }
  return { name: manifest.name, version: manifest.version, lockfileVersion: 3, requires: true, packages }
}

beforeAll(async () => {
  const checkout = join(work, 'checkout')
  cleanCheckout(checkout)
  const { stdout } = await exec('npm', ['pack', '--json', '--pack-destination', work], { cwd: checkout, maxBuffer: 64 * 1024 * 1024 })
  // prepack's build prints before npm's JSON.
  packed = (JSON.parse(stdout.slice(stdout.lastIndexOf('[\n  {'))) as PackResult[])[0] as PackResult
  console.log(`npm pack: ${packed.filename}, ${packed.size} bytes packed, ${packed.unpackedSize} unpacked, ${packed.entryCount} files`)

  mkdirSync(host)
  copyFileSync(join(work, packed.filename), join(host, packed.filename))
  const manifest = {
    name: 'host',
    version: '1.0.0',
    private: true,
    type: 'module',
    dependencies: { fastify: pkg.devDependencies.fastify, 'fastify-discord-sync': `file:${packed.filename}` },
    devDependencies: { '@types/node': pkg.devDependencies['@types/node'] },
    // fastify's own newest light-my-request needs Node 22 (cookie 2): a Node 20 host pins it as this repository does.
    overrides: pkg.overrides
  }
  writeFileSync(join(host, 'package.json'), JSON.stringify(manifest, null, 2))
  writeFileSync(join(host, 'package-lock.json'), JSON.stringify(hostLockfile(manifest, packed.filename), null, 2))
  installLog = await run('npm', ['install', '--offline', '--ignore-scripts', '--no-audit', '--no-fund'], host)
  const sqliteDir = dirname(createRequire(join(root, 'package.json')).resolve('better-sqlite3/package.json'))
  mkdirSync(join(host, 'node_modules/better-sqlite3/build/Release'), { recursive: true })
  copyFileSync(join(sqliteDir, 'build/Release/better_sqlite3.node'), join(host, 'node_modules/better-sqlite3/build/Release/better_sqlite3.node'))
}, 600_000)

afterAll(() => { rmSync(work, { recursive: true, force: true }) })

describe('the packed package, installed offline into a fresh host', () => {
  it('holds dist (ESM, CJS, types for . and ./testing), the admin UI, the bin, README, LICENSE and CHANGELOG; no sources or maps', () => {
    const files = packed.files.map((f) => f.path)
    for (const f of [
      'dist/index.js', 'dist/index.cjs', 'dist/index.d.ts', 'dist/index.d.cts',
      'dist/testing/index.js', 'dist/testing/index.cjs', 'dist/testing/index.d.ts', 'dist/testing/index.d.cts',
      'dist/admin-ui/public/index.html', 'dist/admin-ui/public/js/main.js', 'dist/standalone/server.js',
      'README.md', 'LICENSE', 'CHANGELOG.md', 'package.json'
    ]) expect(files, f).toContain(f)
    expect(files.filter((f) => f.startsWith('src/') || f.startsWith('test/') || f.endsWith('.map'))).toEqual([])
    expect(readFileSync(join(host, 'node_modules/fastify-discord-sync/dist/standalone/server.js'), 'utf8')).toMatch(/^#!\/usr\/bin\/env node\n/)
  })

  it('installs from the cache with no engine warning, one fastify (the host\'s), and no optional peer', () => {
    expect(installLog).toMatch(/added \d+ packages/)
    expect(installLog).not.toContain('EBADENGINE')
    expect(existsSync(join(host, 'node_modules/fastify-discord-sync/node_modules/fastify'))).toBe(false)
    expect(existsSync(join(host, 'node_modules/mongodb'))).toBe(false)
    expect(existsSync(join(host, 'node_modules/ioredis'))).toBe(false)
  })

  it('a host compiles with strict tsc (skipLibCheck false) against the shipped types, starts on the simulator and completes a login', async () => {
    copyFileSync(join(import.meta.dirname, 'host/host.ts'), join(host, 'host.ts'))
    // The README's quickstart, as a new team copies it, compiles against the installed package too.
    writeFileSync(join(host, 'quickstart.ts'), readmeQuickstart())
    writeFileSync(join(host, 'tsconfig.json'), JSON.stringify({
      compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', strict: true, skipLibCheck: false, types: ['node'], outDir: 'out' },
      include: ['host.ts', 'quickstart.ts']
    }))
    await run(join(root, 'node_modules/.bin/tsc'), ['-p', '.'], host)
    const out = await run(process.execPath, ['out/host.js'], host)
    expect(out).toContain('host: login completed')
  }, 120_000)

  it('npx fastify-discord-sync runs the demo from the install: /status answers 200', async () => {
    const child = spawn('npx', ['--offline', '--no-install', 'fastify-discord-sync'], {
      cwd: host,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root', PORT: '0', DISCORD_DEMO: '1', DISCORD_DB_PATH: join(work, 'bin-data', 'demo.sqlite') },
      stdio: ['ignore', 'pipe', 'pipe'],
      // Its own process group: npx does not pass SIGTERM on to the server.
      detached: true
    })
    let output = ''
    try {
      const statusUrl = await new Promise<string>((resolve, reject) => {
        const seen = (chunk: Buffer): void => {
          output += chunk.toString()
          const m = /standalone server: (http:\/\/\S+\/api\/discord\/status)/.exec(output)
          if (m !== null) resolve(m[1] as string)
        }
        child.stdout.on('data', seen)
        child.stderr.on('data', seen)
        child.once('exit', (code) => reject(new Error(`the bin exited (${String(code)}) before listening:\n${output}`)))
      })
      const res = await fetch(statusUrl)
      expect(res.status).toBe(200)
      expect(await res.json()).toMatchObject({ module: 'discord', checks: { store: 'ok', discord: 'configured' } })
      expect((await fetch(statusUrl.replace(/status$/, 'admin/'))).status).toBe(200)
      expect((await fetch(statusUrl.replace(/status$/, 'docs'))).status).toBe(200)
    } finally {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve))
        process.kill(-(child.pid as number), 'SIGTERM')
        await exited
      }
    }
  }, 60_000)
})
