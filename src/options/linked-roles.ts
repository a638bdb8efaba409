import { Type, type Static } from '@sinclair/typebox'
import type { UserContext } from '../sync/types.js'
import { instance, opt, required } from './define.js'
import { fail } from './fail.js'

/*
 * Linked Roles (docs/application-role-connection-metadata.mdx): up to 5 metadata fields the
 * application registers with Discord, and each linked user's values for them, computed from the
 * membership provider's data. Guilds then gate roles on those values in their own role settings,
 * without the bot managing the roles. Limits are Discord's: key `a-z0-9_` 1-50 characters, name
 * 1-100, description 1-200, at most 5 records, each value at most 100 characters once stringified.
 */

/** Discord's ApplicationRoleConnectionMetadataType, by the name an option uses. */
export const LINKED_ROLE_TYPES = Object.freeze({
  integer_less_than_or_equal: 1,
  integer_greater_than_or_equal: 2,
  integer_equal: 3,
  integer_not_equal: 4,
  datetime_less_than_or_equal: 5,
  datetime_greater_than_or_equal: 6,
  boolean_equal: 7,
  boolean_not_equal: 8
})
export type LinkedRoleTypeName = keyof typeof LINKED_ROLE_TYPES

/** A field's value for one user: a number (integer types), a boolean (boolean types), a Date or ISO 8601 string (datetime types); null leaves it out. */
export type LinkedRoleValue = (user: UserContext) => number | boolean | string | Date | null | Promise<number | boolean | string | Date | null>

/** Values computed from the provider's data without a function: in any group (boolean), how many groups, how many characters. */
export type LinkedRoleSource = 'member' | 'groups' | 'characters'

const LinkedRoleField = Type.Object({
  key: Type.String({ pattern: '^[a-z0-9_]{1,50}$', description: 'Dictionary key: a-z, 0-9 or _, 1-50 characters, unique.' }),
  name: Type.String({ minLength: 1, maxLength: 100 }),
  description: Type.String({ minLength: 1, maxLength: 200 }),
  type: Type.Union(Object.keys(LINKED_ROLE_TYPES).map((k) => Type.Literal(k as LinkedRoleTypeName))),
  source: Type.Optional(Type.Union([Type.Literal('member'), Type.Literal('groups'), Type.Literal('characters')])),
  value: Type.Optional(instance<LinkedRoleValue>({ title: '(user) => number | boolean | Date | string | null' }))
}, { additionalProperties: false })

export const LinkedRolesSchema = Type.Object({
  botToken: opt(Type.String({ minLength: 20, maxLength: 200, pattern: '^[A-Za-z0-9_\\-.]+$' }), {
    defaultText: 'the stored bot token of a configured guild whose bot belongs to the application',
    description: "The application's bot token: registering the metadata records is a bot call with the bot of the application that owns the OAuth client. " +
      'Leave it out when a configured guild uses that bot: its stored token is used (found at start, or before the first push once such a guild is saved). Never logged or returned.'
  }),
  platformName: opt(Type.String({ minLength: 1, maxLength: 50 }), { defaultText: 'none', description: 'The platform name shown on each user\'s connection (max 50 characters).' }),
  fields: required(Type.Array(LinkedRoleField, { minItems: 1, maxItems: 5 }), {
    description: 'Up to 5 metadata fields: `{ key, name, description, type, source | value }`. `type` is one of ' +
      `${Object.keys(LINKED_ROLE_TYPES).join(', ')}; \`source\` is a built-in value (member: boolean, in any group; groups: integer; ` +
      'characters: integer), `value` a function of the provider\'s user context.'
  })
}, {
  additionalProperties: false,
  defaultText: 'none: no metadata is registered and no role connection pushed',
  description: 'Linked Roles: metadata registered with Discord at start, and each linked user\'s role connection (scope role_connections.write, then ' +
    'requested on every link) updated on link and when the values change. See docs/linked-roles.md.'
})

export type LinkedRolesOptions = Static<typeof LinkedRolesSchema>

export type LinkedRoleKind = 'integer' | 'datetime' | 'boolean'

export interface ResolvedLinkedRoleField {
  key: string
  name: string
  description: string
  /** Discord's numeric type. */
  type: number
  kind: LinkedRoleKind
  value: LinkedRoleValue
}

export interface ResolvedLinkedRoles {
  /** null: the stored token of a configured guild whose bot belongs to the application. */
  botToken: string | null
  platformName: string | null
  fields: ResolvedLinkedRoleField[]
}

const SOURCES: Record<LinkedRoleSource, { kind: LinkedRoleKind, value: LinkedRoleValue }> = {
  member: { kind: 'boolean', value: (u) => u.groups.length > 0 },
  groups: { kind: 'integer', value: (u) => u.groups.length },
  characters: { kind: 'integer', value: (u) => u.character_count }
}

function kindOf (type: number): LinkedRoleKind {
  return type <= 4 ? 'integer' : type <= 6 ? 'datetime' : 'boolean'
}

export function resolveLinkedRoles (o: LinkedRolesOptions | undefined): ResolvedLinkedRoles | null {
  if (o === undefined) return null
  const keys = new Set<string>()
  const fields = o.fields.map((f, i): ResolvedLinkedRoleField => {
    const at = `linkedRoles.fields[${i}]`
    if (keys.has(f.key)) fail(`${at}.key`, `"${f.key}" is used twice: keys must be unique`)
    keys.add(f.key)
    const type = LINKED_ROLE_TYPES[f.type]
    const kind = kindOf(type)
    if ((f.source === undefined) === (f.value === undefined)) fail(at, 'give exactly one of `source` and `value`')
    if (f.value !== undefined && typeof f.value !== 'function') fail(`${at}.value`, 'must be a function (user) => value')
    if (f.source !== undefined && SOURCES[f.source].kind !== kind) {
      fail(`${at}.source`, `"${f.source}" is ${SOURCES[f.source].kind === 'boolean' ? 'a boolean' : 'an integer'}, but type "${f.type}" compares ${kind === 'integer' ? 'an integer' : kind === 'boolean' ? 'a boolean' : 'a date'}`)
    }
    return { key: f.key, name: f.name, description: f.description, type, kind, value: f.source !== undefined ? SOURCES[f.source].value : f.value as LinkedRoleValue }
  })
  return { botToken: o.botToken ?? null, platformName: o.platformName ?? null, fields }
}
