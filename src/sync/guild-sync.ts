/*
 * Synchronising one guild within a run. Discord's rate limits are the bottleneck, not CPU, so
 * the shape of the work is chosen to spend as few calls as possible:
 *
 * 1. Plan. Either stream the whole member list in pages of 1000 (one call per page), or, for a
 *    few named users, read each member (GET member, a separate and faster bucket). Every member
 *    is planned with the pure planner; only members whose managed roles must change are kept,
 *    so memory grows with the changes, not with the guild.
 * 2. Brake. More planned changes than the guild's `max_role_changes_per_sync` write nothing
 *    (status blocked) unless the run says `force`: a misconfigured mapping must never strip
 *    roles from a whole guild silently.
 * 3. Apply. For each member to change: re-read it (unless it was read a moment ago) so a
 *    concurrent edit is not overwritten, re-plan on the fresh roles, and write once: PUT or
 *    DELETE for a single change, one PATCH with the full role list otherwise. Writes therefore
 *    equal the members whose roles actually change.
 *
 * Failures: 10007 on a member is recorded and the link kept (marked not in this guild); 10011
 * refreshes the role cache and re-plans the member once; 401, 50013, 50001 or 10004 halt every
 * further write to the guild at once (each would be another invalid request toward Discord's
 * ban) and mark it unhealthy; the run goes on with other guilds.
 */
import pLimit from 'p-limit'
import type { DiscordBotClient } from '../discord/bot.js'
import type { DiscordRestClient } from '../discord/client.js'
import type { FastifyBaseLogger } from 'fastify'
import type { DiscordStore, DiscordUserRecord, GuildConfigRecord, RoleMappingRecord, SyncGuildResult } from '../store/port/index.js'
import { classifyFailure, type Failure } from './discord-errors.js'
import { resolveContexts, type MembershipProvider } from './membership.js'
import { compileGuildPlan, managedRoleIds } from './planner.js'
import type { RoleCache, RoleSnapshot } from './role-cache.js'
import { SyncAbortError, type RunContext } from './run.js'
import type { GuildPlanner, PlannedChange, RolePlan, UserContext } from './types.js'

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
}

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
interface Candidate {
  id: string
  /** The host user of the member's link; null when the member is not linked. */
  userId: string | null
  user: UserContext | null
  /** The roles the member was planned on. */
  roles: readonly string[]
  /** `roles` were read a moment ago (named-user mode): no re-read needed before writing. */
  fresh: boolean
}

