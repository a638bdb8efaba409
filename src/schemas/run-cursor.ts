import { Type } from '@sinclair/typebox'
import { ValidationError } from '../errors.js'
import type { SyncRunCursor, SyncRunRecord } from '../store/port/index.js'

/*
 * The cursor of GET /sync/runs: the last run of a page (its creation time and id), opaque to
 * clients (base64url), so the next page starts strictly after it whatever runs were added since.
 */

const MAX_CURSOR = 200

export const RunCursor = Type.String({
  minLength: 1,
  maxLength: MAX_CURSOR,
  pattern: '^[A-Za-z0-9_-]+$',
  description: 'Opaque cursor: the previous page\'s next_cursor. Runs strictly older than the last run of that page.'
})

export function encodeRunCursor (run: Pick<SyncRunRecord, 'created_at' | 'id'>): string {
  return Buffer.from(`${run.created_at.getTime()}:${run.id}`, 'utf8').toString('base64url')
}

/** The cursor's position; 400 FST_DISCORD_VALIDATION for anything next_cursor never produced. */
export function decodeRunCursor (cursor: string): SyncRunCursor {
  const text = Buffer.from(cursor, 'base64url').toString('utf8')
  const m = /^(\d{1,15}):([A-Za-z0-9_-]{1,64})$/.exec(text)
  const at = m === null ? NaN : Number(m[1])
  if (m === null || !Number.isSafeInteger(at)) throw new ValidationError('Invalid querystring: "before" is not a cursor this API returned (pass next_cursor unchanged)')
  return { created_at: new Date(at), id: m[2] as string }
}
