import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative, resolve, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

/*
 * The folder map is the architecture (docs/architecture.md): these checks keep it that way.
 * Import circles are checked by `npm run check:cycles` (dpdm) in npm test.
 */

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
const SRC = join(ROOT, 'src')
const MAX_LINES = 400

function walk (dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    return statSync(path).isDirectory() ? walk(path) : [path]
  })
}

const sources = walk(SRC).filter((f) => /\.(ts|js|mjs|css|html)$/.test(f))
const importsOf = (file: string): string[] =>
  [...readFileSync(file, 'utf8').matchAll(/(?:^|\n)\s*(?:import|export)\b[^'"]*?from\s+['"]([^'"]+)['"]/g)].map((m) => m[1] as string)

describe('source layout', () => {
  it('has no source file over 400 lines', () => {
    const long = sources
      .map((f) => ({ file: relative(ROOT, f), lines: readFileSync(f, 'utf8').split('\n').length - 1 }))
      .filter((f) => f.lines > MAX_LINES)
    expect(long).toEqual([])
  })

  it('has no module that imports the public entry (src/index.ts) or the wiring (src/plugin.ts) except index.ts itself', () => {
    const upward: string[] = []
    for (const file of sources.filter((f) => /\.ts$/.test(f))) {
      for (const spec of importsOf(file)) {
        if (!spec.startsWith('.')) continue
        const target = resolve(dirname(file), spec).replace(/\.js$/, '.ts')
        const isEntry = target === join(SRC, 'index.ts')
        const isWiring = target === join(SRC, 'plugin.ts') && file !== join(SRC, 'index.ts')
        if (isEntry || isWiring) upward.push(`${relative(ROOT, file)} imports ${spec}`)
      }
    }
    expect(upward).toEqual([])
  })

  it('reassigns no method of another object (behaviour is added through events, not patches)', () => {
    // `x.method = async (...)` / `x.method = function` / `x.method = y.bind(...)` outside a constructor's own `this`.
    const patch = /^\s*(?!this\.)[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)+\s*=\s*(?:async\s*)?(?:\([^)]*\)\s*=>|function\b|[\w$.]+\.bind\()/
    // Callback fields of a record the same function just created (not a method of anyone else's object).
    const allowed = new Set(['waiter.onAbort = () => {'])
    const found = sources.filter((f) => /\.ts$/.test(f)).flatMap((file) =>
      readFileSync(file, 'utf8').split('\n')
        .map((line, i) => ({ line, at: `${relative(ROOT, file)}:${i + 1}` }))
        .filter(({ line }) => patch.test(line) && !allowed.has(line.trim()))
        .map(({ at, line }) => `${at}: ${line.trim()}`))
    expect(found).toEqual([])
  })
})
