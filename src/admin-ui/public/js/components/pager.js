// @ts-check
/* Previous / next over paged API results. */
import { h } from '../dom.js'

/**
 * Nothing when everything fits on one page.
 * @param {number} page 1-based
 * @param {number} pages
 * @param {(page: number) => unknown} goTo
 */
export function pager (page, pages, goTo) {
  if (pages <= 1) return null
  const prev = h('button', { type: 'button', class: 'secondary', disabled: page <= 1 }, 'Previous')
  const next = h('button', { type: 'button', class: 'secondary', disabled: page >= pages }, 'Next')
  prev.addEventListener('click', () => goTo(page - 1))
  next.addEventListener('click', () => goTo(page + 1))
  return h('nav', { class: 'pager', 'aria-label': 'Pages' }, prev, h('span', {}, `Page ${page} of ${pages}`), next)
}
