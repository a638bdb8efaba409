import type { PageQuery } from './page.js'

/** A role added or removed, a nickname set (`nick`), a member kicked (`kick`, on_access_lost). */
export type AuditAction = 'add' | 'remove' | 'nick' | 'kick'
export type AuditOutcome = 'applied' | 'failed' | 'dry_run' | 'blocked' | 'skipped'
/**
 * What started the run that wrote an entry: a scheduled guild sync, an admin or user by hand, a
 * new link, a member joining, a role changed by hand in Discord (drift), an account Discord
 * deauthorized, an unlink, or the host pushing changed groups.
 */
export type AuditTrigger = 'schedule' | 'manual' | 'link' | 'join' | 'drift' | 'deauthorized' | 'unlink' | 'push'
export const AUDIT_TRIGGERS: readonly AuditTrigger[] = Object.freeze(['schedule', 'manual', 'link', 'join', 'drift', 'deauthorized', 'unlink', 'push'])
export const AUDIT_OUTCOMES: readonly AuditOutcome[] = Object.freeze(['applied', 'failed', 'dry_run', 'blocked', 'skipped'])
export const AUDIT_ACTIONS: readonly AuditAction[] = Object.freeze(['add', 'remove', 'nick', 'kick'])

/**
 * The trigger of a run, from its `initiated_by` (`system` for the scheduler, `<kind>:<id>` for
 * events, a host user id for a person). One rule, used when entries are written and by the
 * SQLite v6 back-fill (its CASE mirrors this).
 */
export function triggerOf (initiatedBy: string): AuditTrigger {
  if (initiatedBy === 'system') return 'schedule'
  if (initiatedBy === 'push') return 'push'
  const kind = initiatedBy.slice(0, initiatedBy.indexOf(':'))
  return (['link', 'join', 'drift', 'deauthorized', 'unlink'] as const).find((k) => k === kind) ?? 'manual'
}

export interface AuditEntryRecord {
  id: string
  run_id: string | null
  guild_id: string
  discord_user_id: string
  user_id: string | null
  role_id: string
  role_name: string | null
  action: AuditAction
  mapping_id: string | null
  outcome: AuditOutcome
  error_code: string | null
  /** What started the run (entries older than the field read `manual` unless their run told otherwise). */
  trigger: AuditTrigger
  created_at: Date
}

export type CreateAuditEntryInput = Omit<AuditEntryRecord, 'id' | 'created_at' | 'trigger'> & { created_at?: Date, trigger?: AuditTrigger }

/**
 * An audit entry's fields, each optional one defaulted to null, built field by field: what
 * every adapter writes, and what the MongoDB adapter reads back (nothing else on a document
 * can reach a record).
 */
export function auditEntryFields (e: Omit<CreateAuditEntryInput, 'created_at'>): Omit<AuditEntryRecord, 'id' | 'created_at'> {
  return {
    run_id: e.run_id ?? null,
    guild_id: e.guild_id,
    discord_user_id: e.discord_user_id,
    user_id: e.user_id ?? null,
    role_id: e.role_id,
    role_name: e.role_name ?? null,
    action: e.action,
    mapping_id: e.mapping_id ?? null,
    outcome: e.outcome,
    error_code: e.error_code ?? null,
    trigger: e.trigger ?? 'manual'
  }
}

export interface ListAuditQuery extends PageQuery {
  guild_id?: string
  discord_user_id?: string
  user_id?: string
  run_id?: string
  /** Any of these outcomes. */
  outcome?: readonly AuditOutcome[]
  /** Any of these actions. */
  action?: readonly AuditAction[]
  /** Any of these triggers. */
  trigger?: readonly AuditTrigger[]
  /** Created at or after. */
  from?: Date
  /** Created strictly before. */
  to?: Date
  /**
   * Effects only: leaves out what did not change Discord because it was never meant to (dry
   * runs) or was held back by the safety brake (`blocked` with error code `brake`).
   */
  effects_only?: boolean
  /** `newest` (default): created_at desc. `member`: by user, Discord id, then role name (a run's changes). */
  order?: 'newest' | 'member'
}
