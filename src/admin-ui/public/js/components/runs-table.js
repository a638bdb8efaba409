// @ts-check
/* The recent sync runs, each linking to its audit trail. */
import { h } from '../dom.js'
import { guildName } from '../guilds.js'
import { badge } from './badge.js'
import { table } from './table.js'
import { when } from './time.js'

/**
 * @param {Array<import('../types.js').SyncRun | import('../types.js').RunSummary>} runs
 */
export function runsTable (runs) {
  return table([
    { label: 'Run', value: (r) => h('a', { href: `#/audit?run_id=${encodeURIComponent(r.id)}` }, r.id.slice(0, 8)) },
    { label: 'Type', value: (r) => `${r.sync_type}${r.dry_run ? ' (dry run)' : ''}${r.force ? ' (forced)' : ''}` },
    { label: 'Target', value: (r) => r.target_id ? (r.sync_type === 'guild' ? guildName(r.target_id) : r.target_id) : 'all guilds' },
    { label: 'Status', value: (r) => badge(r.status) },
    { label: 'Started', value: (r) => when(r.started_at ?? r.created_at) },
    { label: 'Duration', num: true, value: (r) => r.duration === null ? '—' : `${(r.duration / 1000).toFixed(1)} s` },
    { label: 'Added', num: true, value: (r) => r.results.roles_added },
    { label: 'Removed', num: true, value: (r) => r.results.roles_removed },
    { label: 'By', value: (r) => r.initiated_by }
  ], runs, { empty: 'No sync has run yet.' })
}
