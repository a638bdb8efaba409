// @ts-check
/* The admin's guild list, and adding a guild (its bot token is checked against Discord first). */
import { api } from '../api.js'
import { run } from '../components/action.js'
import { checkbox, field, inputOf, submitButton } from '../components/forms.js'
import { guildTable } from '../components/guild-table.js'
import { notify } from '../components/notice.js'
import { h } from '../dom.js'
import { loadGuilds } from '../guilds.js'
import { go } from '../navigation.js'

/**
 * @param {HTMLElement} main
 */
export async function guildsPage (main) {
  main.append(h('h1', { tabindex: '-1' }, 'Guilds'))
  const guilds = await loadGuilds()
  main.append(h('section', { class: 'panel', 'aria-labelledby': 'g-list' }, h('h2', { id: 'g-list' }, 'Configured guilds'), guildTable(guilds)))

  const out = h('div')
  const form = h('form', { class: 'grid', 'aria-labelledby': 'g-add' },
    field('Guild id', h('input', { name: 'guild_id', required: true, inputmode: 'numeric', pattern: '[0-9]{17,20}', autocomplete: 'off' }), 'Right-click the server in Discord → Copy Server ID (developer mode).'),
    field('Bot token', h('input', { name: 'bot_token', type: 'password', autocomplete: 'off', spellcheck: 'false' }), 'Checked against Discord before it is stored; never shown again.'),
    field('Display name', h('input', { name: 'guild_name', maxlength: '100' }), 'Optional with a bot token (Discord\'s name is used).'),
    h('div', { class: 'field' }, checkbox('Enabled', 'enabled', true)),
    h('div', { class: 'actions span' }, h('button', { type: 'submit' }, 'Add guild')))
  form.addEventListener('submit', (ev) => {
    ev.preventDefault()
    run(submitButton(form), out, async () => {
      const value = (/** @type {string} */ name) => inputOf(form, name).value.trim()
      /** @type {{ guild_id: string, enabled: boolean, bot_token?: string, guild_name?: string }} */
      const body = { guild_id: value('guild_id'), enabled: inputOf(form, 'enabled').checked }
      if (value('bot_token') !== '') body.bot_token = value('bot_token')
      if (value('guild_name') !== '') body.guild_name = value('guild_name')
      const g = /** @type {import('../types.js').GuildConfig} */ (await api('POST', 'guilds', body))
      notify(`Guild "${g.guild_name}" added (health: ${g.health_status}).`)
      go(`#/guilds/${g.guild_id}`)
    })
  })
  main.append(h('section', { class: 'panel' }, h('h2', { id: 'g-add' }, 'Add a guild'), form, out))
}
