// @ts-check
/*
 * Building elements. Text from the API is always inserted as text (text nodes, attributes),
 * never as HTML, so a guild or role name cannot inject markup.
 */

/**
 * What h() and append() accept as children: strings and numbers become text nodes,
 * null/undefined/false are skipped, arrays are flattened.
 * @typedef {Node | string | number | false | null | undefined | ChildList} Child
 * @typedef {Child[]} ChildList
 */

/**
 * Attributes, plus `on<event>` listeners and the properties `value`, `checked`, `selected`,
 * `disabled` (set as properties so forms see them). null, undefined and false leave them out.
 * @typedef {Record<string, unknown>} Props
 */

/**
 * h('button', { class: 'x', onclick }, 'text', child): builds an element.
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Props | null} [props]
 * @param {...Child} children
 * @returns {HTMLElementTagNameMap[K]}
 */
export function h (tag, props, ...children) {
  const el = document.createElement(tag)
  for (const [k, v] of Object.entries(props ?? {})) {
    if (v === undefined || v === null || v === false) continue
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), /** @type {EventListener} */ (v))
    else if (k === 'class') el.className = String(v)
    else if (k === 'value') Reflect.set(el, 'value', v)
    else if (k === 'checked' || k === 'selected' || k === 'disabled') { Reflect.set(el, k, true); el.setAttribute(k, '') } else el.setAttribute(k, v === true ? '' : String(v))
  }
  append(el, children)
  return el
}

/**
 * Appends children as h() does (use it, not the DOM's append, for such lists).
 * @template {Element} E
 * @param {E} el
 * @param {ChildList} children
 * @returns {E}
 */
export function append (el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue
    if (Array.isArray(c)) append(el, c)
    else el.append(c instanceof Node ? c : String(c))
  }
  return el
}

let idSeq = 0

/**
 * A page-unique element id with this prefix.
 * @param {string} prefix
 */
export function uid (prefix) {
  return `${prefix}-${++idSeq}`
}

/**
 * The element with this id in index.html (the page's fixed frame).
 * @param {'main' | 'nav' | 'who' | 'notice' | 'skip'} id
 * @returns {HTMLElement}
 */
export function byId (id) {
  const el = document.getElementById(id)
  if (el === null) throw new Error(`index.html has no #${id}`)
  return el
}
