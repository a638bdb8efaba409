/*
 * After a crash: the writes a dead run had in flight (RunContext.writeStarting) have no audit
 * entry, though Discord may have applied them. The stale sweep reads each such member and
 * audits what Discord holds, under the dead run's id: `applied` (error code `reconciled`) when
 * the member holds every planned change, nothing otherwise (the next run plans the member anew).
 */
import type { FastifyBaseLogger } from 'fastify'
import type { DiscordRestClient } from '../discord/client.js'
import type { CreateAuditEntryInput, DiscordStore, InFlightWrite, SyncRunRecord } from '../store/port/index.js'
import { triggerOf } from '../store/port/index.js'
import { withReadRetries } from './read-retry.js'

export interface ReconcileDeps {
  store: DiscordStore
  client: DiscordRestClient
  log: FastifyBaseLogger
}

/** Reads are bounded: a sweep must not hang on Discord. */
const READ_TIMEOUT_MS = 15_000

function holds (roles: readonly string[], w: InFlightWrite): boolean {
  const has = new Set(roles)
  return w.changes.every((c) => (c.action === 'add') === has.has(c.role_id))
}

/** Audits the dead run's writes in flight from what Discord holds; returns how many entries it added. */
export async function reconcileInFlight (d: ReconcileDeps, run: SyncRunRecord): Promise<number> {
  let added = 0
  for (const w of run.results.in_flight ?? []) {
    try {
      // Stored after its audit entry (the process died between the two): already accounted for.
      const seen = await d.store.listAudit({ run_id: run.id, discord_user_id: w.discord_user_id, page: 1, page_size: 1 })
      if (seen.items.some((e) => e.guild_id === w.guild_id)) continue
      const token = await d.store.getBotToken(w.guild_id)
      if (token === null) continue
      const signal = AbortSignal.timeout(READ_TIMEOUT_MS)
      const member = await withReadRetries(() => d.client.bot(token).getGuildMember(w.guild_id, w.discord_user_id, { signal }), signal)
      if (!holds(member.roles, w)) continue
      const entries: CreateAuditEntryInput[] = w.changes.map((c) => ({
        run_id: run.id,
        guild_id: w.guild_id,
        discord_user_id: w.discord_user_id,
        user_id: w.user_id,
        role_id: c.role_id,
        role_name: c.role_name,
        action: c.action,
        mapping_id: c.mapping_id,
        outcome: 'applied',
        error_code: 'reconciled',
        trigger: triggerOf(run.initiated_by)
      }))
      added += await d.store.appendAudit(entries)
    } catch (err) {
      // The member left, the token was refused, Discord is down: the next run plans the member anew.
      d.log.warn({ run_id: run.id, guild_id: w.guild_id, code: (err as { code?: unknown }).code }, 'reconciling a write in flight failed')
    }
  }
  return added
}
