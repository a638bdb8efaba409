import { Type, type Static } from '@sinclair/typebox'
import { Nullable } from './http.js'
import type { GuildActivity } from '../sync/activity.js'
import type { RequestMinute } from '../discord/request-activity.js'

/* GET /guilds/{guild_id}/activity: the series behind the admin UI's charts. */

const Day = Type.Object({
  day: Type.String({ description: 'The UTC day, YYYY-MM-DD' }),
  runs: Type.Integer(),
  applied: Type.Integer({ description: 'Role changes written by real runs (added + removed)' }),
  planned: Type.Integer({ description: 'Role changes dry runs planned (nothing written)' }),
  held: Type.Integer({ description: 'Role changes the safety brake held back (nothing written)' }),
  failed: Type.Integer({ description: 'Members whose changes failed' }),
  max_duration_ms: Nullable(Type.Integer()),
  mean_duration_ms: Nullable(Type.Integer())
})

const Minute = Type.Object({
  minute: Type.String({ description: 'The minute\'s start, ISO 8601' }),
  requests: Type.Integer({ description: 'Discord answers (every attempt)' }),
  rate_limited: Type.Integer({ description: 'Of those, 429 answers' })
})

export const GuildActivityBody = Type.Object({
  days: Type.Array(Day, { description: 'The last 30 UTC days of the guild\'s runs, oldest first' }),
  runs_read: Type.Integer(),
  truncated: Type.Boolean({ description: 'The bound on runs read was reached before the 30 days began: older days are incomplete' }),
  requests: Type.Array(Minute, { description: 'Discord requests and 429s per minute over the last hour: this guild\'s own (`/guilds/{id}/...`) requests, as seen by this instance' })
})

export function presentActivity (a: GuildActivity, minutes: readonly RequestMinute[]): Static<typeof GuildActivityBody> {
  return {
    days: a.days.map((d) => ({ ...d, day: new Date(d.day).toISOString().slice(0, 10) })),
    runs_read: a.runs_read,
    truncated: a.truncated,
    requests: minutes.map((m) => ({ ...m, minute: new Date(m.minute).toISOString() }))
  }
}
