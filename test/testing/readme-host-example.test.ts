import { readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { describe, expect, it } from 'vitest'
// Loaded (and transformed) with this file rather than inside the test: the example's own imports
// of the two entry points then come from the module cache, and the test's time is the example's
// run, not the compilation of the whole source tree (seconds, and the part that grew past the
// test timeout on a loaded machine).
import '../../src/index.js'
import '../../src/testing/index.js'

/*
 * docs/simulator.md "Testing a host against the simulator" shows a host how to point the plugin at
 * fastify-discord-sync/testing. Its code block runs here as written (its own asserts are the
 * checks), with the package's two entry points mapped to this repository's sources, so the
 * example cannot drift from what the plugin and the simulator really do.
 */

const ROOT = new URL('../../', import.meta.url)
const HEADING = '# Testing a host against the simulator'

function exampleCode (): string {
  const page = readFileSync(new URL('docs/simulator.md', ROOT), 'utf8')
  const start = page.indexOf(HEADING)
  expect(start, `docs/simulator.md has a "${HEADING}" section`).toBeGreaterThan(-1)
  const block = /```ts\n([\s\S]*?)\n```/.exec(page.slice(start))
  expect(block, 'the section has a ts code block').not.toBeNull()
  return (block as RegExpExecArray)[1] as string
}

describe('docs/simulator.md: testing a host against the simulator', () => {
  it('the example runs as written and its assertions hold', async () => {
    const code = exampleCode()
    // The example imports the published names; inside the repository they are the sources.
    expect(code).toContain("from 'fastify-discord-sync'")
    expect(code).toContain("from 'fastify-discord-sync/testing'")
    expect(code).toMatch(/assert\.(equal|deepEqual)\(/)
    const mapped = code
      .replace("from 'fastify-discord-sync/testing'", "from '../src/testing/index.js'")
      .replace("from 'fastify-discord-sync'", "from '../src/index.js'")
    // Under test-results/ (git- and lint-ignored) so bare imports resolve from the repository's node_modules.
    const dir = new URL('test-results/', ROOT)
    mkdirSync(dir, { recursive: true })
    const file = fileURLToPath(new URL(`readme-host-example-${process.pid}.ts`, dir))
    writeFileSync(file, `${mapped}\nexport const finished = true\n`)
    try {
      const mod = await import(pathToFileURL(file).href) as { finished?: boolean }
      expect(mod.finished).toBe(true)
    } finally {
      rmSync(file, { force: true })
    }
  })
})
