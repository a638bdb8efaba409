import { Type, type Static } from '@sinclair/typebox'
import { Snowflake } from './common.js'
import { IsoDateTime, Nullable } from './http.js'
import { ValidationError } from '../errors.js'
import {
  AUDIT_ACTIONS, AUDIT_OUTCOMES, AUDIT_TRIGGERS, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE,
  type AuditAction, type AuditOutcome, type AuditTrigger, type ListAuditQuery
} from '../store/port/index.js'
import { RunCursor } from './run-cursor.js'

/*
 * Request and response schemas of the sync routes, and the audit query's conversion; the
 * responses are built from engine records in sync-present.ts.
 */

/** An ISO 8601 time with its zone (the request validator has no `date-time` format; auditQuery also checks the date exists). */
const ISO_TIME = '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}(:\\d{2}(\\.\\d{1,9})?)?(Z|[+-]\\d{2}:\\d{2})$'

/** A comma-separated list of known words (`outcome=applied,failed`): one query parameter, validated whole. */
function listOf (words: readonly string[], description: string): ReturnType<typeof Type.String> {
  const one = `(${words.join('|')})`
  return Type.String({ pattern: `^${one}(,${one})*$`, maxLength: 200, description: `${description}: ${words.join(', ')}` })
}

const HostUserId = Type.String({ minLength: 1, maxLength: 256, pattern: '^[^\\s\\x00-\\x1f\\x7f]+$', description: 'Host user id' })
const RunId = Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_-]+$', description: 'Sync run id' })
const MappingId = Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_-]+$', description: 'Role mapping id' })

const SyncTypeSchema = Type.Union([Type.Literal('user'), Type.Literal('guild'), Type.Literal('mapping'), Type.Literal('full')])
const RunStatusSchema = Type.Union([Type.Literal('pending'), Type.Literal('running'), Type.Literal('completed'), Type.Literal('failed'), Type.Literal('blocked')])

export const ManualSyncBody = Type.Object({
  guild_id: Type.Optional(Snowflake),
  mapping_id: Type.Optional(MappingId),
  user_ids: Type.Optional(Type.Array(HostUserId, { minItems: 1, maxItems: 100, uniqueItems: true, description: 'Sync only these host users (every guild, or guild_id)' })),
  dry_run: Type.Optional(Type.Boolean({ description: 'Plan only: nothing is written; every planned change is recorded with its status' })),
  force: Type.Optional(Type.Boolean({ description: 'Apply even when the planned changes exceed the guild\'s max_role_changes_per_sync' })),
  wait: Type.Optional(Type.Boolean({ description: 'Wait for the run (up to sync.waitTimeout); answers 200 with the result, or 202 if it is still running' }))
}, { additionalProperties: false, description: 'Nothing selected: a full sync of every enabled guild' })
export type ManualSyncBodyType = Static<typeof ManualSyncBody>

export const UserSyncParams = Type.Object({ user_id: HostUserId }, { additionalProperties: false })
export const RunParams = Type.Object({ id: RunId }, { additionalProperties: false })

/** POST /sync/users: the host's groups changed for these users. */
export const PushUsersBody = Type.Object({
  user_ids: Type.Array(HostUserId, { minItems: 1, maxItems: 1000, uniqueItems: true, description: 'Host user ids whose groups changed (1 to 1,000)' })
}, { additionalProperties: false })

export const PushUsersResponse = Type.Object({
  queued: Type.Integer({ description: 'User ids this call added to the pending batch' }),
  pending: Type.Integer({ description: 'Users waiting for the batch (this call\'s and earlier ones)' }),
  flush_in_ms: Type.Integer({ description: 'When the batch starts: each user then gets one targeted sync in every enabled guild' })
})

/** Who a Discord id is, from the linked account (issue 17); null when the member is not linked. */
const personNames = {
  discord_username: Nullable(Type.String(), 'The linked account\'s Discord username; null when the member is not linked'),
  discord_global_name: Nullable(Type.String(), 'The Discord display (global) name; null when none is set or not linked'),
  avatar_url: Nullable(Type.String(), 'The avatar\'s CDN URL (option cdnBaseUrl); null without one')
}

