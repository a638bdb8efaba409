// @ts-check
/* A download link for text made in the page (an export), without a round trip. */
import { h } from '../dom.js'

/**
 * @param {string} filename
 * @param {string} text JSON
 */
export function download (filename, text) {
  const url = URL.createObjectURL(new Blob([text], { type: 'application/json' }))
  const a = h('a', { href: url, download: filename, class: 'button secondary' }, `Download ${filename}`)
  setTimeout(() => URL.revokeObjectURL(url), 10 * 60_000)
  return a
}
