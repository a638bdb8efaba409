import { Type } from '@sinclair/typebox'
import { ValidationError } from '../errors.js'
import type { MappingCursor, RoleMappingRecord } from '../store/port/index.js'

/*
 * The cursor of the mapping lists (GET /role-mappings, GET /guilds/{id}/role-mappings): the last
 * mapping of a page in the lists' order (guild, priority, id), opaque to clients (base64url), so
 * the next page starts strictly after it whatever was added or removed meanwhile.
 */

const MAX_CURSOR = 200

export const MappingCursorParam = Type.String({
  minLength: 1,
  maxLength: MAX_CURSOR,
  pattern: '^[A-Za-z0-9_-]+$',
  description: 'Opaque cursor: the previous page\'s next_cursor. Mappings strictly after the last mapping of that page.'
})

export function encodeMappingCursor (m: Pick<RoleMappingRecord, 'guild_id' | 'priority' | 'id'>): string {
  return Buffer.from(`${m.guild_id}:${m.priority}:${m.id}`, 'utf8').toString('base64url')
}

/** The cursor's position; 400 FST_DISCORD_VALIDATION for anything next_cursor never produced. */
export function decodeMappingCursor (cursor: string): MappingCursor {
  const text = Buffer.from(cursor, 'base64url').toString('utf8')
  const m = /^(\d{1,20}):(-?\d{1,15}):([A-Za-z0-9_-]{1,64})$/.exec(text)
  if (m === null) throw new ValidationError('Invalid querystring: "after" is not a cursor this API returned (pass next_cursor unchanged)')
  return { guild_id: m[1] as string, priority: Number(m[2]), id: m[3] as string }
}
