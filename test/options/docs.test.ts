import { readFileSync } from 'node:fs'
import type { TObject, TSchema } from '@sinclair/typebox'
import { describe, expect, it } from 'vitest'
import { OptionsSchema } from '../../src/options/index.js'
import { renderOptionTables, updateConfigurationDoc } from '../../src/options/docs.js'
import { groupOf } from '../../src/options/define.js'
import { STORE_VARIANTS } from '../../src/options/store.js'

const doc = readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8')

/** Every option path with its schema, nested groups and store variants included. */
function options (schema: TObject, prefix = ''): Array<[string, TSchema]> {
  return Object.entries(schema.properties).flatMap(([key, prop]): Array<[string, TSchema]> => {
    const group = groupOf(prop)
    return [[`${prefix}${key}`, prop], ...(group === undefined ? [] : options(group, `${prefix}${key}.`))]
  })
}

describe('docs/configuration.md', () => {
  it('holds the tables the option schemas render (run `npm run docs:options` after changing an option)', () => {
    expect(doc).toBe(updateConfigurationDoc(doc))
  })

  it('describes every option, store variants included', () => {
    const all = [...options(OptionsSchema), ...STORE_VARIANTS.flatMap((v) => options(v, 'store.'))]
    const undocumented = all.filter(([, s]) => typeof s.description !== 'string' || s.description.trim() === '').map(([path]) => path)
    expect(undocumented).toEqual([])
    const tables = renderOptionTables()
    const missing = all.filter(([path]) => !tables.includes(`| \`${path}\` |`)).map(([path]) => path)
    expect(missing).toEqual([])
  })

  it('renders a default, a type and a description per row', () => {
    const tables = renderOptionTables()
    expect(tables).toContain("| `auth.sessionExpiry` | duration ≥ 1m | `'24h'` | Lifetime of a session issued by the login flow (JWT `exp` and cookie Max-Age). |")
    expect(tables).toContain('| `discord.clientId` | string | required |')
    expect(tables).toContain("| `metrics.access` | 'admin' \\| 'public' | `'admin'` |")
  })

  it('refuses a document without the generated section markers', () => {
    expect(() => updateConfigurationDoc('# Configuration\n')).toThrow(/markers/)
  })
})
