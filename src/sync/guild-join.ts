/*
 * Join on link (guild setting `auto_join`): a linked user a user sync finds outside the guild
 * (10007 on GET member) is added with one Add Guild Member request (docs/guild.mdx) carrying
 * their OAuth2 access token and the managed roles the planner gives them, so a link costs one
 * write, not a join followed by a role PATCH. Only users entitled to at least one managed role
 * here, whose link holds a grant with `guilds.join`, are added: auto_join brings in the people
 * the mappings are for, not every account that links.
 *
 * A join is planned like any other write (planJoins, during planning) and sent only in the
 * apply phase (applyJoins): its role adds count toward `max_role_changes_per_sync`, so the brake
 * holds joins back with everything else (holdJoins), and a dry run lists the joins it would make
 * (audited `dry_run` with code `join`, counted in the guild result's `members_to_join`) instead
 * of making them.
 *
 * Sending: a token refused as invalid (50025) is refreshed once and the join tried again. 204
 * means the user was a member after all: they are read and planned like any member (one fresh
 * read, one write). 30001 (the user is in the maximum number of guilds) is recorded on the user's
 * result and audit, never retried. A refusal here concerns one user, so unlike a role write it
 * does not halt the guild, except a bot token Discord no longer accepts.
 */
import type { APIGuildMember } from 'discord-api-types/v10'
import { brakeCount, memberView, planChanges, type MemberPlan, type MemberView } from './member-plan.js'
import { DiscordAPIError } from '../discord/errors/index.js'
import type { DiscordUserRecord } from '../store/port/index.js'
import { classifyFailure, type Failure } from './discord-errors.js'
import type { GuildContext, JoinCandidate, UserTokenSource } from './guild-context.js'
import { abortable, resolveContexts } from './membership.js'
import { withReadRetries } from './read-retry.js'
import type { UserContext } from './types.js'

/** The scope Add Guild Member needs on the user's token. */
export const JOIN_SCOPE = 'guilds.join'

/** Discord's "Maximum number of guilds reached (100)" (opcodes-and-status-codes.mdx). */
const MAX_GUILDS = 30001
/** "Invalid OAuth2 access token provided". */
const INVALID_OAUTH_TOKEN = 50025

/** True when the request may join the users it finds outside the guild (a dry run only lists them). */
export function joinsAbsent (g: GuildContext): boolean {
  return g.req.guild.settings.auto_join && g.deps.userTokens != null && g.deps.membership !== null
}

/** The link holds a grant the join can use (the token itself is read, and refreshed, only when sending). */
function canJoin (link: DiscordUserRecord): boolean {
  return link.is_active && !link.needs_reauth && link.scopes.includes(JOIN_SCOPE)
}

/** The plan of a user who is not a member yet: no roles and no nickname to compare with. */
function joinPlan (g: GuildContext, link: DiscordUserRecord, user: UserContext): MemberPlan {
  return g.plan({ id: link.discord_user_id, roles: [], nick: null, username: link.username, global_name: link.global_name ?? null, bot: false }, user)
}

/**
 * Plans a join for each absent user who qualifies; the others are recorded as not in the guild.
 * Joins are counted like the members to change (the brake sees them); a dry run audits them, a
 * real run keeps them in `g.joins` for the apply phase.
 */
