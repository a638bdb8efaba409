import { readFileSync } from 'node:fs'
import { gunzipSync } from 'node:zlib'
import { fileURLToPath } from 'node:url'
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js'
import addFormatsModule from 'ajv-formats'
import { expect } from 'vitest'

/*
 * Validation of simulator responses against Discord's official OpenAPI 3.1 description
 * (../shared/discord/openapi.json, vendored as test/fixtures/discord-openapi.json.gz). OpenAPI 3.1
 * schemas are JSON Schema 2020-12, so Ajv's 2020 build validates them; the whole document
 * is added once under an $id and every schema is compiled by reference into it, so the
 * spec's own `$ref`s resolve unchanged.
 *
 * Strict mode stays on. The document's top-level OpenAPI fields (openapi, info, paths, ...)
 * are declared as annotation keywords so Ajv can compile the document root when it resolves a
 * reference into it; the document uses one vendor keyword (`x-discord-union`) and two custom
 * formats (`snowflake`, `nonce`). All are declared rather than strictness being relaxed.
 */

/** The repository's copy (test/fixtures/README.md), so `npm test` does not need ../shared. */
export const VENDORED_SPEC = fileURLToPath(new URL('../fixtures/discord-openapi.json.gz', import.meta.url))
/** The reference beside the repository, when it is there: the copy must not differ from it. */
export const SHARED_SPEC = fileURLToPath(new URL('../../../shared/discord/openapi.json', import.meta.url))
const SPEC_ID = 'discord-openapi.json'

type Json = Record<string, unknown>

export const specText: string = gunzipSync(readFileSync(VENDORED_SPEC)).toString('utf8')
export const spec: Json = JSON.parse(specText)

// ajv-formats is CommonJS with a default export; under NodeNext the namespace object may wrap it.
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (ajv: Ajv2020) => Ajv2020

const ajv = new Ajv2020({ strict: true, allErrors: true })
addFormats(ajv)
ajv.addVocabulary(['openapi', 'info', 'externalDocs', 'servers', 'paths', 'components'])
ajv.addKeyword({ keyword: 'x-discord-union', schemaType: 'string' })
// SnowflakeType already carries the pattern; the format names the same rule.
ajv.addFormat('snowflake', /^(0|[1-9][0-9]*)$/)
// Message nonces: a string or an integer (openapi MessageCreateRequest); nothing to check beyond the type.
ajv.addFormat('nonce', { type: 'string', validate: () => true })
ajv.addSchema(spec, SPEC_ID)

const compiled = new Map<string, ValidateFunction>()

