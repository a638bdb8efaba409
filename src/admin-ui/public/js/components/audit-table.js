// @ts-check
/* The audit trail of role changes: its columns, and the changes of one run, paged. */
import { api, query } from '../api.js'
import { append, h } from '../dom.js'
import { guildName } from '../guilds.js'
import { badge } from './badge.js'
import { errorBox } from './errors.js'
import { pager } from './pager.js'
import { table } from './table.js'
import { when } from './time.js'

/**
 * @typedef {import('../types.js').AuditEntry} AuditEntry
 * @typedef {import('../types.js').AuditPage} AuditPage
 */

/** @type {Record<string, string>} */
const OUTCOME_NOTE = {
  blocked_hierarchy: 'role is not below the bot',
  blocked_managed: 'role is managed by an integration',
  blocked_missing_role: 'role no longer exists',
  brake: 'held by the safety brake',
  guild_halted: 'guild halted'
}

/** Every column; each page filters out those its filter makes redundant. */
export function auditColumns () {
  /** @type {import('./table.js').Column<AuditEntry>[]} */
  const columns = [
    { label: 'When', value: (e) => when(e.created_at) },
    { label: 'Guild', value: (e) => guildName(e.guild_id) },
    { label: 'Discord user', value: (e) => h('span', { class: 'mono' }, e.discord_user_id) },
    { label: 'Host user', value: (e) => e.user_id ?? 'not linked' },
    { label: 'Role', value: (e) => e.action === 'kick' ? '—' : e.action === 'nick' ? `nickname: ${e.role_name ?? ''}` : e.role_name ?? e.role_id },
    { label: 'Change', value: (e) => badge(e.action) },
    { label: 'Outcome', value: (e) => badge(e.outcome) },
    { label: 'Detail', value: (e) => e.error_code ? (OUTCOME_NOTE[e.error_code] ?? e.error_code) : '—' },
    { label: 'Run', value: (e) => e.run_id ? h('a', { href: `#/audit?run_id=${encodeURIComponent(e.run_id)}` }, e.run_id.slice(0, 8)) : '—' }
  ]
  return columns
}

/**
 * The changes of one run, paged 50 at a time.
 * @param {string} runId
 * @param {string} title
 */
export async function changesView (runId, title) {
  const box = h('div', { class: 'changes' })
  /** @param {number} page */
  const load = async (page) => {
    const data = /** @type {AuditPage} */ (await api('GET', `sync/audit${query({ run_id: runId, page, page_size: 50 })}`))
    box.textContent = ''
    const pages = Math.max(1, Math.ceil(data.total / data.page_size))
    append(box, [
      h('h3', {}, `${title} (${data.total})`),
      table(auditColumns().filter((c) => c.label !== 'Run' && c.label !== 'When'), data.entries, { empty: title === 'Planned changes' ? 'No change is needed: every member already has the right roles.' : 'No role was changed.' }),
      pager(page, pages, (p) => load(p).catch((err) => box.append(errorBox(err))))])
  }
  await load(1)
  return box
}