export async function planJoins (g: GuildContext, ids: readonly string[]): Promise<void> {
  if (ids.length === 0) return
  const links = new Map<string, DiscordUserRecord>()
  for (const l of await g.deps.store.listUsersByDiscordIds(ids)) if (l.is_active) links.set(l.discord_user_id, l)
  const provider = g.deps.membership
  const contexts = links.size === 0 || provider === null
    ? new Map()
    : await abortable(resolveContexts(provider, [...links.values()].map((l) => l.user_id), g.deps.workers), g.signal)
  for (const id of ids) {
    if (g.halted !== null || g.signal.aborted) return
    const link = links.get(id)
    const user = link === undefined ? undefined : contexts.get(link.user_id)
    // No link, unknown entitlements or no usable grant: nothing says this user can be added here.
    if (link === undefined || user === undefined || user instanceof Error || !canJoin(link)) {
      await absent(g, id)
      continue
    }
    const plan = joinPlan(g, link, user as UserContext)
    if (plan.add.length === 0) {
      await absent(g, id)
      continue
    }
    g.run.progress.members_to_change++
    g.result.members_to_change++
    g.result.members_to_join = (g.result.members_to_join ?? 0) + 1
    g.result.planned_changes += brakeCount(plan)
    if (g.run.dryRun) {
      g.run.audit(g.ref(id, link.user_id), planChanges(plan), 'dry_run', 'join')
      g.collect(id, link.user_id, { in_guild: false, held: plan.add, blocked: plan.blocked })
      continue
    }
    g.joins.push({ link, user: user as UserContext })
  }
}

/** The safety brake held the guild back: each planned join is audited and reported as held. */
export function holdJoins (g: GuildContext): void {
  for (const j of g.joins) {
    const plan = joinPlan(g, j.link, j.user)
    g.run.audit(g.ref(j.link.discord_user_id, j.link.user_id), planChanges(plan), 'blocked', 'brake')
    g.collect(j.link.discord_user_id, j.link.user_id, { in_guild: false, held: plan.add, blocked: plan.blocked })
  }
  g.joins.length = 0
}

/**
 * Sends the planned joins. Users Discord reports as members already (204) are read fresh and
 * handed to the apply phase as candidates, planned like any member.
 */
export async function applyJoins (g: GuildContext): Promise<void> {
  const joins = g.joins.splice(0)
  for (const j of joins) {
    if (g.halted !== null || g.signal.aborted) {
      skipJoin(g, j)
      continue
    }
    const found = await join(g, j.link, j.user)
    await g.run.flushAudit()
    if (found === null) continue
    const plan = g.plan(found, j.user)
    if (plan.changed) {
      g.run.progress.members_to_change++
      g.result.members_to_change++
      g.result.planned_changes += brakeCount(plan)
    }
    g.candidates.push({ ...found, userId: j.link.user_id, user: j.user, access: 'ok', fresh: true })
  }
}

function skipJoin (g: GuildContext, j: JoinCandidate): void {
  const plan = joinPlan(g, j.link, j.user)
  const code = g.halted !== null ? 'guild_halted' : 'aborted'
  g.run.audit(g.ref(j.link.discord_user_id, j.link.user_id), planChanges(plan), 'skipped', code)
  g.collect(j.link.discord_user_id, j.link.user_id, { in_guild: false, held: plan.add, error: { kind: 'aborted', code, message: g.halted !== null ? `not added: writes to this guild stopped (${g.halted.message})` : 'not added: the run was cancelled' } })
}

async function absent (g: GuildContext, id: string): Promise<void> {
  g.collect(id, null, { in_guild: false })
  await g.markNotInGuild(id)
}

