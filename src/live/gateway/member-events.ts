import type { FastifyBaseLogger } from 'fastify'
import pLimit, { type LimitFunction } from 'p-limit'
import type { DiscordSyncEvents } from '../../events.js'
import type { DiscordStore, GuildConfigRecord } from '../../store/port/index.js'
import type { SyncEngine } from '../../sync/engine.js'
import type { SyncMetrics } from '../../sync/metrics.js'
import type { EchoFilter } from './echo.js'

/*
 * What the plugin does with a guild's member and role events (docs/gateway-events.mdx "Guild
 * Member Add/Update/Remove", "Guild Role Update/Delete"). Joins and drifts go through the sync
 * engine for that one member, so the planner, the safety brake, dry runs, the read before every
 * write and the audit trail are exactly those of any run; only the trigger differs
 * (`join:<id>`, `drift:<id>`). Events of one member are handled in arrival order, never two at once.
 */

const SNOWFLAKE = /^\d{17,20}$/
/** Managed role ids per guild are re-read at most this often (mapping edits show within it). */
const MANAGED_TTL_MS = 5_000

export interface MemberEventsDeps {
  store: DiscordStore
  engine: SyncEngine
  echo: EchoFilter
  metrics: SyncMetrics
  events: DiscordSyncEvents
  log: FastifyBaseLogger
  /** Runs the guild's health check now (a mapped role was deleted or moved). */
  checkGuildHealth: (guild: GuildConfigRecord) => Promise<void>
  concurrency: number
}

interface MemberPayload {
  guild_id: string
  user: { id: string }
  roles: string[]
}

/** A member event's `d`, or null when it is not one (logged and skipped by the caller). */
export function parseMember (d: unknown): MemberPayload | null {
  if (typeof d !== 'object' || d === null) return null
  const m = d as { guild_id?: unknown, user?: { id?: unknown }, roles?: unknown }
  if (typeof m.guild_id !== 'string' || !SNOWFLAKE.test(m.guild_id)) return null
  if (typeof m.user !== 'object' || m.user === null || typeof m.user.id !== 'string' || !SNOWFLAKE.test(m.user.id)) return null
  if (m.roles !== undefined && (!Array.isArray(m.roles) || !m.roles.every((r) => typeof r === 'string' && SNOWFLAKE.test(r)))) return null
  return { guild_id: m.guild_id, user: { id: m.user.id }, roles: (m.roles ?? []) as string[] }
}

export class MemberEvents {
  readonly #d: MemberEventsDeps
  readonly #limit: LimitFunction
  /**
   * Managed roles each member was last seen with ("guild:user" → sorted ids), to tell drift from
   * unrelated edits. An unlinked member without managed roles is not kept (most of a large guild):
   * with nothing seen, such a member's next event reads its link again instead.
   */
  readonly #seen = new Map<string, string>()
  readonly #managed = new Map<string, { ids: Set<string>, at: number }>()
  readonly #chains = new Map<string, Promise<void>>()

  constructor (deps: MemberEventsDeps) {
    this.#d = deps
    this.#limit = pLimit(deps.concurrency)
  }

