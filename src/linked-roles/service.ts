import type { FastifyBaseLogger } from 'fastify'
import type { APIApplicationRoleConnectionMetadata, ApplicationRoleConnectionMetadataType, RESTPutAPICurrentUserApplicationRoleConnectionJSONBody } from 'discord-api-types/v10'
import { DiscordAPIError, DiscordAuthenticationError, DiscordPermissionError, DiscordTokenInvalidError, type DiscordBotClient, type DiscordRestClient } from '../discord/index.js'
import type { ResolvedLinkedRoleField, ResolvedLinkedRoles } from '../options/index.js'
import type { DiscordStore, DiscordUserRecord } from '../store/port/index.js'
import type { UserTokenSource } from '../sync/guild-context.js'
import { resolveContexts, type MembershipProvider } from '../sync/membership.js'
import type { SyncMetrics } from '../sync/metrics.js'
import type { UserContext } from '../sync/types.js'
import { PushQueue } from './push-queue.js'

/*
 * Linked Roles (docs/application-role-connection-metadata.mdx, user.mdx): the alternative to
 * bot-managed roles. The application's metadata records are registered with the application's
 * bot token (a GET, and a PUT only when they differ), and each linked user's role connection
 * carries their values, computed from the membership provider, so a guild can require e.g.
 * `member = true` on a role in its own settings.
 *
 * Values are pushed with the user's token (scope role_connections.write) on link, after each sync
 * of the user, and for every linked member a real guild sync resolved (the engine hands over the
 * provider answers it read anyway), only when they changed: what was last pushed is remembered
 * per account in this process, and an account not seen since start is compared with what Discord
 * holds (one GET) before anything is written, so a restart or a second instance sends no
 * duplicate. Pushes go out a few at a time (push-queue.ts). On unlink the user's connection is
 * deleted (DELETE, docs/user.mdx) while their token still works, before it is revoked.
 *
 * The bot token: `linkedRoles.botToken` when given; otherwise the stored bot token of a configured
 * guild whose bot belongs to the application (the one Discord lets read the application's
 * metadata: another application's bot is refused), found when registering and kept in memory.
 */

export const ROLE_CONNECTIONS_SCOPE = 'role_connections.write'

/** Discord's limit on a stringified metadata value. */
const MAX_VALUE_LENGTH = 100
/** Accounts whose last push is remembered; past it the oldest are forgotten (they cost one GET next time). */
const REMEMBERED = 10_000
const INVALID_OAUTH_TOKEN = 50025
/** Pushes in flight at once: each is one user's token, so this bounds the calls a guild sync adds. */
const PUSH_CONCURRENCY = 4
/** An unlink waits this long at most for the connection's deletion. */
const UNLINK_TIMEOUT_MS = 10_000

export type PushOutcome = 'updated' | 'unchanged' | 'no_token' | 'no_entitlements' | 'not_registered' | 'failed'
export type UnlinkOutcome = 'deleted' | 'no_token' | 'failed'

export interface LinkedRolesDeps {
  options: ResolvedLinkedRoles
  applicationId: string
  client: DiscordRestClient
  store: DiscordStore
  membership: MembershipProvider | null
  tokens: UserTokenSource
  log: FastifyBaseLogger
  /** Counts pushes and deletions by outcome (`role_connection_pushes_total`). */
  metrics?: SyncMetrics | null
}

type Body = RESTPutAPICurrentUserApplicationRoleConnectionJSONBody

/** The records to register, in the order the option lists them. */
export function metadataRecords (fields: readonly ResolvedLinkedRoleField[]): APIApplicationRoleConnectionMetadata[] {
  return fields.map((f) => ({ type: f.type as ApplicationRoleConnectionMetadataType, key: f.key, name: f.name, description: f.description }))
}

