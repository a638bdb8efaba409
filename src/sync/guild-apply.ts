/*
 * The apply phase of a guild sync: a few workers take the planned candidates one by one. Each
 * member is re-read (unless it was read a moment ago) so a concurrent edit is not overwritten,
 * re-planned on the fresh roles and written once: PUT or DELETE for a single change, one PATCH
 * with the full role list otherwise. Writes therefore equal the members whose roles actually
 * change.
 *
 * Failures: 10007 on a member is recorded and the link kept (marked not in this guild); 10011
 * refreshes the role cache and re-plans the member once; a guild-fatal answer halts every
 * further write to the guild (see GuildContext.haltGuild).
 */
import type { DiscordBotClient } from '../discord/bot.js'
import { classifyFailure, type Failure } from './discord-errors.js'
import type { Candidate, GuildContext } from './guild-context.js'
import type { PlannedChange, RolePlan } from './types.js'

/** `X-Audit-Log-Reason`: visible to the guild's moderators, so it names the plugin, run and mappings (never a secret). */
export function auditReason (runId: string, plan: RolePlan): string {
  const parts = [
    ...plan.add.map((c) => `+${c.role_name} (mapping ${c.mapping_id})`),
    ...plan.remove.map((c) => `-${c.role_name} (mapping ${c.mapping_id})`)
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

/** Applies every candidate of the guild, `workers` members at a time. */
export async function applyGuild (g: GuildContext): Promise<void> {
  await drain(g.candidates, g.deps.workers, (c) => apply(g, c))
}

async function apply (g: GuildContext, c: Candidate): Promise<void> {
  const bot = g.bot
  if (g.halted !== null) return skip(g, c, g.planned(c))
  let roles = c.roles
  if (!c.fresh) {
    try {
      roles = (await bot.getGuildMember(g.guildId, c.id, { signal: g.signal })).roles
    } catch (err) {
      return await failed(g, c, classifyFailure(err), g.planned(c))
    }
  }
  for (let attempt = 0; ; attempt++) {
    if (g.halted !== null) return skip(g, c, g.planned(c))
    const plan = g.plan(c.id, roles, c.user)
    if (!plan.changed) {
      // Someone (or something) already made the member right since the listing.
      g.run.results.users_synced++
      g.collect(c.id, c.userId, { blocked: plan.blocked, roles_after: plan.desired_roles })
      return
    }
    try {
      await write(g, bot, c.id, plan)
    } catch (err) {
      const f = classifyFailure(err)
      if (f.kind === 'unknown_role' && attempt === 0 && await g.refreshRoles()) continue
      return await failed(g, c, f, plan)
    }
    applied(g, c, plan)
    return
  }
}

async function write (g: GuildContext, bot: DiscordBotClient, userId: string, plan: RolePlan): Promise<void> {
  const options = { reason: auditReason(g.run.id, plan), signal: g.signal }
  await g.deps.pacer?.wait(g.guildId, g.signal)
  if (plan.add.length + plan.remove.length === 1) {
    // One change: the role endpoints need no role list, so no stale list can be written.
    const c = (plan.add[0] ?? plan.remove[0]) as PlannedChange
    if (c.action === 'add') await bot.addMemberRole(g.guildId, userId, c.role_id, options)
    else await bot.removeMemberRole(g.guildId, userId, c.role_id, options)
  } else {
    await bot.setMemberRoles(g.guildId, userId, plan.desired_roles, options)
  }
}

function applied (g: GuildContext, c: Candidate, plan: RolePlan): void {
  const r = g.run.results
  const changes = [...plan.add, ...plan.remove]
  g.run.audit(g.ref(c.id, c.userId), changes, 'applied', null)
  g.result.roles_added += plan.add.length
  g.result.roles_removed += plan.remove.length
  r.roles_added += plan.add.length
  r.roles_removed += plan.remove.length
  r.users_synced++
  g.run.progress.members_applied++
  for (const ch of changes) g.mappingsApplied.add(ch.mapping_id)
  g.collect(c.id, c.userId, { applied: changes, blocked: plan.blocked, roles_after: plan.desired_roles })
  if (c.userId !== null) {
    g.deps.store.updateUser(c.id, { last_sync: g.run.now() }).catch(() => { /* bookkeeping only */ })
  }
}

async function failed (g: GuildContext, c: Candidate, f: Failure, plan: RolePlan): Promise<void> {
  const changes = [...plan.add, ...plan.remove]
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

function skip (g: GuildContext, c: Candidate, plan: RolePlan): void {
  const changes = [...plan.add, ...plan.remove]
  const halted = g.halted
  const code = halted !== null ? 'guild_halted' : 'aborted'
  g.run.audit(g.ref(c.id, c.userId), changes, 'skipped', code)
  const message = halted !== null ? `not attempted: writes to this guild stopped (${halted.message})` : 'not attempted: the run was cancelled'
  g.collect(c.id, c.userId, { error: { kind: 'aborted', code, message }, held: changes })
}
