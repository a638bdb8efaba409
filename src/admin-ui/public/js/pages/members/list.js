// @ts-check
/* Linked members across guilds: search, filters, where each stands per guild, sync and unlink. */
import { api, query } from '../../api.js'
import { badge } from '../../components/badge.js'
import { field } from '../../components/forms.js'
import { copyableId, person } from '../../components/identity.js'
import { table } from '../../components/table.js'
import { when } from '../../components/time.js'
import { h } from '../../dom.js'
import { go, rerender } from '../../navigation.js'
import { memberActions } from './actions.js'

/** @type {[import('../../types.js').MemberFilter | '', string][]} */
const FILTERS = [
  ['', 'Everyone'],
  ['out_of_sync', 'Out of sync'],
  ['held', 'Held by the safety brake'],
  ['not_in_guild', 'Not in a guild'],
  ['needs_reauth', 'Needs to re-link']
]

/**
 * Where one member stands in one guild, in words.
 * @param {import('../../types.js').MemberGuildState} g
 */
function guildState (g) {
  return h('div', {}, h('span', {}, g.guild_name), ' ',
    !g.in_guild ? badge('unknown', 'not in guild') : g.held ? badge('degraded', 'held by brake') : g.failed ? badge('bad', 'last sync failed') : badge('ok', 'in guild'))
}

/**
 * @param {HTMLElement} main
 * @param {URLSearchParams} params
 */
export async function membersPage (main, params) {
  const q = params.get('q') ?? ''
  const filter = params.get('filter') ?? ''
  const cursor = params.get('cursor')
  main.append(h('h1', { tabindex: '-1' }, 'Members'))

  const search = h('input', { name: 'q', type: 'search', maxlength: '100', value: q, placeholder: 'Name, Discord id or host user id' })
  const select = h('select', { name: 'filter' }, FILTERS.map(([v, label]) => h('option', { value: v, selected: v === filter }, label)))
  const form = h('form', { class: 'member-filters', role: 'search', 'aria-label': 'Find members' },
    field('Search', search, 'Part of a name, or a whole id.'),
    field('Show', select, 'As of the last sync.'),
    h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Search')))
  form.addEventListener('submit', (ev) => {
    ev.preventDefault()
    go(`#/members${query({ q: search.value.trim(), filter: select.value })}`)
  })
  main.append(h('section', { class: 'panel', 'aria-label': 'Find members' }, form))

  const page = /** @type {import('../../types.js').MemberPage} */ (await api('GET', `members${query({ q: q.trim(), filter, cursor, limit: 25 })}`))
  const out = h('div', { 'aria-live': 'polite' })
  const results = h('section', { class: 'panel', 'aria-labelledby': 'mem-list' }, h('h2', { id: 'mem-list' }, cursor === null ? 'Linked members' : 'Linked members (continued)'), out)
  results.append(table([
    { label: 'Member', value: (m) => person(m, { href: `#/members/${m.discord_user_id}` }) },
    { label: 'Host user', value: (m) => copyableId(m.user_id, `host user id of ${m.global_name ?? m.username}`) },
    { label: 'Guilds', value: (m) => h('div', { class: 'guild-states' }, m.guilds.length === 0 ? h('span', { class: 'muted' }, 'no enabled guild') : m.guilds.map(guildState)) },
    { label: 'Link', value: (m) => m.needs_reauth ? badge('bad', 'needs re-link') : badge('ok', 'active') },
    { label: 'Last sync', value: (m) => m.last_sync === null ? 'never' : when(m.last_sync) },
    { label: 'Actions', value: (m) => h('div', { class: 'actions' }, memberActions(m, out, rerender)) }
  ], page.members, { empty: cursor === null ? (q !== '' || filter !== '' ? 'No linked member matches.' : 'No Discord account is linked yet.') : 'No more members.' }))
  const nav = h('nav', { class: 'pager', 'aria-label': 'Pages' })
  if (cursor !== null) nav.append(h('a', { class: 'button secondary', href: `#/members${query({ q, filter })}` }, 'First page'))
  if (page.next_cursor !== null) nav.append(h('a', { class: 'button secondary', href: `#/members${query({ q, filter, cursor: page.next_cursor })}` }, 'Next page'))
  if (nav.childElementCount > 0) results.append(nav)
  main.append(results)
}
