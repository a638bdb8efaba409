import { Type, type TSchema } from '@sinclair/typebox'
import { ErrorResponse } from './common.js'

/*
 * Small building blocks shared by the guild, role-mapping and user route schemas, so every
 * route spells nullability, timestamps and its error statuses the same way (and the
 * OpenAPI document says the same thing everywhere).
 */

/** `T | null`, the way the seed's documents write optional values. */
export function Nullable<T extends TSchema> (schema: T, description?: string) {
  return Type.Union([schema, Type.Null()], description === undefined ? {} : { description })
}

/** An ISO 8601 UTC timestamp as the API returns it (`2024-01-15T10:30:00.000Z`). */
export const IsoDateTime = Type.String({ format: 'date-time', description: 'ISO 8601 UTC timestamp' })

/** Free text chosen by an admin (names, group ids): no control characters, no surrounding blanks. */
export function Label (maxLength: number, description: string) {
  return Type.String({ minLength: 1, maxLength, pattern: '^[^\\s\\x00-\\x1f\\x7f](?:[^\\x00-\\x1f\\x7f]*[^\\s\\x00-\\x1f\\x7f])?$', description })
}

/**
 * The error statuses a route can answer, each with the one error shape. Listing them in the
 * schema is what lets fast-json-stringify serialise errors and the OpenAPI document show them.
 */
export function errorResponses (...statuses: number[]): Record<number, typeof ErrorResponse> {
  const out: Record<number, typeof ErrorResponse> = {}
  for (const s of statuses) out[s] = ErrorResponse
  return out
}

/** Statuses every authenticated plugin route may answer besides its own: bad input, auth, rate limit, internal, store down. */
export const COMMON_ERROR_STATUSES = [400, 401, 403, 429, 500, 503] as const

/** Converts a stored date to the API's timestamp form. */
export function iso (date: Date | null | undefined): string | null {
  return date instanceof Date ? date.toISOString() : null
}

/** OpenAPI security of the session routes: a Bearer JWT or the session cookie (schemes declared in routes/index.ts). */
export const SESSION_SECURITY: Array<Record<string, string[]>> = [{ bearerAuth: [] }, { cookieAuth: [] }]

/**
 * The schema of a route behind a session: its own parts, plus the session security and every
 * common error status (so no route can forget one; the OpenAPI document and the error
 * serialisation depend on them). `errors` lists the route's own error statuses; an entry in
 * `response` wins over them (e.g. a richer 422 body).
 *
 * The declared type keeps only `response` as given: error bodies come from the error handler,
 * never from a handler's return, so handlers stay type-checked against their success schemas.
 */
export function sessionRoute<S extends { tags: string[], summary: string, response: Record<number, TSchema>, errors?: readonly number[] }> (
  schema: S
): Omit<S, 'errors'> & { security: typeof SESSION_SECURITY } {
  const { errors = [], response, ...rest } = schema
  const full = { ...rest, security: SESSION_SECURITY, response: { ...errorResponses(...COMMON_ERROR_STATUSES, ...errors), ...response } }
  return full as unknown as Omit<S, 'errors'> & { security: typeof SESSION_SECURITY }
}
