import type { TSchema } from '@sinclair/typebox'
import { InvalidOptionsError } from '../errors.js'
import { parseDuration } from '../util/duration.js'

/** Refuses an option: FST_DISCORD_INVALID_OPTIONS naming it as the user wrote it. */
export function fail (option: string, why: string): never {
  throw new InvalidOptionsError(`"${option}": ${why}`)
}

/** Milliseconds of a duration option, its schema's default when unset, refused under its schema's `minimumMs`. */
export function durationMs (value: string | number | undefined, schema: TSchema, option: string): number {
  const minMs = schema.minimumMs as number
  const ms = parseDuration(value ?? (schema.default as string | number))
  if (ms === null) fail(option, 'must be a duration like "15m" or a number of milliseconds')
  if (ms < minMs) fail(option, `must be at least ${minMs} ms`)
  return ms
}
