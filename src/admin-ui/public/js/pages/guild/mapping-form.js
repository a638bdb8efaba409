// @ts-check
/* The form that creates or edits one mapping, with a role picker that says which roles the bot can assign. */
import { api } from '../../api.js'
import { run } from '../../components/action.js'
import { checkbox, controlOf, field, inputOf, list, submitButton } from '../../components/forms.js'
import { notify } from '../../components/notice.js'
import { h, uid } from '../../dom.js'
import { groupPicker } from './group-picker.js'

/**
 * @typedef {import('../../types.js').DiscordRoleList} DiscordRoleList
 * @typedef {import('../../types.js').RoleMapping} RoleMapping
 * @typedef {import('../../types.js').MappingInput} MappingInput
 * @typedef {import('../../types.js').Conditions} Conditions
 */

/** @type {Record<string, string>} */
const SHORT_REASON = {
  managed_role: 'managed by an integration',
  role_not_below_bot: 'not below the bot\'s role',
  missing_manage_roles: 'bot lacks Manage Roles',
  everyone_role: '@everyone',
  role_not_found: 'not found'
}

/**
 * Why the bot cannot assign a role, in a few words for the picker.
 * @param {string | null} reason
 */
function shortReason (reason) {
  return (reason === null ? undefined : SHORT_REASON[reason]) ?? reason
}

/**
 * Shows the form in host (replacing what was there).
 * @param {HTMLElement} host
 * @param {string} guildId
 * @param {DiscordRoleList | null} roles null: the role is entered by id
 * @param {RoleMapping | null} mapping the mapping to edit, null for a new one
 * @param {() => Promise<unknown>} done called after a save, to redraw the table
 */
export function showMappingForm (host, guildId, roles, mapping, done) {
  host.textContent = ''
  /** @type {Conditions} */
  const c = mapping?.conditions ?? { require_all: false, character_count_min: null, character_count_max: null, required_permissions: [], excluded_groups: [] }
  const out = h('div')
  const roleSelect = h('select', { name: 'discord_role_id', required: true },
    h('option', { value: '' }, 'Choose a role…'),
    (roles?.roles ?? []).filter((r) => r.reason !== 'everyone_role').map((r) => h('option', {
      value: r.id,
      // The current role of an edited mapping stays selectable so the form can be saved unchanged.
      disabled: !r.assignable && r.id !== mapping?.discord_role_id,
      selected: r.id === mapping?.discord_role_id
    }, `${r.name} (position ${r.position})${r.assignable ? '' : ` — cannot assign: ${shortReason(r.reason)}`}`)))
  const roleInput = roles === null
    ? h('input', { name: 'discord_role_id', required: true, inputmode: 'numeric', pattern: '[0-9]{17,20}', value: mapping?.discord_role_id ?? '' })
    : roleSelect
  const titleId = uid('mf')
  const cancel = h('button', { type: 'button', class: 'secondary', 'data-cancel': '' }, 'Cancel')
  const form = h('form', { class: 'grid', 'aria-labelledby': titleId },
    h('h3', { id: titleId, class: 'span' }, mapping !== null ? `Edit mapping ${mapping.group_id} → ${mapping.discord_role_name ?? mapping.discord_role_id}` : 'New mapping'),
    field('Group id', h('input', { name: 'group_id', required: true, maxlength: '200', value: mapping?.group_id ?? '' }), 'The host group\'s id, as the membership provider names it (pick one above when the provider lists them).'),
    field('Group name', h('input', { name: 'group_name', maxlength: '200', value: mapping?.group_name ?? '' }), 'Optional display name.'),
    field('Discord role', roleInput, roles === null ? 'The roles could not be read from Discord: enter the role id.' : 'Roles the bot cannot assign are disabled; the Discord roles table says why.'),
    field('Priority', h('input', { name: 'priority', type: 'number', min: '1', max: '1000', required: true, value: String(mapping?.priority ?? 1) }), '1 is first; decides the winner inside an exclusive set.'),
    field('Exclusive set', h('input', { name: 'exclusive_set', maxlength: '100', value: mapping?.exclusive_set ?? '' }), 'Optional: mappings in one set grant at most one role per member.'),
    h('div', { class: 'field' }, checkbox('Enabled', 'enabled', mapping?.enabled ?? true)),
    h('fieldset', { class: 'span' }, h('legend', {}, 'Conditions'),
      h('div', { class: 'grid' },
        field('Minimum characters', h('input', { name: 'character_count_min', type: 'number', min: '0', value: c.character_count_min ?? '' }), 'Empty: no minimum.'),
        field('Maximum characters', h('input', { name: 'character_count_max', type: 'number', min: '0', value: c.character_count_max ?? '' }), 'Empty: no maximum.'),
        field('Required permissions', h('input', { name: 'required_permissions', value: c.required_permissions.join(', ') }), 'Comma-separated host permissions; empty: none.'),
        h('div', { class: 'field' }, checkbox('Require all of them (otherwise any one)', 'require_all', c.require_all)),
        field('Excluded groups', h('input', { name: 'excluded_groups', value: c.excluded_groups.join(', ') }), 'Comma-separated: members of these groups never get the role.'))),
    h('div', { class: 'actions span' },
      h('button', { type: 'submit' }, mapping !== null ? 'Save mapping' : 'Create mapping'),
      cancel))
  cancel.addEventListener('click', () => { host.textContent = '' })
  form.addEventListener('submit', (ev) => {
    ev.preventDefault()
    run(submitButton(form), out, async () => {
      const text = (/** @type {string} */ name) => inputOf(form, name).value
      const checked = (/** @type {string} */ name) => inputOf(form, name).checked
      const num = (/** @type {string} */ v) => v.trim() === '' ? null : Number(v)
      const role = controlOf(form, 'discord_role_id')
      /** @type {MappingInput} */
      const body = {
        group_id: text('group_id').trim(),
        group_name: text('group_name').trim() === '' ? null : text('group_name').trim(),
        discord_role_id: role.value,
        priority: Number(text('priority')),
        exclusive_set: text('exclusive_set').trim() === '' ? null : text('exclusive_set').trim(),
        enabled: checked('enabled'),
        conditions: {
          require_all: checked('require_all'),
          character_count_min: num(text('character_count_min')),
          character_count_max: num(text('character_count_max')),
          required_permissions: list(text('required_permissions')),
          excluded_groups: list(text('excluded_groups'))
        }
      }
      if (mapping !== null) await api('PUT', `role-mappings/${mapping.id}`, body)
      else await api('POST', `guilds/${guildId}/role-mappings`, body)
      const roleText = role instanceof HTMLSelectElement ? role.selectedOptions[0]?.textContent : undefined
      notify(mapping !== null ? 'Mapping saved.' : `Mapping created: ${body.group_id} → ${roleText ?? body.discord_role_id}.`)
      host.textContent = ''
      await done()
    })
  })
  host.append(h('div', { class: 'panel' }, form, out))
  inputOf(form, 'group_id').focus()
  // The provider's group list, when it has one: placed before the id field once read.
  groupPicker(inputOf(form, 'group_id'), inputOf(form, 'group_name')).then((picker) => {
    if (picker !== null && form.isConnected) form.querySelector('h3')?.after(picker)
  })
}
