/*
 * One guild's sync in progress: what the planning phase (guild-plan.ts) and the apply phase
 * (guild-apply.ts) share. It holds the guild's counters and member outcomes, the compiled
 * planner and the roles it was compiled from, and the halt switch that stops every further
 * write to the guild. Recording an outcome always goes through here, so the guild result, the
 * run's totals, the audit log and the collected member outcomes never disagree.
 */
import type { FastifyBaseLogger } from 'fastify'
import type { DiscordBotClient } from '../discord/bot.js'
import type { DiscordRestClient } from '../discord/client.js'
import type { DiscordStore, DiscordUserRecord, GuildConfigRecord, RoleMappingRecord, SyncGuildResult } from '../store/port/index.js'
import type { Failure } from './discord-errors.js'
import type { MembershipProvider } from './membership.js'
import { accessPolicy, kickPlan, unchangedPlan, withNickname, type AccessPolicy, type AccessState, type MemberPlan, type MemberView } from './member-plan.js'
import { compileTemplate, type CompiledTemplate } from './nickname.js'
import { compileGuildPlan } from './planner.js'
import { withReadRetries } from './read-retry.js'
import type { RoleCache, RoleSnapshot } from './role-cache.js'
import { SyncAbortError, type AuditChange, type RunContext } from './run.js'
import type { GuildPlanner, PlannedChange, RolePlan, UserContext } from './types.js'
import type { WritePacer } from './write-pacer.js'

/** What a guild sync needs from the engine. */
export interface GuildSyncDeps {
  store: DiscordStore
  client: DiscordRestClient
  roleCache: RoleCache
  membership: MembershipProvider | null
  log: FastifyBaseLogger
  /** Members being applied at once (the shared rate limiter sets the real pace). */
  workers: number
  /** Post a summary to the guild's audit channel after a run with changes. */
  auditChannel: boolean
  /** `sync.guildTimeout`: past it the guild is cancelled and fails (undefined: no limit). */
  guildTimeoutMs?: number
  /** `sync.writeDelay`: spacing between writes to one guild. */
  pacer?: WritePacer
  /** Told of each role write just before it is sent, with the roles it leaves (the Gateway's echo filter). */
  onWrite?: RoleWriteObserver
  /** Users' OAuth tokens, for join on link (guild-join.ts); absent: no guild adds anyone. */
  userTokens?: UserTokenSource | null
  /** Told, in real runs, of the entitlements resolved for linked members (Linked Roles pushes their values). */
  onEntitlements?: EntitlementsObserver
}

/** Linked members and their provider answers, as a run resolved them (a page of members at a time). */
export type EntitlementsObserver = (members: ReadonlyArray<{ link: DiscordUserRecord, user: UserContext }>) => void

/** A linked user's access token, as the plugin's OAuth side hands it out (auth/user-tokens.ts). */
export interface UserTokenSource {
  /** The token when the grant includes `scope` (refreshed first when expired); null otherwise. */
  access: (discordUserId: string, scope: string, signal?: AbortSignal) => Promise<string | null>
  /** Discord refused the token: a refreshed one, or null when it cannot be refreshed. */
  refresh: (discordUserId: string, signal?: AbortSignal) => Promise<string | null>
}

/** A user outside the guild planned for a join (auto_join, guild-join.ts): what sending it needs (the plan is recomputed). */
export interface JoinCandidate {
  link: DiscordUserRecord
  user: UserContext
}

/** A role write about to be sent: the member's whole role list once it lands. */
export interface RoleWrite {
  guild_id: string
  discord_user_id: string
  role_ids: readonly string[]
}
export type RoleWriteObserver = (write: RoleWrite) => void

export interface GuildSyncRequest {
  guild: GuildConfigRecord
  /** The guild's mappings (disabled ones are ignored by the planner). */
  mappings: readonly RoleMappingRecord[]
  /** Only these Discord users (each read with GET member); null lists every member. */
  discordIds: readonly string[] | null
  /** Mapping runs: only changes to these roles are planned and applied. */
  onlyRoleIds: ReadonlySet<string> | null
  /** Keep each member's outcome (the user sync builds its response from them). */
  collect: boolean
}

