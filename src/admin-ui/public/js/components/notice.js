// @ts-check
/* The notice line under the header: what an action did, announced politely to screen readers. */
import { byId } from '../dom.js'

/** @type {ReturnType<typeof setTimeout> | undefined} */
let timer

/**
 * Shows a message for 8 seconds.
 * @param {string} message
 */
export function notify (message) {
  const el = byId('notice')
  el.textContent = ''
  // Cleared first so screen readers announce a repeated message again.
  setTimeout(() => { el.textContent = message }, 30)
  clearTimeout(timer)
  timer = setTimeout(() => { el.textContent = '' }, 8000)
}
