import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'
import { afterAll, describe, expect, it } from 'vitest'

/*
 * Every code block in README.md and docs/*.md is checked, so the documentation cannot drift from
 * the code (issue 15.3):
 * - ```ts blocks are complete modules, type-checked together under the repository's strict
 *   tsconfig, with the package's two entry points mapped to the sources;
 * - ```ts excerpt=<path> blocks are verbatim excerpts of a file that `npm run typecheck` checks
 *   (examples/host/...): they must appear in it, line for line;
 * - ```ts no-check blocks are exempt, and must stay few;
 * - ```sh blocks may only name npm scripts, files and test paths that exist;
 * - ```json blocks must parse.
 * docs/simulator.md's example also runs (test/testing/readme-host-example.test.ts).
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const MAX_NO_CHECK = 3

interface Block { source: string, line: number, lang: string, options: string[], code: string }

function markdownFiles (): string[] {
  const docs = readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).sort().map((f) => join('docs', f))
  return ['README.md', ...docs]
}

/** Fenced blocks of a markdown file, with the line of their opening fence. */
export function blocksOf (source: string, text: string): Block[] {
  const blocks: Block[] = []
  const lines = text.split('\n')
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\S*)\s*(.*)$/.exec(lines[i] as string)
    if (open === null) continue
    const start = i
    const body: string[] = []
    for (i++; i < lines.length && lines[i] !== '```'; i++) body.push(lines[i] as string)
    expect(i, `${source}:${start + 1}: unclosed code block`).toBeLessThan(lines.length)
    blocks.push({ source, line: start + 1, lang: open[1] as string, options: (open[2] as string).split(/\s+/).filter(Boolean), code: body.join('\n') })
  }
  return blocks
}

const all = markdownFiles().flatMap((f) => blocksOf(f, readFileSync(join(ROOT, f), 'utf8')))
const at = (b: Block): string => `${b.source}:${b.line}`
const isTs = (b: Block): boolean => b.lang === 'ts' || b.lang === 'typescript'
const compiled = all.filter((b) => isTs(b) && b.options.length === 0)

const workDir = join(ROOT, 'test-results', `doc-blocks-${process.pid}`)
afterAll(() => { rmSync(workDir, { recursive: true, force: true }) })

/** Type-checks the blocks as modules of their own; answers each diagnostic as `file:line: message`. */
function typeCheck (blocks: Block[]): string[] {
  // Under the repository (type: module, its node_modules) so the blocks resolve as a host's code would.
  mkdirSync(workDir, { recursive: true })
  const files = new Map<string, Block>()
  blocks.forEach((b, n) => {
    const file = join(workDir, `${b.source.replace(/[^A-Za-z0-9]/g, '_')}_${b.line}_${n}.ts`)
    writeFileSync(file, `${b.code}\nexport {}\n`)
    files.set(file, b)
  })
  const config = ts.readConfigFile(join(ROOT, 'tsconfig.json'), (p) => ts.sys.readFile(p))
  const parsed = ts.parseJsonConfigFileContent(config.config, ts.sys, ROOT)
  const options: ts.CompilerOptions = {
    ...parsed.options,
    noEmit: true,
    baseUrl: ROOT,
    paths: {
      'fastify-discord-sync': ['src/index.ts'],
      'fastify-discord-sync/testing': ['src/testing/index.ts']
    }
  }
  const program = ts.createProgram([...files.keys()], options)
  return ts.getPreEmitDiagnostics(program).flatMap((d) => {
    const block = d.file === undefined ? undefined : files.get(d.file.fileName)
    // Only the blocks are under test here: the sources are type-checked by `npm run typecheck`.
    if (d.file !== undefined && block === undefined) return []
    const where = d.file !== undefined && d.start !== undefined && block !== undefined
      ? `${block.source}:${block.line + 1 + d.file.getLineAndCharacterOfPosition(d.start).line}`
      : 'tsc'
    return [`${where}: TS${d.code} ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`]
  })
}

describe('code blocks of README.md and docs/', () => {
  it('finds the blocks: the README quickstart and every page with TypeScript', () => {
    expect(compiled.length).toBeGreaterThanOrEqual(5)
    expect(compiled.some((b) => b.source === 'README.md' && b.code.includes("from 'fastify-discord-sync'"))).toBe(true)
    const unknown = all.filter((b) => isTs(b) && b.options.some((o) => o !== 'no-check' && !o.startsWith('excerpt=')))
    expect(unknown.map(at), 'unknown options on ts blocks').toEqual([])
  })

  it('type-checks every ts block under the strict tsconfig, against the sources; a broken one is reported with its page and line', () => {
    // One program for all (compiling the sources once is most of the cost): the pages' blocks and
    // a probe that must fail, proving a broken block cannot pass unnoticed.
    const probe: Block = { source: 'docs/probe.md', line: 10, lang: 'ts', options: [], code: "import discordSync from 'fastify-discord-sync'\nconst n: number = discordSync\n" }
    const diagnostics = typeCheck([...compiled, probe])
    const probeErrors = diagnostics.filter((d) => d.startsWith('docs/probe.md:'))
    expect(probeErrors.join('\n')).toMatch(/^docs\/probe\.md:12: TS2322 /)
    expect(diagnostics.filter((d) => !probeErrors.includes(d))).toEqual([])
  }, 240_000)

  it('ts excerpt blocks are verbatim excerpts of their (type-checked) files', () => {
    const excerpts = all.filter((b) => isTs(b) && b.options.some((o) => o.startsWith('excerpt=')))
    expect(excerpts.length).toBeGreaterThan(0)
    const strip = (text: string): string[] => text.split('\n').map((l) => l.trim())
    const stale = excerpts.filter((b) => {
      const path = (b.options.find((o) => o.startsWith('excerpt=')) as string).slice('excerpt='.length)
      if (!existsSync(join(ROOT, path)) || !/^(examples|src|test)\//.test(path)) return true
      const file = strip(readFileSync(join(ROOT, path), 'utf8')).join('\n')
      return !file.includes(strip(b.code).join('\n'))
    })
    expect(stale.map(at), 'excerpts that no longer match their file').toEqual([])
  })

  it('few blocks are exempt from type-checking', () => {
    const exempt = all.filter((b) => isTs(b) && b.options.includes('no-check'))
    expect(exempt.length, exempt.map(at).join(', ')).toBeLessThanOrEqual(MAX_NO_CHECK)
  })

  it('shell blocks name npm scripts, files and test paths that exist', () => {
    const scripts = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts
    const problems: string[] = []
    for (const b of all.filter((x) => x.lang === 'sh' || x.lang === 'bash')) {
      for (const line of b.code.split('\n')) {
        const command = (line.split('#')[0] as string).trim()
        const script = /^npm run ([\w:-]+)/.exec(command)
        if (script !== null && scripts[script[1] as string] === undefined) problems.push(`${at(b)}: no npm script "${script[1]}"`)
        if (/^npm (test|start)\b/.test(command) && scripts[command.split(' ')[1] as string] === undefined) problems.push(`${at(b)}: no npm script for "${command}"`)
        const path = /^npx (?:tsx|vitest run) (\S+)/.exec(command)
        if (path !== null && !existsSync(join(ROOT, path[1] as string))) problems.push(`${at(b)}: ${path[1]} does not exist`)
      }
    }
    expect(problems).toEqual([])
  })

  it('json blocks parse', () => {
    const bad = all.filter((b) => b.lang === 'json').filter((b) => {
      try { JSON.parse(b.code); return false } catch { return true }
    })
    expect(bad.map(at)).toEqual([])
  })
})
