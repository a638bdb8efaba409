import { describe, expect, it } from 'vitest'
import { conditionsFromInput, conditionsProblem, mergeConditions, resolveAlias } from '../../src/guilds/mappings/rules.js'
import { DEFAULT_MAPPING_CONDITIONS } from '../../src/store/port/index.js'

describe('resolveAlias (seed field names spelled two ways)', () => {
  it('takes whichever is given, or undefined when neither is', () => {
    expect(resolveAlias(true, undefined, ['enabled', 'is_active'])).toEqual({ value: true, error: null })
    expect(resolveAlias(undefined, false, ['enabled', 'is_active'])).toEqual({ value: false, error: null })
    expect(resolveAlias(undefined, undefined, ['enabled', 'is_active'])).toEqual({ value: undefined, error: null })
    expect(resolveAlias(false, false, ['enabled', 'is_enabled'])).toEqual({ value: false, error: null })
  })

  it('refuses both given with different values, naming both fields', () => {
    const r = resolveAlias(true, false, ['enabled', 'is_enabled'])
    expect(r.value).toBeUndefined()
    expect(r.error).toMatch(/"enabled" and "is_enabled".*disagree/)
  })
})

describe('conditions', () => {
  it('fills missing keys with the documented defaults', () => {
    expect(conditionsFromInput(undefined)).toEqual(DEFAULT_MAPPING_CONDITIONS)
    expect(conditionsFromInput({ character_count_min: 1 })).toEqual({ ...DEFAULT_MAPPING_CONDITIONS, character_count_min: 1 })
  })

  it('merges a partial update over stored conditions, keeping what is not named', () => {
    const stored = { require_all: true, character_count_min: 2, character_count_max: 5, required_permissions: ['a'], excluded_groups: ['x'] }
    expect(mergeConditions(stored, { character_count_max: null })).toEqual({ ...stored, character_count_max: null })
    expect(mergeConditions(stored, { excluded_groups: [] })).toEqual({ ...stored, excluded_groups: [] })
    // The merge copies arrays: mutating the result never touches the stored record.
    const merged = mergeConditions(stored, undefined)
    merged.required_permissions.push('b')
    expect(stored.required_permissions).toEqual(['a'])
  })

  it('accepts min ≤ max, open bounds and equal bounds', () => {
    for (const [min, max] of [[1, null], [null, 3], [0, 0], [2, 2], [1, 10]] as const) {
      expect(conditionsProblem({ ...DEFAULT_MAPPING_CONDITIONS, character_count_min: min, character_count_max: max }, 'g')).toBeNull()
    }
  })

  it('refuses min > max with both values in the message', () => {
    expect(conditionsProblem({ ...DEFAULT_MAPPING_CONDITIONS, character_count_min: 5, character_count_max: 2 }, 'g'))
      .toBe('conditions.character_count_min (5) must not exceed conditions.character_count_max (2)')
  })

  it('refuses negative or fractional counts (defence behind the schema)', () => {
    expect(conditionsProblem({ ...DEFAULT_MAPPING_CONDITIONS, character_count_min: -1 }, 'g')).toMatch(/character_count_min must be a non-negative integer/)
    expect(conditionsProblem({ ...DEFAULT_MAPPING_CONDITIONS, character_count_max: 1.5 }, 'g')).toMatch(/character_count_max must be a non-negative integer/)
  })

  it('refuses excluding the mapping\'s own group (it could never apply)', () => {
    expect(conditionsProblem({ ...DEFAULT_MAPPING_CONDITIONS, excluded_groups: ['other', 'pilots'] }, 'pilots')).toMatch(/own group "pilots"/)
  })
})
