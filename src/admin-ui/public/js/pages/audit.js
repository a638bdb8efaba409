// @ts-check
/*
 * The audit trail of role changes, filtered by guild, member, run, outcome, action, trigger and
 * time; the filters live in the address. What changed Discord comes first: dry runs and changes
 * the safety brake held are intent, not effect, and stay hidden until "Show dry runs and held
 * changes" is ticked (effects_only on the API).
 */
import { api, query } from '../api.js'
import { auditColumns, ACTION_LABELS, OUTCOME_LABELS, TRIGGER_LABELS } from '../components/audit-table.js'
import { checkbox, field, inputOf, selectOf } from '../components/forms.js'
import { pager } from '../components/pager.js'
import { table } from '../components/table.js'
import { h } from '../dom.js'
import { loadGuilds } from '../guilds.js'
import { go } from '../navigation.js'

/** The address's filters, passed to the API as they are (it validates them). */
const FILTERS = /** @type {const} */ (['guild_id', 'discord_user_id', 'user_id', 'run_id', 'outcome', 'action', 'trigger', 'from', 'to'])

/**
 * A select of one word of a list, "any" first.
 * @param {string} name
 * @param {Record<string, string>} labels
 * @param {string} current
 * @param {string} any
 */
function choice (name, labels, current, any) {
  return h('select', { name }, h('option', { value: '' }, any), Object.entries(labels).map(([v, label]) => h('option', { value: v, selected: v === current }, label)))
}

/**
 * A date picked in the form (local midnight) as the API's ISO time; '' when empty.
 * @param {string} value yyyy-mm-dd
 * @param {number} days added (1 for an inclusive "to" day)
 */
function dayToIso (value, days) {
  if (value === '') return ''
  const d = new Date(`${value}T00:00:00`)
  if (Number.isNaN(d.getTime())) return ''
  d.setDate(d.getDate() + days)
  return d.toISOString()
}

/**
 * The ISO time of the address as the date input's value (local day); '' when none.
 * @param {string} iso
 * @param {number} days subtracted (1 for "to")
 */
function isoToDay (iso, days) {
  if (iso === '') return ''
  const d = new Date(iso)
  if (Number.isNaN(d.getTime())) return ''
  d.setDate(d.getDate() - days)
  const pad = (/** @type {number} */ n) => String(n).padStart(2, '0')
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`
}

/**
 * @param {HTMLElement} main
 * @param {URLSearchParams} params the filters and page
 */
export async function auditPage (main, params) {
  main.append(h('h1', { tabindex: '-1' }, 'Audit trail'))
  const guilds = await loadGuilds()
  /** @type {Record<string, string>} */
  const filters = Object.fromEntries(FILTERS.map((k) => [k, params.get(k) ?? '']))
  const showIntent = params.get('intent') === '1'
  const page = Math.max(1, Number(params.get('page') ?? '1') || 1)
  const form = h('form', { class: 'grid', role: 'search', 'aria-label': 'Filter the audit trail' },
    field('Guild', h('select', { name: 'guild_id' }, h('option', { value: '' }, 'All guilds'), guilds.map((g) => h('option', { value: g.guild_id, selected: g.guild_id === filters.guild_id }, g.guild_name)))),
    field('Outcome', choice('outcome', OUTCOME_LABELS, filters.outcome ?? '', 'Any outcome')),
    field('Change', choice('action', ACTION_LABELS, filters.action ?? '', 'Any change')),
    field('Started by', choice('trigger', TRIGGER_LABELS, filters.trigger ?? '', 'Anything')),
    field('From (day)', h('input', { name: 'from', type: 'date', value: isoToDay(filters.from ?? '', 0) })),
    field('To (day, included)', h('input', { name: 'to', type: 'date', value: isoToDay(filters.to ?? '', 1) })),
    field('Discord user id', h('input', { name: 'discord_user_id', inputmode: 'numeric', pattern: '[0-9]{17,20}', value: filters.discord_user_id })),
    field('Host user id', h('input', { name: 'user_id', value: filters.user_id })),
    field('Run id', h('input', { name: 'run_id', value: filters.run_id })),
    h('div', { class: 'span' }, checkbox('Show dry runs and held changes', 'intent', showIntent, 'They changed nothing in Discord: a dry run only plans, and the safety brake held the others back.')),
    h('div', { class: 'actions span' }, h('button', { type: 'submit' }, 'Filter'), h('a', { class: 'button secondary', href: '#/audit' }, 'Clear')))
  form.addEventListener('submit', (ev) => {
    ev.preventDefault()
    const text = (/** @type {string} */ name) => inputOf(form, name).value.trim()
    go(`#/audit${query({
      guild_id: selectOf(form, 'guild_id').value,
      outcome: selectOf(form, 'outcome').value,
      action: selectOf(form, 'action').value,
      trigger: selectOf(form, 'trigger').value,
      from: dayToIso(text('from'), 0),
      to: dayToIso(text('to'), 1),
      discord_user_id: text('discord_user_id'),
      user_id: text('user_id'),
      run_id: text('run_id'),
      intent: inputOf(form, 'intent').checked ? '1' : ''
    })}`)
  })
  main.append(h('section', { class: 'panel' }, form))
  // An explicit outcome filter (dry_run, blocked) is honoured as asked: hiding it again would show nothing.
  const effectsOnly = !showIntent && filters.outcome === '' ? 'true' : ''
  const data = /** @type {import('../types.js').AuditPage} */ (await api('GET', `sync/audit${query({ ...filters, effects_only: effectsOnly, page, page_size: 50 })}`))
  const pages = Math.max(1, Math.ceil(data.total / data.page_size))
  main.append(h('section', { class: 'panel', 'aria-labelledby': 'al' },
    h('h2', { id: 'al' }, `Role changes (${data.total})`),
    effectsOnly === 'true' ? h('p', { class: 'hint' }, 'Showing changes that reached Discord or failed; dry runs and changes held by the safety brake are hidden.') : null,
    table(auditColumns(), data.entries, { empty: 'No role change matches these filters.' }),
    pager(page, pages, (p) => go(`#/audit${query({ ...filters, intent: showIntent ? '1' : '', page: p })}`))))
}
