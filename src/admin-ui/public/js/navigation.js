// @ts-check
/*
 * Addresses inside the UI: the hash (#/guilds/123?x=1) names the page. Pages move on with go()
 * and redraw themselves with rerender(); the router registers the renderer, so pages and the
 * router do not import each other.
 */

/** @type {() => Promise<void>} */
let renderer = async () => {}

/**
 * @param {() => Promise<void>} render draws the page for the current address
 */
export function setRenderer (render) {
  renderer = render
}

/** Draws the current page again (after an action changed what it shows). */
export function rerender () {
  return renderer()
}

/** The page's path and query from the hash: `#/sync?guild_id=1` → `/sync`, guild_id=1. */
export function currentRoute () {
  const hash = location.hash.startsWith('#/') ? location.hash.slice(1) : '/'
  const [path = '/', qs] = hash.split('?', 2)
  return { path, params: new URLSearchParams(qs ?? '') }
}

/**
 * Goes to a page; the same address draws it again (a filter submitted twice still reloads).
 * @param {string} hash
 */
export function go (hash) {
  if (location.hash === hash) rerender()
  else location.hash = hash
}
