// @ts-check
/* Data tables: one column definition per column, one row per item, a sentence when empty. */
import { h } from '../dom.js'

/**
 * @template T
 * @typedef {object} Column
 * @property {string} label
 * @property {boolean} [num] right-aligned numbers
 * @property {(row: T) => import('../dom.js').Child} value
 */

/**
 * @template T
 * @param {Column<T>[]} columns
 * @param {T[]} rows
 * @param {{ caption?: string, empty?: string, rowClass?: (row: T) => string | null }} [options]
 */
export function table (columns, rows, { caption, empty = 'Nothing to show.', rowClass } = {}) {
  if (rows.length === 0) return h('p', { class: 'muted' }, empty)
  // Focusable: a table wider than a phone scrolls inside this box, and a keyboard must be able to scroll it.
  return h('div', { class: 'table-wrap', tabindex: '0' }, h('table', {},
    caption ? h('caption', {}, caption) : null,
    h('thead', {}, h('tr', {}, columns.map((c) => h('th', { scope: 'col', class: c.num ? 'num' : null }, c.label)))),
    h('tbody', {}, rows.map((r) => h('tr', { class: rowClass ? rowClass(r) : null }, columns.map((c) => h('td', { class: c.num ? 'num' : null }, c.value(r))))))
  ))
}