function pointerEscape (segment: string): string {
  return segment.replace(/~/g, '~0').replace(/\//g, '~1')
}

function at (pointer: string): unknown {
  let node: unknown = spec
  for (const raw of pointer.replace(/^#\//, '').split('/')) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~')
    node = (node as Json)[key]
    if (node === undefined) throw new Error(`openapi.json has nothing at ${pointer}`)
  }
  return node
}

function deref<T> (node: T): T {
  const ref = (node as Json).$ref
  return typeof ref === 'string' ? deref(at(ref) as T) : node
}

/** A validator for the schema at a JSON pointer of the document (e.g. '#/components/schemas/GuildMemberResponse'). */
export function validatorAt (pointer: string): ValidateFunction {
  let v = compiled.get(pointer)
  if (v === undefined) {
    // Percent-encode each pointer segment so `{guild_id}` stays a valid URI fragment.
    const fragment = pointer.replace(/^#/, '').split('/').map((s) => encodeURIComponent(s)).join('/')
    v = ajv.compile({ $ref: `${SPEC_ID}#${fragment}` })
    compiled.set(pointer, v)
  }
  return v
}

interface ResponseSpec {
  pointer: string
  hasJsonBody: boolean
  headers: Record<string, { type: string }>
}

/** The documented response for a status: the exact code, else its `4XX`-style range. */
export function responseSpec (path: string, method: string, status: number): ResponseSpec {
  const base = `#/paths/${pointerEscape(path)}/${method.toLowerCase()}/responses`
  const responses = at(base) as Json
  const key = Object.hasOwn(responses, String(status)) ? String(status) : `${String(status)[0]}XX`
  if (!Object.hasOwn(responses, key)) throw new Error(`openapi.json documents no ${status} (nor ${key}) for ${method} ${path}`)
  let pointer = `${base}/${key}`
  let response = responses[key] as Json
  if (typeof response.$ref === 'string') {
    pointer = response.$ref
    response = deref(response)
  }
  const headers: Record<string, { type: string }> = {}
  for (const [name, h] of Object.entries((response.headers ?? {}) as Record<string, Json>)) {
    headers[name] = deref(h).schema as { type: string }
  }
  const content = response.content as Record<string, unknown> | undefined
  return { pointer: `${pointer}/content/${pointerEscape('application/json')}/schema`, hasJsonBody: content?.['application/json'] !== undefined, headers }
}

function check (v: ValidateFunction, value: unknown, what: string): void {
  const ok = v(value)
  if (!ok) {
    throw new Error(`${what} does not match openapi.json:\n${JSON.stringify(v.errors?.slice(0, 8), null, 2)}\nvalue: ${JSON.stringify(value).slice(0, 1500)}`)
  }
}

/*
 * One known disagreement between the spec and the docs: openapi.json reuses its `Error` schema
 * (integer `code`) for the items of a field's `_errors`, while docs/reference.mdx "Error Messages"
 * shows those items with STRING codes ("BASE_TYPE_REQUIRED", "BASE_TYPE_CHOICES"). The README of
 * ../shared/discord says the docs win. So a 50035 body is checked in two parts: everything but
 * `errors` against the spec's ErrorResponse, and `errors` against the docs' nested shape below.
 * (openapi.test.ts proves the spec rejects the docs' own example, so this is not hiding a bug.)
 */
const docsErrorTree = ajv.compile({
  $id: 'docs-error-tree',
  type: 'object',
  properties: {
    _errors: {
      type: 'array',
      minItems: 1,
      items: { type: 'object', properties: { code: { type: 'string', minLength: 1 }, message: { type: 'string' } }, required: ['code', 'message'], additionalProperties: false }
    }
  },
  additionalProperties: { $ref: 'docs-error-tree' },
  minProperties: 1
})

export function validateDocsErrorTree (errors: unknown): boolean {
  return docsErrorTree(errors)
}

/**
 * Asserts that a simulator response matches the documented response of (path, method) for its
 * status: JSON body against the schema (or no body when none is documented), and every documented
 * header present with the documented type. Returns the parsed body.
 */
export async function expectMatchesSpec (res: Response, path: string, method: string): Promise<unknown> {
  const s = responseSpec(path, method, res.status)
  const text = await res.text()
  for (const [name, schema] of Object.entries(s.headers)) {
    const value = res.headers.get(name)
    expect(value, `${method} ${path} ${res.status}: header ${name}`).not.toBeNull()
    const typed = schema.type === 'string' ? value : Number(value)
    check(ajv.compile(schema), typed, `${method} ${path} ${res.status} header ${name}`)
  }
  if (!s.hasJsonBody) {
    expect(text, `${method} ${path} ${res.status} has no documented body`).toBe('')
    return undefined
  }
  expect(res.headers.get('content-type') ?? '').toMatch(/^application\/json/)
  const body: unknown = JSON.parse(text)
  if (res.status === 400 && (body as Json).code === 50035 && (body as Json).errors !== undefined) {
    const { errors, ...rest } = body as Json
    check(validatorAt(s.pointer), rest, `${method} ${path} ${res.status} body (without errors)`)
    check(docsErrorTree, errors, `${method} ${path} ${res.status} errors tree (docs/reference.mdx shape)`)
    return body
  }
  check(validatorAt(s.pointer), body, `${method} ${path} ${res.status} body`)
  return body
}

/** Compiles a schema written in a test (for payloads openapi.json does not describe, e.g. the token response). */
export function compileLocal (schema: Json): ValidateFunction {
  return ajv.compile(schema)
}

export function expectValid (v: ValidateFunction, value: unknown, what: string): void {
  check(v, value, what)
}
