/*
 * Synchronising one guild within a run: the order of the phases and what ends a guild early.
 * Discord's rate limits are the bottleneck, not CPU, so the shape of the work is chosen to
 * spend as few calls as possible:
 *
 * 1. Plan (guild-plan.ts). Either stream the whole member list in pages of 1000 (one call per
 *    page), or, for a few named users, read each member (GET member, a separate and faster
 *    bucket). Every member is planned with the pure planner; only members whose managed roles
 *    must change are kept, and only up to the brake's limit, so memory grows with the changes
 *    (at most `max_role_changes_per_sync` of them), not with the guild.
 * 2. Brake. More planned changes than the guild's `max_role_changes_per_sync` write nothing
 *    (status blocked) unless the run says `force`: a misconfigured mapping must never strip
 *    roles from a whole guild silently.
 * 3. Apply (guild-apply.ts). For each member to change: re-read it (unless it was read a
 *    moment ago) so a concurrent edit is not overwritten, re-plan on the fresh roles, and
 *    write once: PUT or DELETE for a single change, one PATCH with the full role list
 *    otherwise. Writes therefore equal the members whose roles actually change.
 *
 * A forced full-list run has no brake to wait for, so the three phases run as a pipeline
 * (guild-stream.ts): pages are read and planned while earlier pages' members are written, and
 * the run holds one page plus a bounded queue of candidates however large the guild.
 *
 * Failures: 10007 on a member is recorded and the link kept (marked not in this guild); 10011
 * refreshes the role cache and re-plans the member once; 401, 50013, 50001 or 10004 halt every
 * further write to the guild at once (each would be another invalid request toward Discord's
 * ban) and mark it unhealthy; the run goes on with other guilds. The state the phases share,
 * and every outcome they record, lives in guild-context.ts.
 */
import type { DiscordBotClient } from '../discord/bot.js'
import { classifyFailure, type Failure } from './discord-errors.js'
import { applyGuild } from './guild-apply.js'
import { GuildContext, type GuildOutcome, type GuildSyncDeps, type GuildSyncRequest } from './guild-context.js'
import { holdBack, planGuild } from './guild-plan.js'
import { holdJoins } from './guild-join.js'
import { streamGuild } from './guild-stream.js'
import { sweepAccessLoss } from './access-loss.js'
import { managedRoleIds } from './planner.js'
import type { RunContext } from './run.js'
import { withTimeout } from '../util/timeout.js'

/** A guild's sync ran past `sync.guildTimeout`. */
class GuildTimeoutError extends Error {
  constructor (ms: number) {
    super(`the guild sync timed out after ${ms} ms (sync.guildTimeout)`)
    this.name = 'GuildTimeoutError'
  }
}

export { emptyGuildResult } from './guild-context.js'
export type { GuildOutcome, GuildSyncDeps, GuildSyncRequest, MemberOutcome } from './guild-context.js'

export async function syncGuild (deps: GuildSyncDeps, run: RunContext, req: GuildSyncRequest): Promise<GuildOutcome> {
  const g = new GuildContext(deps, run, req)
  run.progress.current_guild_id = g.guildId
  const limitMs = deps.guildTimeoutMs
  try {
    await (limitMs === undefined ? execute(g) : withTimeout(execute(g), limitMs, () => new GuildTimeoutError(limitMs)))
  } catch (err) {
    if (err instanceof GuildTimeoutError) {
      // The work in flight is aborted; anything that ignores the abort (a hung provider) is left
      // behind, so the run ends and the guild lock is freed instead of being held forever.
      g.cancel(err.message, 'timeout')
      run.log.warn({ guild_id: g.guildId, run_id: run.id, timeout_ms: limitMs }, 'guild sync timed out')
    } else {
      const f = classifyFailure(err)
      if (f.kind === 'guild_fatal') await g.haltGuild(f)
      else g.failGuild(f.kind === 'aborted' ? 'the run was cancelled' : f.message, f.code)
    }
  }
  await markHealthy(g)
  const r = run.results
  r.guilds_processed++
  r.guilds.push(g.result)
  run.progress.guilds_done++
  if (!run.dryRun && g.mappingsApplied.size > 0) {
    await deps.store.recordMappingSync([...g.mappingsApplied], run.now()).catch((err: unknown) => {
      run.log.warn({ guild_id: g.guildId, code: (err as { code?: unknown }).code }, 'recording mapping sync counters failed')
    })
  }
  await postSummary(g)
  return { result: g.result, members: g.members }
}