function sameRecords (a: readonly APIApplicationRoleConnectionMetadata[], b: readonly APIApplicationRoleConnectionMetadata[]): boolean {
  const key = (r: APIApplicationRoleConnectionMetadata): string => JSON.stringify([r.key, r.type, r.name, r.description])
  return a.length === b.length && a.every((r, i) => key(r) === key(b[i] as APIApplicationRoleConnectionMetadata))
}

/** One field's value as Discord stores it (a string), or null when it is absent or not of the field's kind. */
function stringify (f: ResolvedLinkedRoleField, v: unknown): string | null {
  if (v === null || v === undefined) return null
  if (f.kind === 'boolean') return typeof v === 'boolean' ? (v ? '1' : '0') : null
  if (f.kind === 'integer') return typeof v === 'number' && Number.isSafeInteger(v) ? String(v) : null
  const date = v instanceof Date ? v : typeof v === 'string' ? new Date(v) : null
  return date === null || Number.isNaN(date.getTime()) ? null : date.toISOString()
}

/** What a connection holds, comparable as a string. */
function fingerprint (c: { platform_name?: string | null | undefined, metadata?: Record<string, string | number> | undefined }): string {
  return JSON.stringify([c.platform_name ?? null, Object.entries(c.metadata ?? {}).map(([k, v]) => [k, String(v)]).sort()])
}

/** A user token Discord no longer takes answers 401 (the bearer is the credential here) or 50025. */
function refusedToken (err: unknown): boolean {
  return err instanceof DiscordAuthenticationError || err instanceof DiscordTokenInvalidError || (err instanceof DiscordAPIError && err.discordCode === INVALID_OAUTH_TOKEN)
}

/** A link whose grant can write its role connection. */
function canPush (link: DiscordUserRecord): boolean {
  return link.is_active && !link.needs_reauth && link.scopes.includes(ROLE_CONNECTIONS_SCOPE)
}

export class LinkedRoles {
  readonly #d: LinkedRolesDeps
  readonly #pushed = new Map<string, string>()
  readonly #queued = new Map<string, Promise<void>>()
  readonly #queue: PushQueue<Body>
  /** The bot token found among the guilds' (no `linkedRoles.botToken`); stored tokens of other applications' bots. */
  #foundToken: string | null = null
  readonly #otherBots = new Set<string>()
  #registered = false
  #registering: Promise<boolean> | null = null
  /** Registration failed during this burst of pushes: the rest of it is not tried again (one attempt per burst). */
  #skipUntilIdle = false

