// @ts-check
/*
 * The group picker of the mapping editor (issue 17): when the membership provider lists its
 * groups (GET /membership/groups), the officer finds one by name and picking it fills the
 * group id and name fields; without a list (or when reading it fails) the id stays free text.
 */
import { api } from '../../api.js'
import { h, uid } from '../../dom.js'

/** Shown at most, so a host with thousands of groups still gets a short list: type to narrow it. */
const MAX_SHOWN = 50

/** @type {Promise<import('../../types.js').GroupList | null> | null} */
let cached = null

/** The provider's groups, read once per page load; null when there is no list or it could not be read. */
export function loadGroups () {
  cached ??= /** @type {Promise<import('../../types.js').GroupList>} */ (api('GET', 'membership/groups'))
    .then((l) => l.available ? l : null)
    .catch(() => { cached = null; return null })
  return cached
}

/**
 * The picker, or null when the provider offers no list.
 * @param {HTMLInputElement} idInput the form's group id field
 * @param {HTMLInputElement} nameInput the form's group name field
 */
export async function groupPicker (idInput, nameInput) {
  const list = await loadGroups()
  if (list === null) return null
  const searchId = uid('gp')
  const search = h('input', { id: searchId, type: 'search', autocomplete: 'off', placeholder: 'Type part of a group name', 'aria-controls': `${searchId}-list` })
  const results = h('ul', { class: 'picker-list', id: `${searchId}-list`, 'aria-label': 'Matching groups' })
  const status = h('div', { class: 'hint', 'aria-live': 'polite' })
  const draw = () => {
    const text = search.value.trim().toLowerCase()
    const found = list.groups.filter((g) => text === '' || g.name.toLowerCase().includes(text) || g.id.toLowerCase().includes(text))
    results.textContent = ''
    for (const g of found.slice(0, MAX_SHOWN)) {
      const pick = h('button', { type: 'button', 'aria-label': `Use group ${g.name}${g.name === g.id ? '' : ` (${g.id})`}` }, h('span', {}, g.name), g.name === g.id ? null : h('span', { class: 'muted small mono' }, ` ${g.id}`))
      pick.addEventListener('click', () => {
        idInput.value = g.id
        nameInput.value = g.name === g.id ? '' : g.name
        status.textContent = `Group "${g.name}" chosen.`
        idInput.focus()
      })
      results.append(h('li', {}, pick))
    }
    status.textContent = found.length === 0 ? 'No group matches: the group id field still takes any id.' : found.length > MAX_SHOWN ? `${found.length} groups match; the first ${MAX_SHOWN} are shown: type more to narrow.` : `${found.length} group(s).`
  }
  search.addEventListener('input', draw)
  draw()
  return h('div', { class: 'field span' }, h('label', { for: searchId }, 'Find a group'), search, results, status)
}
