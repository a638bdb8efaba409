// @ts-check
/* A finished sync run: its totals, one row per guild, and its errors. */
import { h } from '../dom.js'
import { badge } from './badge.js'
import { runTarget } from './progress.js'
import { table } from './table.js'
import { guildLabel, memberLabel } from './audit-table.js'

/**
 * @param {import('../types.js').SyncRun} r
 */
export function runSummary (r) {
  const res = r.results
  // The brake's own error is the blocked panel above; the rest are per-member or per-guild failures.
  const errors = res.errors.filter((e) => e.code !== 'brake')
  return h('div', {},
    h('p', {}, badge(r.status), ` ${r.sync_type} sync${runTarget(r)}${r.dry_run ? ' (dry run: nothing was written)' : ''}${r.force ? ' (forced)' : ''}. `,
      `Members processed: ${res.users_processed}, in sync or fixed: ${res.users_synced}, failed: ${res.users_failed}. `,
      r.dry_run ? '' : `Roles added: ${res.roles_added}, removed: ${res.roles_removed}.`),
    table([
      { label: 'Guild', value: (g) => guildLabel(g.guild_id, g.guild_name) },
      { label: 'Status', value: (g) => badge(g.status) },
      { label: 'Scanned', num: true, value: (g) => g.members_scanned },
      { label: 'Members to change', num: true, value: (g) => g.members_to_change },
      { label: 'Planned changes', num: true, value: (g) => g.planned_changes },
      { label: 'Not allowed', num: true, value: (g) => g.blocked_changes },
      { label: 'Added', num: true, value: (g) => g.roles_added },
      { label: 'Removed', num: true, value: (g) => g.roles_removed },
      { label: 'Note', value: (g) => g.reason ?? '—' }
    ], res.guilds, { empty: 'No guild was synced (none enabled?).' }),
    errors.length > 0
      ? [h('h3', {}, 'Errors'), table([
          { label: 'Guild', value: (e) => e.guild_id ? guildLabel(e.guild_id, null) : '—' },
          { label: 'Member', value: (e) => memberLabel(e) },
          { label: 'Error', value: (e) => e.error },
          { label: 'Code', value: (e) => e.code ?? '—' }
        ], errors.slice(0, 50))]
      : null)
}
