// @ts-check
/* Moments from the API, in the reader's locale, with the exact ISO time on hover. */
import { h } from '../dom.js'

/**
 * @param {string | null | undefined} iso
 * @returns {HTMLTimeElement | string} '—' when there is none
 */
export function when (iso) {
  if (!iso) return '—'
  const d = new Date(iso)
  return h('time', { datetime: iso, title: iso }, d.toLocaleString())
}
