/*
 * The apply phase of a guild sync: a few workers take the planned candidates one by one. Each
 * member is re-read (unless it was read a moment ago) so a concurrent edit is not overwritten,
 * re-planned on the fresh roles and written once: PUT or DELETE for a single change, one PATCH
 * with the full role list otherwise. Writes therefore equal the members whose roles actually
 * change.
 *
 * Failures: 10007 on a member is recorded and the link kept (marked not in this guild); 10011
 * refreshes the role cache and re-plans the member once; a guild-fatal answer halts every
 * further write to the guild (see GuildContext.haltGuild). A write whose outcome is unknown
 * (malformed answer, timeout, reset, aborted after it may have been sent) is settled by reading
 * the member: applied when it holds the planned roles, else tried again a bounded number of
 * times. Reads retry passing failures (read-retry.ts).
 */
import type { APIGuildMember } from 'discord-api-types/v10'
import type { DiscordBotClient } from '../discord/bot.js'
import { forgetAccessLoss } from './access-loss.js'
import { applyJoins } from './guild-join.js'
import { classifyFailure, type Failure } from './discord-errors.js'
import type { Candidate, GuildContext } from './guild-context.js'
import { memberView } from './guild-plan.js'
import { planChanges, type MemberPlan } from './member-plan.js'
import { isUnknownOutcome, withReadRetries } from './read-retry.js'
import type { PlannedChange } from './types.js'

/** `X-Audit-Log-Reason`: visible to the guild's moderators, so it names the plugin, run and mappings (never a secret). */
export function auditReason (runId: string, plan: MemberPlan): string {
  if (plan.kick !== undefined) return `fastify-discord-sync role sync ${runId}: access lost (on_access_lost kick)`
  const parts = [
    ...plan.add.map((c) => `+${c.role_name} (mapping ${c.mapping_id})`),
    ...plan.remove.map((c) => `-${c.role_name} (mapping ${c.mapping_id})`),
    ...(plan.nick !== undefined ? ['nickname from the guild template'] : [])
  ]
  // The client truncates to Discord's 512 URL-encoded characters.
  return `fastify-discord-sync role sync ${runId}: ${parts.join(', ')}`
}

/**
 * Runs `fn` on every item, `workers` at a time, emptying `items` as it goes: no promise is
 * queued per item up front (p-limit would hold one per candidate for the whole apply phase),
 * and each item can be collected as soon as it is done.
 */
export async function drain<T> (items: T[], workers: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0
  const n = items.length
  const worker = async (): Promise<void> => {
    while (next < n) {
      const i = next++
      const item = items[i] as T
      // Released before the work, so the array never keeps a finished item alive.
      ;(items as Array<T | undefined>)[i] = undefined
      await fn(item)
    }
  }
  await Promise.all(Array.from({ length: Math.max(1, Math.min(workers, n)) }, worker))
  items.length = 0
}

/**
 * Applies every candidate of the guild, `workers` members at a time. Each member's audit rows
 * are in the store before its worker sends another write, so a process killed mid-run leaves at
 * most the writes in flight (one per worker) without a row.
 */
export async function applyGuild (g: GuildContext): Promise<void> {
  // Joins first: a user who turns out to be a member already (204) becomes a candidate below.
  await applyJoins(g)
  await drain(g.candidates, g.deps.workers, async (c) => { await applyOne(g, c) })
  markIncomplete(g)
}

/** Applies one candidate and stores its audit rows before the worker moves on. */
export async function applyOne (g: GuildContext, c: Candidate): Promise<void> {
  await apply(g, c)
  await g.run.flushAudit()
  g.run.writeSettled(g.guildId, c.id)
}

/** After the apply phase: a cancelled run left members unwritten, so the guild is not "completed". */
export function markIncomplete (g: GuildContext): void {
  if (g.run.signal.aborted && g.halted === null && g.result.status === 'completed') {
    // Some members were never written: the guild is not "completed", whatever stopped the run.
    const why = (g.run.signal.reason as Error | undefined)?.message ?? 'cancelled'
    g.failGuild(`incomplete: the run stopped before every member was applied (${why}); the next run resumes it`, 'incomplete')
  }
}

