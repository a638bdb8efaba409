// @ts-check
/* The audit trail of role changes: its columns, and the changes of one run, paged. */
import { api, query } from '../api.js'
import { append, h, uid } from '../dom.js'
import { guildName } from '../guilds.js'
import { badge } from './badge.js'
import { errorBox } from './errors.js'
import { pager } from './pager.js'
import { table } from './table.js'
import { when } from './time.js'
import { secondaryId } from './ids.js'
import { person, roleChip } from './identity.js'

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

/** The outcomes in words (the audit filter's choices). @type {Record<string, string>} */
export const OUTCOME_LABELS = { applied: 'Applied', failed: 'Failed', skipped: 'Skipped', blocked: 'Blocked or held', dry_run: 'Dry run (planned only)' }
/** @type {Record<string, string>} */
export const ACTION_LABELS = { add: 'Role added', remove: 'Role removed', nick: 'Nickname set', kick: 'Member removed' }
/** What started the run that made a change. @type {Record<string, string>} */
export const TRIGGER_LABELS = {
  schedule: 'Schedule',
  manual: 'By hand',
  link: 'Account linked',
  join: 'Member joined',
  drift: 'Role changed in Discord',
  deauthorized: 'App deauthorized',
  unlink: 'Account unlinked',
  push: 'Groups changed'
}

/**
 * A member by its Discord names when the API has them (a linked account), the host user id
 * beneath; an unlinked member has only its Discord id, shown as such.
 * @param {{ discord_user_id: string | null, user_id: string | null, discord_username?: string | null, discord_global_name?: string | null, avatar_url?: string | null }} m
 */
export function memberLabel (m) {
  if (m.discord_user_id !== null && typeof m.discord_username === 'string') {
    const p = person({ discord_user_id: m.discord_user_id, username: m.discord_username, global_name: m.discord_global_name ?? null, avatar_url: m.avatar_url ?? null })
    if (m.user_id !== null) p.lastElementChild?.append(h('div', { class: 'muted small' }, `host user ${m.user_id}`))
    return p
  }
  if (m.discord_user_id === null) return m.user_id ?? '—'
  return [m.user_id ?? 'not linked', ' ', secondaryId(m.discord_user_id)]
}

/**
 * A guild by the name the API sent, else the one the guild list has; an unknown guild says so.
 * @param {string} guildId
 * @param {string | null | undefined} name
 */
export function guildLabel (guildId, name) {
  const known = name ?? guildName(guildId)
  return known !== guildId ? known : ['unknown guild ', secondaryId(guildId)]
}

/**
 * The role of an entry: a chip in its colour; nick and kick entries say what they did.
 * @param {AuditEntry} e
 */
function roleLabel (e) {
  if (e.action === 'kick') return '—'
  if (e.action === 'nick') return `nickname: ${e.role_name ?? ''}`
  if (e.role_name === null) return ['unknown role ', secondaryId(e.role_id)]
  return roleChip({ id: e.role_id, name: e.role_name, color: e.role_color ?? 0 })
}

/** Every column; each page filters out those its filter makes redundant. */
export function auditColumns () {
  /** @type {import('./table.js').Column<AuditEntry>[]} */
  const columns = [
    { label: 'When', value: (e) => when(e.created_at) },
    { label: 'Guild', value: (e) => guildLabel(e.guild_id, e.guild_name) },
    { label: 'Member', value: (e) => memberLabel(e) },
    { label: 'Role', value: (e) => roleLabel(e) },
    { label: 'Change', value: (e) => badge(e.action) },
    { label: 'Outcome', value: (e) => e.outcome === 'blocked' && e.error_code === 'brake' ? badge('degraded', 'held') : badge(e.outcome) },
    { label: 'Detail', value: (e) => e.error_code ? (OUTCOME_NOTE[e.error_code] ?? e.error_code) : '—' },
    { label: 'Started by', value: (e) => TRIGGER_LABELS[e.trigger ?? 'manual'] ?? e.trigger ?? '—' },
    { label: 'Run', value: (e) => e.run_id ? h('a', { href: `#/audit?run_id=${encodeURIComponent(e.run_id)}` }, e.run_id.slice(0, 8)) : '—' }
  ]
  return columns
}

/**
 * The changes of one run, paged 50 at a time, member by member and role by role within a member
 * (order=member), so one person's changes read together.
 * @param {string} runId
 * @param {string} title
 */
export async function changesView (runId, title) {
  const box = h('div', { class: 'changes' })
  /** @param {number} page */
  const load = async (page) => {
    const data = /** @type {AuditPage} */ (await api('GET', `sync/audit${query({ run_id: runId, order: 'member', page, page_size: 50 })}`))
    box.textContent = ''
    const pages = Math.max(1, Math.ceil(data.total / data.page_size))
    append(box, [
      h('h3', {}, `${title} (${data.total})`),
      table(auditColumns().filter((c) => c.label !== 'Run' && c.label !== 'When' && c.label !== 'Started by'), data.entries, { empty: title === 'Planned changes' ? 'No change is needed: every member already has the right roles.' : 'No role was changed.' }),
      pager(page, pages, (p) => load(p).catch((err) => box.append(errorBox(err))))])
  }
  await load(1)
  return box
}

/**
 * A member's recent changes (the account page, a member's page): effects first, with a toggle
 * that adds dry runs and changes held by the safety brake.
 * @param {Record<string, string>} filter e.g. { user_id } or { discord_user_id, guild_id }
 * @param {string[]} omit column labels the context makes redundant
 * @param {string} empty shown when there is nothing
 */
export function memberHistory (filter, omit, empty) {
  const box = h('div', { class: 'history' })
  const toggle = h('input', { type: 'checkbox', id: uid('hist') })
  const rows = h('div', { 'aria-live': 'polite' })
  const load = async () => {
    const intent = toggle.checked
    const data = /** @type {AuditPage} */ (await api('GET', `sync/audit${query({ ...filter, effects_only: intent ? '' : 'true', page_size: 20 })}`))
    rows.textContent = ''
    rows.append(table(auditColumns().filter((c) => !omit.includes(c.label)), data.entries, { empty }))
  }
  const reload = () => { load().catch((err) => { rows.textContent = ''; rows.append(errorBox(err)) }) }
  toggle.addEventListener('change', reload)
  append(box, [h('div', { class: 'check' }, toggle, h('label', { for: toggle.id }, 'Show dry runs and held changes')), rows])
  reload()
  return box
}
