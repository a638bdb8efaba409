/*
 * `IN (?, …)` lists of ids. Every distinct statement text is prepared once and kept for the
 * connection's life (context.ts), so a list sized to its chunk (1 to 500 placeholders) would
 * keep up to 500 statements per query over a long run. Lists are padded instead to one of a few
 * lengths by repeating their last id, which IN ignores.
 */

/** The most ids one statement binds: far below SQLite's bound-parameter limit whatever it was compiled with. */
export const IN_CHUNK = 500
/** The lengths a list is padded up to (the last is IN_CHUNK). */
const LENGTHS = [1, 4, 16, 64, 128, 256, IN_CHUNK] as const

/** The placeholders and values for one chunk of at most IN_CHUNK ids (at least one). */
export function inList (ids: readonly string[]): { placeholders: string, values: string[] } {
  const last = ids.at(-1)
  if (last === undefined || ids.length > IN_CHUNK) throw new RangeError(`an IN list takes 1 to ${IN_CHUNK} ids, got ${ids.length}`)
  const length = LENGTHS.find((n) => n >= ids.length) as number
  const values = [...ids]
  while (values.length < length) values.push(last)
  return { placeholders: Array.from({ length }, () => '?').join(', '), values }
}

/** `ids` in chunks of at most IN_CHUNK. */
export function * chunks<T> (ids: readonly T[]): Generator<T[]> {
  for (let i = 0; i < ids.length; i += IN_CHUNK) yield ids.slice(i, i + IN_CHUNK)
}
