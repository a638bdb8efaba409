import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'

/*
 * Every stable error code the API can answer with (declared once in src/errors.ts) has a
 * sentence in the admin UI that says what to do (src/admin-ui/public/js/components/errors.js),
 * so no officer is left with a validator's message as the main text. Read as text: the browser
 * module needs a browser to import.
 */

const declared = [...readFileSync('src/errors.ts', 'utf8').matchAll(/createError\('(FST_DISCORD_[A-Z_]+)'/g)].map((m) => m[1])
const ui = readFileSync('src/admin-ui/public/js/components/errors.js', 'utf8')
const sentences = new Map([...ui.matchAll(/^ {2}(FST_DISCORD_[A-Z_]+|NETWORK): '((?:[^'\\]|\\.)*)',?$/gm)].map((m) => [m[1] as string, m[2] as string]))

describe('admin UI error sentences', () => {
  it('covers every declared error code', () => {
    expect(declared.length).toBeGreaterThan(40)
    expect(declared.filter((c) => !sentences.has(c as string))).toEqual([])
  })

  it('each is a sentence to act on, not an echo of the code or a validator phrase', () => {
    for (const [code, text] of sentences) {
      expect(text, code).toMatch(/^[A-Z@].*\.$/)
      expect(text, code).not.toMatch(/FST_|querystring|must match|\/body/)
    }
  })
})
