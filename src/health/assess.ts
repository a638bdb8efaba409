import type { GuildSettings, HealthStatus, RoleMappingRecord } from '../store/port/index.js'
import { missingSettingPermissions } from '../guilds/setting-permissions.js'
import { MISSING_CREATE_INVITE, MISSING_MANAGE_ROLES, type BotInspection } from '../guilds/bot-inspector.js'
import { checkRoleAssignable, hasPermission, Permission, type RoleDenial } from '../guilds/permissions.js'

/*
 * A guild's health from the bot's current view of it (pure):
 * - unhealthy: the bot cannot work at all (token rejected, not in the guild, no Manage Roles);
 * - degraded: it works, but some enabled mapping's role cannot be assigned (deleted,
 *   managed, or not below the bot's highest role), so those users will not get it; or a
 *   setting needs a permission the bot lacks (nickname template: Manage Nicknames,
 *   on_access_lost kick: Kick Members), so that part of the sync cannot happen;
 * - healthy otherwise.
 * Disabled mappings do not count: nothing will try to assign them.
 */

export interface UnassignableMapping {
  mapping_id: string
  discord_role_id: string
  reason: RoleDenial
  message: string
}

export interface GuildAssessment {
  status: Exclude<HealthStatus, 'unknown'>
  last_error: string | null
  bot_permissions: string
  unassignable: UnassignableMapping[]
}

/** At most this many role problems are spelled out in `last_error`; the rest are counted. */
const MAX_LISTED = 3

/**
 * A setting whose permission the bot lacks degrades the guild (roles still sync): `auto_join`
 * without CREATE_INSTANT_INVITE, a nickname template without Manage Nicknames, kicks without
 * Kick Members.
 */
export function assessGuild (inspection: BotInspection, mappings: readonly RoleMappingRecord[], settings?: Partial<Pick<GuildSettings, 'auto_join'>> & Pick<GuildSettings, 'nickname_template' | 'on_access_lost'>): GuildAssessment {
  const bot_permissions = inspection.permissions.toString()
  if (!hasPermission(inspection.permissions, Permission.MANAGE_ROLES)) {
    return { status: 'unhealthy', last_error: MISSING_MANAGE_ROLES, bot_permissions, unassignable: [] }
  }
  const unassignable: UnassignableMapping[] = []
  for (const m of mappings) {
    if (!m.enabled) continue
    const verdict = checkRoleAssignable(inspection.facts, m.discord_role_id, inspection.permissions)
    if (verdict.denial !== null) unassignable.push({ mapping_id: m.id, discord_role_id: m.discord_role_id, reason: verdict.denial, message: verdict.message })
  }
  const noInvite = settings?.auto_join === true && !hasPermission(inspection.permissions, Permission.CREATE_INSTANT_INVITE)
  const missing = settings === undefined ? [] : missingSettingPermissions(settings, inspection.permissions, inspection.facts.guild_id)
  if (unassignable.length === 0 && missing.length === 0 && !noInvite) return { status: 'healthy', last_error: null, bot_permissions, unassignable }
  const listed = unassignable.slice(0, MAX_LISTED).map((u) => u.message).join('; ')
  const more = unassignable.length > MAX_LISTED ? `; and ${unassignable.length - MAX_LISTED} more` : ''
  const problems = [
    ...(noInvite ? [MISSING_CREATE_INVITE] : []),
    ...missing.map((m) => m.message),
    ...(unassignable.length > 0 ? [`${unassignable.length} mapped role(s) cannot be assigned: ${listed}${more}`] : [])
  ]
  return {
    status: 'degraded',
    last_error: problems.join('; '),
    bot_permissions,
    unassignable
  }
}
