// @ts-check
/* The header around every page: the navigation for the user's role and who is signed in. */
import { append, byId, h } from '../dom.js'
import { currentRoute } from '../navigation.js'
import { state } from '../state.js'
import { action } from './action.js'
import { badge } from './badge.js'

/** @type {[href: string, label: string][]} */
const ADMIN_NAV = [['#/', 'Overview'], ['#/guilds', 'Guilds'], ['#/members', 'Members'], ['#/sync', 'Sync'], ['#/audit', 'Audit'], ['#/account', 'My account']]
/** @type {[href: string, label: string][]} */
const USER_NAV = [['#/account', 'My account']]

/**
 * Empty while signed out.
 * @param {() => Promise<void>} signOut what the Sign out button does
 */
export function renderChrome (signOut) {
  const nav = byId('nav')
  const who = byId('who')
  nav.textContent = ''
  who.textContent = ''
  const s = state.session
  if (!s?.authenticated) return
  const { path } = currentRoute()
  for (const [href, label] of s.is_admin ? ADMIN_NAV : USER_NAV) {
    const target = href.slice(1)
    const current = target === '/' ? path === '/' : path === target || path.startsWith(`${target}/`)
    // "My " is hidden visually at phone width (app.css) so six links fit one row; screen readers keep it.
    const text = label.startsWith('My ') ? [h('span', { class: 'nav-my' }, 'My '), label.slice(3)] : [label]
    nav.append(h('a', { href, 'aria-current': current ? 'page' : null }, ...text))
  }
  const signOutButton = h('button', { type: 'button' }, 'Sign out')
  action(signOutButton, null, signOut)
  append(who, [h('span', {}, 'Signed in as ', h('strong', {}, s.user_id)), s.is_admin ? badge('info', 'admin') : null, signOutButton])
}
