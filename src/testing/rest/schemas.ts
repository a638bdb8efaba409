import { Type, type Static, type TSchema } from '@sinclair/typebox'
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler'
import { ValueErrorType } from '@sinclair/typebox/errors'
import { formErrors, type ErrorTree } from './errors.js'

/*
 * Request body schemas (TypeBox) and their translation into Discord's 50035 error tree.
 * Limits come from openapi.json's request schemas (e.g. PATCH member: nick maxLength 32,
 * roles maxItems 350 and uniqueItems). The inner error codes BASE_TYPE_REQUIRED and
 * BASE_TYPE_CHOICES are the documented examples (docs/reference.mdx "Error Messages");
 * the others follow the same naming and are illustrative: clients must only rely on
 * the top-level `code` 50035 and the field path.
 */

export const Snowflake = Type.String({ pattern: '^(0|[1-9][0-9]{0,19})$' })

/** PATCH /guilds/{guild.id}/members/{user.id}: the fields the simulator applies. Null values are handled before validation. */
export const ModifyMemberBody = Type.Object({
  nick: Type.Optional(Type.String({ maxLength: 32 })),
  roles: Type.Optional(Type.Array(Snowflake, { maxItems: 350, uniqueItems: true }))
})
export type ModifyMemberInput = Static<typeof ModifyMemberBody>

/** PUT /applications/{application.id}/role-connections/metadata (openapi ApplicationRoleConnectionsMetadataItemRequest, at most 5). */
export const RoleConnectionMetadataBody = Type.Array(Type.Object({
  type: Type.Integer({ minimum: 1, maximum: 8 }),
  key: Type.String({ pattern: '^[a-z0-9_]{1,50}$' }),
  name: Type.String({ minLength: 1, maxLength: 100 }),
  description: Type.String({ minLength: 1, maxLength: 200 }),
  name_localizations: Type.Optional(Type.Union([Type.Null(), Type.Record(Type.String(), Type.String({ minLength: 1, maxLength: 100 }))])),
  description_localizations: Type.Optional(Type.Union([Type.Null(), Type.Record(Type.String(), Type.String({ minLength: 1, maxLength: 200 }))]))
}), { maxItems: 5 })

/** PUT /users/@me/applications/{application.id}/role-connection (openapi UpdateApplicationUserRoleConnectionRequest). */
export const RoleConnectionBody = Type.Object({
  platform_name: Type.Optional(Type.Union([Type.Null(), Type.String({ maxLength: 50 })])),
  platform_username: Type.Optional(Type.Union([Type.Null(), Type.String({ maxLength: 100 })])),
  metadata: Type.Optional(Type.Union([Type.Null(), Type.Record(Type.String(), Type.String({ minLength: 1, maxLength: 100 }), { maxProperties: 5 })]))
})

/** PUT /guilds/{guild.id}/members/{user.id} (openapi BotAddGuildMemberRequest; nulls are dropped before validation). */
export const AddMemberBody = Type.Object({
  access_token: Type.String({ maxLength: 10240 }),
  nick: Type.Optional(Type.String({ maxLength: 32 })),
  roles: Type.Optional(Type.Array(Snowflake, { maxItems: 250, uniqueItems: true }))
})
export type AddMemberInput = Static<typeof AddMemberBody>

const EmbedField = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 256 }),
  value: Type.String({ minLength: 1, maxLength: 1024 }),
  inline: Type.Optional(Type.Boolean())
})

/** The subset of a rich embed (openapi RichEmbed) the product's audit messages use. */
export const Embed = Type.Object({
  title: Type.Optional(Type.String({ maxLength: 256 })),
  description: Type.Optional(Type.String({ maxLength: 4096 })),
  url: Type.Optional(Type.String({ maxLength: 2048 })),
  color: Type.Optional(Type.Integer({ minimum: 0, maximum: 16777215 })),
  timestamp: Type.Optional(Type.String()),
  footer: Type.Optional(Type.Object({ text: Type.String({ maxLength: 2048 }) })),
  fields: Type.Optional(Type.Array(EmbedField, { maxItems: 25 }))
})

/** POST /channels/{channel.id}/messages (content maxLength 4000 and embeds maxItems 10 per openapi MessageCreateRequest). */
export const CreateMessageBody = Type.Object({
  content: Type.Optional(Type.String({ maxLength: 4000 })),
  embeds: Type.Optional(Type.Array(Embed, { maxItems: 10 }))
})
export type CreateMessageInput = Static<typeof CreateMessageBody>

const compiled = new WeakMap<TSchema, TypeCheck<TSchema>>()

function checker<T extends TSchema> (schema: T): TypeCheck<T> {
  let c = compiled.get(schema)
  if (c === undefined) {
    c = TypeCompiler.Compile(schema)
    compiled.set(schema, c)
  }
  return c as TypeCheck<T>
}

function codeOf (type: ValueErrorType): string {
  switch (type) {
    case ValueErrorType.ObjectRequiredProperty: return 'BASE_TYPE_REQUIRED'
    case ValueErrorType.StringMaxLength:
    case ValueErrorType.StringMinLength: return 'BASE_TYPE_BAD_LENGTH'
    case ValueErrorType.ArrayMaxItems:
    case ValueErrorType.ArrayMinItems: return 'BASE_TYPE_BAD_LENGTH'
    case ValueErrorType.ArrayUniqueItems: return 'BASE_TYPE_UNIQUE'
    case ValueErrorType.StringPattern: return 'NUMBER_TYPE_COERCE'
    case ValueErrorType.IntegerMaximum:
    case ValueErrorType.NumberMaximum: return 'NUMBER_TYPE_MAX'
    case ValueErrorType.IntegerMinimum:
    case ValueErrorType.NumberMinimum: return 'NUMBER_TYPE_MIN'
    default: return 'BASE_TYPE_BAD_TYPE'
  }
}

/** Validates `value`; returns the 50035 error tree, or null when valid. One entry per offending path. */
export function validate (schema: TSchema, value: unknown): ErrorTree | null {
  const c = checker(schema)
  if (c.Check(value)) return null
  const seen = new Set<string>()
  const issues: Array<{ path: string[], code: string, message: string }> = []
  for (const e of c.Errors(value)) {
    if (seen.has(e.path)) continue
    seen.add(e.path)
    const path = e.path.split('/').filter((s) => s.length > 0)
    issues.push({ path, code: codeOf(e.type), message: e.message })
  }
  return formErrors(issues)
}