/** One member's outcome, kept when `collect` is set. */
export interface MemberOutcome {
  discord_user_id: string
  user_id: string | null
  /** False when Discord says the member is not in the guild (10007). */
  in_guild: boolean
  applied: PlannedChange[]
  /** Changes the bot may not make (hierarchy, managed, missing role). */
  blocked: PlannedChange[]
  /** Changes held back by the safety brake, or planned only (dry run). */
  held: PlannedChange[]
  /** Role ids after the sync (without @everyone), when known. */
  roles_after: string[] | null
  /** The nickname this sync set (the guild's template); null when it set none. */
  nick: string | null
  /** This sync removed the member from the guild (on_access_lost kick). */
  kicked: boolean
  error: Failure | null
}

export interface GuildOutcome {
  result: SyncGuildResult
  members: MemberOutcome[]
}

/**
 * A member kept for the apply phase: what re-planning it needs, nothing more (not its link
 * record, not its plan, which is recomputed from these in microseconds). With 10% of a 100k
 * guild to change, candidates are the largest thing a run keeps alive.
 */
export interface Candidate extends MemberView {
  /** The host user of the member's link; null when the member is not linked. */
  userId: string | null
  user: UserContext | null
  /** Where the member stood on access when planned (member-plan.ts); the apply phase keeps it. */
  access: AccessState
  /** `roles` (and nick) were read a moment ago (named-user mode): no re-read needed before writing. */
  fresh: boolean
}

/** Who a change or an error is about, as the audit log and the run's errors name it. */
export interface MemberRef {
  guild_id: string
  discord_user_id: string
  user_id: string | null
}

export function emptyGuildResult (guildId: string): SyncGuildResult {
  return {
    guild_id: guildId,
    status: 'completed',
    members_scanned: 0,
    members_to_change: 0,
    members_to_join: 0,
    planned_changes: 0,
    blocked_changes: 0,
    roles_added: 0,
    roles_removed: 0,
    members_failed: 0,
    reason: null
  }
}

/** Keeps only the changes of `only` roles, recomputing the role list to write. */
export function restrictPlan (plan: RolePlan, current: readonly string[], only: ReadonlySet<string>): RolePlan {
  const add = plan.add.filter((c) => only.has(c.role_id))
  const remove = plan.remove.filter((c) => only.has(c.role_id))
  const blocked = plan.blocked.filter((c) => only.has(c.role_id))
  if (add.length === plan.add.length && remove.length === plan.remove.length) return { ...plan, blocked }
  const removed = new Set(remove.map((c) => c.role_id))
  const desired = [...new Set(current)].filter((r) => !removed.has(r))
  for (const c of add) desired.push(c.role_id)
  return { add, remove, blocked, desired_roles: desired, changed: add.length > 0 || remove.length > 0 }
}

const MAX_ROLE_REFRESHES = 2

export class GuildContext {
  readonly deps: GuildSyncDeps
  readonly run: RunContext
  readonly req: GuildSyncRequest
  readonly guildId: string
  readonly result: SyncGuildResult
  readonly members: MemberOutcome[] = []
  readonly candidates: Candidate[] = []
  /** Users outside the guild to add (auto_join), planned and counted, sent in the apply phase (guild-join.ts). */
  readonly joins: JoinCandidate[] = []
  /** Aborted when the run is cancelled or the guild halted: every call in flight stops. */
  readonly signal: AbortSignal
  /** Mappings that changed at least one member (their sync counters are recorded). */
  readonly mappingsApplied = new Set<string>()
  readonly #halt = new AbortController()
  #halted: Failure | null = null
  #bot: DiscordBotClient | null = null
  #snapshot: RoleSnapshot | null = null
  #planner: GuildPlanner | null = null
  #refreshes = 0
  #refreshing: Promise<boolean> | null = null
  #positions: ReadonlyMap<string, number> = new Map()
  #template: CompiledTemplate | null = null
  #noGraceStoreReported = false
  /** The guild's on_access_lost and access_lost_grace. */
  readonly access: AccessPolicy