async function join (g: GuildContext, link: DiscordUserRecord, user: UserContext): Promise<MemberView | null> {
  const id = link.discord_user_id
  const plan = joinPlan(g, link, user)
  const tokens = g.deps.userTokens as UserTokenSource
  let token: string | null
  try {
    token = await tokens.access(id, JOIN_SCOPE, g.signal)
  } catch (err) {
    return await failed(g, link, plan, classifyFailure(err))
  }
  // The grant went away since planning (the user must authorise again).
  if (token === null) {
    unplan(g, plan)
    await absent(g, id)
    return null
  }
  // The guild's nickname template, rendered by the same plan (no current nickname to compare with).
  const nick = plan.nick?.to
  const body = { roles: plan.desired_roles, ...(nick === undefined ? {} : { nick }) }
  let member: APIGuildMember | null
  for (let refreshed = false; ;) {
    try {
      await g.deps.pacer?.wait(g.guildId, g.signal)
      g.deps.onWrite?.({ guild_id: g.guildId, discord_user_id: id, role_ids: plan.desired_roles })
      member = await g.bot.addGuildMember(g.guildId, id, { access_token: token, ...body }, { signal: g.signal, resendUnknownOutcome: false })
      break
    } catch (err) {
      if (!refreshed && err instanceof DiscordAPIError && err.discordCode === INVALID_OAUTH_TOKEN) {
        refreshed = true
        const next = await tokens.refresh(id, g.signal).catch(() => null)
        if (next !== null) {
          token = next
          continue
        }
      }
      return await failed(g, link, plan, joinFailure(err))
    }
  }
  if (member === null) {
    // Already a member: read and planned like any other, so the write stays a single one.
    unplan(g, plan)
    try {
      const fresh = await withReadRetries(() => g.bot.getGuildMember(g.guildId, id, { signal: g.signal }), g.signal)
      return memberView(fresh)
    } catch (err) {
      return await failed(g, link, plan, classifyFailure(err))
    }
  }
  joined(g, link, plan, member)
  return null
}

/** A planned join that turned out not to be one: its counts are taken back. */
function unplan (g: GuildContext, plan: MemberPlan): void {
  g.run.progress.members_to_change--
  g.result.members_to_change--
  g.result.members_to_join = (g.result.members_to_join ?? 1) - 1
  g.result.planned_changes -= brakeCount(plan)
}

function joinFailure (err: unknown): Failure {
  const f = classifyFailure(err)
  if (!(err instanceof DiscordAPIError)) return f
  if (err.discordCode === MAX_GUILDS) {
    return { kind: 'transient', code: String(MAX_GUILDS), message: 'not added to the guild: the user is already in the maximum number of Discord guilds (30001); they must leave one first' }
  }
  if (err.discordCode === INVALID_OAUTH_TOKEN) {
    return { kind: 'transient', code: String(INVALID_OAUTH_TOKEN), message: 'not added to the guild: Discord refused the user\'s OAuth token (50025) even after a refresh; they must link their account again' }
  }
  // A refused join (no Create Invite, a role above the bot) concerns this user only: the guild's role sync goes on.
  if (f.kind === 'guild_fatal' && f.code !== '401' && f.code !== '10004') {
    return { kind: 'transient', code: f.code, message: `not added to the guild: Discord refused Add Guild Member (${f.code}); the bot needs Create Invite and must rank above the roles it gives` }
  }
  return f
}

async function failed (g: GuildContext, link: DiscordUserRecord, plan: MemberPlan, f: Failure): Promise<null> {
  if (f.kind === 'aborted') return null
  if (f.kind === 'guild_fatal') await g.haltGuild(f)
  g.memberFailed(link.discord_user_id, link.user_id, f, plan.add)
  return null
}

function joined (g: GuildContext, link: DiscordUserRecord, plan: MemberPlan, member: APIGuildMember): void {
  const id = link.discord_user_id
  const r = g.run.results
  g.run.audit(g.ref(id, link.user_id), plan.add, 'applied', 'joined')
  g.result.roles_added += plan.add.length
  r.roles_added += plan.add.length
  r.users_synced++
  g.run.progress.members_applied++
  for (const c of plan.add) g.mappingsApplied.add(c.mapping_id)
  g.collect(id, link.user_id, { applied: plan.add, blocked: plan.blocked, roles_after: [...member.roles], nick: plan.nick?.to ?? null })
  const guilds = link.guilds.some((x) => x.id === g.guildId)
    ? link.guilds
    : [...link.guilds, { id: g.guildId, name: g.req.guild.guild_name, permissions: '0' }]
  g.deps.store.updateUser(id, { guilds, last_sync: g.run.now() }).catch(() => { /* bookkeeping only */ })
}
