import { createHash } from 'node:crypto'

/** A request path reduced to what rate limiting needs. */
export interface RouteInfo {
  /** Template with placeholders, for example `/guilds/:guild_id/members/:user_id`. Safe to log. */
  template: string
  /**
   * The top-level resource the bucket is keyed by (guild, channel or webhook id;
   * `global` when the path has none). A webhook token is replaced by a hash.
   */
  major: string
}

const TOP_LEVEL: Record<string, string> = { guilds: 'guild_id', channels: 'channel_id', webhooks: 'webhook_id' }
const ID_NAMES: Record<string, string> = {
  guilds: 'guild_id',
  channels: 'channel_id',
  webhooks: 'webhook_id',
  members: 'user_id',
  users: 'user_id',
  roles: 'role_id',
  messages: 'message_id',
  applications: 'application_id',
  interactions: 'interaction_id'
}
const SNOWFLAKE = /^\d{1,20}$/
// Literal path words of Discord's API are lower-case (`members`, `audit-logs`, `@me`).
const PATH_WORD = /^[a-z@][a-z0-9@._-]*$/

function shortHash (value: string): string {
  return createHash('sha256').update(value).digest('hex').slice(0, 16)
}

/**
 * Splits a path into its route template and top-level resource, as Discord
 * computes buckets: "per-route rate limits often account for top-level
 * resources within the path" (guild_id, channel_id, webhook_id / webhook_id + token).
 * Ids below the top level become placeholders; any segment that is not a
 * lower-case path word (a webhook or interaction token, an emoji) becomes
 * `:param`, so a template never carries a secret.
 */
export function parseRoute (path: string): RouteInfo {
  const clean = path.split('?')[0] ?? ''
  const segments = clean.split('/').filter((s) => s.length > 0)
  const out: string[] = []
  let major = 'global'
  for (let i = 0; i < segments.length; i++) {
    const seg = segments[i] as string
    const prev = i > 0 ? segments[i - 1] as string : ''
    const topName = TOP_LEVEL[prev]
    if (i === 1 && topName !== undefined && SNOWFLAKE.test(seg)) {
      major = seg
      out.push(`:${topName}`)
    } else if (i === 2 && segments[0] === 'webhooks' && !PATH_WORD.test(seg)) {
      major = `${major}:${shortHash(seg)}`
      out.push(':webhook_token')
    } else if (SNOWFLAKE.test(seg)) {
      out.push(`:${ID_NAMES[prev] ?? 'id'}`)
    } else if (PATH_WORD.test(seg)) {
      out.push(seg)
    } else {
      out.push(':param')
    }
  }
  return { template: `/${out.join('/')}`, major }
}
