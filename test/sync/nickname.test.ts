import { describe, expect, it } from 'vitest'
import { cleanProfileValue, compileTemplate, NICKNAME_MAX, NicknameTemplateError, renderNickname } from '../../src/sync/nickname.js'
import { toUserContext } from '../../src/sync/membership.js'

/* Nickname template rules (src/sync/nickname.ts, docs/sync.md "Nicknames"), pure. */

const KNOWN = ['name', 'ticker']
const src = (profile: Record<string, string> | undefined, username: string | null = 'jdoe', globalName: string | null = null): Parameters<typeof renderNickname>[1] =>
  ({ username, global_name: globalName, profile })

describe('compileTemplate', () => {
  it('accepts built-ins and declared variables, literal braces doubled', () => {
    const t = compileTemplate('{{{ticker}}} {name} ({username}/{global_name})', KNOWN)
    expect(renderNickname(t, src({ ticker: 'ABC', name: 'Jane' }, 'jdoe', 'Janey'))).toBe('{ABC} Jane (jdoe/Janey)')
  })

  it.each([
    ['x'.repeat(101), /at most 100/],
    ['[{corp}] {name}', /unknown variable "\{corp\}".*\{username\}, \{global_name\}, \{name\}, \{ticker\}/],
    ['{Name}', /invalid variable/],
    ['{name', /unclosed "\{"/],
    ['name}', /unmatched "\}"/],
    ['{}', /invalid variable/],
    ['plain text', /uses no variable/],
    ['{name}\u0007', /control character/]
  ])('refuses %j', (template, why) => {
    expect(() => compileTemplate(template, KNOWN)).toThrow(NicknameTemplateError)
    expect(() => compileTemplate(template, KNOWN)).toThrow(why)
  })

  it('a 100-character template is allowed; the error names the setting', () => {
    expect(() => compileTemplate(`{name}${'x'.repeat(94)}`, KNOWN)).not.toThrow()
    expect(() => compileTemplate('{corp}', KNOWN)).toThrow(/^settings\.nickname_template /)
    // At sync time any name is accepted: a variable dropped from the options just has no value.
    expect(() => compileTemplate('{corp}', null)).not.toThrow()
  })
})

describe('renderNickname', () => {
  const t = compileTemplate('[{ticker}] {name}', KNOWN)

  it('renders the issue\'s example', () => {
    expect(renderNickname(t, src({ ticker: 'ABC', name: 'Jane Doe' }))).toBe('[ABC] Jane Doe')
  })

  it('leaves the nickname alone (null) when a variable has no value', () => {
    expect(renderNickname(t, src({ name: 'Jane' }))).toBeNull()
    expect(renderNickname(t, src({ ticker: '  ', name: 'Jane' }))).toBeNull()
    expect(renderNickname(t, src(undefined))).toBeNull()
    expect(renderNickname(compileTemplate('{username}', []), src({}, null))).toBeNull()
  })

  it('global_name falls back to the username', () => {
    expect(renderNickname(compileTemplate('{global_name}', []), src({}, 'jdoe', null))).toBe('jdoe')
  })

  it('sanitises like Discord: trimmed, whitespace runs collapsed', () => {
    expect(renderNickname(t, src({ ticker: 'A  B', name: '  Jane \t Doe  ' }))).toBe('[A B] Jane Doe')
  })

  it('cuts at 32 UTF-16 units, never in the middle of a surrogate pair, and trims after the cut', () => {
    const long = renderNickname(t, src({ ticker: 'ABC', name: 'Bartholomew Fitzgerald-Montgomery III' })) as string
    expect(long).toBe('[ABC] Bartholomew Fitzgerald-Mon')
    expect(long).toHaveLength(NICKNAME_MAX)
    // 31 units, then an emoji (2 units) that would end at 33: the pair is dropped whole, never halved.
    const emoji = renderNickname(compileTemplate('{name}', KNOWN), src({ name: `${'a'.repeat(31)}😀` })) as string
    expect(emoji).toBe('a'.repeat(31))
    expect(renderNickname(compileTemplate('{name}', KNOWN), src({ name: `${'a'.repeat(25)}      b` }))).toBe(`${'a'.repeat(25)} b`)
    expect(renderNickname(compileTemplate('{name} x', KNOWN), src({ name: 'a'.repeat(31) }))).toBe('a'.repeat(31))
  })
})

describe('provider profile (untrusted text)', () => {
  it('strips control characters and caps values at 64 characters', () => {
    expect(cleanProfileValue('Ja\u0000ne\u001b[31m\u007f')).toBe('Jane[31m')
    expect(cleanProfileValue('x'.repeat(100))).toHaveLength(64)
    const ctx = toUserContext('u1', { groups: [], character_count: 0, permissions: [], profile: { name: 'Jane\nDoe', ticker: 'y'.repeat(80) } })
    expect(ctx.profile).toEqual({ name: 'JaneDoe', ticker: 'y'.repeat(64) })
  })

  it('refuses a profile of the wrong shape (the member is skipped, never planned on it)', () => {
    const base = { groups: [], character_count: 0, permissions: [] }
    expect(() => toUserContext('u1', { ...base, profile: ['x'] })).toThrow(/profile must be an object/)
    expect(() => toUserContext('u1', { ...base, profile: { name: 5 } })).toThrow(/profile values must be strings/)
    expect(() => toUserContext('u1', { ...base, profile: { 'Bad Key': 'x' } })).toThrow(/profile keys/)
    expect(toUserContext('u1', base).profile).toBeUndefined()
  })

  it('a profile key named like an Object.prototype member reads nothing inherited', () => {
    const ctx = toUserContext('u1', { groups: [], character_count: 0, permissions: [], profile: {} })
    expect(renderNickname(compileTemplate('{constructor}', null), src(ctx.profile as Record<string, string>))).toBeNull()
  })
})
