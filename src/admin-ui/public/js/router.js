// @ts-check
/*
 * Which page is on screen: boot() asks the API who is signed in, render() draws the page the
 * address names (the sign-in page for a visitor, "Admins only" for a user on an admin page).
 */
import { api } from './api.js'
import { renderChrome } from './components/chrome.js'
import { errorBox } from './components/errors.js'
import { byId, h } from './dom.js'
import { currentRoute } from './navigation.js'
import { accountPage } from './pages/account.js'
import { auditPage } from './pages/audit.js'
import { guildPage } from './pages/guild.js'
import { guildsPage } from './pages/guilds.js'
import { overviewPage } from './pages/overview.js'
import { signInPage } from './pages/sign-in.js'
import { syncPage } from './pages/sync.js'
import { memberPage } from './pages/members/member.js'
import { membersPage } from './pages/members/list.js'
import { alive, nextView, RETURN_KEY, signedIn, state } from './state.js'

/**
 * Draws a page into main; ids are the route's captured path parts.
 * @typedef {(main: HTMLElement, params: URLSearchParams, ...ids: string[]) => Promise<void> | void} Page
 */

/** @type {[RegExp, Page][]} */
const ROUTES = [
  [/^\/$/, (m, p) => signedIn().is_admin ? overviewPage(m) : accountPage(m)],
  [/^\/account$/, (m) => accountPage(m)],
  [/^\/guilds$/, requireAdmin(guildsPage)],
  [/^\/guilds\/(\d{17,20})$/, requireAdmin(guildPage)],
  [/^\/sync$/, requireAdmin(syncPage)],
  [/^\/audit$/, requireAdmin(auditPage)],
  [/^\/members$/, requireAdmin(membersPage)],
  [/^\/members\/(\d{17,20})$/, requireAdmin(memberPage)]
]

/**
 * @param {Page} page
 * @returns {Page}
 */
function requireAdmin (page) {
  return (main, params, ...rest) => {
    if (signedIn().is_admin) return page(main, params, ...rest)
    main.append(h('h1', { tabindex: '-1' }, 'Admins only'), h('p', {}, 'This page needs the admin permission. ', h('a', { href: '#/account' }, 'Go to your account.')))
  }
}

/** Draws the page for the current address, then moves focus to its heading. */
export async function render () {
  const myView = nextView()
  const main = byId('main')
  main.textContent = ''
  renderChrome(signOut)
  // Shown once, above whatever page the browser came back to.
  const flash = state.flash
  state.flash = null
  if (!state.session?.authenticated) {
    signInPage(main)
    if (flash !== null) main.querySelector('h1')?.after(errorBox(flash))
    return
  }
  const { path, params } = currentRoute()
  const route = ROUTES.find(([re]) => re.test(path))
  try {
    if (route === undefined) {
      main.append(h('h1', { tabindex: '-1' }, 'Not found'), h('p', {}, h('a', { href: '#/' }, 'Back to the start page')))
    } else {
      await route[1](main, params, ...(route[0].exec(path) ?? []).slice(1))
    }
  } catch (err) {
    if (alive(myView)) main.append(errorBox(err))
  }
  if (!alive(myView)) return
  if (flash !== null) main.querySelector('h1')?.after(errorBox(flash))
  main.querySelector('h1')?.focus()
}

/** Asks the API who is signed in, returns to where a sign-in started, and draws the page. */
export async function boot () {
  try {
    state.session = /** @type {import('./types.js').Session} */ (await api('GET', 'session'))
  } catch (err) {
    const main = byId('main')
    main.textContent = ''
    main.append(h('h1', { tabindex: '-1' }, 'Discord role sync'), errorBox(err))
    return
  }
  // Back from Discord: return to the page the sign-in or re-link started from.
  const back = sessionStorage.getItem(RETURN_KEY)
  if (state.session.authenticated && back !== null) {
    sessionStorage.removeItem(RETURN_KEY)
    if (location.hash !== back) {
      location.hash = back
      return
    }
  }
  await render()
}

async function signOut () {
  await api('DELETE', 'session')
  state.session = null
  location.hash = '#/'
  await boot()
}
