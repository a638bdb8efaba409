// @ts-check
/* One linked member: who they are, their groups, and per guild the roles they hold and why each managed role is or is not theirs. */
import { api } from '../../api.js'
import { avatar, copyableId, roleChip } from '../../components/identity.js'
import { badge } from '../../components/badge.js'
import { table } from '../../components/table.js'
import { when } from '../../components/time.js'
import { h } from '../../dom.js'
import { go, rerender } from '../../navigation.js'
import { memberActions } from './actions.js'
import { memberHistory } from '../../components/audit-table.js'

/** @type {Record<import('../../types.js').ManagedRoleState['state'], [string, string]>} */
const STATE = {
  in_sync: ['ok', 'in sync'],
  to_add: ['info', 'next sync adds it'],
  to_remove: ['degraded', 'next sync removes it'],
  blocked: ['bad', 'bot cannot change it']
}

/**
 * @param {HTMLElement} main
 * @param {URLSearchParams} _params
 * @param {string} discordUserId
 */
export async function memberPage (main, _params, discordUserId) {
  const d = /** @type {import('../../types.js').MemberDetail} */ (await api('GET', `members/${discordUserId}`))
  const m = d.member
  const name = m.global_name ?? m.username
  main.append(h('p', { class: 'small' }, h('a', { href: '#/members' }, '← All members')),
    h('div', { class: 'person' }, avatar(m.avatar_url, name), h('h1', { tabindex: '-1' }, name)))
  const out = h('div', { 'aria-live': 'polite' })
  main.append(h('section', { class: 'panel', 'aria-labelledby': 'mem-who' },
    h('h2', { id: 'mem-who' }, 'Link'),
    h('dl', { class: 'kv' },
      h('dt', {}, 'Discord'), h('dd', {}, `@${m.username}`, m.global_name !== null ? ` (${m.global_name})` : ''),
      h('dt', {}, 'Discord id'), h('dd', {}, copyableId(m.discord_user_id, `Discord id of ${name}`)),
      h('dt', {}, 'Host user'), h('dd', {}, copyableId(m.user_id, `host user id of ${name}`)),
      h('dt', {}, 'Link'), h('dd', {}, m.needs_reauth ? [badge('bad', 'needs re-link'), ' Discord refused the stored authorisation: the member must sign in again.'] : badge('ok', 'active')),
      h('dt', {}, 'Linked'), h('dd', {}, when(m.linked_at)),
      h('dt', {}, 'Last role sync'), h('dd', {}, m.last_sync === null ? 'never' : when(m.last_sync)),
      h('dt', {}, 'Host groups'), h('dd', {}, d.membership_error !== null ? h('span', { class: 'warning' }, `Unknown: ${d.membership_error}`) : d.groups.length === 0 ? 'none' : d.groups.map((g) => g.name).join(', '))),
    h('div', { class: 'actions' }, memberActions(m, out, async () => {
      // After an unlink the member is gone: back to the list; after a sync, read them again.
      try { await api('GET', `members/${discordUserId}`) } catch { go('#/members'); return }
      await rerender()
    })),
    out))

  for (const g of d.guilds) {
    const hid = `mem-g-${g.guild_id}`
    const section = h('section', { class: 'panel', 'aria-labelledby': hid }, h('h2', { id: hid }, g.guild_name), h('div', {}, copyableId(g.guild_id, `guild id of ${g.guild_name}`)))
    if (g.error !== null) section.append(h('p', { class: 'warning' }, g.error))
    else if (!g.in_guild) section.append(h('p', {}, badge('unknown', 'not in guild'), ' Discord does not list this member in the guild.'))
    else {
      section.append(
        h('dl', { class: 'kv' },
          h('dt', {}, 'Nickname'), h('dd', {}, g.nick ?? 'none'),
          h('dt', {}, 'Roles now'), h('dd', {}, g.roles.length === 0 ? 'none' : g.roles.map(roleChip))),
        h('h3', {}, 'Managed roles'),
        d.membership_error !== null
          ? h('p', { class: 'muted' }, 'Why each role is or is not held needs the host\'s answer, which is unavailable right now.')
          : table([
            { label: 'Role', value: (r) => roleChip({ id: r.role_id, name: r.role_name, color: r.color }) },
            { label: 'Has it', value: (r) => r.held ? 'yes' : 'no' },
            { label: 'Entitled', value: (r) => r.wanted ? 'yes' : 'no' },
            { label: 'State', value: (r) => badge(STATE[r.state][0], STATE[r.state][1]) },
            { label: 'Why', value: (r) => r.reason }
          ], g.managed, { empty: 'No mapping manages a role in this guild.' }))
    }
    main.append(section)
  }
  if (d.guilds.length === 0) main.append(h('p', { class: 'muted' }, 'No guild is enabled.'))
  // What the syncs did to this member, effects first (the page names them already: no Member column).
  main.append(h('section', { class: 'panel', 'aria-labelledby': 'mem-hist' }, h('h2', { id: 'mem-hist' }, 'Recent role changes'),
    memberHistory({ discord_user_id: discordUserId }, ['Member', 'Run'], 'No role change yet.')))
}
