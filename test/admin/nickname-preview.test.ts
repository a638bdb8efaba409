import { describe, expect, it } from 'vitest'
import { renderNickname, compileTemplate } from '../../src/sync/nickname.js'
// @ts-expect-error the admin UI is browser JavaScript without declarations
import { previewNickname } from '../../src/admin-ui/public/js/pages/guild/identity-settings.js'

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
