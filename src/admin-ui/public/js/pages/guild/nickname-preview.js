// @ts-check
/*
 * The nickname template preview: the engine's rendering (src/sync/nickname.ts) restated for the
 * browser, on sample values or on a chosen member's. No imports, so a unit test compares it with
 * the engine directly (test/admin/nickname-preview.test.ts).
 */

/** Sample values for the preview; a variable without one shows as its own name. */
const SAMPLE = { username: 'jdoe', global_name: 'Jane', name: 'Jane Doe', ticker: 'ABC' }
/** Discord's nickname limit (user.mdx). */
const NICK_MAX = 32

/**
 * A template's parts: literal text and variable names; null when the braces are unbalanced.
 * @param {string} template
 * @returns {({ text: string } | { variable: string })[] | null}
 */
function parseTemplate (template) {
  /** @type {({ text: string } | { variable: string })[]} */
  const parts = []
  let text = ''
  for (let i = 0; i < template.length; i++) {
    const ch = template[i]
    if ((ch === '{' || ch === '}') && template[i + 1] === ch) { text += ch; i++; continue }
    if (ch === '}') return null
    if (ch !== '{') { text += ch; continue }
    const end = template.indexOf('}', i + 1)
    if (end < 0) return null
    if (text !== '') parts.push({ text })
    text = ''
    parts.push({ variable: template.slice(i + 1, end) })
    i = end
  }
  if (text !== '') parts.push({ text })
  return parts
}

/**
 * Whitespace collapsed, cut at 32 UTF-16 units without splitting a surrogate pair (as the server does).
 * @param {string} out
 */
function finish (out) {
  let nick = out.replace(/\s+/g, ' ').trim()
  if (nick.length > NICK_MAX) {
    const code = nick.charCodeAt(NICK_MAX - 1)
    nick = nick.slice(0, code >= 0xD800 && code <= 0xDBFF ? NICK_MAX - 1 : NICK_MAX).trim()
  }
  return nick
}

/**
 * The server's rendering on sample values, for a preview: a variable without a sample shows as
 * its own name. Returns null when the template is malformed.
 * @param {string} template
 * @returns {string | null}
 */
export function previewNickname (template) {
  const parts = parseTemplate(template)
  if (parts === null) return null
  return finish(parts.map((p) => 'text' in p ? p.text : /** @type {Record<string, string>} */ (SAMPLE)[p.variable] ?? p.variable).join(''))
}

/**
 * @typedef {object} PreviewMember
 * @property {string} username
 * @property {string | null} global_name
 * @property {Record<string, string> | null} profile the provider's values (GET /members/{id})
 */

/**
 * The nickname the engine would give this member (src/sync/nickname.ts renderNickname): global
 * name falls back to the username; a variable without a value, or an empty result, leaves the
 * nickname alone (null). undefined when the template is malformed.
 * @param {string} template
 * @param {PreviewMember} m
 * @returns {string | null | undefined}
 */
export function nicknameFor (template, m) {
  const parts = parseTemplate(template)
  if (parts === null) return undefined
  let out = ''
  for (const p of parts) {
    if ('text' in p) { out += p.text; continue }
    const v = p.variable === 'username' ? m.username : p.variable === 'global_name' ? (m.global_name ?? m.username) : m.profile?.[p.variable]
    if (v === null || v === undefined || v.replace(/\s+/g, ' ').trim() === '') return null
    out += v
  }
  // eslint-disable-next-line no-control-regex
  const nick = finish(out.replace(/[\u0000-\u001f\u007f-\u009f]/g, ''))
  return nick === '' ? null : nick
}
