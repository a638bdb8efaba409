import { describe, expect, it } from 'vitest'
import { renderNickname, compileTemplate } from '../../src/sync/nickname.js'
// @ts-expect-error the admin UI is browser JavaScript without declarations
import { previewNickname } from '../../src/admin-ui/public/js/pages/guild/nickname-preview.js'

/* The admin UI's live nickname preview renders like the engine does, on the same sample values. */

const SAMPLE = { username: 'jdoe', global_name: 'Jane', profile: { name: 'Jane Doe', ticker: 'ABC' } }

describe('admin UI nickname preview', () => {
  it.each([
    '[{ticker}] {name}',
    '{{{ticker}}}   {name}  ({username})',
    '{global_name} of the very long corporation name {ticker}',
    '  {name}  '
  ])('matches the engine for %j', (template) => {
    expect(previewNickname(template)).toBe(renderNickname(compileTemplate(template, null), SAMPLE))
  })

  it('flags unbalanced braces', () => {
    expect(previewNickname('{name')).toBeNull()
    expect(previewNickname('name}')).toBeNull()
  })
})

describe('admin UI nickname preview for a chosen member', () => {
  // @ts-expect-error the admin UI is browser JavaScript without declarations
  const load = async (): Promise<(t: string, m: unknown) => string | null | undefined> => (await import('../../src/admin-ui/public/js/pages/guild/nickname-preview.js')).nicknameFor

  const members = [
    { username: 'jdoe', global_name: 'Jane', profile: { name: 'Jane Doe', ticker: 'ABC' } },
    { username: 'kim', global_name: null, profile: { name: '  Kim   Lee ', ticker: 'XY' } },
    { username: 'nobody', global_name: null, profile: null },
    { username: 'long', global_name: 'L', profile: { name: 'A name far longer than Discord lets a nickname be', ticker: 'T' } }
  ]
  const templates = ['[{ticker}] {name}', '{global_name} ({username})', '{name}', '{{{ticker}}} {missing}', '  {name}  ']

  it.each(members.flatMap((m) => templates.map((t) => [t, m] as const)))('renders %j as the engine does for %o', async (template, m) => {
    const nicknameFor = await load()
    const engine = renderNickname(compileTemplate(template, null), { username: m.username, global_name: m.global_name, profile: m.profile ?? undefined })
    expect(nicknameFor(template, m)).toBe(engine)
  })

  it('says when the template is malformed', async () => {
    const nicknameFor = await load()
    expect(nicknameFor('{name', members[0])).toBeUndefined()
  })
})
