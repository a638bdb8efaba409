// @ts-check
/*
 * The JSON shapes the UI reads from the plugin's API, as JSDoc types for the type-checker only:
 * this module exports nothing at run time. They restate the route schemas (src/schemas,
 * src/routes) the UI depends on; fields the UI never reads are left out.
 */

/**
 * GET /session.
 * @typedef {object} Session
 * @property {boolean} authenticated
 * @property {string | null} user_id
 * @property {boolean} is_admin
 * @property {boolean} session_expired
 * @property {boolean} auth_configured
 * @property {boolean} discord_configured
 * @property {boolean} sync_configured
 * @property {string} csrf_header
 */

/**
 * The `user_id` of a session the router has let through: signed in, so never null.
 * @typedef {Session & { authenticated: true, user_id: string }} SignedInSession
 */

/** @typedef {'healthy' | 'degraded' | 'unhealthy' | 'unknown'} HealthStatus */

/**
 * @typedef {object} GuildSettings
 * @property {boolean} auto_sync
 * @property {string} sync_interval
 * @property {boolean} sync_on_join
 * @property {'revert' | 'report'} drift_policy
 * @property {boolean} remove_roles_on_leave
 * @property {string | null} audit_channel_id
 * @property {string | null} notification_channel_id
 * @property {number} max_role_changes_per_sync
 * @property {boolean} auto_join
 * @property {string | null} nickname_template
 * @property {'remove_roles' | 'kick' | 'none'} on_access_lost
 * @property {string} access_lost_grace
 */

/**
 * GET /guilds/{guild_id}, and each entry of GET /guilds.
 * @typedef {object} GuildConfig
 * @property {string} guild_id
 * @property {string} guild_name
 * @property {boolean} enabled
 * @property {GuildSettings} settings
 * @property {boolean} has_bot_token
 * @property {string | null} bot_user_id
 * @property {HealthStatus} health_status
 * @property {string | null} last_health_check
 * @property {string | null} last_error
 * @property {GuildGateway | null} gateway
 */

/**
 * The live Gateway's view of a guild (null when it is off or another instance holds it).
 * @typedef {object} GuildGateway
 * @property {boolean} connected
 * @property {string | null} last_event_at
 * @property {number} resumes
 * @property {boolean} removed
 * @property {string | null} error
 */

/** @typedef {{ guilds: GuildConfig[], total: number }} GuildList */

/**
 * @typedef {object} DiscordRole
 * @property {string} id
 * @property {string} name
 * @property {number} position
 * @property {number} color RGB integer, 0 for none
 * @property {boolean} managed
 * @property {boolean} held_by_bot
 * @property {boolean} assignable
 * @property {string | null} reason
 * @property {string} message
 */

/**
 * GET /guilds/{guild_id}/discord-roles.
 * @typedef {object} DiscordRoleList
 * @property {string} bot_username
 * @property {number} bot_highest_position
 * @property {boolean} can_manage_roles
 * @property {DiscordRole[]} roles
 */

/**
 * @typedef {object} Conditions
 * @property {boolean} require_all
 * @property {number | null} character_count_min
 * @property {number | null} character_count_max
 * @property {string[]} required_permissions
 * @property {string[]} excluded_groups
 */

/**
 * @typedef {object} RoleMapping
 * @property {string} id
 * @property {string} group_id
 * @property {string | null} group_name
 * @property {string} discord_role_id
 * @property {string | null} discord_role_name
 * @property {Conditions} conditions
 * @property {number} priority
 * @property {string | null} exclusive_set
 * @property {boolean} enabled
 * @property {string | null} last_sync
 */

/** GET /guilds/{guild_id}/role-mappings, a page (`after` = next_cursor). @typedef {{ mappings: RoleMapping[], total: number, next_cursor: string | null }} RoleMappingList */

/**
 * The body of a mapping create or update, as the form sends it.
 * @typedef {object} MappingInput
 * @property {string} group_id
 * @property {string | null} group_name
 * @property {string} discord_role_id
 * @property {number} priority
 * @property {string | null} exclusive_set
 * @property {boolean} enabled
 * @property {Conditions} conditions
 */

/**
 * GET /guilds/{guild_id}/role-mappings/export. The UI only counts the mappings and shows the JSON.
 * @typedef {{ version: number, guild_id: string, exported_at: string, mappings: unknown[] }} MappingExport
 */

/** @typedef {'merge' | 'replace'} ImportMode */