/** Writes to one member tried at most this often (a retry only follows a read proving the last try did not land). */
const MAX_WRITE_TRIES = 3
/** A write aborted by the run's end is verified with a read bounded by this, not by the (aborted) run. */
const VERIFY_TIMEOUT_MS = 10_000

/** Reads the member, retrying passing failures; a cancelled run still verifies, bounded in time. */
async function readMember (g: GuildContext, id: string): Promise<APIGuildMember> {
  const signal = g.signal.aborted ? AbortSignal.timeout(VERIFY_TIMEOUT_MS) : g.signal
  return await withReadRetries(() => g.bot.getGuildMember(g.guildId, id, { signal }), signal)
}

/** True when the member holds what the plan asked for: every added role, none of the removed ones, the new nickname. */
function holds (m: APIGuildMember, plan: MemberPlan): boolean {
  const has = new Set(m.roles)
  return plan.add.every((c) => has.has(c.role_id)) && plan.remove.every((c) => !has.has(c.role_id)) &&
    (plan.nick === undefined || (m.nick ?? null) === plan.nick.to)
}

async function apply (g: GuildContext, c: Candidate): Promise<void> {
  const bot = g.bot
  if (g.halted !== null || g.signal.aborted) return skip(g, c, g.planned(c))
  let view = { id: c.id, roles: c.roles, nick: c.nick, username: c.username, global_name: c.global_name, bot: c.bot }
  if (!c.fresh) {
    try {
      view = memberView(await readMember(g, c.id))
    } catch (err) {
      return await failed(g, c, classifyFailure(err), g.planned(c))
    }
  }
  let refreshed = false
  for (let tries = 1; ; tries++) {
    if (g.halted !== null || g.signal.aborted) return skip(g, c, g.planned(c))
    const plan = g.plan(view, c.user, c.access)
    if (!plan.changed) {
      // Someone (or something) already made the member right since the listing.
      g.run.results.users_synced++
      g.collect(c.id, c.userId, { blocked: plan.blocked, roles_after: plan.desired_roles })
      return
    }
    await recordIntent(g, c, plan)
    try {
      await write(g, bot, c.id, plan)
    } catch (err) {
      const f = classifyFailure(err)
      if (f.kind === 'unknown_role' && !refreshed && await g.refreshRoles()) {
        refreshed = true
        continue
      }
      if (!isUnknownOutcome(err)) return await failed(g, c, f, plan)
      // Discord may have applied it: what the member holds now decides, never a blind resend.
      let now: APIGuildMember
      try {
        now = await readMember(g, c.id)
      } catch (readErr) {
        // A kick that landed: the member is gone.
        if (plan.kick !== undefined && classifyFailure(readErr).kind === 'unknown_member') return await applied(g, c, plan)
        return await failed(g, c, f, plan)
      }
      if (plan.kick === undefined && holds(now, plan)) return await applied(g, c, plan)
      if (g.signal.aborted || tries >= MAX_WRITE_TRIES) return await failed(g, c, f, plan)
      view = memberView(now)
      continue
    }
    return await applied(g, c, plan)
  }
}

/** Stores the write about to be sent (see RunContext.writeStarting); a store failure is logged, not fatal. */
async function recordIntent (g: GuildContext, c: Candidate, plan: MemberPlan): Promise<void> {
  // In-flight records let a crashed run's role writes be settled by reading roles; a kick or a
  // nickname alone has no roles to check, and the next run plans it again anyway.
  if (plan.add.length + plan.remove.length === 0) return
  const changes = [...plan.add, ...plan.remove].map((ch) => ({ role_id: ch.role_id, role_name: ch.role_name, action: ch.action, mapping_id: ch.mapping_id }))
  try {
    await g.run.writeStarting({ guild_id: g.guildId, discord_user_id: c.id, user_id: c.userId, changes })
  } catch (err) {
    g.run.log.warn({ run_id: g.run.id, guild_id: g.guildId, code: (err as { code?: unknown }).code }, 'recording a write in flight failed')
  }
}

