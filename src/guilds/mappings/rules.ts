import { DEFAULT_MAPPING_CONDITIONS, mergeKnown, type MappingConditions } from '../../store/port/index.js'
import type { ConditionsInputBody } from '../../schemas/role-mappings.js'
import { ValidationError } from '../../errors.js'

/*
 * Input rules for mappings that a JSON schema cannot express: how the seed's alias
 * fields combine, and conditions that are only wrong in combination. Pure, so the same
 * rules serve single writes and bulk imports.
 */

/**
 * Resolves a field the seed spells two ways (`enabled` / `is_enabled`, `enabled` / `is_active`).
 * Returns undefined when neither is given; a request giving both with different values is
 * ambiguous and refused rather than silently picking one.
 */
export function resolveAlias (primary: boolean | undefined, alias: boolean | undefined, names: [string, string]): { value: boolean | undefined, error: string | null } {
  if (primary !== undefined && alias !== undefined && primary !== alias) {
    return { value: undefined, error: `"${names[0]}" and "${names[1]}" are the same field and disagree (${String(primary)} vs ${String(alias)}); send one of them` }
  }
  return { value: primary ?? alias, error: null }
}

/** `resolveAlias` for a single write: a disagreement is the request's fault (400). */
export function aliasValue (primary: boolean | undefined, alias: boolean | undefined, names: [string, string]): boolean | undefined {
  const { value, error } = resolveAlias(primary, alias, names)
  if (error !== null) throw new ValidationError(error)
  return value
}

/** Full conditions from a partial input laid over a base (defaults, or the stored conditions on update). */
export function mergeConditions (base: Readonly<MappingConditions>, input: ConditionsInputBody | undefined): MappingConditions {
  // The stores merge stored conditions the same way (one helper, so a route and a store cannot disagree).
  return mergeKnown(DEFAULT_MAPPING_CONDITIONS, base, input)
}

/** Conditions of a new mapping: the given ones over the documented defaults. */
export function conditionsFromInput (input: ConditionsInputBody | undefined): MappingConditions {
  return mergeConditions(DEFAULT_MAPPING_CONDITIONS, input)
}

/**
 * Why a mapping's conditions can never be met, or null. The schema already keeps counts
 * non-negative integers; what is left are contradictions between fields.
 */
export function conditionsProblem (conditions: MappingConditions, groupId: string): string | null {
  const { character_count_min: min, character_count_max: max } = conditions
  for (const [name, value] of [['character_count_min', min], ['character_count_max', max]] as const) {
    if (value !== null && (!Number.isInteger(value) || value < 0)) return `conditions.${name} must be a non-negative integer or null`
  }
  if (min !== null && max !== null && min > max) {
    return `conditions.character_count_min (${min}) must not exceed conditions.character_count_max (${max})`
  }
  // A member of the mapped group who is also in an excluded group it lists: excluding the group itself matches no one.
  if (conditions.excluded_groups.includes(groupId)) {
    return `conditions.excluded_groups must not contain the mapping's own group "${groupId}" (the mapping could never apply)`
  }
  return null
}
