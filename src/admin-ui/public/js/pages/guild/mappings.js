// @ts-check
/* A guild's group → role mappings: the table with edit and delete, and the add button. */
import { api } from '../../api.js'
import { action } from '../../components/action.js'
import { badge } from '../../components/badge.js'
import { roleChip } from '../../components/identity.js'
import { confirmDialog } from '../../components/dialog.js'
import { notify } from '../../components/notice.js'
import { table } from '../../components/table.js'
import { when } from '../../components/time.js'
import { h } from '../../dom.js'
import { showMappingForm } from './mapping-form.js'

/**
 * @typedef {import('../../types.js').Conditions} Conditions
 * @typedef {import('../../types.js').DiscordRoleList} DiscordRoleList
 * @typedef {import('../../types.js').RoleMappingList} RoleMappingList
 */

/**
 * The conditions of a mapping in one line.
 * @param {Conditions} c
 */
function conditionsText (c) {
  const parts = []
  if (c.character_count_min !== null || c.character_count_max !== null) parts.push(`characters ${c.character_count_min ?? 0}–${c.character_count_max ?? '∞'}`)
  if (c.required_permissions.length > 0) parts.push(`${c.require_all ? 'all of' : 'any of'}: ${c.required_permissions.join(', ')}`)
  if (c.excluded_groups.length > 0) parts.push(`not in: ${c.excluded_groups.join(', ')}`)
  return parts.length === 0 ? 'none' : parts.join('; ')
}

/**
 * Every mapping of the guild: the list is paged (at most 100 a page), the table shows them all.
 * @param {string} guildId
 * @returns {Promise<RoleMappingList['mappings']>}
 */
async function allMappings (guildId) {
  const out = []
  let after = null
  do {
    const page = /** @type {RoleMappingList} */ (await api('GET', `guilds/${guildId}/role-mappings?limit=100${after === null ? '' : `&after=${encodeURIComponent(after)}`}`))
    out.push(...page.mappings)
    after = page.next_cursor
  } while (after !== null)
  return out
}

/**
 * (Re)draws the mappings section from the API.
 * @param {HTMLElement} section
 * @param {string} guildId
 * @param {DiscordRoleList | null} roles null when Discord's roles could not be read
 */
export async function renderMappings (section, guildId, roles) {
  section.textContent = ''
  const mappings = await allMappings(guildId)
  const roleById = new Map((roles?.roles ?? []).map((r) => [r.id, r]))
  const formHost = h('div')
  const out = h('div')
  const redraw = () => renderMappings(section, guildId, roles)
  const addButton = h('button', { type: 'button' }, 'Add a mapping')
  addButton.addEventListener('click', () => showMappingForm(formHost, guildId, roles, null, redraw))
  section.append(
    h('h2', { id: 'gm' }, 'Role mappings'),
    h('p', { class: 'muted small' }, 'Members of a group get the mapped role; linked members who leave the group lose it. Roles that no mapping names are never touched.'),
    table([
      { label: 'Group', value: (m) => [m.group_name ?? m.group_id, m.group_name ? h('div', { class: 'muted small mono' }, m.group_id) : null] },
      { label: 'Discord role', value: (m) => { const r = roleById.get(m.discord_role_id); return [roleChip({ id: m.discord_role_id, name: r?.name ?? m.discord_role_name ?? 'role no longer in Discord', color: r?.color ?? 0 }), r && !r.assignable ? h('div', { class: 'small' }, badge('bad', 'not assignable')) : null] } },
      { label: 'Priority', num: true, value: (m) => m.priority },
      { label: 'Exclusive set', value: (m) => m.exclusive_set ?? '—' },
      { label: 'Conditions', value: (m) => conditionsText(m.conditions) },
      { label: 'Enabled', value: (m) => m.enabled ? 'yes' : 'no' },
      { label: 'Last sync', value: (m) => when(m.last_sync) },
      {
        label: 'Actions',
        value: (m) => {
          const edit = h('button', { type: 'button', class: 'link', 'aria-label': `Edit mapping ${m.group_id} → ${m.discord_role_name ?? m.discord_role_id}` }, 'Edit')
          edit.addEventListener('click', () => showMappingForm(formHost, guildId, roles, m, redraw))
          const del = h('button', { type: 'button', class: 'link', 'aria-label': `Delete mapping ${m.group_id} → ${m.discord_role_name ?? m.discord_role_id}` }, 'Delete')
          action(del, out, async () => {
            const ok = await confirmDialog({ title: 'Delete this mapping?', body: `Group "${m.group_id}" → role "${m.discord_role_name ?? m.discord_role_id}". Roles already given in Discord stay as they are.`, confirmLabel: 'Delete mapping', danger: true })
            if (!ok) return
            await api('DELETE', `role-mappings/${m.id}`)
            notify('Mapping deleted.')
            await redraw()
          })
          return [edit, del]
        }
      }
    ], mappings, { empty: 'No role mappings yet: nothing is synced in this guild.' }),
    h('div', { class: 'actions' }, addButton),
    out, formHost)
}