export const RunErrorDto = Type.Object({
  user_id: Nullable(Type.String()),
  discord_user_id: Nullable(Type.String()),
  guild_id: Nullable(Type.String()),
  error: Type.String(),
  code: Nullable(Type.String()),
  occurred_at: IsoDateTime,
  discord_username: Type.Optional(personNames.discord_username),
  discord_global_name: Type.Optional(personNames.discord_global_name),
  avatar_url: Type.Optional(personNames.avatar_url)
}, { description: 'GET /sync/runs/{id} adds the member\'s Discord names (discord_username, discord_global_name, avatar_url)' })

const GuildResultDto = Type.Object({
  guild_id: Type.String(),
  guild_name: Type.Optional(Nullable(Type.String(), 'GET /sync/runs/{id}: the guild\'s stored name; null when no config has it')),
  status: Type.Union([Type.Literal('completed'), Type.Literal('blocked'), Type.Literal('failed'), Type.Literal('skipped')]),
  members_scanned: Type.Integer(),
  members_to_change: Type.Integer(),
  members_to_join: Type.Integer({ description: 'Of members_to_change, users outside the guild that auto_join adds (a dry run only lists them: audit code `join`)' }),
  planned_changes: Type.Integer({ description: 'Role changes planned (adds, removes, kicks; a join counts its role adds), before the safety brake' }),
  blocked_changes: Type.Integer({ description: 'Changes the bot may not make (role above it, managed, missing)' }),
  roles_added: Type.Integer(),
  roles_removed: Type.Integer(),
  members_failed: Type.Integer(),
  reason: Nullable(Type.String())
})

const ProgressDto = Type.Object({
  phase: Type.Union([Type.Literal('starting'), Type.Literal('planning'), Type.Literal('applying'), Type.Literal('finishing')]),
  guilds_total: Type.Integer(),
  guilds_done: Type.Integer(),
  current_guild_id: Nullable(Type.String()),
  members_scanned: Type.Integer(),
  members_to_change: Type.Integer(),
  members_applied: Type.Integer()
})

export const RunDto = Type.Object({
  id: Type.String(),
  sync_type: SyncTypeSchema,
  target_id: Nullable(Type.String()),
  status: RunStatusSchema,
  dry_run: Type.Boolean(),
  force: Type.Boolean(),
  started_at: Nullable(IsoDateTime),
  completed_at: Nullable(IsoDateTime),
  duration: Nullable(Type.Integer({ description: 'Milliseconds' })),
  heartbeat_at: Nullable(IsoDateTime),
  results: Type.Object({
    users_processed: Type.Integer(),
    users_synced: Type.Integer(),
    users_failed: Type.Integer(),
    roles_added: Type.Integer(),
    roles_removed: Type.Integer(),
    guilds_processed: Type.Integer(),
    errors: Type.Array(RunErrorDto),
    guilds: Type.Array(GuildResultDto)
  }),
  initiated_by: Type.String(),
  created_at: IsoDateTime,
  progress: Nullable(ProgressDto, 'Live progress while the run executes in the answering instance')
})
export type RunDtoType = Static<typeof RunDto>

export const AuditEntryDto = Type.Object({
  id: Type.String(),
  run_id: Nullable(Type.String()),
  guild_id: Type.String(),
  discord_user_id: Type.String(),
  user_id: Nullable(Type.String()),
  role_id: Type.String({ description: 'The role; empty for nick and kick entries' }),
  role_name: Nullable(Type.String(), 'The role\'s name; for a nick entry the new nickname'),
  action: Type.Union([Type.Literal('add'), Type.Literal('remove'), Type.Literal('nick'), Type.Literal('kick')], { description: 'add/remove a role, nick: nickname set from the guild\'s template, kick: member removed (on_access_lost kick)' }),
  mapping_id: Nullable(Type.String()),
  outcome: Type.Union([Type.Literal('applied'), Type.Literal('failed'), Type.Literal('dry_run'), Type.Literal('blocked'), Type.Literal('skipped')]),
  error_code: Nullable(Type.String({ description: 'Discord code (10007, 50013...), planner status (blocked_hierarchy...), brake, guild_halted; join (a dry run\'s planned auto_join), joined (roles given by an auto_join)' })),
  trigger: Type.Union(AUDIT_TRIGGERS.map((t) => Type.Literal(t)), { description: 'What started the run: schedule, manual, link, join, drift, deauthorized, unlink, push' }),
  created_at: IsoDateTime,
  ...personNames,
  guild_name: Nullable(Type.String(), 'The guild\'s stored name; null when no config has it'),
  role_color: Nullable(Type.Integer(), 'The role\'s colour (RGB integer, 0: none) from the role cache; null for nick/kick entries or when the cache holds no copy of the guild\'s roles')
})

