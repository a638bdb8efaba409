// @ts-check
/*
 * fastify-discord-sync admin UI: plain ES modules, no framework, no build step. This entry wires
 * the modules together and starts the UI; router.js decides what is on screen.
 */
import { setUnauthorizedHandler } from './api.js'
import { takeCallbackError } from './callback-error.js'
import { byId } from './dom.js'
import { setRenderer } from './navigation.js'
import { boot, render } from './router.js'
import { RETURN_KEY, state } from './state.js'

setRenderer(render)
// The session ended meanwhile (expired, signed out elsewhere): start over at the sign-in page.
setUnauthorizedHandler(() => {
  if (!state.session?.authenticated) return
  state.session = null
  setTimeout(() => { boot() }, 0)
})
window.addEventListener('hashchange', () => {
  if (!location.hash.startsWith('#/') && location.hash !== '') return
  if (state.session !== null) render()
})
byId('skip').addEventListener('click', (ev) => {
  ev.preventDefault()
  byId('main').focus()
})
// Remember where a signed-out visitor wanted to go, so sign-in returns there.
if (location.hash.startsWith('#/') && location.hash !== '#/') sessionStorage.setItem(RETURN_KEY, location.hash)
takeCallbackError()
boot()