  /** Handles one member or role event of a configured guild; never throws. */
  async handle (guild: GuildConfigRecord, type: string, d: unknown): Promise<void> {
    if (type === 'GUILD_ROLE_UPDATE' || type === 'GUILD_ROLE_DELETE') return await this.#roleChanged(guild, type, d)
    const member = parseMember(d)
    if (member === null) return this.#invalid(type)
    const key = `${guild.guild_id}:${member.user.id}`
    const prev = this.#chains.get(key) ?? Promise.resolve()
    const next = prev.then(() => this.#limit(() => this.#member(guild, type, member))).catch((err: unknown) => {
      this.#d.log.warn({ guild_id: guild.guild_id, discord_user_id: member.user.id, event: type, code: (err as { code?: unknown })?.code, err: { message: (err as Error)?.message } }, 'handling a gateway member event failed')
    }).finally(() => { if (this.#chains.get(key) === next) this.#chains.delete(key) })
    this.#chains.set(key, next)
    await next
  }

  /** Forgets what was seen of a guild's members (its connection restarted without resuming, or it is no longer ours). */
  forgetGuild (guildId: string): void {
    for (const key of this.#seen.keys()) if (key.startsWith(`${guildId}:`)) this.#seen.delete(key)
    this.#managed.delete(guildId)
  }

  /** Forgets every guild's members (this instance stopped receiving events: leadership lost, closing). */
  forgetAll (): void {
    this.#seen.clear()
    this.#managed.clear()
  }

  /** How many members' managed roles are remembered (for tests and diagnostics). */
  get remembered (): number {
    return this.#seen.size
  }

  async #member (guild: GuildConfigRecord, type: string, m: MemberPayload): Promise<void> {
    if (type === 'GUILD_MEMBER_ADD') return await this.#joined(guild, m)
    if (type === 'GUILD_MEMBER_UPDATE') return await this.#updated(guild, m)
    if (type === 'GUILD_MEMBER_REMOVE') return await this.#removed(guild, m)
  }

  async #joined (guild: GuildConfigRecord, m: MemberPayload): Promise<void> {
    const id = m.user.id
    const managed = await this.#managedIds(guild.guild_id)
    const seen = managedKey(m.roles, managed)
    this.#d.events.emit('member.joined', { guild_id: guild.guild_id, discord_user_id: id })
    const link = await this.#d.store.getUserByDiscordId(id)
    if (seen !== '' || (link !== null && link.is_active)) this.#seen.set(`${guild.guild_id}:${id}`, seen)
    else this.#seen.delete(`${guild.guild_id}:${id}`)
    if (!guild.settings.sync_on_join || link === null || !link.is_active) {
      // Unlinked: nothing to grant; the scheduled sync applies the leave policy as always.
      this.#d.metrics.gatewayEvent('GUILD_MEMBER_ADD', 'ignored')
      return
    }
    const out = await this.#d.engine.syncMember(guild.guild_id, id, { initiatedBy: `join:${id}`, dryRun: false })
    this.#d.metrics.gatewayEvent('GUILD_MEMBER_ADD', 'handled')
    this.#d.log.info({ guild_id: guild.guild_id, discord_user_id: id, run_id: out.run_id, applied: out.applied, held: out.held }, 'member joined: roles applied')
  }

  async #updated (guild: GuildConfigRecord, m: MemberPayload): Promise<void> {
    const id = m.user.id
    const key = `${guild.guild_id}:${id}`
    const managed = await this.#managedIds(guild.guild_id)
    const now = managedKey(m.roles, managed)
    if (this.#d.echo.consume(guild.guild_id, id, m.roles, managed)) {
      this.#seen.set(key, now)
      this.#d.metrics.gatewayEvent('GUILD_MEMBER_UPDATE', 'echo')
      return
    }
    const before = this.#seen.get(key)
    // A nickname or an unmanaged role changed: nothing the plugin owns moved.
    if (before === now || (before === undefined && now === '' && await this.#unlinked(id))) {
      this.#d.metrics.gatewayEvent('GUILD_MEMBER_UPDATE', 'ignored')
      return
    }
    this.#seen.set(key, now)
    this.#d.events.emit('member.changed', { guild_id: guild.guild_id, discord_user_id: id, role_ids: [...m.roles] })
    const policy = guild.settings.drift_policy
    const out = await this.#d.engine.syncMember(guild.guild_id, id, { initiatedBy: `drift:${id}`, dryRun: policy === 'report' })
    this.#d.metrics.gatewayEvent('GUILD_MEMBER_UPDATE', 'handled')
    if (out.applied + out.held === 0) return
    this.#d.metrics.drift(policy)
    this.#d.log.info({ guild_id: guild.guild_id, discord_user_id: id, run_id: out.run_id, policy, changes: out.applied + out.held }, 'managed roles changed by hand')
  }

  async #removed (guild: GuildConfigRecord, m: MemberPayload): Promise<void> {
    const id = m.user.id
    this.#seen.delete(`${guild.guild_id}:${id}`)
    this.#d.echo.forget(guild.guild_id, id)
    this.#d.metrics.gatewayEvent('GUILD_MEMBER_REMOVE', 'handled')
    // Marked absent: user syncs skip the guild until the member is back (no write is tried).
    const link = await this.#d.store.getUserByDiscordId(id)
    if (link === null || !link.guilds.some((g) => g.id === guild.guild_id)) return
    await this.#d.store.updateUser(id, { guilds: link.guilds.filter((g) => g.id !== guild.guild_id) })
  }

  async #roleChanged (guild: GuildConfigRecord, type: string, d: unknown): Promise<void> {
    const roleId = type === 'GUILD_ROLE_DELETE' ? (d as { role_id?: unknown })?.role_id : (d as { role?: { id?: unknown } })?.role?.id
    if (typeof roleId !== 'string' || !SNOWFLAKE.test(roleId)) return this.#invalid(type)
    try {
      const mapped = (await this.#managedIds(guild.guild_id)).has(roleId)
      this.#managed.delete(guild.guild_id)
      await this.#d.engine.roleCache.invalidate(guild.guild_id)
      this.#d.metrics.gatewayEvent(type, mapped ? 'handled' : 'ignored')
      // Deleted, renamed or moved: whether the bot can still manage it shows in health now, not at the next check.
      if (mapped) await this.#d.checkGuildHealth(guild)
    } catch (err) {
      this.#d.log.warn({ guild_id: guild.guild_id, event: type, err: { message: (err as Error)?.message } }, 'handling a gateway role event failed')
    }
  }

  async #unlinked (discordUserId: string): Promise<boolean> {
    const link = await this.#d.store.getUserByDiscordId(discordUserId)
    return link === null || !link.is_active
  }

  async #managedIds (guildId: string): Promise<Set<string>> {
    const cached = this.#managed.get(guildId)
    if (cached !== undefined && Date.now() - cached.at < MANAGED_TTL_MS) return cached.ids
    const ids = new Set((await this.#d.store.listMappings({ guild_id: guildId, enabled: true })).map((x) => x.discord_role_id))
    this.#managed.set(guildId, { ids, at: Date.now() })
    return ids
  }

  #invalid (type: string): void {
    this.#d.metrics.gatewayEvent(type, 'invalid')
    this.#d.log.warn({ event: type }, 'malformed gateway event skipped')
  }
}

function managedKey (roles: readonly string[], managed: ReadonlySet<string>): string {
  return roles.filter((r) => managed.has(r)).sort().join(',')
}
