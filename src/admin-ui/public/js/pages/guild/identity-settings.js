// @ts-check
/*
 * The guild settings for nicknames and access loss (docs/sync.md "Nicknames", "Access loss"):
 * the nickname template with a live preview, what happens to a member who lost access, and
 * after how long. The server validates everything again (unknown variables, permissions).
 */
import { field, inputOf, selectOf } from '../../components/forms.js'
import { h } from '../../dom.js'

/** Sample values for the preview; a variable without one shows as its own name. */
const SAMPLE = { username: 'jdoe', global_name: 'Jane', name: 'Jane Doe', ticker: 'ABC' }
/** Discord's nickname limit (user.mdx). */
const NICK_MAX = 32

/**
 * The server's rendering, for a preview: variables filled, whitespace collapsed, cut at 32
 * UTF-16 units without splitting a surrogate pair. Returns null when the template is malformed.
 * @param {string} template
 * @returns {string | null}
 */
export function previewNickname (template) {
  let out = ''
  for (let i = 0; i < template.length; i++) {
    const ch = template[i]
    if ((ch === '{' || ch === '}') && template[i + 1] === ch) { out += ch; i++; continue }
    if (ch === '}') return null
    if (ch !== '{') { out += ch; continue }
    const end = template.indexOf('}', i + 1)
    if (end < 0) return null
    const name = template.slice(i + 1, end)
    out += /** @type {Record<string, string>} */ (SAMPLE)[name] ?? name
    i = end
  }
  let nick = out.replace(/\s+/g, ' ').trim()
  if (nick.length > NICK_MAX) {
    const code = nick.charCodeAt(NICK_MAX - 1)
    nick = nick.slice(0, code >= 0xD800 && code <= 0xDBFF ? NICK_MAX - 1 : NICK_MAX).trim()
  }
  return nick
}

/**
 * The fields, to place in the settings form.
 * @param {import('../../types.js').GuildSettings} s
 */
export function identityFields (s) {
  const template = h('input', { name: 'nickname_template', maxlength: '100', placeholder: '[{ticker}] {name}', value: s.nickname_template ?? '' })
  const preview = h('div', { class: 'hint', 'aria-live': 'polite' })
  const update = () => {
    const t = template.value.trim()
    const p = t === '' ? null : previewNickname(t)
    preview.textContent = t === '' ? 'Nicknames are left alone.' : p === null ? 'Unbalanced braces: write {{ or }} for a literal brace.' : `Preview: ${p}`
  }
  template.addEventListener('input', update)
  update()
  return [
    h('div', { class: 'span' },
      field('Nickname template', template, 'Variables: {username}, {global_name} and the profile fields your host provides (e.g. {name}, {ticker}). Empty leaves nicknames alone; needs Manage Nicknames.'),
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
