// @ts-check
/* Confirmation before anything destructive. */
import { append, h, uid } from '../dom.js'
import { checkbox } from './forms.js'

/**
 * @typedef {object} ConfirmOptions
 * @property {string} title
 * @property {string} body
 * @property {string} confirmLabel
 * @property {boolean} [danger] the confirm button is red
 * @property {string} [acknowledge] a checkbox that must be ticked before confirming
 */

/**
 * A modal confirmation (native <dialog>: focus trap, Escape cancels). Resolves true on confirm.
 * @param {ConfirmOptions} options
 * @returns {Promise<boolean>}
 */
export function confirmDialog ({ title, body, confirmLabel, danger = false, acknowledge }) {
  return new Promise((resolve) => {
    const titleId = uid('dlg')
    const ack = acknowledge ? checkbox(acknowledge, 'ack', false) : null
    const ok = h('button', { type: 'submit', class: danger ? 'danger' : null, value: 'ok', disabled: ack !== null }, confirmLabel)
    const cancel = h('button', { type: 'button', class: 'secondary' }, 'Cancel')
    const dialog = h('dialog', { 'aria-labelledby': titleId },
      h('form', { method: 'dialog' },
        h('h2', { id: titleId }, title),
        append(h('div', {}), [body]),
        ack,
        h('div', { class: 'actions' }, cancel, ok)))
    const ackInput = ack?.querySelector('input')
    if (ackInput) ackInput.addEventListener('change', () => { ok.disabled = !ackInput.checked })
    cancel.addEventListener('click', () => dialog.close('cancel'))
    dialog.addEventListener('close', () => { dialog.remove(); resolve(dialog.returnValue === 'ok') })
    document.body.append(dialog)
    dialog.showModal()
    cancel.focus()
  })
}