  constructor (deps: LinkedRolesDeps) {
    this.#d = deps
    this.#queue = new PushQueue(PUSH_CONCURRENCY, async (discordUserId, body) => {
      const outcome = await this.#push(discordUserId, body)
      this.#d.metrics?.roleConnection('update', outcome)
    })
  }

  /**
   * Registers the metadata records unless Discord already holds exactly them. `no_bot_token`:
   * no option and no configured guild's bot belongs to the application yet (tried again before
   * the next push).
   */
  async register (): Promise<'updated' | 'unchanged' | 'no_bot_token'> {
    const found = await this.#appBot()
    if (found === null) return 'no_bot_token'
    const wanted = metadataRecords(this.#d.options.fields)
    if (sameRecords(found.current, wanted)) {
      this.#registered = true
      return 'unchanged'
    }
    await found.bot.updateRoleConnectionMetadata(this.#d.applicationId, wanted)
    this.#registered = true
    return 'updated'
  }

  /** The application's bot and the records Discord holds now. */
  async #appBot (): Promise<{ bot: DiscordBotClient, current: APIApplicationRoleConnectionMetadata[] } | null> {
    const own = this.#d.options.botToken ?? this.#foundToken
    if (own !== null) {
      const bot = this.#d.client.bot(own)
      return { bot, current: await bot.getRoleConnectionMetadata(this.#d.applicationId) }
    }
    for (const guild of await this.#d.store.listGuilds({})) {
      const token = await this.#d.store.getBotToken(guild.guild_id)
      if (token === null || this.#otherBots.has(token)) continue
      const bot = this.#d.client.bot(token)
      try {
        const current = await bot.getRoleConnectionMetadata(this.#d.applicationId)
        this.#foundToken = token
        return { bot, current }
      } catch (err) {
        // Another application's bot (403), or a token Discord no longer takes: not this one.
        if (!(err instanceof DiscordPermissionError || err instanceof DiscordAuthenticationError || err instanceof DiscordTokenInvalidError)) throw err
        this.#otherBots.add(token)
      }
    }
    return null
  }

  /** Registered (now or earlier): values may be pushed. A failure is logged; the next push tries again. */
  async #ready (): Promise<boolean> {
    if (this.#registered) return true
    this.#registering ??= this.register().then((r) => r !== 'no_bot_token').catch((err: unknown) => {
      this.#d.log.warn({ code: (err as { code?: unknown })?.code }, 'registering the linked roles metadata failed')
      return false
    }).finally(() => { this.#registering = null })
    return await this.#registering
  }

  /** The user's values, each checked against its field's kind and Discord's length limit (a bad one is left out and logged). */
  async values (user: UserContext): Promise<Record<string, string>> {
    const out: Record<string, string> = {}
    for (const f of this.#d.options.fields) {
      const raw = await f.value(user)
      const s = stringify(f, raw)
      if (s === null || s.length > MAX_VALUE_LENGTH) {
        if (raw !== null && raw !== undefined) this.#d.log.warn({ key: f.key, kind: f.kind }, 'a linked roles value is not of its field\'s type; it is left out')
        continue
      }
      out[f.key] = s
    }
    return out
  }

  async #body (user: UserContext): Promise<Body> {
    const body: Body = { metadata: await this.values(user) }
    if (this.#d.options.platformName !== null) body.platform_name = this.#d.options.platformName
    return body
  }

  /** Queues the values of every active link of the host user (on link, after a user sync). */
  async pushUser (userId: string): Promise<void> {
    const provider = this.#d.membership
    if (provider === null) return
    const links = (await this.#d.store.listUsersByUserId(userId)).filter(canPush)
    if (links.length === 0) return
    const ctx = (await resolveContexts(provider, [userId], 1)).get(userId)
    // Unknown entitlements: what Discord holds stays as it is.
    if (ctx === undefined || ctx instanceof Error) {
      for (let i = 0; i < links.length; i++) this.#d.metrics?.roleConnection('update', 'no_entitlements')
      return
    }
    const body = await this.#body(ctx)
    for (const link of links) this.#enqueue(link.discord_user_id, body)
  }

  /**
   * The entitlements a real sync run resolved for linked members (the engine's observer): the
   * values that differ from what was last pushed are queued. Failures are logged, never thrown.
   */
  pushMembers (members: ReadonlyArray<{ link: DiscordUserRecord, user: UserContext }>): void {
    const eligible = members.filter((m) => canPush(m.link))
    if (eligible.length === 0) return
    ;(async () => {
      for (const m of eligible) this.#enqueue(m.link.discord_user_id, await this.#body(m.user))
    })().catch((err: unknown) => {
      this.#d.log.warn({ code: (err as { code?: unknown })?.code }, 'computing linked roles values after a sync failed')
    })
  }

  #enqueue (discordUserId: string, body: Body): void {
    if (this.#pushed.get(discordUserId) === fingerprint(body)) {
      this.#d.metrics?.roleConnection('update', 'unchanged')
      return
    }
    this.#queue.add(discordUserId, body)
  }

  /**
   * On link and after a user's sync: failures are logged, never thrown. Pushes for one user run
   * one after another, so a link and the sync it starts never both compare against Discord at once.
   */
  pushUserSoon (userId: string): void {
    const run = (this.#queued.get(userId) ?? Promise.resolve()).then(async () => { await this.pushUser(userId) }).catch((err: unknown) => {
      this.#d.log.warn({ user_id: userId, code: (err as { code?: unknown })?.code }, 'pushing the linked roles connection failed')
    })
    this.#queued.set(userId, run)
    run.finally(() => { if (this.#queued.get(userId) === run) this.#queued.delete(userId) }).catch(() => {})
  }

  /** Resolves once every queued push is done (tests, shutdown). */
  async drained (): Promise<void> {
    await Promise.all([...this.#queued.values()])
    await this.#queue.drained()
  }

  /** Stops pushing: what waits is dropped, the pushes in flight end. */
  async close (): Promise<void> {
    await this.#queue.close()
  }

  /**
   * Unlink: deletes the user's role connection with their token, before the unlink revokes it
   * (afterwards nothing can remove the values, and Discord would keep granting the roles). Bounded
   * in time; never throws.
   */
  async unlink (discordUserId: string): Promise<UnlinkOutcome> {
    this.#queue.drop(discordUserId)
    this.#pushed.delete(discordUserId)
    const signal = AbortSignal.timeout(UNLINK_TIMEOUT_MS)
    const outcome = await this.#withToken(discordUserId, signal, async (token) => {
      await this.#d.client.user(token).deleteRoleConnection(this.#d.applicationId, { signal })
      return 'deleted' as const
    }).catch((err: unknown) => {
      this.#d.log.warn({ discord_user_id: discordUserId, code: (err as { code?: unknown })?.code }, 'deleting the linked roles connection on unlink failed')
      return 'failed' as const
    })
    this.#d.metrics?.roleConnection('delete', outcome)
    return outcome
  }

  /** Runs `call` with the user's token, refreshed once when Discord refuses it; `no_token` without a usable grant. */
  async #withToken<R> (discordUserId: string, signal: AbortSignal | undefined, call: (token: string) => Promise<R>): Promise<R | 'no_token'> {
    let token = await this.#d.tokens.access(discordUserId, ROLE_CONNECTIONS_SCOPE, signal)
    if (token === null) return 'no_token'
    for (let refreshed = false; ;) {
      try {
        return await call(token)
      } catch (err) {
        if (!refusedToken(err) || refreshed) throw err
        refreshed = true
        const next = await this.#d.tokens.refresh(discordUserId, signal).catch(() => null)
        if (next === null) throw err
        token = next
      }
    }
  }

  async #push (discordUserId: string, body: Body): Promise<PushOutcome> {
    const wanted = fingerprint(body)
    if (this.#pushed.get(discordUserId) === wanted) return 'unchanged'
    // Values for keys Discord does not know would be refused: register first (the bot token may have appeared since start).
    if (this.#skipUntilIdle) return 'not_registered'
    if (!await this.#ready()) {
      this.#skipUntilIdle = true
      this.#queue.drained().then(() => { this.#skipUntilIdle = false }).catch(() => {})
      return 'not_registered'
    }
    try {
      return await this.#withToken(discordUserId, undefined, async (token) => {
        const user = this.#d.client.user(token)
        if (!this.#pushed.has(discordUserId) && fingerprint(await user.getRoleConnection(this.#d.applicationId)) === wanted) {
          this.#remember(discordUserId, wanted)
          return 'unchanged' as const
        }
        await user.updateRoleConnection(this.#d.applicationId, body)
        this.#remember(discordUserId, wanted)
        return 'updated' as const
      })
    } catch (err) {
      this.#d.log.warn({ discord_user_id: discordUserId, code: (err as { code?: unknown })?.code }, 'Discord refused the linked roles connection update')
      return 'failed'
    }
  }

  #remember (discordUserId: string, wanted: string): void {
    this.#pushed.delete(discordUserId)
    this.#pushed.set(discordUserId, wanted)
    if (this.#pushed.size > REMEMBERED) this.#pushed.delete(this.#pushed.keys().next().value as string)
  }
}