/**
 * @typedef {object} ImportReportEntry
 * @property {string | null} mapping_id
 * @property {string} group_id
 * @property {string} discord_role_id
 */

/** @typedef {ImportReportEntry & { index: number, reason: string, message: string }} InvalidImportEntry */

/**
 * POST /guilds/{guild_id}/role-mappings/import (also the `report` of a refused import).
 * @typedef {object} ImportReport
 * @property {ImportMode} mode
 * @property {boolean} dry_run
 * @property {boolean} applied
 * @property {ImportReportEntry[]} created
 * @property {ImportReportEntry[]} updated
 * @property {ImportReportEntry[]} deleted
 * @property {ImportReportEntry[]} unchanged
 * @property {InvalidImportEntry[]} invalid
 */

/** @typedef {'user' | 'guild' | 'mapping' | 'full'} SyncType */
/** @typedef {'pending' | 'running' | 'completed' | 'failed' | 'blocked'} RunStatus */

/**
 * @typedef {object} RunError
 * @property {string | null} user_id
 * @property {string | null} discord_user_id
 * @property {string | null} guild_id
 * @property {string} error
 * @property {string | null} code
 * @property {string | null} [discord_username] GET /sync/runs/{id}: the linked account's names (null: not linked)
 * @property {string | null} [discord_global_name]
 * @property {string | null} [avatar_url]
 */

/**
 * @typedef {object} GuildRunResult
 * @property {string} guild_id
 * @property {string | null} [guild_name] GET /sync/runs/{id}: the stored guild name
 * @property {'completed' | 'blocked' | 'failed' | 'skipped'} status
 * @property {number} members_scanned
 * @property {number} members_to_change
 * @property {number} planned_changes
 * @property {number} blocked_changes
 * @property {number} roles_added
 * @property {number} roles_removed
 * @property {string | null} reason
 */

/**
 * @typedef {object} RunProgress
 * @property {'starting' | 'planning' | 'applying' | 'finishing'} phase
 * @property {number} guilds_total
 * @property {number} guilds_done
 * @property {number} members_scanned
 * @property {number} members_to_change
 * @property {number} members_applied
 */

/**
 * A sync run: GET /sync/runs/{id}, the `run` of POST /sync/manual (a list has RunSummary).
 * @typedef {object} SyncRun
 * @property {string} id
 * @property {SyncType} sync_type
 * @property {string | null} target_id
 * @property {RunStatus} status
 * @property {boolean} dry_run
 * @property {boolean} force
 * @property {string | null} started_at
 * @property {number | null} duration
 * @property {{ users_processed: number, users_synced: number, users_failed: number, roles_added: number, roles_removed: number, errors: RunError[], guilds: GuildRunResult[] }} results
 * @property {string} initiated_by
 * @property {string} created_at
 * @property {RunProgress | null} progress
 */

/**
 * A run in GET /sync/runs: its errors and per-guild results are only counted.
 * @typedef {Omit<SyncRun, 'results'> & { results: { users_processed: number, users_synced: number, users_failed: number, roles_added: number, roles_removed: number, errors_count: number, guilds_count: number } }} RunSummary
 */

/** @typedef {{ runs: RunSummary[], next_cursor: string | null }} RunList */

/**
 * POST /sync/manual: `run` is there when the answer waited for the run (a dry run does).
 * @typedef {{ run_id: string, run: SyncRun }} ManualSyncAnswer
 */

/**
 * What POST /sync/manual is asked to do (the form's selection plus how to run it).
 * @typedef {object} SyncRequest
 * @property {string} [guild_id]
 * @property {string[]} [user_ids]
 * @property {boolean} [dry_run]
 * @property {boolean} [force]
 * @property {boolean} [wait]
 */

/**
 * @typedef {object} AuditEntry
 * @property {string} id
 * @property {string | null} run_id
 * @property {string} guild_id
 * @property {string} discord_user_id
 * @property {string | null} user_id
 * @property {string} role_id
 * @property {string | null} role_name
 * @property {'add' | 'remove' | 'nick' | 'kick'} action
 * @property {'applied' | 'failed' | 'dry_run' | 'blocked' | 'skipped'} outcome
 * @property {string | null} error_code
 * @property {'schedule' | 'manual' | 'link' | 'join' | 'drift' | 'deauthorized' | 'unlink' | 'push'} [trigger] what started the run
 * @property {string} created_at
 * @property {string | null} discord_username the linked account's username; null when the member is not linked
 * @property {string | null} discord_global_name
 * @property {string | null} avatar_url
 * @property {string | null} guild_name the stored guild name
 * @property {number | null} role_color the role's colour from the role cache; null when unknown
 */

