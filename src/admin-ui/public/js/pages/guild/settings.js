// @ts-check
/* A guild's settings form, and removing the guild. */
import { api } from '../../api.js'
import { action, run } from '../../components/action.js'
import { confirmDialog } from '../../components/dialog.js'
import { checkbox, field, inputOf, selectOf, submitButton } from '../../components/forms.js'
import { notify } from '../../components/notice.js'
import { h } from '../../dom.js'
import { go, rerender } from '../../navigation.js'
import { identityFields, identitySettings } from './identity-settings.js'

/**
 * @param {import('../../types.js').GuildConfig} guild
 */
export function settingsSection (guild) {
  const s = guild.settings
  const out = h('div')
  const form = h('form', { class: 'grid', 'aria-labelledby': 'gs' },
    field('Display name', h('input', { name: 'guild_name', required: true, maxlength: '100', value: guild.guild_name })),
    field('Sync interval', h('input', { name: 'sync_interval', required: true, pattern: '([0-9]+(\\.[0-9]+)?(ms|s|m|h|d))+', value: s.sync_interval }), 'Like 15m or 1h30m (1m to 7d).'),
    field('Max role changes per sync', h('input', { name: 'max_role_changes_per_sync', type: 'number', min: '1', max: '10000', required: true, value: String(s.max_role_changes_per_sync) }), 'The safety brake: a sync planning more changes writes nothing unless forced.'),
    field('Audit channel id', h('input', { name: 'audit_channel_id', inputmode: 'numeric', pattern: '[0-9]{17,20}', value: s.audit_channel_id ?? '' }), 'Optional: the bot posts sync summaries there.'),
    field('Notification channel id', h('input', { name: 'notification_channel_id', inputmode: 'numeric', pattern: '[0-9]{17,20}', value: s.notification_channel_id ?? '' }), 'Optional: the bot posts health changes there.'),
    field('New bot token', h('input', { name: 'bot_token', type: 'password', autocomplete: 'off', spellcheck: 'false' }), 'Leave empty to keep the current token.'),
    h('fieldset', { class: 'span' }, h('legend', {}, 'Behaviour'),
      checkbox('Enabled', 'enabled', guild.enabled),
      checkbox('Sync automatically on the interval', 'auto_sync', s.auto_sync),
      checkbox('Sync members when they join', 'sync_on_join', s.sync_on_join),
      checkbox('Remove managed roles from members who are not linked', 'remove_roles_on_leave', s.remove_roles_on_leave),
      checkbox('Add linked users to the server (join on link; the bot needs Create Invite)', 'auto_join', s.auto_join)),
    field('When someone changes a managed role by hand in Discord',
      h('select', { name: 'drift_policy' },
        h('option', { value: 'revert', selected: s.drift_policy === 'revert' }, 'Put the planned roles back at once'),
        h('option', { value: 'report', selected: s.drift_policy === 'report' }, 'Only record it in the audit trail')),
      'Seen live through the Gateway; the plugin never mistakes its own changes for this.'),
    ...identityFields(s),
    h('div', { class: 'actions span' }, h('button', { type: 'submit' }, 'Save settings')))
  form.addEventListener('submit', (ev) => {
    ev.preventDefault()
    run(submitButton(form), out, async () => {
      const text = (/** @type {string} */ name) => inputOf(form, name).value.trim()
      const checked = (/** @type {string} */ name) => inputOf(form, name).checked
      /** @type {{ guild_name: string, enabled: boolean, settings: import('../../types.js').GuildSettings, bot_token?: string }} */
      const body = {
        guild_name: text('guild_name'),
        enabled: checked('enabled'),
        settings: {
          auto_sync: checked('auto_sync'),
          sync_interval: text('sync_interval'),
          sync_on_join: checked('sync_on_join'),
          drift_policy: selectOf(form, 'drift_policy').value === 'report' ? 'report' : 'revert',
          remove_roles_on_leave: checked('remove_roles_on_leave'),
          auto_join: checked('auto_join'),
          max_role_changes_per_sync: Number(inputOf(form, 'max_role_changes_per_sync').value),
          audit_channel_id: text('audit_channel_id') === '' ? null : text('audit_channel_id'),
          notification_channel_id: text('notification_channel_id') === '' ? null : text('notification_channel_id'),
          ...identitySettings(form)
        }
      }
      if (text('bot_token') !== '') body.bot_token = text('bot_token')
      await api('PUT', `guilds/${guild.guild_id}`, body)
      notify('Settings saved.')
      rerender()
    })
  })
  const del = h('button', { type: 'button', class: 'danger' }, 'Remove this guild…')
  action(del, out, async () => {
    const ok = await confirmDialog({
      title: `Remove "${guild.guild_name}"?`,
      body: 'Its configuration and all its role mappings are deleted and it is no longer synced. Roles already given in Discord stay as they are.',
      confirmLabel: 'Remove guild',
      danger: true
    })
    if (!ok) return
    await api('DELETE', `guilds/${guild.guild_id}`)
    notify(`Guild "${guild.guild_name}" removed.`)
    go('#/guilds')
  })
  return h('section', { class: 'panel', 'aria-labelledby': 'gs' }, h('h2', { id: 'gs' }, 'Settings'), form, h('div', { class: 'actions' }, del), out)
}
