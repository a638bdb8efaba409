import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

/*
 * The shape of src/discord that issue 11 set: views and transport never import the client
 * that composes them, no file grows past 400 lines, and ioredis stays a type-only import so a
 * host without Redis never loads it through this module.
 */

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../src/discord')

function sources (dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) return sources(path)
    return entry.name.endsWith('.ts') ? [path] : []
  })
}

interface Import { specifier: string, typeOnly: boolean }

/** Every `import ... from` / `export ... from` of a file, type-only ones included. */
function imports (text: string): Import[] {
  const found: Import[] = []
  for (const m of text.matchAll(/^(?:import|export)\s+(type\s+)?[^;]*?from\s+'([^']+)'/gms)) {
    found.push({ specifier: m[2] as string, typeOnly: m[1] !== undefined })
  }
  return found
}

const files = sources(ROOT)
const graph = new Map(files.map((file) => [file, imports(readFileSync(file, 'utf8'))]))

describe('src/discord layout', () => {
  it('keeps every file at 400 lines or fewer', () => {
    const long = files
      .map((file) => ({ file: relative(ROOT, file), lines: (readFileSync(file, 'utf8').match(/\n/g) ?? []).length }))
      .filter((f) => f.lines > 400)
    expect(long).toEqual([])
  })

  it('imports ioredis for its types only', () => {
    const valueImports = [...graph].flatMap(([file, list]) =>
      list.filter((i) => i.specifier === 'ioredis' && !i.typeOnly).map(() => relative(ROOT, file)))
    expect(valueImports).toEqual([])
  })

  it('has no import circle, counting type-only imports', () => {
    const state = new Map<string, 'open' | 'done'>()
    const circles: string[] = []
    const visit = (file: string, path: string[]): void => {
      if (state.get(file) === 'done') return
      if (state.get(file) === 'open') {
        circles.push([...path.slice(path.indexOf(file)), file].map((f) => relative(ROOT, f)).join(' -> '))
        return
      }
      state.set(file, 'open')
      for (const { specifier } of graph.get(file) ?? []) {
        if (!specifier.startsWith('.')) continue
        const target = resolve(dirname(file), specifier.replace(/\.js$/, '.ts'))
        if (graph.has(target)) visit(target, [...path, file])
      }
      state.set(file, 'done')
    }
    for (const file of files) visit(file, [])
    expect(circles).toEqual([])
  })
})