interface ListedMember {
  id: string
  roles: readonly string[]
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

/** `X-Audit-Log-Reason`: visible to the guild's moderators, so it names the plugin, run and mappings (never a secret). */
export function auditReason (runId: string, plan: RolePlan): string {
  const parts = [
    ...plan.add.map((c) => `+${c.role_name} (mapping ${c.mapping_id})`),
    ...plan.remove.map((c) => `-${c.role_name} (mapping ${c.mapping_id})`)
  ]
  // The client truncates to Discord's 512 URL-encoded characters.
  return `fastify-discord-sync role sync ${runId}: ${parts.join(', ')}`
}

const MAX_ROLE_REFRESHES = 2

/** The host's provider takes no signal: a cancelled run stops waiting for it (shutdown must not hang on it). */
async function abortable<T> (p: Promise<T>, signal: AbortSignal): Promise<T> {
  signal.throwIfAborted()
  let onAbort: () => void = () => {}
  const aborted = new Promise<never>((_resolve, reject) => {
    onAbort = () => reject(signal.reason)
    signal.addEventListener('abort', onAbort, { once: true })
  })
  try {
    return await Promise.race([p, aborted])
  } finally {
    signal.removeEventListener('abort', onAbort)
  }
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

export function emptyGuildResult (guildId: string): SyncGuildResult {
  return {
    guild_id: guildId,
    status: 'completed',
    members_scanned: 0,
    members_to_change: 0,
    planned_changes: 0,
    blocked_changes: 0,
    roles_added: 0,
    roles_removed: 0,
    members_failed: 0,
    reason: null
  }
}

export async function syncGuild (deps: GuildSyncDeps, run: RunContext, req: GuildSyncRequest): Promise<GuildOutcome> {
  return await new GuildSync(deps, run, req).execute()
}

class GuildSync {
  readonly #d: GuildSyncDeps
  readonly #run: RunContext
  readonly #req: GuildSyncRequest
  readonly #guildId: string
  readonly #result: SyncGuildResult
  readonly #members: MemberOutcome[] = []
  readonly #candidates: Candidate[] = []
  readonly #halt = new AbortController()
  readonly #signal: AbortSignal
  readonly #mappingsApplied = new Set<string>()
  #halted: Failure | null = null
  #bot: DiscordBotClient | null = null
  #snapshot: RoleSnapshot | null = null
  #planner: GuildPlanner | null = null
  #refreshes = 0
  #refreshing: Promise<boolean> | null = null

  constructor (deps: GuildSyncDeps, run: RunContext, req: GuildSyncRequest) {
    this.#d = deps
    this.#run = run
    this.#req = req
    this.#guildId = req.guild.guild_id
    this.#result = emptyGuildResult(this.#guildId)
    this.#signal = AbortSignal.any([run.signal, this.#halt.signal])
  }

  async execute (): Promise<GuildOutcome> {
    this.#run.progress.current_guild_id = this.#guildId
    try {
      await this.#execute()
    } catch (err) {
      const f = classifyFailure(err)
      if (f.kind === 'guild_fatal') await this.#haltGuild(f)
      else this.#failGuild(f.kind === 'aborted' ? 'the run was cancelled' : f.message, f.code)
    }
    const r = this.#run.results
    r.guilds_processed++
    r.guilds.push(this.#result)
    this.#run.progress.guilds_done++
    if (!this.#run.dryRun && this.#mappingsApplied.size > 0) {
      await this.#d.store.recordMappingSync([...this.#mappingsApplied], this.#run.now()).catch((err: unknown) => {
        this.#run.log.warn({ guild_id: this.#guildId, code: (err as { code?: unknown }).code }, 'recording mapping sync counters failed')
      })
    }
    await this.#postSummary()
    return { result: this.#result, members: this.#members }
  }

  #failGuild (reason: string, code: string): void {
    this.#result.status = 'failed'
    this.#result.reason = reason
    this.#run.error({ guild_id: this.#guildId, error: reason, code })
  }

  async #execute (): Promise<void> {
    const { store, client } = this.#d
    const guild = this.#req.guild
    const token = await store.getBotToken(this.#guildId)
    if (token === null) return this.#failGuild('the guild has no bot token', 'no_bot_token')
    if (client.isTokenLocked(token)) {
      return await this.#haltGuild({ kind: 'guild_fatal', code: '401', message: 'Discord rejected this guild\'s bot token (401); set a new token to resume syncing' })
    }
    const managed = managedRoleIds(this.#req.mappings, this.#guildId)
    if (managed.size === 0) {
      this.#result.reason = 'no enabled role mappings: nothing is managed in this guild'
      return
    }
    this.#bot = client.bot(token)
    this.#snapshot = await this.#d.roleCache.get(this.#guildId, this.#bot, guild.bot_user_id, this.#signal)
    if (!this.#snapshot.can_manage_roles) {
      const f: Failure = { kind: 'guild_fatal', code: '50013', message: 'the bot lacks the Manage Roles permission in this guild' }
      // A dry run still shows the plan; a real run must not send writes that can only fail.
      if (!this.#run.dryRun) return await this.#haltGuild(f)
      this.#result.reason = `${f.message}: nothing could be applied`
    }
    this.#compile()

    this.#run.progress.phase = 'planning'
    if (this.#req.discordIds === null) {
      const botId = this.#snapshot.bot_user_id
      for await (const page of this.#bot.listGuildMembers(this.#guildId, { signal: this.#signal })) {
        const members: ListedMember[] = []
        for (const m of page) {
          // The bot's own roles are never synced: changing them could cost it its hierarchy.
          if (m.user.id !== botId) members.push({ id: m.user.id, roles: m.roles })
        }
        await this.#planMembers(members, false)
      }
    } else {
      await this.#planMembers(await this.#readNamed(this.#req.discordIds), true)
    }
    if (this.#halted !== null) return

    if (this.#run.dryRun) {
      const max = guild.settings.max_role_changes_per_sync
      if (!this.#run.force && this.#result.planned_changes > max) {
        this.#result.reason = `${this.#result.planned_changes} planned role changes exceed max_role_changes_per_sync (${max}): a real run would be blocked unless forced`
      }
      return
    }
    if (this.#brake()) return
    this.#run.progress.phase = 'applying'
    await drain(this.#candidates, this.#d.workers, (c) => this.#apply(c))
  }

  #compile (): void {
    const snap = this.#snapshot as RoleSnapshot
    this.#planner = compileGuildPlan(
      { guild_id: this.#guildId, remove_roles_on_leave: this.#req.guild.settings.remove_roles_on_leave },
      snap.roles, snap.bot_top_position, this.#req.mappings)
  }

  #plan (id: string, roles: readonly string[], user: UserContext | null): RolePlan {
    const plan = (this.#planner as GuildPlanner)({ discord_user_id: id, roles }, user)
    return this.#req.onlyRoleIds === null ? plan : restrictPlan(plan, roles, this.#req.onlyRoleIds)
  }

  /** Named-user mode: GET each member. Not being in the guild is normal here (user syncs try every guild). */
  async #readNamed (ids: readonly string[]): Promise<ListedMember[]> {
    const out: ListedMember[] = []
    const bot = this.#bot as DiscordBotClient
    const limit = pLimit(this.#d.workers)
    await Promise.all(ids.map((id) => limit(async () => {
      if (this.#halted !== null) return
      try {
        const m = await bot.getGuildMember(this.#guildId, id, { signal: this.#signal })
        out.push({ id, roles: m.roles })
      } catch (err) {
        const f = classifyFailure(err)
        if (f.kind === 'unknown_member') {
          if (this.#req.collect) this.#members.push(this.#outcome(id, null, { in_guild: false }))
          await this.#markNotInGuild(id)
        } else if (f.kind === 'guild_fatal') {
          await this.#haltGuild(f)
        } else if (f.kind !== 'aborted') {
          this.#memberFailed(id, null, f, [])
        }
      }
    })))
    return out
  }

  async #planMembers (members: ListedMember[], fresh: boolean): Promise<void> {
    if (members.length === 0) return
    const links = new Map<string, DiscordUserRecord>()
    // An inactive link is treated as no link: the host switched it off.
    for (const l of await this.#d.store.listUsersByDiscordIds(members.map((m) => m.id))) if (l.is_active) links.set(l.discord_user_id, l)
    const provider = this.#d.membership
    const contexts = links.size === 0 || provider === null
      ? new Map()
      : await abortable(resolveContexts(provider, [...links.values()].map((l) => l.user_id), this.#d.workers), this.#signal)
    const results = this.#run.results
    for (const m of members) {
      this.#result.members_scanned++
      results.users_processed++
      this.#run.progress.members_scanned++
      const link = links.get(m.id) ?? null
      let user: UserContext | null = null
      if (link !== null) {
        const c = contexts.get(link.user_id)
        if (c === undefined || c instanceof Error) {
          const failure: Failure = c === undefined
            ? { kind: 'transient', code: 'membership_unavailable', message: 'no membership provider is configured' }
            : { kind: 'transient', code: c.code, message: c.message }
          // Unknown entitlements: the member keeps every role it has.
          this.#memberFailed(m.id, link.user_id, failure, [])
          continue
        }
        user = c
      }
      const userId = link?.user_id ?? null
      const plan = this.#plan(m.id, m.roles, user)
      const base = this.#base(m.id, userId)
      if (plan.blocked.length > 0) {
        this.#result.blocked_changes += plan.blocked.length
        this.#run.audit(base, plan.blocked, 'blocked', (c) => c.status)
      }
      if (!plan.changed) {
        results.users_synced++
        if (this.#req.collect) this.#members.push(this.#outcome(m.id, userId, { blocked: plan.blocked, roles_after: plan.desired_roles }))
        continue
      }
      const n = plan.add.length + plan.remove.length
      this.#result.members_to_change++
      this.#result.planned_changes += n
      this.#run.progress.members_to_change++
      if (this.#run.dryRun) {
        this.#run.audit(base, [...plan.add, ...plan.remove], 'dry_run', null)
        if (this.#req.collect) this.#members.push(this.#outcome(m.id, userId, { blocked: plan.blocked, held: [...plan.add, ...plan.remove], roles_after: [...m.roles] }))
        continue
      }
      this.#candidates.push({ id: m.id, userId, user, roles: m.roles, fresh })
    }
  }

  /** The safety brake. True when it held the guild back. */
  #brake (): boolean {
    const max = this.#req.guild.settings.max_role_changes_per_sync
    const planned = this.#result.planned_changes
    if (this.#run.force || planned <= max) return false
    const reason = `${planned} planned role changes for ${this.#result.members_to_change} members exceed max_role_changes_per_sync (${max}): nothing was written. Review them with a dry run, then run again with force: true to apply them.`
    this.#result.status = 'blocked'
    this.#result.reason = reason
    this.#run.error({ guild_id: this.#guildId, error: reason, code: 'brake' })
    for (const c of this.#candidates) {
      const plan = this.#planned(c)
      const changes = [...plan.add, ...plan.remove]
      this.#run.audit(this.#base(c.id, c.userId), changes, 'blocked', 'brake')
      if (this.#req.collect) this.#members.push(this.#outcome(c.id, c.userId, { blocked: plan.blocked, held: changes, roles_after: c.fresh ? [...c.roles] : null }))
    }
    this.#candidates.length = 0
    return true
  }

  /** The plan the member was kept for (the roles it was listed or read with). */
  #planned (c: Candidate): RolePlan {
    return this.#plan(c.id, c.roles, c.user)
  }

  async #apply (c: Candidate): Promise<void> {
    const bot = this.#bot as DiscordBotClient
    if (this.#halted !== null) return this.#skip(c, this.#planned(c))
    let roles = c.roles
    if (!c.fresh) {
      try {
        roles = (await bot.getGuildMember(this.#guildId, c.id, { signal: this.#signal })).roles
      } catch (err) {
        return await this.#failed(c, classifyFailure(err), this.#planned(c))
      }
    }
    for (let attempt = 0; ; attempt++) {
      if (this.#halted !== null) return this.#skip(c, this.#planned(c))
      const plan = this.#plan(c.id, roles, c.user)
      if (!plan.changed) {
        // Someone (or something) already made the member right since the listing.
        this.#run.results.users_synced++
        if (this.#req.collect) this.#members.push(this.#outcome(c.id, c.userId, { blocked: plan.blocked, roles_after: plan.desired_roles }))
        return
      }
      try {
        await this.#write(bot, c.id, plan)
      } catch (err) {
        const f = classifyFailure(err)
        if (f.kind === 'unknown_role' && attempt === 0 && await this.#refreshRoles()) continue
        return await this.#failed(c, f, plan)
      }
      this.#applied(c, plan)
      return
    }
  }

  async #write (bot: DiscordBotClient, userId: string, plan: RolePlan): Promise<void> {
    const options = { reason: auditReason(this.#run.id, plan), signal: this.#signal }
    if (plan.add.length + plan.remove.length === 1) {
      // One change: the role endpoints need no role list, so no stale list can be written.
      const c = (plan.add[0] ?? plan.remove[0]) as PlannedChange
      if (c.action === 'add') await bot.addMemberRole(this.#guildId, userId, c.role_id, options)
      else await bot.removeMemberRole(this.#guildId, userId, c.role_id, options)
    } else {
      await bot.setMemberRoles(this.#guildId, userId, plan.desired_roles, options)
    }
  }

  #applied (c: Candidate, plan: RolePlan): void {
    const r = this.#run.results
    const changes = [...plan.add, ...plan.remove]
    this.#run.audit(this.#base(c.id, c.userId), changes, 'applied', null)
    this.#result.roles_added += plan.add.length
    this.#result.roles_removed += plan.remove.length
    r.roles_added += plan.add.length
    r.roles_removed += plan.remove.length
    r.users_synced++
    this.#run.progress.members_applied++
    for (const ch of changes) this.#mappingsApplied.add(ch.mapping_id)
    if (this.#req.collect) this.#members.push(this.#outcome(c.id, c.userId, { applied: changes, blocked: plan.blocked, roles_after: plan.desired_roles }))
    if (c.userId !== null) {
      this.#d.store.updateUser(c.id, { last_sync: this.#run.now() }).catch(() => { /* bookkeeping only */ })
    }
  }

  async #failed (c: Candidate, f: Failure, plan: RolePlan): Promise<void> {
    const changes = [...plan.add, ...plan.remove]
    const base = this.#base(c.id, c.userId)
    if (f.kind === 'aborted') return this.#skip(c, plan)
    if (f.kind === 'unknown_member') {
      // The member left between planning and writing: recorded, not a failure; the link stays.
      this.#run.audit(base, changes, 'failed', f.code)
      this.#run.error({ ...base, error: 'the member is no longer in the guild (10007 Unknown Member); the link is kept and marked not in this guild', code: f.code })
      if (this.#req.collect) this.#members.push(this.#outcome(c.id, c.userId, { in_guild: false }))
      await this.#markNotInGuild(c.id)
      return
    }
    if (f.kind === 'guild_fatal') await this.#haltGuild(f)
    this.#memberFailed(c.id, c.userId, f, changes)
  }

  #base (discordUserId: string, userId: string | null): { guild_id: string, discord_user_id: string, user_id: string | null } {
    return { guild_id: this.#guildId, discord_user_id: discordUserId, user_id: userId }
  }

  #memberFailed (id: string, userId: string | null, f: Failure, changes: PlannedChange[]): void {
    const base = this.#base(id, userId)
    this.#run.audit(base, changes, 'failed', f.code)
    this.#result.members_failed++
    this.#run.results.users_failed++
    this.#run.error({ ...base, error: f.message, code: f.code })
    if (this.#req.collect) this.#members.push(this.#outcome(id, userId, { error: f }))
  }

  #skip (c: Candidate, plan: RolePlan): void {
    const changes = [...plan.add, ...plan.remove]
    const code = this.#halted !== null ? 'guild_halted' : 'aborted'
    this.#run.audit(this.#base(c.id, c.userId), changes, 'skipped', code)
    const message = this.#halted !== null ? `not attempted: writes to this guild stopped (${this.#halted.message})` : 'not attempted: the run was cancelled'
    if (this.#req.collect) this.#members.push(this.#outcome(c.id, c.userId, { error: { kind: 'aborted', code, message }, held: changes }))
  }

  /** Stops every further write to the guild (queued calls are aborted too) and marks it unhealthy. */
  async #haltGuild (f: Failure): Promise<void> {
    if (this.#halted !== null) return
    this.#halted = f
    this.#halt.abort(new SyncAbortError('guild halted'))
    const reason = `writes to this guild stopped: ${f.message}`
    this.#failGuild(reason, f.code)
    this.#run.log.warn({ guild_id: this.#guildId, run_id: this.#run.id, code: f.code }, 'guild sync halted; guild marked unhealthy')
    await this.#d.roleCache.invalidate(this.#guildId)
    await this.#d.store.updateGuild(this.#guildId, { health_status: 'unhealthy', last_error: reason.slice(0, 500), last_health_check: this.#run.now() })
      .catch(() => { /* the run record carries the reason anyway */ })
  }

  /** 10011: a mapped role vanished. Fetch the roles again and re-plan (a bounded number of times per guild). */
  async #refreshRoles (): Promise<boolean> {
    if (this.#refreshing !== null) return await this.#refreshing
    if (this.#refreshes >= MAX_ROLE_REFRESHES) return false
    this.#refreshes++
    this.#refreshing = (async () => {
      try {
        await this.#d.roleCache.invalidate(this.#guildId)
        this.#snapshot = await this.#d.roleCache.refresh(this.#guildId, this.#bot as DiscordBotClient, this.#req.guild.bot_user_id, this.#signal)
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

  async #markNotInGuild (discordUserId: string): Promise<void> {
    try {
      const link = await this.#d.store.getUserByDiscordId(discordUserId)
      if (link === null || !link.guilds.some((g) => g.id === this.#guildId)) return
      await this.#d.store.updateUser(discordUserId, { guilds: link.guilds.filter((g) => g.id !== this.#guildId) })
    } catch {
      // Bookkeeping only: the next sync finds the same answer.
    }
  }

  #outcome (id: string, userId: string | null, o: Partial<Omit<MemberOutcome, 'discord_user_id' | 'user_id'>>): MemberOutcome {
    const after = o.roles_after === undefined || o.roles_after === null ? null : o.roles_after.filter((r) => r !== this.#guildId)
    return {
      discord_user_id: id,
      user_id: userId,
      in_guild: o.in_guild ?? true,
      applied: o.applied ?? [],
      blocked: o.blocked ?? [],
      held: o.held ?? [],
      roles_after: after,
      error: o.error ?? null
    }
  }

  /** A short summary in the guild's audit channel. Never fails the run: a refusal is logged. */
  async #postSummary (): Promise<void> {
    const channelId = this.#req.guild.settings.audit_channel_id
    const r = this.#result
    if (!this.#d.auditChannel || channelId === null || this.#run.dryRun || this.#bot === null) return
    if (r.roles_added + r.roles_removed + r.members_failed === 0 && r.status !== 'blocked') return
    if (this.#halted?.code === '401') return
    const parts = [`${r.roles_added} role(s) added`, `${r.roles_removed} removed`]
    if (r.members_failed > 0) parts.push(`${r.members_failed} member(s) failed`)
    if (r.blocked_changes > 0) parts.push(`${r.blocked_changes} change(s) the bot may not make`)
    const head = r.status === 'blocked' ? 'Role sync held back by the safety brake' : r.status === 'failed' ? 'Role sync stopped' : 'Role sync completed'
    const content = `**${head}** (run \`${this.#run.id}\`, ${this.#run.record.sync_type}): ${parts.join(', ')}.${r.reason !== null ? `\n${r.reason}` : ''}`.slice(0, 2000)
    try {
      // allowed_mentions empty: role names in the text must never ping anyone.
      await this.#bot.createMessage(channelId, { content, allowed_mentions: { parse: [] } }, { signal: this.#run.signal })
    } catch (err) {
      const f = classifyFailure(err)
      this.#run.log.warn({ guild_id: this.#guildId, channel_id: channelId, code: f.code }, 'posting the sync summary to the audit channel failed')
    }
  }
}
