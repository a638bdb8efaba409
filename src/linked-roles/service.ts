import type { FastifyBaseLogger } from 'fastify'
import type { APIApplicationRoleConnectionMetadata, ApplicationRoleConnectionMetadataType, RESTPutAPICurrentUserApplicationRoleConnectionJSONBody } from 'discord-api-types/v10'
import { DiscordAPIError, DiscordAuthenticationError, DiscordTokenInvalidError, type DiscordRestClient } from '../discord/index.js'
import type { ResolvedLinkedRoleField, ResolvedLinkedRoles } from '../options/index.js'
import type { DiscordStore } from '../store/port/index.js'
import type { UserTokenSource } from '../sync/guild-context.js'
import { resolveContexts, type MembershipProvider } from '../sync/membership.js'
import type { UserContext } from '../sync/types.js'

/*
 * Linked Roles (docs/application-role-connection-metadata.mdx, user.mdx): the alternative to
 * bot-managed roles. The application's metadata records are registered once at start (a GET,
 * and a PUT only when they differ), and each linked user's role connection carries their values,
 * computed from the membership provider, so a guild can require e.g. `member = true` on a role in
 * its own settings. Values are pushed with the user's token (scope role_connections.write) on link
 * and after each sync of the user, only when they changed: what was last pushed is remembered per
 * account in this process, and an account not seen since start is compared with what Discord holds
 * (one GET) before anything is written, so a restart or a second instance sends no duplicate.
 */

export const ROLE_CONNECTIONS_SCOPE = 'role_connections.write'

/** Discord's limit on a stringified metadata value. */
const MAX_VALUE_LENGTH = 100
/** Accounts whose last push is remembered; past it the oldest are forgotten (they cost one GET next time). */
const REMEMBERED = 10_000
const INVALID_OAUTH_TOKEN = 50025

export type PushOutcome = 'updated' | 'unchanged' | 'no_token' | 'no_entitlements' | 'failed'

export interface LinkedRolesDeps {
  options: ResolvedLinkedRoles
  applicationId: string
  client: DiscordRestClient
  store: DiscordStore
  membership: MembershipProvider | null
  tokens: UserTokenSource
  log: FastifyBaseLogger
}

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

export class LinkedRoles {
  readonly #d: LinkedRolesDeps
  readonly #pushed = new Map<string, string>()
  readonly #queued = new Map<string, Promise<void>>()

  constructor (deps: LinkedRolesDeps) {
    this.#d = deps
  }

  /** Registers the metadata records unless Discord already holds exactly them. */
  async register (): Promise<'updated' | 'unchanged'> {
    const bot = this.#d.client.bot(this.#d.options.botToken)
    const wanted = metadataRecords(this.#d.options.fields)
    const current = await bot.getRoleConnectionMetadata(this.#d.applicationId)
    if (sameRecords(current, wanted)) return 'unchanged'
    await bot.updateRoleConnectionMetadata(this.#d.applicationId, wanted)
    return 'updated'
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

  /** Pushes the values of every active link of the host user; each link's outcome. */
  async pushUser (userId: string): Promise<PushOutcome[]> {
    const provider = this.#d.membership
    if (provider === null) return []
    const links = (await this.#d.store.listUsersByUserId(userId)).filter((l) => l.is_active)
    if (links.length === 0) return []
    const ctx = (await resolveContexts(provider, [userId], 1)).get(userId)
    // Unknown entitlements: what Discord holds stays as it is.
    if (ctx === undefined || ctx instanceof Error) return links.map(() => 'no_entitlements')
    const body: RESTPutAPICurrentUserApplicationRoleConnectionJSONBody = { metadata: await this.values(ctx) }
    if (this.#d.options.platformName !== null) body.platform_name = this.#d.options.platformName
    const out: PushOutcome[] = []
    for (const link of links) out.push(await this.#push(link.discord_user_id, body))
    return out
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

  async #push (discordUserId: string, body: RESTPutAPICurrentUserApplicationRoleConnectionJSONBody): Promise<PushOutcome> {
    const wanted = JSON.stringify([body.platform_name ?? null, Object.entries(body.metadata ?? {}).sort()])
    if (this.#pushed.get(discordUserId) === wanted) return 'unchanged'
    let token = await this.#d.tokens.access(discordUserId, ROLE_CONNECTIONS_SCOPE)
    if (token === null) return 'no_token'
    for (let refreshed = false; ;) {
      try {
        const user = this.#d.client.user(token)
        if (!this.#pushed.has(discordUserId)) {
          const held = await user.getRoleConnection(this.#d.applicationId)
          if (JSON.stringify([held.platform_name ?? null, Object.entries(held.metadata ?? {}).sort()]) === wanted) {
            this.#remember(discordUserId, wanted)
            return 'unchanged'
          }
        }
        await user.updateRoleConnection(this.#d.applicationId, body)
        this.#remember(discordUserId, wanted)
        return 'updated'
      } catch (err) {
        // A user token Discord no longer takes answers 401 (the bearer is the credential here).
        const refused = err instanceof DiscordAuthenticationError || err instanceof DiscordTokenInvalidError || (err instanceof DiscordAPIError && err.discordCode === INVALID_OAUTH_TOKEN)
        if (refused && !refreshed) {
          refreshed = true
          const next = await this.#d.tokens.refresh(discordUserId).catch(() => null)
          if (next !== null) {
            token = next
            continue
          }
        }
        this.#d.log.warn({ discord_user_id: discordUserId, code: (err as { code?: unknown })?.code }, 'Discord refused the linked roles connection update')
        return 'failed'
      }
    }
  }

  #remember (discordUserId: string, wanted: string): void {
    this.#pushed.delete(discordUserId)
    this.#pushed.set(discordUserId, wanted)
    if (this.#pushed.size > REMEMBERED) this.#pushed.delete(this.#pushed.keys().next().value as string)
  }
}
