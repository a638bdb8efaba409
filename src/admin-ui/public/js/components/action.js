// @ts-check
/* Buttons that run an async action: disabled meanwhile, API errors shown beside them. */
import { clearTopErrors, errorBox, showError } from './errors.js'

/**
 * Makes the button run fn on click.
 * @template {HTMLButtonElement} B
 * @param {B} button
 * @param {HTMLElement | null} out where errors go (null: at the top of the page)
 * @param {() => Promise<unknown> | unknown} fn
 * @returns {B}
 */
export function action (button, out, fn) {
  button.addEventListener('click', async (ev) => {
    ev.preventDefault()
    await run(button, out, fn)
  })
  return button
}

/**
 * Runs fn once with the button disabled, clearing out first and showing an error there.
 * @param {HTMLButtonElement | null | undefined} button
 * @param {HTMLElement | null} out
 * @param {() => Promise<unknown> | unknown} fn
 */
export async function run (button, out, fn) {
  if (button) button.disabled = true
  if (out) out.textContent = ''
  clearTopErrors()
  try {
    await fn()
  } catch (err) {
    if (out) out.append(errorBox(err))
    else showError(err)
  } finally {
    if (button) button.disabled = false
  }
}