export const ManualSyncResponse = Type.Object({
  run_id: Type.String(),
  run: RunDto,
  changes: Nullable(Type.Array(AuditEntryDto), 'Finished runs: the first changes (planned, applied, blocked...); page through all with GET /sync/audit?run_id='),
  changes_total: Nullable(Type.Integer())
})

/*
 * A run in a list: its counts, without the error list and the per-guild results (up to hundreds
 * of entries per run, most of a list's size and serialisation time); GET /sync/runs/{id} has them.
 */
const { errors: _errors, guilds: _guilds, ...resultCounts } = RunDto.properties.results.properties
export const RunSummaryDto = Type.Object({
  ...RunDto.properties,
  results: Type.Object({
    ...resultCounts,
    errors_count: Type.Integer({ description: 'Entries of `results.errors` (GET /sync/runs/{id})' }),
    guilds_count: Type.Integer({ description: 'Entries of `results.guilds` (GET /sync/runs/{id})' })
  })
}, { description: 'A run without its error list and per-guild results: GET /sync/runs/{id} has them' })

export const RunList = Type.Object({
  runs: Type.Array(RunSummaryDto),
  next_cursor: Nullable(Type.String(), 'Pass as before= for the next (older) page; null on the last page')
})
export const RunListQuery = Type.Object({
  sync_type: Type.Optional(SyncTypeSchema),
  status: Type.Optional(RunStatusSchema),
  target_id: Type.Optional(Type.String({ minLength: 1, maxLength: 2048 })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_PAGE_SIZE, default: DEFAULT_PAGE_SIZE, description: `Runs per page, newest first (at most ${MAX_PAGE_SIZE})` })),
  before: Type.Optional(RunCursor)
}, { additionalProperties: false })

export const AuditQuery = Type.Object({
  guild_id: Type.Optional(Snowflake),
  discord_user_id: Type.Optional(Snowflake),
  user_id: Type.Optional(HostUserId),
  run_id: Type.Optional(RunId),
  outcome: Type.Optional(listOf(AUDIT_OUTCOMES, 'Any of these outcomes, comma-separated')),
  action: Type.Optional(listOf(AUDIT_ACTIONS, 'Any of these actions, comma-separated')),
  trigger: Type.Optional(listOf(AUDIT_TRIGGERS, 'Any of these triggers, comma-separated')),
  from: Type.Optional(Type.String({ pattern: ISO_TIME, maxLength: 40, description: 'Entries created at or after this time (ISO 8601 with a zone, e.g. 2026-12-01T00:00:00Z)' })),
  to: Type.Optional(Type.String({ pattern: ISO_TIME, maxLength: 40, description: 'Entries created before this time (ISO 8601 with a zone); later than from' })),
  effects_only: Type.Optional(Type.Boolean({ description: 'Leave out dry runs and changes held by the safety brake (what never reached Discord by design)' })),
  order: Type.Optional(Type.Union([Type.Literal('newest'), Type.Literal('member')], { description: 'newest (default) or member: by user, Discord id, then role (a run\'s changes)' })),
  page: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000, default: 1 })),
  page_size: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_PAGE_SIZE, default: DEFAULT_PAGE_SIZE }))
}, { additionalProperties: false })
export const AuditPage = Type.Object({
  entries: Type.Array(AuditEntryDto),
  total: Type.Integer(),
  page: Type.Integer(),
  page_size: Type.Integer()
})

