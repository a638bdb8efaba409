// @ts-check
/* The admin's start page: sync status, runs in progress (polled), recent errors, guild health. */
import { api } from '../api.js'
import { errorBox } from '../components/errors.js'
import { guildTable } from '../components/guild-table.js'
import { liveStatePanel } from '../components/live-state.js'
import { progressView } from '../components/progress.js'
import { table } from '../components/table.js'
import { when } from '../components/time.js'
import { append, h } from '../dom.js'
import { guildName } from '../guilds.js'
import { alive, currentView, POLL_MS, state } from '../state.js'
import { secondaryId } from '../components/ids.js'
import { demoResetPanel } from '../components/demo-reset.js'

/**
 * @typedef {import('../types.js').SyncStatus} SyncStatus
 * @typedef {import('../types.js').GuildList} GuildList
 */

/**
 * @param {HTMLElement} main
 */
export async function overviewPage (main) {
  const myView = currentView()
  main.append(h('h1', { tabindex: '-1' }, 'Overview'))
  const statusBox = h('section', { class: 'panel', 'aria-labelledby': 'ov-sync' })
  const healthBox = h('section', { class: 'panel', 'aria-labelledby': 'ov-health' })
  main.append(statusBox, healthBox, liveStatePanel())

  const refresh = async () => {
    const [status, guilds] = /** @type {[SyncStatus, GuildList]} */ (await Promise.all([api('GET', 'sync/status'), api('GET', 'guilds')]))
    if (!alive(myView)) return
    // Kept for guildName: the tables below name guilds the API gives by id.
    state.guilds = guilds.guilds
    statusBox.textContent = ''
    append(statusBox, [
      h('h2', { id: 'ov-sync' }, 'Sync status'),
      h('dl', { class: 'stats' },
        stat('Last full sync', status.last_full_sync ? when(status.last_full_sync) : 'never'),
        stat('Sync in progress', status.sync_in_progress ? 'yes' : 'no'),
        stat('Linked accounts', status.total_users),
        stat('Members in sync', status.synced_users),
        stat('Members failing', status.failed_users),
        stat('Enabled guilds', status.total_guilds),
        stat('Active role mappings', status.active_role_mappings)),
      // Nothing below was applied: a dry run only plans, and the brake wrote nothing. Kept apart
      // from the figures above, which count applied syncs only.
      status.last_dry_run
        ? h('p', { class: 'note' }, 'Last dry run ', when(status.last_dry_run.completed_at),
          `: ${status.last_dry_run.planned_changes} planned change(s) for ${status.last_dry_run.members_to_change} member(s), not applied.`)
        : null,
      status.held_guilds.length > 0 ? h('h3', {}, 'Held by the safety brake (nothing written)') : null,
      status.held_guilds.length > 0
        ? table([
          { label: 'Guild', value: (g) => guildName(g.guild_id) },
          { label: 'Held', value: (g) => when(g.held_at) },
          { label: 'Planned changes', value: (g) => String(g.planned_changes) },
          { label: 'Members', value: (g) => String(g.members_to_change) },
          { label: 'Run', value: (g) => h('a', { href: `#/audit?run_id=${encodeURIComponent(g.run_id)}` }, g.run_id) }
        ], status.held_guilds)
        : null,
      status.current_runs.length > 0 ? h('h3', {}, 'Running now') : null,
      status.current_runs.map((r) => progressView(r)),
      h('h3', {}, 'Recent errors'),
      table([
        { label: 'When', value: (e) => when(e.occurred_at) },
        { label: 'Guild', value: (e) => e.guild_id ? guildName(e.guild_id) : '—' },
        { label: 'User', value: (e) => e.user_id ?? (e.discord_user_id ? ['unlinked member ', secondaryId(e.discord_user_id)] : '—') },
        { label: 'Error', value: (e) => e.error },
        { label: 'Code', value: (e) => e.code ?? '—' },
        { label: 'Run', value: (e) => h('a', { href: `#/audit?run_id=${encodeURIComponent(e.run_id)}` }, e.run_id) }
      ], status.recent_errors, { empty: 'No recent errors.' })])
    healthBox.textContent = ''
    healthBox.append(h('h2', { id: 'ov-health' }, 'Guild health'), guildTable(guilds.guilds))
    // Two calls per refresh: every other poll interval keeps well inside the API's per-user rate limit.
    if (status.sync_in_progress) setTimeout(() => { if (alive(myView)) refresh().catch((err) => { if (alive(myView)) statusBox.append(errorBox(err)) }) }, POLL_MS * 2)
  }
  await refresh()
  // The demo's reset button (the standalone demo only).
  const demo = await demoResetPanel().catch(() => null)
  if (demo !== null && alive(myView)) main.append(demo)
}

/**
 * @param {string} label
 * @param {import('../dom.js').Child} value
 */
function stat (label, value) {
  return h('div', {}, h('dt', {}, label), h('dd', {}, value))
}