/** GET /sync/audit. @typedef {{ entries: AuditEntry[], total: number, page: number, page_size: number }} AuditPage */

/**
 * @typedef {object} RecentError
 * @property {string | null} user_id
 * @property {string | null} guild_id
 * @property {string} error
 * @property {string} occurred_at
 * @property {string} run_id
 * @property {string | null} discord_user_id
 * @property {string | null} code
 */

/**
 * GET /sync/status.
 * @typedef {object} SyncStatus
 * @property {string | null} last_full_sync
 * @property {boolean} sync_in_progress
 * @property {number} total_users
 * @property {number} synced_users
 * @property {number} failed_users
 * @property {number} total_guilds
 * @property {number} active_role_mappings
 * @property {RecentError[]} recent_errors
 * @property {{ run_id: string, sync_type: string, target_id: string | null, completed_at: string, planned_changes: number, members_to_change: number } | null} last_dry_run
 * @property {{ guild_id: string, run_id: string, held_at: string, planned_changes: number, members_to_change: number, reason: string | null }[]} held_guilds
 * @property {SyncRun[]} current_runs
 */

/**
 * POST /sync/user/{user_id}.
 * @typedef {object} UserSyncAnswer
 * @property {{ guild_id: string, guild_name: string, roles_added: string[], roles_removed: string[], total_roles: number, errors: string[] }[]} sync_results
 * @property {number} total_guilds
 * @property {number} successful_guilds
 * @property {number} failed_guilds
 */

/**
 * @typedef {object} LinkedAccount
 * @property {string} discord_user_id
 * @property {string} username
 * @property {string | null} global_name
 * @property {string[]} scopes
 * @property {number} guild_count
 * @property {boolean} needs_reauth
 * @property {string} linked_at
 * @property {string | null} last_sync
 */

/** GET /auth/status of a signed-in user. @typedef {{ authenticated: true, user_id: string, accounts: LinkedAccount[] }} AuthStatus */

/** GET /auth/login, POST /auth/link. @typedef {{ auth_url: string, state: string, expires_at: string }} StartedFlow */

/** DELETE /auth/unlink/{discord_user_id}. @typedef {{ role_removal: { queued: boolean } }} UnlinkAnswer */

/* ---- issue 17 (ui-a): members, their roles per guild, the provider's groups ---- */

/**
 * @typedef {object} MemberGuildState
 * @property {string} guild_id
 * @property {string} guild_name
 * @property {boolean} in_guild
 * @property {boolean} held
 * @property {boolean} failed
 */

/**
 * Each of GET /members.
 * @typedef {object} Member
 * @property {string} discord_user_id
 * @property {string} user_id
 * @property {string} username
 * @property {string | null} global_name
 * @property {string | null} avatar_url
 * @property {boolean} needs_reauth
 * @property {string} linked_at
 * @property {string | null} last_sync
 * @property {boolean} out_of_sync
 * @property {boolean} held
 * @property {boolean} not_in_guild
 * @property {MemberGuildState[]} guilds
 */

/** GET /members. @typedef {{ members: Member[], next_cursor: string | null }} MemberPage */

/** @typedef {'out_of_sync' | 'held' | 'not_in_guild' | 'needs_reauth'} MemberFilter */

/**
 * @typedef {object} ManagedRoleState
 * @property {string} role_id
 * @property {string} role_name
 * @property {number} color
 * @property {boolean} held
 * @property {boolean} wanted
 * @property {'in_sync' | 'to_add' | 'to_remove' | 'blocked'} state
 * @property {string} reason
 * @property {string | null} mapping_id
 */

/**
 * @typedef {object} MemberGuildDetail
 * @property {string} guild_id
 * @property {string} guild_name
 * @property {boolean} in_guild
 * @property {string | null} error
 * @property {string | null} nick
 * @property {{ id: string, name: string, color: number, position: number }[]} roles
 * @property {ManagedRoleState[]} managed
 */

/**
 * GET /members/{discord_user_id}.
 * @typedef {object} MemberDetail
 * @property {Member} member
 * @property {{ id: string, name: string }[]} groups
 * @property {Record<string, string> | null} profile the provider's nickname template values
 * @property {string | null} membership_error
 * @property {MemberGuildDetail[]} guilds
 */

/** GET /membership/groups. @typedef {{ available: boolean, groups: { id: string, name: string }[] }} GroupList */

export {}
