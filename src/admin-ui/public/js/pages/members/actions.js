// @ts-check
/* What an admin does to one member, from the list or the member's page: sync now, unlink. */
import { api } from '../../api.js'
import { action } from '../../components/action.js'
import { confirmDialog } from '../../components/dialog.js'
import { notify } from '../../components/notice.js'
import { h } from '../../dom.js'

/**
 * The two buttons. Sync runs every link of the member's host user (POST /sync/user), as the
 * member's own "Sync my roles" does; unlink revokes and deletes this link and removes its roles.
 * @param {import('../../types.js').Member} m
 * @param {HTMLElement} out where results and errors go
 * @param {() => unknown} after called after an action changed the member (redraw)
 */
export function memberActions (m, out, after) {
  const name = m.global_name ?? m.username
  const sync = h('button', { type: 'button', class: 'secondary', 'aria-label': `Sync now: ${name}` }, 'Sync now')
  action(sync, out, async () => {
    const r = /** @type {import('../../types.js').UserSyncAnswer} */ (await api('POST', `sync/user/${encodeURIComponent(m.user_id)}`))
    const changes = r.sync_results.flatMap((g) => [...g.roles_added.map((x) => `+${x}`), ...g.roles_removed.map((x) => `−${x}`)])
    const errors = r.sync_results.flatMap((g) => g.errors.map((e) => `${g.guild_name}: ${e}`))
    notify(`${name} synced in ${r.successful_guilds} of ${r.total_guilds} guild(s)${changes.length > 0 ? ` (${changes.join(', ')})` : ', nothing to change'}.`)
    if (errors.length > 0) out.append(h('div', { class: 'warning' }, h('p', {}, `Not everything could be synced for ${name}:`), h('ul', {}, errors.map((e) => h('li', {}, e)))))
    else await after()
  })
  const unlink = h('button', { type: 'button', class: 'danger', 'aria-label': `Unlink ${name}…` }, 'Unlink…')
  action(unlink, out, async () => {
    const ok = await confirmDialog({
      title: `Unlink ${name}?`,
      body: `The Discord authorisation of @${m.username} is revoked, the link is deleted and the roles this service gave them are removed from the guilds it manages. They can link again by signing in.`,
      confirmLabel: 'Unlink',
      danger: true
    })
    if (!ok) return
    const r = /** @type {import('../../types.js').UnlinkAnswer} */ (await api('DELETE', `auth/unlink/${m.discord_user_id}`))
    notify(`Unlinked ${name}${r.role_removal.queued ? '; their managed roles are being removed' : ''}.`)
    await after()
  })
  return [sync, unlink]
}
