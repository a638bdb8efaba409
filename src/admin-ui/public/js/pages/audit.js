// @ts-check
/* The audit trail of role changes, filtered by guild, member or run; the filters live in the address. */
import { api, query } from '../api.js'
import { auditColumns } from '../components/audit-table.js'
import { field, inputOf, selectOf } from '../components/forms.js'
import { pager } from '../components/pager.js'
import { table } from '../components/table.js'
import { h } from '../dom.js'
import { loadGuilds } from '../guilds.js'
import { go } from '../navigation.js'

/**
 * @param {HTMLElement} main
 * @param {URLSearchParams} params the filters and page
 */
export async function auditPage (main, params) {
  main.append(h('h1', { tabindex: '-1' }, 'Audit trail'))
  const guilds = await loadGuilds()
  const filters = {
    guild_id: params.get('guild_id') ?? '',
    discord_user_id: params.get('discord_user_id') ?? '',
    user_id: params.get('user_id') ?? '',
    run_id: params.get('run_id') ?? ''
  }
  const page = Math.max(1, Number(params.get('page') ?? '1') || 1)
  const form = h('form', { class: 'grid', role: 'search', 'aria-label': 'Filter the audit trail' },
    field('Guild', h('select', { name: 'guild_id' }, h('option', { value: '' }, 'All guilds'), guilds.map((g) => h('option', { value: g.guild_id, selected: g.guild_id === filters.guild_id }, g.guild_name)))),
    field('Discord user id', h('input', { name: 'discord_user_id', inputmode: 'numeric', pattern: '[0-9]{17,20}', value: filters.discord_user_id })),
    field('Host user id', h('input', { name: 'user_id', value: filters.user_id })),
    field('Run id', h('input', { name: 'run_id', value: filters.run_id })),
    h('div', { class: 'actions span' }, h('button', { type: 'submit' }, 'Filter'), h('a', { class: 'button secondary', href: '#/audit' }, 'Clear')))
  form.addEventListener('submit', (ev) => {
    ev.preventDefault()
    const text = (/** @type {string} */ name) => inputOf(form, name).value.trim()
    go(`#/audit${query({ guild_id: selectOf(form, 'guild_id').value, discord_user_id: text('discord_user_id'), user_id: text('user_id'), run_id: text('run_id') })}`)
  })
  main.append(h('section', { class: 'panel' }, form))
  const data = /** @type {import('../types.js').AuditPage} */ (await api('GET', `sync/audit${query({ ...filters, page, page_size: 50 })}`))
  const pages = Math.max(1, Math.ceil(data.total / data.page_size))
  main.append(h('section', { class: 'panel', 'aria-labelledby': 'al' },
    h('h2', { id: 'al' }, `Role changes (${data.total})`),
    table(auditColumns(), data.entries, { empty: 'No role change matches these filters.' }),
    pager(page, pages, (p) => go(`#/audit${query({ ...filters, page: p })}`))))
}
