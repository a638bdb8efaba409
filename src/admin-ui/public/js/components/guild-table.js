// @ts-check
/* The configured guilds with their health, each linking to its page. */
import { h } from '../dom.js'
import { badge } from './badge.js'
import { table } from './table.js'
import { when } from './time.js'
import { secondaryId } from './ids.js'

/**
 * Whether the Gateway delivers this guild's events now (roles follow within seconds) or the
 * guild is on its scheduled syncs only.
 * @param {import('../types.js').GuildGateway | null} live
 */
export function liveBadge (live) {
  if (live === null) return badge('info', 'polling')
  if (live.removed) return badge('unhealthy', 'bot removed')
  if (live.error !== null) return badge('unhealthy', 'failed')
  return live.connected ? badge('healthy', 'connected') : badge('degraded', 'reconnecting')
}

/**
 * @param {import('../types.js').GuildConfig[]} guilds
 */
export function guildTable (guilds) {
  return table([
    { label: 'Guild', value: (g) => h('a', { href: `#/guilds/${g.guild_id}` }, g.guild_name) },
    { label: 'Id', value: (g) => secondaryId(g.guild_id) },
    { label: 'Enabled', value: (g) => g.enabled ? 'yes' : 'no' },
    { label: 'Health', value: (g) => badge(g.health_status) },
    { label: 'Last check', value: (g) => when(g.last_health_check) },
    { label: 'Last error', value: (g) => g.last_error ?? '—' },
    { label: 'Bot token', value: (g) => g.has_bot_token ? 'set' : 'missing' },
    { label: 'Live events', value: (g) => liveBadge(g.gateway) }
  ], guilds, { empty: 'No guild is configured yet.' })
}
