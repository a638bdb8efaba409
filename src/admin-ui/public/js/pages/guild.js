// @ts-check
/* One guild: its bot's health, its Discord roles, its mappings, import/export and settings. */
import { api } from '../api.js'
import { action } from '../components/action.js'
import { liveBadge } from '../components/guild-table.js'
import { badge } from '../components/badge.js'
import { copyableId, roleChip } from '../components/identity.js'
import { errorBox } from '../components/errors.js'
import { notify } from '../components/notice.js'
import { table } from '../components/table.js'
import { when } from '../components/time.js'
import { h } from '../dom.js'
import { rerender } from '../navigation.js'
import { renderMappings } from './guild/mappings.js'
import { settingsSection } from './guild/settings.js'
import { transferSection } from './guild/transfer.js'
import { activitySection } from '../components/activity-charts.js'

/**
 * @typedef {import('../types.js').GuildConfig} GuildConfig
 * @typedef {import('../types.js').DiscordRoleList} DiscordRoleList
 */

/**
 * @param {HTMLElement} main
 * @param {URLSearchParams} _params
 * @param {string} guildId
 */
export async function guildPage (main, _params, guildId) {
  const guild = /** @type {GuildConfig} */ (await api('GET', `guilds/${guildId}`))
  main.append(h('h1', { tabindex: '-1' }, guild.guild_name))

  // Health
  const healthOut = h('div')
  const checkNow = h('button', { type: 'button', class: 'secondary' }, 'Check the bot now')
  action(checkNow, healthOut, async () => {
    const g = /** @type {GuildConfig} */ (await api('POST', `guilds/${guildId}/health-check`))
    notify(`Health: ${g.health_status}${g.last_error ? ` — ${g.last_error}` : ''}`)
    rerender()
  })
  main.append(h('section', { class: 'panel', 'aria-labelledby': 'gh' },
    h('h2', { id: 'gh' }, 'Health'),
    h('dl', { class: 'kv' },
      h('dt', {}, 'Guild id'), h('dd', {}, copyableId(guild.guild_id, `guild id of ${guild.guild_name}`)),
      h('dt', {}, 'Status'), h('dd', {}, badge(guild.health_status)),
      h('dt', {}, 'Last check'), h('dd', {}, when(guild.last_health_check)),
      h('dt', {}, 'Last error'), h('dd', {}, guild.last_error ?? 'none'),
      h('dt', {}, 'Bot'), h('dd', {}, guild.has_bot_token ? `token set${guild.bot_user_id ? `, bot user ${guild.bot_user_id}` : ''}` : 'no bot token: set one in Settings'),
      h('dt', {}, 'Enabled'), h('dd', {}, guild.enabled ? 'yes' : 'no'),
      h('dt', {}, 'Live events'), h('dd', {}, liveBadge(guild.gateway), ' ', liveText(guild.gateway))),
    h('div', { class: 'actions' }, checkNow, h('a', { class: 'button secondary', href: `#/sync?guild_id=${guildId}` }, 'Sync this guild…'), h('a', { class: 'button secondary', href: `#/audit?guild_id=${guildId}` }, 'Audit trail')),
    healthOut))

  // Activity: runs per day and Discord requests per minute (charts)
  main.append(activitySection(guildId))

  // Roles and mappings
  const rolesSection = h('section', { class: 'panel', 'aria-labelledby': 'gr' }, h('h2', { id: 'gr' }, 'Discord roles'))
  const mappingsSection = h('section', { class: 'panel', 'aria-labelledby': 'gm' })
  main.append(mappingsSection, rolesSection)
  /** @type {DiscordRoleList | null} */
  let roles = null
  try {
    roles = /** @type {DiscordRoleList} */ (await api('GET', `guilds/${guildId}/discord-roles`))
    rolesSection.append(
      h('p', { class: 'muted small' }, `Read from Discord with the bot "${roles.bot_username}". Its highest role is at position ${roles.bot_highest_position}: it can assign roles strictly below that${roles.can_manage_roles ? '' : ', but it lacks the Manage Roles permission'}.`),
      table([
        { label: 'Role', value: (r) => roleChip(r) },
        { label: 'Position', num: true, value: (r) => r.position },
        { label: 'Bot can assign', value: (r) => r.assignable ? badge('ok', 'yes') : badge('bad', 'no') },
        { label: 'Why not', value: (r) => r.assignable ? (r.held_by_bot ? 'the bot holds this role' : '—') : r.message }
      ], roles.roles, { rowClass: (r) => r.assignable ? null : 'roles-denied' }))
  } catch (err) {
    rolesSection.append(errorBox(err))
  }
  await renderMappings(mappingsSection, guildId, roles)

  // Import / export
  main.append(transferSection(guildId, () => renderMappings(mappingsSection, guildId, roles)))

  // Settings
  main.append(settingsSection(guild))
}

/**
 * What the Gateway state means for the officer reading it.
 * @param {import('../types.js').GuildGateway | null} live
 */
function liveText (live) {
  if (live === null) return 'Roles follow on the scheduled syncs (the Gateway is off, or another server instance holds it).'
  if (live.error !== null) return live.error
  if (live.removed) return 'The bot was removed from this guild: syncs are paused until it is invited again.'
  const last = live.last_event_at === null ? 'no event yet' : ['last event ', when(live.last_event_at)]
  return [`${live.connected ? 'Joins and hand edits are acted on within seconds' : 'Reconnecting'}; `, last, `; ${live.resumes} resume${live.resumes === 1 ? '' : 's'}.`]
}
