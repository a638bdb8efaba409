import type { FastifyError, FastifyInstance } from 'fastify'
import { TypeBoxValidatorCompiler } from '@fastify/type-provider-typebox'
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

export function useStrictJson (fastify: FastifyInstance): void {
  fastify.setValidatorCompiler(TypeBoxValidatorCompiler)
}