/** The seed's "Sync User Roles" response, plus nickname and kick counts. */
export const UserSyncResponse = Type.Object({
  user_id: Type.String(),
  discord_user_id: Type.String(),
  sync_results: Type.Array(Type.Object({
    guild_id: Type.String(),
    guild_name: Type.String(),
    roles_added: Type.Array(Type.String(), { description: 'Role names' }),
    roles_removed: Type.Array(Type.String(), { description: 'Role names' }),
    total_roles: Type.Integer({ description: 'Roles the member holds after the sync (without @everyone); 0 when it was kicked' }),
    nickname_changes: Type.Integer({ description: 'Nicknames set from the guild\'s nickname_template (audit action nick)' }),
    kicks: Type.Integer({ description: 'Members removed from the guild (on_access_lost kick; audit action kick)' }),
    errors: Type.Array(Type.String())
  })),
  total_guilds: Type.Integer(),
  successful_guilds: Type.Integer(),
  failed_guilds: Type.Integer(),
  nickname_changes: Type.Integer({ description: 'Sum over sync_results' }),
  kicks: Type.Integer({ description: 'Sum over sync_results' }),
  synced_at: IsoDateTime
})

export const RecentErrorDto = Type.Object({
  user_id: Nullable(Type.String()),
  guild_id: Nullable(Type.String()),
  error: Type.String(),
  occurred_at: IsoDateTime,
  run_id: Type.String(),
  discord_user_id: Nullable(Type.String()),
  code: Nullable(Type.String())
})

const DryRunDto = Type.Object({
  run_id: Type.String(),
  sync_type: SyncTypeSchema,
  target_id: Nullable(Type.String()),
  completed_at: IsoDateTime,
  planned_changes: Type.Integer({ description: 'Role changes the dry run planned (none applied)' }),
  members_to_change: Type.Integer()
}, { description: 'The latest finished dry run: what a real run would change. Not counted in the figures above.' })

const HeldGuildDto = Type.Object({
  guild_id: Type.String(),
  run_id: Type.String(),
  held_at: IsoDateTime,
  planned_changes: Type.Integer({ description: 'Role changes the safety brake held back (none applied)' }),
  members_to_change: Type.Integer(),
  reason: Nullable(Type.String())
})

/** The seed's "Get Sync Status" response, plus the runs in progress. */
export const SyncStatusResponse = Type.Object({
  last_full_sync: Nullable(IsoDateTime, 'Latest completed full run that applied its changes (dry runs never count), or the moment by which every enabled guild\'s latest real sync had completed'),
  sync_in_progress: Type.Boolean(),
  total_users: Type.Integer({ description: 'Active linked Discord accounts (this and the other counts may lag by up to a second: the answer is reused while no run starts or finishes)' }),
  synced_users: Type.Integer({ description: 'Guild members whose roles matched or were fixed in each guild\'s latest applied sync (per guild membership; dry runs and brake holds excluded)' }),
  failed_users: Type.Integer({ description: 'Guild members that failed in each guild\'s latest applied sync' }),
  total_guilds: Type.Integer({ description: 'Enabled guilds' }),
  active_role_mappings: Type.Integer({ description: 'Enabled role mappings' }),
  recent_errors: Type.Array(RecentErrorDto),
  last_dry_run: Nullable(DryRunDto),
  held_guilds: Type.Array(HeldGuildDto, { description: 'Enabled guilds whose latest real run the safety brake held back: nothing was written there' }),
  current_runs: Type.Array(RunDto)
})

/**
 * The audit query string as a store query: comma lists split (the schema allowed only known
 * words), times parsed. A window that ends before it starts is refused with
 * FST_DISCORD_VALIDATION rather than answered with an empty page that looks like "nothing happened".
 */
export function auditQuery (q: Static<typeof AuditQuery>): ListAuditQuery {
  const { outcome, action, trigger, from, to, ...rest } = q
  const split = <T extends string>(v: string | undefined): T[] | undefined => v === undefined ? undefined : [...new Set(v.split(','))] as T[]
  const out: ListAuditQuery = { ...rest }
  const o = split<AuditOutcome>(outcome)
  const a = split<AuditAction>(action)
  const t = split<AuditTrigger>(trigger)
  if (o !== undefined) out.outcome = o
  if (a !== undefined) out.action = a
  if (t !== undefined) out.trigger = t
  if (from !== undefined) out.from = time(from, 'from')
  if (to !== undefined) out.to = time(to, 'to')
  if (out.from !== undefined && out.to !== undefined && out.from.getTime() >= out.to.getTime()) {
    throw new ValidationError('querystring/to must be later than querystring/from')
  }
  return out
}

function time (v: string, name: string): Date {
  const d = new Date(v)
  if (Number.isNaN(d.getTime())) throw new ValidationError(`querystring/${name} is not a valid time`)
  return d
}
