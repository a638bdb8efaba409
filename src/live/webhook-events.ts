import type { KeyObject } from 'node:crypto'
import type { FastifyBaseLogger } from 'fastify'
import { DiscordNotConfiguredError, ValidationError, WebhookSignatureError } from '../errors.js'
import type { DiscordSyncEvents } from '../events.js'
import type { DiscordStore } from '../store/port/index.js'
import { verifyWebhook, type SignedRequest } from './webhook-signature.js'

/*
 * Discord's Webhook Events (docs/webhook-events.mdx): a PING when the URL is saved, then signed
 * events. The one this plugin acts on is APPLICATION_DEAUTHORIZED: the user revoked the app in
 * their Discord settings, so their tokens are dead and their link must go, with the managed roles
 * it gave them. Everything else is acknowledged and ignored, as Discord asks (204 within 3 s).
 */

/** Discord sends the request at once; five minutes covers clock skew, not a replay. */
export const WEBHOOK_MAX_SKEW_MS = 5 * 60_000
/** Discord's payloads are small; anything larger is refused before it is read. */
export const WEBHOOK_BODY_LIMIT = 64 * 1024

const SNOWFLAKE = /^\d{17,20}$/

export interface WebhookEventsDeps {
  store: DiscordStore
  events: DiscordSyncEvents
  log: FastifyBaseLogger
  /** The application's public key; null when `discord.publicKey` is not set (the route answers 503). */
  key: KeyObject | null
  /** The application id events must name (`discord.clientId`). */
  applicationId: string | null
  now?: () => number
}

export type WebhookOutcome = 'ping' | 'deauthorized' | 'ignored'

export class WebhookEvents {
  readonly #d: WebhookEventsDeps
  readonly #now: () => number

  constructor (deps: WebhookEventsDeps) {
    this.#d = deps
    this.#now = deps.now ?? Date.now
  }

  /** Verifies, parses and handles one request. Throws 401 / 400 / 503 errors with stable codes. */
  async receive (req: SignedRequest): Promise<WebhookOutcome> {
    if (this.#d.key === null) throw new DiscordNotConfiguredError('set discord.publicKey (the application public key) to receive Webhook Events')
    const verdict = verifyWebhook(this.#d.key, req, this.#now(), WEBHOOK_MAX_SKEW_MS)
    if (verdict === 'missing_headers') throw new WebhookSignatureError('X-Signature-Ed25519 and X-Signature-Timestamp are required')
    if (verdict === 'bad_signature') throw new WebhookSignatureError('the signature does not verify')
    if (verdict === 'stale') throw new WebhookSignatureError('the timestamp is more than five minutes away')
    // Only a request Discord signed is parsed: an attacker's body is never even read as JSON.
    const payload = parse(req.body)
    if (payload.type === 0) return 'ping'
    if (this.#d.applicationId !== null && payload.application_id !== this.#d.applicationId) {
      this.#d.log.warn({ application_id: payload.application_id }, 'webhook event for another application ignored')
      return 'ignored'
    }
    if (payload.event?.type !== 'APPLICATION_DEAUTHORIZED') return 'ignored'
    const userId = deauthorizedUserId(payload.event.data)
    await this.deauthorize(userId)
    return 'deauthorized'
  }

  /**
   * The user revoked the app: their tokens are already dead at Discord, so nothing is revoked;
   * the tokens and the link are deleted, and `account.unlinked` starts the removal of the roles
   * this plugin manages (run initiated by `deauthorized:<host user id>`). Unknown users: nothing.
   */
  async deauthorize (discordUserId: string): Promise<boolean> {
    const { store, events, log } = this.#d
    const link = await store.getUserByDiscordId(discordUserId)
    if (link === null) return false
    if (link.has_tokens) await store.setUserTokens(discordUserId, null)
    await store.deleteUser(discordUserId)
    log.info({ discord_user_id: discordUserId, user_id: link.user_id }, 'discord account deauthorized the application: link removed')
    events.emit('access.lost', { discord_user_id: discordUserId, reason: 'deauthorized' })
    events.emit('account.unlinked', {
      user_id: link.user_id,
      discord_user_id: discordUserId,
      initiated_by: `deauthorized:${link.user_id}`,
      role_removal: { queued: false, sync_run_id: null, guild_ids: [] }
    })
    return true
  }
}

interface WebhookPayload {
  type: 0 | 1
  application_id?: unknown
  event?: { type?: unknown, data?: unknown }
}

function parse (body: Buffer): WebhookPayload {
  let value: unknown
  try {
    value = JSON.parse(body.toString('utf8'))
  } catch {
    throw new ValidationError('the webhook body is not valid JSON')
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ValidationError('the webhook body must be a JSON object')
  const p = value as Record<string, unknown>
  if (p.type !== 0 && p.type !== 1) throw new ValidationError('the webhook type must be 0 (PING) or 1 (event)')
  if (p.type === 1 && (typeof p.event !== 'object' || p.event === null)) throw new ValidationError('a webhook event must carry an event object')
  return p as unknown as WebhookPayload
}

function deauthorizedUserId (data: unknown): string {
  const id = (data as { user?: { id?: unknown } } | undefined)?.user?.id
  if (typeof id !== 'string' || !SNOWFLAKE.test(id)) throw new ValidationError('APPLICATION_DEAUTHORIZED must name the user (data.user.id, a snowflake)')
  return id
}