async function execute (g: GuildContext): Promise<void> {
  const { store, client } = g.deps
  const { run, guildId } = g
  const guild = g.req.guild
  const token = await store.getBotToken(guildId)
  if (token === null) return g.failGuild('the guild has no bot token', 'no_bot_token')
  if (client.isTokenLocked(token)) {
    return await g.haltGuild({ kind: 'guild_fatal', code: '401', message: 'Discord rejected this guild\'s bot token (401); set a new token to resume syncing' })
  }
  const managed = managedRoleIds(g.req.mappings, guildId)
  if (managed.size === 0) {
    g.result.reason = 'no enabled role mappings: nothing is managed in this guild'
    return
  }
  const snapshot = await g.loadRoles(client.bot(token))
  if (!snapshot.can_manage_roles) {
    const f: Failure = { kind: 'guild_fatal', code: '50013', message: 'the bot lacks the Manage Roles permission in this guild' }
    // A dry run still shows the plan; a real run must not send writes that can only fail.
    if (!run.dryRun) return await g.haltGuild(f)
    g.result.reason = `${f.message}: nothing could be applied`
  }

  run.progress.phase = 'planning'
  const planningStarted = run.now()
  if (!run.dryRun && run.force && g.req.discordIds === null) {
    // Forced: no brake waits for the whole plan, so pages are planned and written as a pipeline.
    await streamGuild(g, snapshot.bot_user_id)
    if (g.halted === null) await sweepAccessLoss(g, planningStarted)
    return
  }
  await planGuild(g, snapshot.bot_user_id)
  if (g.halted !== null) return
  // Every member was listed: access-loss records of members not seen have left the guild.
  if (!run.dryRun && g.req.discordIds === null) await sweepAccessLoss(g, planningStarted)

  if (run.dryRun) {
    const max = guild.settings.max_role_changes_per_sync
    if (!run.force && g.result.planned_changes > max) {
      g.result.reason = `${g.result.planned_changes} planned role changes exceed max_role_changes_per_sync (${max}): a real run would be blocked unless forced`
    }
    return
  }
  if (brake(g)) return
  run.progress.phase = 'applying'
  await applyGuild(g)
}

/** The safety brake. True when it held the guild back. */
function brake (g: GuildContext): boolean {
  const max = g.req.guild.settings.max_role_changes_per_sync
  const planned = g.result.planned_changes
  if (g.run.force || planned <= max) return false
  const reason = `${planned} planned role changes for ${g.result.members_to_change} members exceed max_role_changes_per_sync (${max}): nothing was written. Review them with a dry run, then run again with force: true to apply them.`
  g.result.status = 'blocked'
  g.result.reason = reason
  g.run.error({ guild_id: g.guildId, error: reason, code: 'brake' })
  // Candidates past the limit were already recorded as held back while planning (guild-plan.ts).
  for (const c of g.candidates) holdBack(g, c)
  g.candidates.length = 0
  holdJoins(g)
  return true
}

/**
 * A real run that read and wrote this guild without a Discord refusal proves its token and
 * Manage Roles, so a guild marked unhealthy (a 401 since fixed, say) is healthy again at once
 * instead of at the next health check. Blocked changes (roles above the bot) keep it degraded.
 */
async function markHealthy (g: GuildContext): Promise<void> {
  const r = g.result
  if (g.run.dryRun || g.halted !== null || r.status !== 'completed' || r.blocked_changes > 0 || g.botOrNull === null) return
  const stored = await g.deps.store.getGuild(g.guildId).catch(() => null)
  if (stored === null || (stored.health_status === 'healthy' && stored.last_error === null)) return
  await g.deps.store.updateGuild(g.guildId, { health_status: 'healthy', last_error: null, last_health_check: g.run.now() }).catch((err: unknown) => {
    g.run.log.warn({ guild_id: g.guildId, code: (err as { code?: unknown }).code }, 'recording the guild as healthy failed')
  })
}

/** A short summary in the guild's audit channel. Never fails the run: a refusal is logged. */
async function postSummary (g: GuildContext): Promise<void> {
  const channelId = g.req.guild.settings.audit_channel_id
  const r = g.result
  const bot: DiscordBotClient | null = g.botOrNull
  if (!g.deps.auditChannel || channelId === null || g.run.dryRun || bot === null) return
  if (r.roles_added + r.roles_removed + r.members_failed === 0 && r.status !== 'blocked') return
  if (g.halted?.code === '401') return
  const parts = [`${r.roles_added} role(s) added`, `${r.roles_removed} removed`]
  if (r.members_failed > 0) parts.push(`${r.members_failed} member(s) failed`)
  if (r.blocked_changes > 0) parts.push(`${r.blocked_changes} change(s) the bot may not make`)
  const head = r.status === 'blocked' ? 'Role sync held back by the safety brake' : r.status === 'failed' ? 'Role sync stopped' : 'Role sync completed'
  const content = `**${head}** (run \`${g.run.id}\`, ${g.run.record.sync_type}): ${parts.join(', ')}.${r.reason !== null ? `\n${r.reason}` : ''}`.slice(0, 2000)
  try {
    // allowed_mentions empty: role names in the text must never ping anyone.
    await bot.createMessage(channelId, { content, allowed_mentions: { parse: [] } }, { signal: g.run.signal })
  } catch (err) {
    const f = classifyFailure(err)
    g.run.log.warn({ guild_id: g.guildId, channel_id: channelId, code: f.code }, 'posting the sync summary to the audit channel failed')
  }
}
