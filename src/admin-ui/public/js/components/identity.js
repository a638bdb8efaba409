// @ts-check
/*
 * How people, guilds and roles are named on screen (issue 17): a Discord member by global name
 * and @username with the avatar (initials when the image cannot load: an offline deployment, a
 * blocked CDN), a role by its name in its colour; the id always second, small, with a copy button.
 */
import { h } from '../dom.js'

/**
 * Up to two letters for the initials avatar: the first of each of the first two words.
 * @param {string} name
 */
export function initials (name) {
  const words = name.replace(/[^\p{L}\p{N}\s]/gu, ' ').trim().split(/\s+/).filter(Boolean)
  const letters = words.length > 1 ? [words[0], words[1]] : [words[0] ?? '?']
  return letters.map((w) => Array.from(/** @type {string} */ (w))[0] ?? '').join('').toUpperCase() || '?'
}

/**
 * A round avatar: the image, replaced by initials if it fails to load (or when there is none).
 * Decorative: the name is always written next to it.
 * @param {string | null} url
 * @param {string} name
 */
export function avatar (url, name) {
  const fallback = h('span', { class: 'avatar avatar-initials', 'aria-hidden': 'true' }, initials(name))
  if (url === null) return fallback
  const img = h('img', { class: 'avatar', src: url, alt: '', width: '32', height: '32', loading: 'lazy', referrerpolicy: 'no-referrer' })
  img.addEventListener('error', () => { img.replaceWith(fallback) }, { once: true })
  return img
}

/**
 * An id as secondary text with a button that copies it.
 * @param {string} id
 * @param {string} what what the id belongs to, for the button's accessible name ("Discord id of Jane")
 */
export function copyableId (id, what) {
  const button = h('button', { type: 'button', class: 'link copy', 'aria-label': `Copy ${what}`, title: `Copy ${what}` }, 'Copy')
  button.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(id)
      button.textContent = 'Copied'
    } catch {
      // No clipboard (an insecure origin, a denied permission): select the text for a manual copy.
      const range = document.createRange()
      range.selectNodeContents(text)
      window.getSelection()?.removeAllRanges()
      window.getSelection()?.addRange(range)
      button.textContent = 'Selected'
    }
    setTimeout(() => { button.textContent = 'Copy' }, 2000)
  })
  const text = h('span', { class: 'mono' }, id)
  // data-secondary-id: the browser tests' bare-id scan (test/e2e/helpers/a11y.ts) reads this as secondary text.
  return h('span', { class: 'id-line muted small', 'data-secondary-id': '' }, text, ' ', button)
}

/**
 * @typedef {object} PersonLike
 * @property {string} discord_user_id
 * @property {string} username
 * @property {string | null} global_name
 * @property {string | null} avatar_url
 */

/**
 * A member: avatar, display name (global name, else username), @username, and the Discord id.
 * @param {PersonLike} p
 * @param {{ href?: string, ids?: boolean }} [options] href: the name links there; ids: show the copyable id (default true)
 */
export function person (p, { href, ids = true } = {}) {
  const display = p.global_name ?? p.username
  const name = href === undefined ? h('strong', { class: 'person-name' }, display) : h('a', { class: 'person-name', href }, display)
  return h('div', { class: 'person' }, avatar(p.avatar_url, display),
    h('div', {}, name, ' ', h('span', { class: 'muted small' }, `@${p.username}`),
      ids ? h('div', {}, copyableId(p.discord_user_id, `Discord id of ${display}`)) : null))
}

/**
 * A role by name in its colour (a dot, so light colours stay readable), its id in the tooltip.
 * @param {{ id: string, name: string, color: number }} r
 */
export function roleChip (r) {
  const dot = h('span', { class: 'role-dot', 'aria-hidden': 'true' })
  // Set through the CSSOM: the UI's Content-Security-Policy refuses inline style attributes.
  if (r.color > 0) dot.style.backgroundColor = `#${r.color.toString(16).padStart(6, '0')}`
  return h('span', { class: 'role-chip', title: `Role id ${r.id}` }, dot, r.name)
}
