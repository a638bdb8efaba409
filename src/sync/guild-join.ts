/*
 * Join on link (guild setting `auto_join`): a linked user a user sync finds outside the guild
 * (10007 on GET member) is added with one Add Guild Member request (docs/guild.mdx) carrying
 * their OAuth2 access token and the managed roles the planner gives them, so a link costs one
 * write, not a join followed by a role PATCH. Only users entitled to at least one managed role
 * here are added: auto_join brings in the people the mappings are for, not every account that
 * links. The token must carry `guilds.join`; one refused as invalid (50025) is refreshed once and
 * the join tried again. 204 means the user was a member after all: they are read and planned like
 * any member (one fresh read, one write). 30001 (the user is in the maximum number of guilds) is
 * recorded on the user's result and audit, never retried. A refusal here concerns one user, so
 * unlike a role write it does not halt the guild, except a bot token Discord no longer accepts.
 */
import type { APIGuildMember } from 'discord-api-types/v10'
import { memberView, type MemberView } from './member-plan.js'
import { DiscordAPIError } from '../discord/errors/index.js'
import type { DiscordUserRecord } from '../store/port/index.js'
import { classifyFailure, type Failure } from './discord-errors.js'
import type { GuildContext, UserTokenSource } from './guild-context.js'
import { abortable, resolveContexts } from './membership.js'
import { withReadRetries } from './read-retry.js'
import type { RolePlan, UserContext } from './types.js'

/** The scope Add Guild Member needs on the user's token. */
export const JOIN_SCOPE = 'guilds.join'

/** Discord's "Maximum number of guilds reached (100)" (opcodes-and-status-codes.mdx). */
const MAX_GUILDS = 30001
/** "Invalid OAuth2 access token provided". */
const INVALID_OAUTH_TOKEN = 50025

/** A member found in the guild after all (204), read a moment ago. */
/** A member found present (the join answered 204): planned like any listed member. */
export type PresentMember = MemberView

/** True when the request may join the users it finds outside the guild. */
export function joinsAbsent (g: GuildContext): boolean {
  return g.req.guild.settings.auto_join && !g.run.dryRun && g.deps.userTokens != null && g.deps.membership !== null
}

/**
 * Tries to add each absent user; those not added are recorded as not in the guild, as before.
 * Returns the users Discord reported as members already (204), read fresh, for normal planning.
 */
export async function joinAbsent (g: GuildContext, ids: readonly string[]): Promise<PresentMember[]> {
  const present: PresentMember[] = []
  if (ids.length === 0) return present
  const links = new Map<string, DiscordUserRecord>()
  for (const l of await g.deps.store.listUsersByDiscordIds(ids)) if (l.is_active) links.set(l.discord_user_id, l)
  const provider = g.deps.membership
  const contexts = links.size === 0 || provider === null
    ? new Map()
    : await abortable(resolveContexts(provider, [...links.values()].map((l) => l.user_id), g.deps.workers), g.signal)
  for (const id of ids) {
    if (g.halted !== null || g.signal.aborted) return present
    const link = links.get(id)
    const user = link === undefined ? undefined : contexts.get(link.user_id)
    // No link or unknown entitlements: nothing says this user belongs here.
    if (link === undefined || user === undefined || user instanceof Error) {
      await absent(g, id)
      continue
    }
    const found = await join(g, link, user as UserContext)
    if (found !== null) present.push(found)
  }
  return present
}

async function absent (g: GuildContext, id: string): Promise<void> {
  g.collect(id, null, { in_guild: false })
  await g.markNotInGuild(id)
}

async function join (g: GuildContext, link: DiscordUserRecord, user: UserContext): Promise<PresentMember | null> {
  const id = link.discord_user_id
  // Not a member yet: no roles and no nickname to compare with.
  const plan = g.plan({ id, roles: [], nick: null, username: link.username, global_name: link.global_name ?? null, bot: false }, user)
  if (plan.add.length === 0) {
    await absent(g, id)
    return null
  }
  const tokens = g.deps.userTokens as UserTokenSource
  let token: string | null
  try {
    token = await tokens.access(id, JOIN_SCOPE, g.signal)
  } catch (err) {
    return failed(g, link, plan, classifyFailure(err))
  }
  // No token with guilds.join (linked before auto_join, or the user must authorise again).
  if (token === null) {
    await absent(g, id)
    return null
  }
  // The guild's nickname template, rendered by the same plan (no current nickname to compare with).
  const nick = plan.nick?.to
  const body = { roles: plan.desired_roles, ...(nick === undefined ? {} : { nick }) }
  g.run.progress.members_to_change++
  g.result.members_to_change++
  g.result.planned_changes += plan.add.length
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
      return failed(g, link, plan, joinFailure(err))
    }
  }
  if (member === null) {
    // Already a member: read and planned like any other, so the write stays a single one.
    g.run.progress.members_to_change--
    g.result.members_to_change--
    g.result.planned_changes -= plan.add.length
    try {
      const fresh = await withReadRetries(() => g.bot.getGuildMember(g.guildId, id, { signal: g.signal }), g.signal)
      return memberView(fresh)
    } catch (err) {
      return failed(g, link, plan, classifyFailure(err))
    }
  }
  joined(g, link, plan, member)
  return null
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

async function failed (g: GuildContext, link: DiscordUserRecord, plan: RolePlan, f: Failure): Promise<null> {
  if (f.kind === 'aborted') return null
  if (f.kind === 'guild_fatal') await g.haltGuild(f)
  g.memberFailed(link.discord_user_id, link.user_id, f, plan.add)
  return null
}

function joined (g: GuildContext, link: DiscordUserRecord, plan: RolePlan, member: APIGuildMember): void {
  const id = link.discord_user_id
  const r = g.run.results
  g.run.audit(g.ref(id, link.user_id), plan.add, 'applied', 'joined')
  g.result.roles_added += plan.add.length
  r.roles_added += plan.add.length
  r.users_synced++
  g.run.progress.members_applied++
  for (const c of plan.add) g.mappingsApplied.add(c.mapping_id)
  g.collect(id, link.user_id, { applied: plan.add, blocked: plan.blocked, roles_after: [...member.roles] })
  const guilds = link.guilds.some((x) => x.id === g.guildId)
    ? link.guilds
    : [...link.guilds, { id: g.guildId, name: g.req.guild.guild_name, permissions: '0' }]
  g.deps.store.updateUser(id, { guilds, last_sync: g.run.now() }).catch(() => { /* bookkeeping only */ })
}
