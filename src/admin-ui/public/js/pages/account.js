// @ts-check
/* Everyone's own page: their Discord link (re-link, unlink), syncing their roles, their recent role changes. */
import { api } from '../api.js'
import { action } from '../components/action.js'
import { memberHistory } from '../components/audit-table.js'
import { badge } from '../components/badge.js'
import { confirmDialog } from '../components/dialog.js'
import { notify } from '../components/notice.js'
import { table } from '../components/table.js'
import { when } from '../components/time.js'
import { h } from '../dom.js'
import { rerender } from '../navigation.js'
import { RETURN_KEY, signedIn, UI_URL } from '../state.js'
import { secondaryId } from '../components/ids.js'

/**
 * @param {HTMLElement} main
 */
export async function accountPage (main) {
  const s = signedIn()
  main.append(h('h1', { tabindex: '-1' }, 'My account'))
  const status = /** @type {import('../types.js').AuthStatus} */ (await api('GET', 'auth/status'))
  const out = h('div')
  /** @param {HTMLButtonElement} button */
  const relink = async (button) => {
    const { auth_url: authUrl } = /** @type {import('../types.js').StartedFlow} */ (await api('POST', 'auth/link', { redirect_url: UI_URL }))
    sessionStorage.setItem(RETURN_KEY, '#/account')
    if (button) button.disabled = true
    location.assign(authUrl)
  }
  const linkSection = h('section', { class: 'panel', 'aria-labelledby': 'acc-link' }, h('h2', { id: 'acc-link' }, 'Discord link'),
    h('p', {}, 'Host user ', h('strong', { class: 'mono' }, s.user_id), s.is_admin ? [' ', badge('info', 'admin')] : null))
  if (status.accounts.length === 0) {
    const link = h('button', { type: 'button' }, 'Link a Discord account')
    action(link, out, () => relink(link))
    linkSection.append(h('p', {}, 'No Discord account is linked to you.'), h('div', { class: 'actions' }, link))
  }
  for (const a of status.accounts) {
    const again = h('button', { type: 'button', class: a.needs_reauth ? null : 'secondary' }, 'Re-link')
    action(again, out, () => relink(again))
    const unlink = h('button', { type: 'button', class: 'danger' }, 'Unlink…')
    action(unlink, out, async () => {
      const ok = await confirmDialog({
        title: `Unlink ${a.username}?`,
        body: 'The Discord authorisation is revoked, the link is deleted and the roles this service gave you are removed from the guilds it manages.',
        confirmLabel: 'Unlink',
        danger: true
      })
      if (!ok) return
      const r = /** @type {import('../types.js').UnlinkAnswer} */ (await api('DELETE', `auth/unlink/${a.discord_user_id}`))
      notify(`Unlinked ${a.username}${r.role_removal.queued ? '; managed roles are being removed' : ''}.`)
      rerender()
    })
    linkSection.append(h('div', { class: 'panel' },
      h('h3', {}, a.global_name ?? a.username, ' ', h('span', { class: 'muted small' }, `@${a.username}`)),
      a.needs_reauth ? h('p', { class: 'warning' }, 'Discord no longer accepts this link: re-link to keep your roles in sync.') : null,
      h('dl', { class: 'kv' },
        h('dt', {}, 'Discord id'), secondaryId(a.discord_user_id, 'dd'),
        h('dt', {}, 'Scopes'), h('dd', {}, a.scopes.join(' ') || '—'),
        h('dt', {}, 'Guilds seen'), h('dd', {}, String(a.guild_count)),
        h('dt', {}, 'Linked'), h('dd', {}, when(a.linked_at)),
        h('dt', {}, 'Last role sync'), h('dd', {}, when(a.last_sync))),
      h('div', { class: 'actions' }, again, unlink)))
  }
  linkSection.append(out)
  main.append(linkSection)

  const syncOut = h('div', { 'aria-live': 'polite' })
  const syncMe = h('button', { type: 'button', disabled: status.accounts.length === 0 }, 'Sync my roles now')
  action(syncMe, syncOut, async () => {
    const r = /** @type {import('../types.js').UserSyncAnswer} */ (await api('POST', `sync/user/${encodeURIComponent(s.user_id)}`))
    syncOut.append(h('p', { class: 'success' }, `Synced in ${r.successful_guilds} of ${r.total_guilds} guild(s)${r.failed_guilds > 0 ? `; ${r.failed_guilds} failed` : ''}.`),
      table([
        { label: 'Guild', value: (g) => g.guild_name },
        { label: 'Added', value: (g) => g.roles_added.join(', ') || '—' },
        { label: 'Removed', value: (g) => g.roles_removed.join(', ') || '—' },
        { label: 'Roles now', num: true, value: (g) => g.total_roles },
        { label: 'Errors', value: (g) => g.errors.join('; ') || '—' }
      ], r.sync_results, { empty: 'You are not in any guild this service manages.' }))
  })
  main.append(h('section', { class: 'panel', 'aria-labelledby': 'acc-sync' }, h('h2', { id: 'acc-sync' }, 'My roles'),
    h('p', { class: 'muted small' }, 'Your Discord roles follow your groups here. Syncing applies that now instead of at the next scheduled sync.'),
    h('div', { class: 'actions' }, syncMe), syncOut))

  const history = h('section', { class: 'panel', 'aria-labelledby': 'acc-hist' }, h('h2', { id: 'acc-hist' }, 'My recent role changes'))
  main.append(history)
  history.append(memberHistory({ user_id: s.user_id ?? '' }, ['Member', 'Run'], 'No role change yet.'))
}
