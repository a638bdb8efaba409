// @ts-check
/*
 * The demo's reset button, shown on the overview only when the server runs the demo (the
 * standalone server answers GET demo there; elsewhere the route does not exist and nothing shows).
 */
import { api, ApiError } from '../api.js'
import { h } from '../dom.js'
import { rerender } from '../navigation.js'
import { action } from './action.js'
import { confirmDialog } from './dialog.js'
import { notify } from './notice.js'

/** The demo panel, or null outside the demo. */
export async function demoResetPanel () {
  try {
    await api('GET', 'demo')
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return null
    throw err
  }
  const out = h('div')
  const button = h('button', { type: 'button', class: 'secondary' }, 'Reset the demo…')
  action(button, out, async () => {
    const ok = await confirmDialog({
      title: 'Reset the demo?',
      body: 'Every change goes: mappings, settings, links, sync runs and the audit trail, and the simulated members get their first roles back. The demo then looks as it did on its first start.',
      confirmLabel: 'Reset the demo',
      danger: true
    })
    if (!ok) return
    await api('POST', 'demo/reset')
    notify('The demo was reset to its first state.')
    rerender()
  })
  return h('section', { class: 'panel', 'aria-labelledby': 'ov-demo' },
    h('h2', { id: 'ov-demo' }, 'Demo'),
    h('p', { class: 'muted small' }, 'Discord is simulated in this server. Start again from the seed whenever you like (or run the server with --reset-demo).'),
    h('div', { class: 'actions' }, button), out)
}
