// @ts-check
/* A sync run while it runs: its status line and a progress bar of the members applied. */
import { h } from '../dom.js'
import { guildName } from '../guilds.js'
import { badge } from './badge.js'
import { when } from './time.js'

/** @typedef {import('../types.js').SyncRun} SyncRun */

/**
 * " of every enabled guild", " of <guild name>", " of <user id>".
 * @param {SyncRun} r
 */
export function runTarget (r) {
  if (r.target_id === null) return ' of every enabled guild'
  return ` of ${r.sync_type === 'guild' ? guildName(r.target_id) : r.target_id}`
}

/**
 * @param {SyncRun} r
 */
export function progressView (r) {
  const p = r.progress
  const wrap = h('div', { class: 'panel' },
    h('p', {}, badge(r.status), ` ${r.sync_type} sync${runTarget(r)}${r.dry_run ? ' (dry run)' : ''}, started `, when(r.started_at ?? r.created_at)))
  if (p) {
    const max = Math.max(p.members_to_change, 1)
    wrap.append(
      h('p', { class: 'progress-text' }, `Phase: ${p.phase}. Guilds ${p.guilds_done}/${p.guilds_total}. Members scanned: ${p.members_scanned}; to change: ${p.members_to_change}; applied: ${p.members_applied}.`),
      h('progress', { max: String(max), value: String(Math.min(p.members_applied, max)), 'aria-label': 'Members applied' }))
  }
  return wrap
}
