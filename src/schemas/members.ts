import { Type, type Static } from '@sinclair/typebox'
import { ValidationError } from '../errors.js'
import type { MemberDetail, MemberSummary } from '../members/directory.js'
import { MAX_PAGE_SIZE, type UserCursor } from '../store/port/index.js'
import { Snowflake } from './common.js'
import { IsoDateTime, iso, Nullable } from './http.js'

/*
 * The admin members page (issue 17): linked members with their Discord names, a keyset page
 * with search and filters, one member's roles per guild with the reason for each managed role,
 * and the membership provider's group list for the mapping editor's picker.
 */

export const MemberListQuery = Type.Object({
  q: Type.Optional(Type.String({ minLength: 1, maxLength: 100, pattern: '^[^\\x00-\\x1f\\x7f]+$', description: 'The Discord id or host user id exactly, or part of the username or global name (case-insensitive)' })),
  filter: Type.Optional(Type.Union([Type.Literal('out_of_sync'), Type.Literal('held'), Type.Literal('not_in_guild'), Type.Literal('needs_reauth')], {
    description: 'As of the last sync: out_of_sync (held, failed recently, or never synced), held (a change held by the safety brake), ' +
      'not_in_guild (missing from an enabled guild), needs_reauth (Discord refused the link\'s refresh token)'
  })),
  cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 200, pattern: '^[A-Za-z0-9_-]+$', description: 'Opaque: the previous page\'s next_cursor' })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_PAGE_SIZE, description: `Default 25, at most ${MAX_PAGE_SIZE}` }))
}, { additionalProperties: false })

export const MemberParams = Type.Object({ discord_user_id: Snowflake }, { additionalProperties: false })

const MemberGuild = Type.Object({
  guild_id: Type.String(),
  guild_name: Type.String(),
  in_guild: Type.Boolean({ description: 'The member is in the guild, as the last sync or sign-in saw it' }),
  held: Type.Boolean({ description: 'A change of the member is held by the safety brake' }),
  failed: Type.Boolean({ description: 'The member failed in a recent run' })
})

export const MemberSummaryBody = Type.Object({
  discord_user_id: Type.String(),
  user_id: Type.String({ description: 'The host user id' }),
  username: Type.String(),
  global_name: Nullable(Type.String()),
  avatar_url: Nullable(Type.String({ description: 'The Discord CDN URL of the avatar (option cdnBaseUrl); null without one' })),
  needs_reauth: Type.Boolean(),
  linked_at: IsoDateTime,
  last_sync: Nullable(IsoDateTime),
  out_of_sync: Type.Boolean(),
  held: Type.Boolean(),
  not_in_guild: Type.Boolean(),
  guilds: Type.Array(MemberGuild, { description: 'Every enabled guild, by name' })
})

export const MemberPageBody = Type.Object({
  members: Type.Array(MemberSummaryBody),
  next_cursor: Nullable(Type.String(), 'Pass as `cursor` for the next page; null at the end. A filtered page may hold fewer members than `limit` and still have a next page.')
})

const ManagedRole = Type.Object({
  role_id: Type.String(),
  role_name: Type.String(),
  color: Type.Integer({ description: 'RGB integer, 0 for none' }),
  held: Type.Boolean(),
  wanted: Type.Boolean({ description: 'The member is entitled to it' }),
  state: Type.Union([Type.Literal('in_sync'), Type.Literal('to_add'), Type.Literal('to_remove'), Type.Literal('blocked')]),
  reason: Type.String({ description: 'Which group grants it, or which condition keeps it away' }),
  mapping_id: Nullable(Type.String())
})

const MemberGuildDetail = Type.Object({
  guild_id: Type.String(),
  guild_name: Type.String(),
  in_guild: Type.Boolean({ description: 'As Discord answers now' }),
  error: Nullable(Type.String()),
  nick: Nullable(Type.String()),
  roles: Type.Array(Type.Object({ id: Type.String(), name: Type.String(), color: Type.Integer(), position: Type.Integer() }), { description: 'Roles held now, highest first' }),
  managed: Type.Array(ManagedRole, { description: 'Every managed role, with the reason it is or is not held' })
})

export const MemberDetailBody = Type.Object({
  member: MemberSummaryBody,
  groups: Type.Array(Type.Object({ id: Type.String(), name: Type.String() }), { description: 'The host groups the membership provider reports' }),
  profile: Nullable(Type.Record(Type.String(), Type.String()), 'The provider\'s nickname template values for the member; null when it gave none'),
  membership_error: Nullable(Type.String()),
  guilds: Type.Array(MemberGuildDetail)
})

export const GroupListBody = Type.Object({
  available: Type.Boolean({ description: 'False when the membership provider offers no listGroups(): group ids are free text then' }),
  groups: Type.Array(Type.Object({ id: Type.String(), name: Type.String() }), { description: 'Sorted by name' })
})

export function presentMember (s: MemberSummary): Static<typeof MemberSummaryBody> {
  const l = s.link
  return {
    discord_user_id: l.discord_user_id,
    user_id: l.user_id,
    username: l.username,
    global_name: l.global_name,
    avatar_url: s.avatar_url,
    needs_reauth: l.needs_reauth,
    linked_at: l.created_at.toISOString(),
    last_sync: iso(l.last_sync),
    out_of_sync: s.out_of_sync,
    held: s.held,
    not_in_guild: s.not_in_guild,
    guilds: s.guilds
  }
}

export function presentMemberDetail (d: MemberDetail): Static<typeof MemberDetailBody> {
  return { member: presentMember(d.summary), groups: d.groups, profile: d.profile, membership_error: d.membership_error, guilds: d.guilds }
}

/** The cursor: the last link a page examined (creation time and id), base64url. */
export function encodeMemberCursor (c: UserCursor): string {
  return Buffer.from(`${c.created_at.getTime()}:${c.id}`, 'utf8').toString('base64url')
}

/** The cursor's position; 400 FST_DISCORD_VALIDATION for anything next_cursor never produced. */
export function decodeMemberCursor (cursor: string): UserCursor {
  const m = /^(\d{1,15}):([A-Za-z0-9_-]{1,64})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'))
  const at = m === null ? NaN : Number(m[1])
  if (m === null || !Number.isSafeInteger(at)) throw new ValidationError('Invalid querystring: "cursor" is not a cursor this API returned (pass next_cursor unchanged)')
  return { created_at: new Date(at), id: m[2] as string }
}