  constructor (deps: GuildSyncDeps, run: RunContext, req: GuildSyncRequest) {
    this.deps = deps
    this.run = run
    this.req = req
    this.guildId = req.guild.guild_id
    this.result = emptyGuildResult(this.guildId)
    this.signal = AbortSignal.any([run.signal, this.#halt.signal])
    this.access = accessPolicy(req.guild.settings)
    const source = req.guild.settings.nickname_template
    if (source !== null) {
      try {
        // Variables were checked when the guild was saved; one since dropped from the options just renders nothing.
        this.#template = compileTemplate(source, null)
      } catch (err) {
        run.error({ guild_id: this.guildId, error: `nicknames left alone: ${(err as Error).message}`, code: 'nickname_template' })
      }
    }
  }

  /** Why writes to the guild stopped; null while they may go on. */
  get halted (): Failure | null {
    return this.#halted
  }

  /** The guild's bot; null until `loadRoles` ran (the guild stopped before reaching Discord). */
  get botOrNull (): DiscordBotClient | null {
    return this.#bot
  }

  get bot (): DiscordBotClient {
    if (this.#bot === null) throw new Error('the guild roles were not loaded')
    return this.#bot
  }

  /** Reads the guild's roles (through the role cache) with `bot` and compiles the planner on them. */
  async loadRoles (bot: DiscordBotClient): Promise<RoleSnapshot> {
    this.#bot = bot
    // The roles and the bot's own member are read before anything else: a passing failure there
    // would otherwise fail the whole guild.
    this.#snapshot = await withReadRetries(() => this.deps.roleCache.get(this.guildId, bot, this.req.guild.bot_user_id, this.signal), this.signal)
    this.#compile()
    return this.#snapshot
  }

  #compile (): void {
    const snap = this.#snapshot as RoleSnapshot
    this.#planner = compileGuildPlan(
      { guild_id: this.guildId, remove_roles_on_leave: this.req.guild.settings.remove_roles_on_leave },
      snap.roles, snap.bot_top_position, this.req.mappings)
    this.#positions = new Map(snap.roles.map((r) => [r.id, r.position]))
  }

  /**
   * The member's plan: the planner's role changes (restricted to the run's roles for a mapping
   * run), the template's nickname, or what on_access_lost does once its grace is over.
   */
  plan (m: MemberView, user: UserContext | null, access: AccessState = 'ok'): MemberPlan {
    const snap = this.#snapshot as RoleSnapshot
    if (access === 'grace') return unchangedPlan(m.roles)
    if (access === 'act' && this.access.policy === 'none') return unchangedPlan(m.roles)
    if (access === 'act' && this.access.policy === 'kick') return this.req.onlyRoleIds === null ? kickPlan(m, snap, this.#positions) : unchangedPlan(m.roles)
    const plan = (this.#planner as GuildPlanner)({ discord_user_id: m.id, roles: m.roles }, user)
    if (this.req.onlyRoleIds !== null) return restrictPlan(plan, m.roles, this.req.onlyRoleIds)
    return withNickname(plan, m, user, this.#template, snap, this.#positions)
  }

  /** The plan the candidate was kept for (the roles it was listed or read with). */
  planned (c: Candidate): MemberPlan {
    return this.plan(c, c.user, c.access)
  }

  /**
   * No active link, or a provider answer that entitles the member to no managed role. The owner
   * and other bots never lose access: Discord would refuse to kick the owner, and bots are
   * integrations, not people who linked.
   */
  lostAccess (m: MemberView, user: UserContext | null): boolean {
    if (m.bot || m.id === (this.#snapshot as RoleSnapshot).owner_id) return false
    if (user === null) return true
    const granted = (this.#planner as GuildPlanner)({ discord_user_id: m.id, roles: [] }, user)
    return granted.add.length === 0 && granted.blocked.length === 0
  }

  /** A grace is set but the store cannot keep its clock: reported once per guild and run. */
  noGraceStore (): void {
    if (this.#noGraceStoreReported) return
    this.#noGraceStoreReported = true
    this.run.error({ guild_id: this.guildId, error: 'access_lost_grace is set but the store keeps no access-loss records: members without access are left alone', code: 'no_access_loss_store' })
  }

  /** 10011: a mapped role vanished. Fetch the roles again and re-plan (a bounded number of times per guild). */
  async refreshRoles (): Promise<boolean> {
    if (this.#refreshing !== null) return await this.#refreshing
    if (this.#refreshes >= MAX_ROLE_REFRESHES) return false
    this.#refreshes++
    this.#refreshing = (async () => {
      try {
        await this.deps.roleCache.invalidate(this.guildId)
        this.#snapshot = await this.deps.roleCache.refresh(this.guildId, this.bot, this.req.guild.bot_user_id, this.signal)
        this.#compile()
        return true
      } catch {
        return false
      } finally {
        this.#refreshing = null
      }
    })()
    return await this.#refreshing
  }

  ref (discordUserId: string, userId: string | null): MemberRef {
    return { guild_id: this.guildId, discord_user_id: discordUserId, user_id: userId }
  }

  /** Keeps the member's outcome when the request collects them. */
  collect (id: string, userId: string | null, o: Partial<Omit<MemberOutcome, 'discord_user_id' | 'user_id'>>): void {
    if (!this.req.collect) return
    const after = o.roles_after === undefined || o.roles_after === null ? null : o.roles_after.filter((r) => r !== this.guildId)
    this.members.push({
      discord_user_id: id,
      user_id: userId,
      in_guild: o.in_guild ?? true,
      applied: o.applied ?? [],
      blocked: o.blocked ?? [],
      held: o.held ?? [],
      roles_after: after,
      nick: o.nick ?? null,
      kicked: o.kicked ?? false,
      error: o.error ?? null
    })
  }

  memberFailed (id: string, userId: string | null, f: Failure, changes: readonly AuditChange[]): void {
    const ref = this.ref(id, userId)
    this.run.audit(ref, changes, 'failed', f.code)
    this.result.members_failed++
    this.run.results.users_failed++
    this.run.error({ ...ref, error: f.message, code: f.code })
    this.collect(id, userId, { error: f })
  }

  failGuild (reason: string, code: string): void {
    this.result.status = 'failed'
    this.result.reason = reason
    this.run.error({ guild_id: this.guildId, error: reason, code })
  }

  /** Stops the guild's work in flight (it ran out of time); unlike a halt, the guild's health is not judged. */
  cancel (reason: string, code: string): void {
    this.#halt.abort(new SyncAbortError(reason))
    this.failGuild(reason, code)
  }

  /** Stops every further write to the guild (queued calls are aborted too) and marks it unhealthy. */
  async haltGuild (f: Failure): Promise<void> {
    if (this.#halted !== null) return
    this.#halted = f
    this.#halt.abort(new SyncAbortError('guild halted'))
    const reason = `writes to this guild stopped: ${f.message}`
    this.failGuild(reason, f.code)
    this.run.log.warn({ guild_id: this.guildId, run_id: this.run.id, code: f.code }, 'guild sync halted; guild marked unhealthy')
    await this.deps.roleCache.invalidate(this.guildId)
    await this.deps.store.updateGuild(this.guildId, { health_status: 'unhealthy', last_error: reason.slice(0, 500), last_health_check: this.run.now() })
      .catch(() => { /* the run record carries the reason anyway */ })
  }

  async markNotInGuild (discordUserId: string): Promise<void> {
    try {
      const link = await this.deps.store.getUserByDiscordId(discordUserId)
      if (link === null || !link.guilds.some((g) => g.id === this.guildId)) return
      await this.deps.store.updateUser(discordUserId, { guilds: link.guilds.filter((g) => g.id !== this.guildId) })
    } catch {
      // Bookkeeping only: the next sync finds the same answer.
    }
  }
}
