import type { GuildSettings, HealthStatus, RoleMappingRecord } from '../store/port/index.js'
import { MISSING_CREATE_INVITE, MISSING_MANAGE_ROLES, type BotInspection } from '../guilds/bot-inspector.js'
import { checkRoleAssignable, hasPermission, Permission, type RoleDenial } from '../guilds/permissions.js'

/*
 * A guild's health from the bot's current view of it (pure):
 * - unhealthy: the bot cannot work at all (token rejected, not in the guild, no Manage Roles);
 * - degraded: it works, but some enabled mapping's role cannot be assigned (deleted,
 *   managed, or not below the bot's highest role), so those users will not get it;
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
 * `settings.auto_join` on without CREATE_INSTANT_INVITE degrades the guild: roles still sync,
 * but every join on link would be refused.
 */
export function assessGuild (inspection: BotInspection, mappings: readonly RoleMappingRecord[], settings?: Pick<GuildSettings, 'auto_join'>): GuildAssessment {
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
  if (unassignable.length === 0) {
    return noInvite ? { status: 'degraded', last_error: MISSING_CREATE_INVITE, bot_permissions, unassignable } : { status: 'healthy', last_error: null, bot_permissions, unassignable }
  }
  const listed = unassignable.slice(0, MAX_LISTED).map((u) => u.message).join('; ')
  const more = unassignable.length > MAX_LISTED ? `; and ${unassignable.length - MAX_LISTED} more` : ''
  return {
    status: 'degraded',
    last_error: `${noInvite ? `${MISSING_CREATE_INVITE}; ` : ''}${unassignable.length} mapped role(s) cannot be assigned: ${listed}${more}`,
    bot_permissions,
    unassignable
  }
}
