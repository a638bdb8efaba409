// Packs the package as npm would publish it and proves both module systems can use it:
// a CommonJS and an ESM TypeScript consumer (module node16) must typecheck and run.
// This backs the one attw rule we ignore (false-export-default): the CJS build makes
// module.exports the plugin itself with .default attached, which attw cannot see.
import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'

const repo = resolve(import.meta.dirname, '../..')
const work = mkdtempSync(join(tmpdir(), 'dsync-consumers-'))
const run = (cmd, args, cwd) => execFileSync(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'inherit'] }).toString()

try {
  // `npm run check:exports` runs attw --pack first, whose pack ran prepack (the build): dist is
  // current, so this pack skips the second full build.
  const tgz = run('npm', ['pack', '--silent', '--ignore-scripts', '--pack-destination', work], repo).trim().split('\n').pop()
  const body = `
import Fastify from 'fastify'
import discordSync, { SecretBox, generateKey, fastifyDiscordSync } from 'fastify-discord-sync'
import { createDiscordSimulator } from 'fastify-discord-sync/testing'

async function main (): Promise<void> {
  const app = Fastify()
  await app.register(discordSync, { store: { type: 'sqlite', path: ':memory:' }, encryptionKey: generateKey() })
  const res = await app.inject({ url: '/discord/status' })
  const sim = await createDiscordSimulator()
  const ok = res.statusCode === 200 && typeof SecretBox === 'function' && discordSync === fastifyDiscordSync && sim.url.startsWith('http://127.0.0.1')
  await sim.close()
  await app.close()
  if (!ok) throw new Error('consumer check failed')
  console.log('ok')
}
main().catch((e) => { console.error(e); process.exit(1) })
`
  for (const type of ['commonjs', 'module']) {
    const dir = join(work, type)
    const pkgDir = join(dir, 'node_modules', 'fastify-discord-sync')
    mkdirSync(pkgDir, { recursive: true })
    run('tar', ['xzf', join(work, tgz), '-C', pkgDir, '--strip-components=1'], dir)
    // Dependencies come from the repo's install, as a host's would from its own.
    for (const name of readdirSync(join(repo, 'node_modules'))) {
      if (name !== 'fastify-discord-sync' && !name.startsWith('.')) symlinkSync(join(repo, 'node_modules', name), join(dir, 'node_modules', name))
    }
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: `consumer-${type}`, version: '1.0.0', type }))
    writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions: { module: 'node16', moduleResolution: 'node16', target: 'es2022', strict: true, outDir: 'out', skipLibCheck: true }, include: ['index.ts'] }))
    writeFileSync(join(dir, 'index.ts'), body)
    run(join(repo, 'node_modules', '.bin', 'tsc'), ['-p', '.'], dir)
    const out = run(process.execPath, ['out/index.js'], dir).trim()
    if (out !== 'ok') throw new Error(`${type} consumer printed ${out}`)
    console.log(`consumer (${type}, TypeScript node16): typechecks and runs against the packed package`)
  }
} finally {
  rmSync(work, { recursive: true, force: true })
}
