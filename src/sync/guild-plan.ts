/*
 * The planning phase of a guild sync: read the members (the whole list in pages of 1000, one
 * call per page, or each named user with GET member, a separate and faster bucket), resolve
 * the linked ones' entitlements and plan every member with the pure planner. Only members
 * whose managed roles must change are kept as candidates, so memory grows with the changes,
 * not with the guild. Dry runs record the plan here and keep nothing.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import pLimit from 'p-limit'
import type { APIGuildMember } from 'discord-api-types/v10'
import { compareSnowflakes } from '../discord/util.js'
import type { DiscordUserRecord } from '../store/port/index.js'
import { classifyFailure, type Failure } from './discord-errors.js'
import { resolveAccess, type AccessEntry } from './access-loss.js'
import type { Candidate, GuildContext } from './guild-context.js'
import { joinsAbsent, planJoins } from './guild-join.js'
import { abortable, resolveContexts } from './membership.js'
import { blockedKick, brakeCount, memberView, planChanges, type MemberView } from './member-plan.js'
import { isPassingFailure, READ_TRIES, withReadRetries } from './read-retry.js'
import type { UserContext } from './types.js'

type ListedMember = MemberView

export { memberView }

/**
 * Plans every member in scope, keeping the ones to change in `g.candidates`. `afterPage`, when
 * given, runs after each listed page is planned (the streaming sync hands the page's candidates
 * to its writers there, and waits for room before the next page is read).
 */
export async function planGuild (g: GuildContext, botUserId: string, afterPage?: () => Promise<void>): Promise<void> {
  const discordIds = g.req.discordIds
  if (discordIds === null) {
    await listPages(g, async (page) => {
      const members: ListedMember[] = []
      for (const m of page) {
        // The bot's own roles are never synced: changing them could cost it its hierarchy.
        if (m.user.id !== botUserId) members.push(memberView(m))
      }
      await planMembers(g, members, false)
      await afterPage?.()
    })
  } else {
    await planMembers(g, await readNamed(g, discordIds), true)
  }
}

/**
 * Streams the member list page by page. A page that fails for a passing reason (5xx, malformed
 * body, timeout) is asked for again from where the list stopped, at most READ_TRIES times in a
 * row, so pages already planned are neither lost nor planned twice.
 */
async function listPages (g: GuildContext, onPage: (page: APIGuildMember[]) => Promise<void>): Promise<void> {
  let after = '0'
  let failures = 0
  for (;;) {
    try {
      for await (const page of g.bot.listGuildMembers(g.guildId, { signal: g.signal, after })) {
        failures = 0
        await onPage(page)
        for (const m of page) if (m.user !== undefined && compareSnowflakes(m.user.id, after) > 0) after = m.user.id
      }
      return
    } catch (err) {
      if (++failures >= READ_TRIES || !isPassingFailure(err) || g.signal.aborted) throw err
      g.run.log.warn({ guild_id: g.guildId, run_id: g.run.id, code: (err as { code?: unknown }).code, try: failures }, 'reading a member page failed; asking again')
      const delay = 100 * 2 ** (failures - 1)
      await sleep(delay / 2 + Math.random() * delay / 2, undefined, { signal: g.signal })
    }
  }
}

/**
 * Named-user mode: GET each member. Not being in the guild is normal here (user syncs try every
 * guild); with auto_join, those outside it may be added instead (guild-join.ts).
 */
async function readNamed (g: GuildContext, ids: readonly string[]): Promise<ListedMember[]> {
  const out: ListedMember[] = []
  const absent: string[] = []
  const joins = joinsAbsent(g)
  const bot = g.bot
  const limit = pLimit(g.deps.workers)
  await Promise.all(ids.map((id) => limit(async () => {
    if (g.halted !== null) return
    try {
      const m = await withReadRetries(() => bot.getGuildMember(g.guildId, id, { signal: g.signal }), g.signal)
      out.push(memberView(m))
    } catch (err) {
      const f = classifyFailure(err)
      if (f.kind === 'unknown_member' && joins) {
        absent.push(id)
      } else if (f.kind === 'unknown_member') {
        g.collect(id, null, { in_guild: false })
        await g.markNotInGuild(id)
      } else if (f.kind === 'guild_fatal') {
        await g.haltGuild(f)
      } else if (f.kind !== 'aborted') {
        g.memberFailed(id, null, f, [])
      }
    }
  })))
  if (g.halted === null) await planJoins(g, absent)
  return out
}

