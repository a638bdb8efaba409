import type { FastifyError, FastifyInstance, FastifySchema, FastifySchemaCompiler } from 'fastify'
import type { TSchema } from '@sinclair/typebox'
import { TypeBoxValidatorCompiler } from '@fastify/type-provider-typebox'
import { lazyValidatorCompiler, useLazySerializers } from './lazy-compilers.js'
import { PayloadTooLargeError, UnsupportedMediaTypeError, ValidationError } from '../errors.js'

/*
 * Settings shared by every route group of the plugin (set once on its context, routes/index.ts):
 *
 * - Validation by TypeBox's compiler instead of the host's Ajv. Fastify's default Ajv
 *   runs with `removeAdditional: true`, which silently drops unknown body and query fields;
 *   an admin who misspells `is_enabled` must hear about it, not see the default applied, and
 *   a client sending `prompt=none` to /auth/login must not believe it was honoured. TypeBox
 *   rejects them, never coerces a JSON body, and converts querystring/params strings. It
 *   applies no schema `default`: services apply their own, which the schemas document.
 * - Fastify's own body errors (too large, not JSON, malformed JSON) are answered with this
 *   plugin's codes, so a client only ever branches on FST_DISCORD_ codes. That mapping is
 *   applied by the one error handler of the plugin's context (routes/index.ts): a child
 *   context overriding the handler draws Fastify's FSTWRN004 (an error in Fastify 6).
 */

/** Default body limit of the admin write routes: a guild or mapping is well under 16 KiB. */
export const ADMIN_BODY_LIMIT = 16 * 1024

/** Fastify's body-parsing errors as this plugin's errors; everything else unchanged. */
export function normaliseFastifyError (err: FastifyError): FastifyError {
  if (err.validation !== undefined) return err
  if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return new PayloadTooLargeError('see the route\'s documented limit')
  if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return new UnsupportedMediaTypeError('send Content-Type: application/json')
  const own = typeof err.code === 'string' && err.code.startsWith('FST_DISCORD_')
  if (!own && err.statusCode === 400) return new ValidationError(`Invalid body: ${err.message}`)
  return err
}

/*
 * Query strings and path parameters arrive as text, and TypeBox's conversion reads numbers with
 * parseInt: "1.5", "1e2" and "true" all become the integer 1, "0x10" becomes 16, "0", "1" and
 * "TRUE" become booleans. A mistyped value would then silently mean something else (page=1e2 is
 * page 1). Only the canonical decimal and true/false spellings are converted; anything else is a
 * 400 naming the parameter, before TypeBox sees it.
 */
const CANONICAL: Record<string, { text: RegExp, expected: string }> = {
  // 15 digits always fit a double exactly, so the number read is the number written.
  integer: { text: /^-?\d{1,15}$/, expected: 'an integer written in decimal digits' },
  number: { text: /^-?\d{1,15}(\.\d{1,15})?$/, expected: 'a decimal number' },
  boolean: { text: /^(true|false)$/, expected: 'true or false' }
}

/** The top-level properties of a query or params schema that are converted from text, by type. */
function scalarProperties (schema: unknown): Array<[string, { text: RegExp, expected: string }]> {
  const properties = (schema as { properties?: Record<string, { type?: unknown }> } | null)?.properties ?? {}
  const out: Array<[string, { text: RegExp, expected: string }]> = []
  for (const [name, prop] of Object.entries(properties)) {
    const rule = typeof prop.type === 'string' ? CANONICAL[prop.type] : undefined
    if (rule !== undefined) out.push([name, rule])
  }
  return out
}

/*
 * A lone UTF-16 surrogate ("\ud800" in a JSON body) is valid JSON but not text: it cannot be
 * encoded as UTF-8, so a store or Discord would replace it with U+FFFD or fail on it, and the
 * value written would differ from the value read back. Every string (and object key) of every
 * part is checked, iteratively so a deeply nested body cannot exhaust the stack.
 */
const LONE_SURROGATE = /\p{Surrogate}/u

/** JSON-pointer path of the first string or key holding a lone surrogate, or null. */
export function loneSurrogatePath (value: unknown): string | null {
  const stack: Array<[unknown, string]> = [[value, '']]
  while (stack.length > 0) {
    const [v, path] = stack.pop() as [unknown, string]
    if (typeof v === 'string') {
      if (LONE_SURROGATE.test(v)) return path
    } else if (Array.isArray(v)) {
      v.forEach((item, i) => stack.push([item, `${path}/${i}`]))
    } else if (typeof v === 'object' && v !== null) {
      for (const [k, item] of Object.entries(v)) {
        const at = `${path}/${k.replace(/~/g, '~0').replace(/\//g, '~1')}`
        if (LONE_SURROGATE.test(k)) return path
        stack.push([item, at])
      }
    }
  }
  return null
}

const strictValidatorCompiler: FastifySchemaCompiler<FastifySchema> = (route) => {
  const check = TypeBoxValidatorCompiler({ ...route, schema: route.schema as TSchema })
  const scalars = route.httpPart === 'body' ? [] : scalarProperties(route.schema)
  return (value: unknown) => {
    const bad = loneSurrogatePath(value)
    if (bad !== null) {
      // The offending text is not echoed: it is the one thing that cannot be shown.
      return { error: [{ keyword: 'format', schemaPath: '#', params: {}, message: 'Expected well-formed Unicode text (no lone surrogates)', instancePath: bad }] }
    }
    if (scalars.length === 0) return check(value)
    const input = (value ?? {}) as Record<string, unknown>
    const errors = scalars
      .filter(([name, rule]) => typeof input[name] === 'string' && !rule.text.test(input[name] as string))
      .map(([name, rule]) => ({ keyword: 'type', schemaPath: `#/properties/${name}`, params: {}, message: `Expected ${rule.expected}`, instancePath: `/${name}` }))
    return errors.length > 0 ? { error: errors } : check(value)
  }
}

export function useStrictJson (fastify: FastifyInstance): void {
  // Compiled on each route's first request, not at ready (lazy-compilers.ts).
  fastify.setValidatorCompiler(lazyValidatorCompiler(strictValidatorCompiler))
  useLazySerializers(fastify)
}