async function write (g: GuildContext, bot: DiscordBotClient, userId: string, plan: MemberPlan): Promise<void> {
  // An unknown outcome is never resent blindly: the worker re-reads the member instead.
  const options = { reason: auditReason(g.run.id, plan), signal: g.signal, resendUnknownOutcome: false }
  await g.deps.pacer?.wait(g.guildId, g.signal)
  if (plan.kick !== undefined) {
    await bot.removeGuildMember(g.guildId, userId, options)
    return
  }
  // Before sending: Discord may dispatch the resulting GUILD_MEMBER_UPDATE before it answers us.
  g.deps.onWrite?.({ guild_id: g.guildId, discord_user_id: userId, role_ids: plan.desired_roles })
  const roleChanges = plan.add.length + plan.remove.length
  if (plan.nick !== undefined) {
    // One PATCH carries both; without a role change it sends no role list (none can be stale).
    await bot.modifyMember(g.guildId, userId, { ...(roleChanges > 0 ? { roles: plan.desired_roles } : {}), nick: plan.nick.to }, options)
  } else if (roleChanges === 1) {
    // One change: the role endpoints need no role list, so no stale list can be written.
    const c = (plan.add[0] ?? plan.remove[0]) as PlannedChange
    if (c.action === 'add') await bot.addMemberRole(g.guildId, userId, c.role_id, options)
    else await bot.removeMemberRole(g.guildId, userId, c.role_id, options)
  } else {
    await bot.setMemberRoles(g.guildId, userId, plan.desired_roles, options)
  }
}

async function applied (g: GuildContext, c: Candidate, plan: MemberPlan): Promise<void> {
  const r = g.run.results
  const changes = [...plan.add, ...plan.remove]
  g.run.audit(g.ref(c.id, c.userId), planChanges(plan), 'applied', null)
  if (plan.kick !== undefined) {
    await forgetAccessLoss(g, c.id)
    await g.markNotInGuild(c.id)
  }
  g.result.roles_added += plan.add.length
  g.result.roles_removed += plan.remove.length
  r.roles_added += plan.add.length
  r.roles_removed += plan.remove.length
  r.users_synced++
  g.run.progress.members_applied++
  for (const ch of changes) g.mappingsApplied.add(ch.mapping_id)
  g.collect(c.id, c.userId, plan.kick !== undefined ? { applied: changes, in_guild: false, kicked: true } : { applied: changes, blocked: plan.blocked, roles_after: plan.desired_roles, nick: plan.nick?.to ?? null })
  if (c.userId !== null) {
    g.deps.store.updateUser(c.id, { last_sync: g.run.now() }).catch(() => { /* bookkeeping only */ })
  }
}

async function failed (g: GuildContext, c: Candidate, f: Failure, plan: MemberPlan): Promise<void> {
  const changes = planChanges(plan)
  const ref = g.ref(c.id, c.userId)
  if (f.kind === 'aborted') return skip(g, c, plan)
  if (f.kind === 'unknown_member') {
    // The member left between planning and writing: recorded, not a failure; the link stays.
    g.run.audit(ref, changes, 'failed', f.code)
    g.run.error({ ...ref, error: 'the member is no longer in the guild (10007 Unknown Member); the link is kept and marked not in this guild', code: f.code })
    g.collect(c.id, c.userId, { in_guild: false })
    await g.markNotInGuild(c.id)
    return
  }
  if (f.kind === 'guild_fatal') await g.haltGuild(f)
  g.memberFailed(c.id, c.userId, f, changes)
}

function skip (g: GuildContext, c: Candidate, plan: MemberPlan): void {
  const changes = planChanges(plan)
  const halted = g.halted
  const code = halted !== null ? 'guild_halted' : 'aborted'
  g.run.audit(g.ref(c.id, c.userId), changes, 'skipped', code)
  const message = halted !== null ? `not attempted: writes to this guild stopped (${halted.message})` : 'not attempted: the run was cancelled'
  g.collect(c.id, c.userId, { error: { kind: 'aborted', code, message }, held: [...plan.add, ...plan.remove] })
}