async function planMembers (g: GuildContext, members: ListedMember[], fresh: boolean): Promise<void> {
  if (members.length === 0) return
  const links = new Map<string, DiscordUserRecord>()
  // An inactive link is treated as no link: the host switched it off.
  for (const l of await g.deps.store.listUsersByDiscordIds(members.map((m) => m.id))) if (l.is_active) links.set(l.discord_user_id, l)
  const provider = g.deps.membership
  const contexts = links.size === 0 || provider === null
    ? new Map()
    : await abortable(resolveContexts(provider, [...links.values()].map((l) => l.user_id), g.deps.workers), g.signal)
  const run = g.run
  const results = run.results
  const entries: Array<AccessEntry & { userId: string | null }> = []
  for (const m of members) {
    g.result.members_scanned++
    results.users_processed++
    run.progress.members_scanned++
    const link = links.get(m.id) ?? null
    let user: UserContext | null = null
    if (link !== null) {
      const c = contexts.get(link.user_id)
      if (c === undefined || c instanceof Error) {
        const failure: Failure = c === undefined
          ? { kind: 'transient', code: 'membership_unavailable', message: 'no membership provider is configured' }
          : { kind: 'transient', code: c.code, message: c.message }
        // Unknown entitlements: the member keeps every role it has (never read as "no groups": no kick either).
        g.memberFailed(m.id, link.user_id, failure, [])
        continue
      }
      user = c
    }
    entries.push({ m, user, userId: link?.user_id ?? null })
  }
  // Linked Roles pushes from the answers read here (no second provider call); the arguments are not built without a listener.
  if (!run.dryRun) g.deps.onEntitlements?.(entries.flatMap((e) => e.user === null ? [] : [{ link: links.get(e.m.id) as DiscordUserRecord, user: e.user }]))
  const access = await resolveAccess(g, entries)
  for (let i = 0; i < entries.length; i++) {
    const { m, user, userId } = entries[i] as AccessEntry & { userId: string | null }
    const state = access[i] ?? 'ok'
    const plan = g.plan(m, user, state)
    const ref = g.ref(m.id, userId)
    const kickBlocked = blockedKick(plan)
    if (plan.blocked.length > 0 || kickBlocked.length > 0) {
      g.result.blocked_changes += plan.blocked.length + kickBlocked.length
      run.audit(ref, plan.blocked, 'blocked', (c) => c.status)
      run.audit(ref, kickBlocked, 'blocked', plan.kick?.status ?? null)
    }
    if (!plan.changed) {
      results.users_synced++
      g.collect(m.id, userId, { blocked: plan.blocked, roles_after: plan.desired_roles })
      continue
    }
    g.result.members_to_change++
    g.result.planned_changes += brakeCount(plan)
    run.progress.members_to_change++
    if (run.dryRun) {
      run.audit(ref, planChanges(plan), 'dry_run', null)
      g.collect(m.id, userId, { blocked: plan.blocked, held: [...plan.add, ...plan.remove], roles_after: [...m.roles] })
      continue
    }
    g.candidates.push({ ...m, userId, user, access: state, fresh })
  }
  // Past the brake's limit nothing of this guild will be written: the candidates are recorded
  // as held back at once instead of being kept, so an unforced run holds at most
  // max_role_changes_per_sync members' worth of candidates however many need a change.
  if (!run.dryRun && !run.force && g.result.planned_changes > g.req.guild.settings.max_role_changes_per_sync) {
    for (const c of g.candidates) holdBack(g, c)
    g.candidates.length = 0
  }
}

/** Records a candidate as held back by the safety brake (audit row `blocked`/`brake`, collected as held). */
export function holdBack (g: GuildContext, c: Candidate): void {
  const plan = g.planned(c)
  g.run.audit(g.ref(c.id, c.userId), planChanges(plan), 'blocked', 'brake')
  g.collect(c.id, c.userId, { blocked: plan.blocked, held: [...plan.add, ...plan.remove], roles_after: c.fresh ? [...c.roles] : null })
}
