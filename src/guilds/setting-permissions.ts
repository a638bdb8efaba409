/*
 * Guild settings that only work when the bot holds an extra permission: a nickname template
 * needs Manage Nicknames, `on_access_lost: kick` needs Kick Members (docs/guild.mdx "Modify Guild
 * Member", "Remove Guild Member"). The guild save refuses such a setting (422) and the health
 * check reports it, from this one list.
 */
import type { GuildSettings } from '../store/port/index.js'
import { hasPermission, Permission, PERMISSION_NAMES } from './permissions.js'

export interface MissingSettingPermission {
  /** The setting that needs it, as the API names it (`settings.nickname_template`). */
  setting: string
  permission: string
  message: string
}

type Needs = Pick<GuildSettings, 'nickname_template' | 'on_access_lost'>

/** The permissions `settings` need that `permissions` (the bot's guild bit set) lacks. */
export function missingSettingPermissions (settings: Needs, permissions: bigint, guildId: string): MissingSettingPermission[] {
  const out: MissingSettingPermission[] = []
  const need = (setting: string, flag: keyof typeof Permission, why: string): void => {
    if (hasPermission(permissions, Permission[flag])) return
    const permission = PERMISSION_NAMES[flag]
    out.push({ setting, permission, message: `${setting} ${why} but the bot lacks the ${permission} permission in guild ${guildId}` })
  }
  if (settings.nickname_template !== null) need('settings.nickname_template', 'MANAGE_NICKNAMES', 'is set')
  if (settings.on_access_lost === 'kick') need('settings.on_access_lost', 'KICK_MEMBERS', 'is "kick"')
  return out
}
