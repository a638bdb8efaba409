// @ts-check
/* Errors on the page: the API's message and code, never a stack or a raw body. */
import { ApiError } from '../api.js'
import { byId, h } from '../dom.js'

/**
 * @param {unknown} err
 */
export function errorBox (err) {
  const message = err instanceof ApiError ? err.message : 'Something went wrong in this page. Reload it and try again.'
  if (!(err instanceof ApiError)) console.error(err)
  return h('div', { class: 'error', role: 'alert' }, message, err instanceof ApiError && err.code ? h('span', { class: 'code' }, `(${err.code})`) : null)
}

/**
 * Shows an error at the top of the page, for actions that have no place of their own for it.
 * @param {unknown} err
 */
export function showError (err) {
  byId('main').prepend(errorBox(err))
}
