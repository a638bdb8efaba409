// @ts-check
/* Form fields: labelled inputs and checkboxes, and typed access to a form's controls. */
import { h, uid } from '../dom.js'

/**
 * A labelled input: <div class="field"><label for>…</label><input id aria-describedby>…<div class="hint"></div></div>.
 * @param {string} label
 * @param {HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement} input
 * @param {string} [hint]
 */
export function field (label, input, hint) {
  const id = input.id || uid('f')
  input.id = id
  /** @type {HTMLElement[]} */
  const parts = [h('label', { for: id }, label), input]
  if (hint) {
    const hid = `${id}-hint`
    input.setAttribute('aria-describedby', hid)
    parts.push(h('div', { class: 'hint', id: hid }, hint))
  }
  return h('div', { class: 'field' }, parts)
}

/**
 * A checkbox with its label (and hint) after it.
 * @param {string} label
 * @param {string} name
 * @param {boolean} checked
 * @param {string} [hint]
 */
export function checkbox (label, name, checked, hint) {
  const id = uid('c')
  const input = h('input', { type: 'checkbox', id, name, checked })
  /** @type {HTMLElement[]} */
  const parts = [input, h('label', { for: id }, label)]
  if (hint) {
    input.setAttribute('aria-describedby', `${id}-hint`)
    parts.push(h('span', { class: 'hint', id: `${id}-hint` }, hint))
  }
  return h('div', { class: 'check' }, parts)
}

/**
 * The entries of a comma-separated field, trimmed, without empty ones.
 * @param {string} text
 */
export function list (text) {
  return text.split(',').map((s) => s.trim()).filter((s) => s !== '')
}

/**
 * The form's input (or textarea) of this name; the forms are built here, so a missing one is a bug.
 * @param {HTMLFormElement} form
 * @param {string} name
 * @returns {HTMLInputElement}
 */
export function inputOf (form, name) {
  const el = form.elements.namedItem(name)
  if (!(el instanceof HTMLInputElement)) throw new Error(`The form has no input "${name}"`)
  return el
}

/**
 * The form's select of this name.
 * @param {HTMLFormElement} form
 * @param {string} name
 * @returns {HTMLSelectElement}
 */
export function selectOf (form, name) {
  const el = form.elements.namedItem(name)
  if (!(el instanceof HTMLSelectElement)) throw new Error(`The form has no select "${name}"`)
  return el
}

/**
 * The form's input or select of this name, for fields that are either (a role picker or an id).
 * @param {HTMLFormElement} form
 * @param {string} name
 * @returns {HTMLInputElement | HTMLSelectElement}
 */
export function controlOf (form, name) {
  const el = form.elements.namedItem(name)
  if (el instanceof HTMLSelectElement) return el
  return inputOf(form, name)
}

/**
 * The checked value of a group of radio buttons ('' when none is checked).
 * @param {HTMLFormElement} form
 * @param {string} name
 */
export function radioValue (form, name) {
  const el = form.elements.namedItem(name)
  if (!(el instanceof RadioNodeList)) throw new Error(`The form has no radio group "${name}"`)
  return el.value
}

/**
 * The submit button of a form built here.
 * @param {HTMLFormElement} form
 * @returns {HTMLButtonElement}
 */
export function submitButton (form) {
  const button = form.querySelector('button[type=submit]')
  if (!(button instanceof HTMLButtonElement)) throw new Error('The form has no submit button')
  return button
}
