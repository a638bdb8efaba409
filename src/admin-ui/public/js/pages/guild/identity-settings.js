// @ts-check
/*
 * The guild settings for nicknames and access loss (docs/sync.md "Nicknames", "Access loss"):
 * the nickname template with a live preview, what happens to a member who lost access, and
 * after how long. The server validates everything again (unknown variables, permissions).
 */
import { field, inputOf, selectOf } from '../../components/forms.js'
import { api } from '../../api.js'
import { h } from '../../dom.js'
import { nicknameFor, previewNickname } from './nickname-preview.js'

/** @typedef {import('./nickname-preview.js').PreviewMember} PreviewMember */

/**
 * The fields, to place in the settings form.
 * @param {import('../../types.js').GuildSettings} s
 */
export function identityFields (s) {
  const template = h('input', { name: 'nickname_template', maxlength: '100', placeholder: '[{ticker}] {name}', value: s.nickname_template ?? '' })
  const preview = h('div', { class: 'hint', 'aria-live': 'polite' })
  const who = h('select', { name: 'preview_member', 'aria-label': 'Preview the nickname of' }, h('option', { value: '' }, 'a sample member'))
  /** @type {PreviewMember | null} */
  let chosen = null
  const update = () => {
    const t = template.value.trim()
    if (t === '') { preview.textContent = 'Nicknames are left alone.'; return }
    if (chosen === null) {
      const p = previewNickname(t)
      preview.textContent = p === null ? 'Unbalanced braces: write {{ or }} for a literal brace.' : `Preview: ${p}`
      return
    }
    const p = nicknameFor(t, chosen)
    const name = chosen.global_name ?? chosen.username
    preview.textContent = p === undefined ? 'Unbalanced braces: write {{ or }} for a literal brace.' : p === null ? `${name}: nickname left alone (a variable has no value for them).` : `${name} would be named: ${p}`
  }
  who.addEventListener('change', async () => {
    chosen = null
    if (who.value !== '') {
      try {
        const d = /** @type {import('../../types.js').MemberDetail} */ (await api('GET', `members/${who.value}`))
        chosen = { username: d.member.username, global_name: d.member.global_name, profile: d.profile }
      } catch (err) {
        preview.textContent = `The member could not be read: ${err instanceof Error ? err.message : String(err)}`
        return
      }
    }
    update()
  })
  // The first page of linked members, by name, to choose from; the sample stays when none can be read.
  api('GET', 'members?limit=100').then((page) => {
    for (const m of /** @type {import('../../types.js').MemberPage} */ (page).members) who.append(h('option', { value: m.discord_user_id }, `${m.global_name ?? m.username} (@${m.username})`))
  }).catch(() => {})
  template.addEventListener('input', update)
  update()
  return [
    h('div', { class: 'span' },
      field('Nickname template', template, 'Variables: {username}, {global_name} and the profile fields your host provides (e.g. {name}, {ticker}). Empty leaves nicknames alone; needs Manage Nicknames.'),
      h('div', { class: 'check' }, h('span', { class: 'hint' }, 'Preview for'), who),
      preview),
    field('When a member loses access',
      h('select', { name: 'on_access_lost' },
        h('option', { value: 'remove_roles', selected: s.on_access_lost === 'remove_roles' }, 'Remove the managed roles'),
        h('option', { value: 'kick', selected: s.on_access_lost === 'kick' }, 'Kick the member (needs Kick Members)'),
        h('option', { value: 'none', selected: s.on_access_lost === 'none' }, 'Do nothing')),
      'Unlinked, deauthorised, or no longer entitled to any managed role.'),
    field('Grace before acting', h('input', { name: 'access_lost_grace', required: true, pattern: '0|([0-9]+(\\.[0-9]+)?(ms|s|m|h|d))+', value: s.access_lost_grace }), 'Like 0, 12h or 7d (up to 90d).')
  ]
}

/**
 * The settings the fields hold, for the save request.
 * @param {HTMLFormElement} form
 * @returns {Pick<import('../../types.js').GuildSettings, 'nickname_template' | 'on_access_lost' | 'access_lost_grace'>}
 */
export function identitySettings (form) {
  const template = inputOf(form, 'nickname_template').value.trim()
  const onLost = selectOf(form, 'on_access_lost').value
  return {
    nickname_template: template === '' ? null : template,
    on_access_lost: onLost === 'kick' || onLost === 'none' ? onLost : 'remove_roles',
    access_lost_grace: inputOf(form, 'access_lost_grace').value.trim()
  }
}
