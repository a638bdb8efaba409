import { StoreConflictError, StoreUnavailableError } from '../../errors.js'
import { INDEXES } from './indexes.js'

/*
 * Driver errors become the port's errors here, in one place.
 *
 * A duplicate-key error reaches us in several shapes: a MongoServerError with code
 * 11000 (single writes, and a transaction aborted by one), a MongoBulkWriteError whose
 * writeErrors carry the code (insertMany, bulkWrite), or a mongos-wrapped variant.
 * The conflict message names the fields only: the server's message and `keyValue`
 * contain the duplicated value, which may be an OAuth state or another value we must
 * not echo, so neither the message nor the original error (as `cause`) is kept.
 */

/**
 * Whether `err` is one of the driver's errors: every one of them derives from MongoError.
 * Recognised by the class name in its prototype chain rather than by instanceof, so
 * this module needs no `mongodb` import: a host that hands us its own Db or client
 * (and a host on SQLite) does not make us load the driver.
 */
function isDriverError (err: unknown): err is Error {
  if (!(err instanceof Error)) return false
  for (let proto: unknown = Object.getPrototypeOf(err); proto !== null && proto !== Error.prototype; proto = Object.getPrototypeOf(proto)) {
    if ((proto as { constructor?: { name?: unknown } }).constructor?.name === 'MongoError') return true
  }
  return false
}

const DUPLICATE_KEY_CODES = new Set([11000, 11001, 12582])

/** Index name to its fields, so a conflict can be named from the server's message alone. */
const FIELDS_BY_INDEX_NAME = new Map<string, string[]>([
  ['_id_', ['_id']],
  ...Object.values(INDEXES).flat().filter((i) => i.unique === true).map((i) => [i.name, Object.keys(i.key)] as [string, string[]])
])

interface ErrorLike {
  code?: unknown
  keyPattern?: unknown
  errmsg?: unknown
  message?: unknown
  errorResponse?: unknown
  writeErrors?: unknown
  err?: unknown
}

function asObject (v: unknown): ErrorLike | null {
  return typeof v === 'object' && v !== null ? v as ErrorLike : null
}

/** The error itself plus every nested write error, wherever the driver put them. */
function candidates (err: unknown): ErrorLike[] {
  const out: ErrorLike[] = []
  const root = asObject(err)
  if (!root) return out
  out.push(root)
  const response = asObject(root.errorResponse)
  if (response) out.push(response)
  for (const holder of [root, response]) {
    if (!holder) continue
    const we = holder.writeErrors
    const list = Array.isArray(we) ? we : (we !== undefined ? [we] : [])
    for (const w of list) {
      const wo = asObject(w)
      if (!wo) continue
      out.push(wo)
      const inner = asObject(wo.err)
      if (inner) out.push(inner)
    }
  }
  return out
}

export function isDuplicateKeyError (err: unknown): boolean {
  return candidates(err).some((c) => typeof c.code === 'number' && DUPLICATE_KEY_CODES.has(c.code))
}

/** The fields of the violated unique index, or null when the error does not say. */
export function duplicateKeyFields (err: unknown): string[] | null {
  const dup = candidates(err).filter((c) => typeof c.code === 'number' && DUPLICATE_KEY_CODES.has(c.code))
  for (const c of dup) {
    const kp = asObject(c.keyPattern)
    if (kp) {
      const fields = Object.keys(kp)
      if (fields.length > 0) return fields
    }
  }
  for (const c of [...dup, ...candidates(err)]) {
    for (const text of [c.errmsg, c.message]) {
      if (typeof text !== 'string') continue
      const m = /index: (\S+)/.exec(text)
      const fields = m?.[1] !== undefined ? FIELDS_BY_INDEX_NAME.get(m[1]) : undefined
      if (fields) return fields
    }
  }
  return null
}

export function conflictError (entity: string, fields: string[] | null): Error {
  const what = fields && fields.length > 0 ? `the same ${fields.join(', ')}` : 'the same unique key'
  const article = /^[aeiou]/i.test(entity) ? 'An' : 'A'
  return new StoreConflictError(`${article} ${entity} with ${what} already exists`)
}

/**
 * Maps a thrown value to the port's error vocabulary. Errors that are not from the
 * driver (our own NotFoundError, SecretDecryptError, programming errors) pass through.
 */
export function toStoreError (err: unknown, op: string, entity: string): unknown {
  if (isDuplicateKeyError(err)) return conflictError(entity, duplicateKeyFields(err))
  if (isDriverError(err)) {
    const codeName: unknown = (err as unknown as { codeName?: unknown }).codeName
    const label = typeof codeName === 'string' ? codeName : err.name
    return new StoreUnavailableError(`MongoDB ${op} failed (${label})`, { cause: err })
  }
  return err
}
