import type { PageQuery } from './page.js'

/** A role added or removed, a nickname set (`nick`), a member kicked (`kick`, on_access_lost). */
export type AuditAction = 'add' | 'remove' | 'nick' | 'kick'
export type AuditOutcome = 'applied' | 'failed' | 'dry_run' | 'blocked' | 'skipped'

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
  created_at: Date
}

export type CreateAuditEntryInput = Omit<AuditEntryRecord, 'id' | 'created_at'> & { created_at?: Date }

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
    error_code: e.error_code ?? null
  }
}

export interface ListAuditQuery extends PageQuery {
  guild_id?: string
  discord_user_id?: string
  user_id?: string
  run_id?: string
}
