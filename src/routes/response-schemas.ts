import type { RouteOptions } from 'fastify'

/*
 * Response schemas in the form fast-json-stringify serialises without validating.
 *
 * TypeBox writes a nullable field as `anyOf: [X, { type: 'null' }]` and a union of literals as
 * `anyOf: [{ const: 'a' }, { const: 'b' }]`. For any `anyOf`, fast-json-stringify runs a JSON
 * Schema validator on each value to pick the branch (a date-time format check per nullable
 * timestamp, per row of a list): most of a read route's serialisation time. The same constraints
 * written as `type: [X's type, 'null']` and `enum` are serialised with a typeof check. Only the
 * response schemas are rewritten, as copies: request validation keeps the TypeBox schemas.
 */

type Schema = Record<string, unknown>

function isSchema (v: unknown): v is Schema {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

const SIMPLE = new Set(['string', 'integer', 'number', 'boolean', 'object', 'array'])

/** A copy of `schema` with nullable unions as type arrays and literal unions as enums; anything else as it was. */
export function simplifyResponseSchema (schema: unknown): unknown {
  if (!isSchema(schema)) return schema
  const out: Schema = { ...schema }
  if (isSchema(schema.properties)) {
    out.properties = Object.fromEntries(Object.entries(schema.properties).map(([k, v]) => [k, simplifyResponseSchema(v)]))
  }
  if (schema.items !== undefined) out.items = Array.isArray(schema.items) ? schema.items.map(simplifyResponseSchema) : simplifyResponseSchema(schema.items)
  if (isSchema(schema.additionalProperties)) out.additionalProperties = simplifyResponseSchema(schema.additionalProperties)
  if (!Array.isArray(schema.anyOf)) return out
  const branches = schema.anyOf.map(simplifyResponseSchema)
  out.anyOf = branches
  if (!branches.every(isSchema)) return out
  const { anyOf: _anyOf, ...siblings } = out

  // A union of literals of one type: an enum.
  const types = new Set(branches.map((b) => b.type))
  if (types.size === 1 && branches.every((b) => b.const !== undefined && Object.keys(b).every((k) => k === 'const' || k === 'type' || k === 'description'))) {
    const type = [...types][0]
    if (typeof type === 'string' && SIMPLE.has(type)) return { ...siblings, type, enum: branches.map((b) => b.const) }
  }
  // X or null, X one plain type (no union, reference or literal of its own): a type array.
  if (branches.length === 2) {
    const nul = branches.findIndex((b) => b.type === 'null' && Object.keys(b).every((k) => k === 'type' || k === 'description'))
    const other = branches[1 - nul]
    if (nul !== -1 && other !== undefined && typeof other.type === 'string' && SIMPLE.has(other.type) && other.anyOf === undefined && other.$ref === undefined && other.const === undefined) {
      const merged: Schema = { ...other, ...siblings, type: [other.type, 'null'] }
      if (Array.isArray(other.enum)) merged.enum = [...other.enum, null]
      return merged
    }
  }
  return out
}

/** onRoute hook: the route's response schemas (by status) simplified for serialisation. */
export function simplifyRouteResponses (route: RouteOptions): void {
  const schema = route.schema as Schema | undefined
  if (schema === undefined || !isSchema(schema.response)) return
  const response = Object.fromEntries(Object.entries(schema.response).map(([status, s]) => [status, simplifyResponseSchema(s)]))
  route.schema = { ...schema, response }
}
