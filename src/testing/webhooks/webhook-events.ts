import type { SimulatorState } from '../state/simulator-state.js'
import { deliver, type DeliverOptions, type WebhookDelivery } from './deliver.js'
import { eventBody, pingBody } from './payloads.js'

/*
 * Webhook Events (docs/webhook-events.mdx): what the simulator POSTs to an app's events URL.
 * One attempt per event: the docs' retries with backoff for up to 10 minutes are not simulated.
 */

export interface DeauthorizeResult {
  /** How many authorizations (token sets) were revoked. */
  revoked: number
  /** The APPLICATION_DEAUTHORIZED delivery; null when the app has no events URL. */
  delivery: WebhookDelivery | null
}

/** `sim.webhooks`: send webhook events to apps and read what was sent. */
export interface SimulatorWebhooks {
  /** Every delivery so far, in order. */
  readonly deliveries: ReadonlyArray<WebhookDelivery>
  /** The app's Ed25519 public key in hex (also `state.getOAuthApp(id).verify_key`). */
  publicKey: (clientId?: string) => string
  /** POSTs a PING (`type: 0`), as Discord does when the URL is saved. */
  ping: (options?: DeliverOptions & { clientId?: string }) => Promise<WebhookDelivery>
  /** POSTs an event of any `type` with `data` (e.g. APPLICATION_AUTHORIZED). */
  send: (type: string, data: Record<string, unknown>, options?: DeliverOptions & { clientId?: string }) => Promise<WebhookDelivery>
  /**
   * The user removes the app: every token they gave it is revoked, then APPLICATION_DEAUTHORIZED
   * (`data: { user }`) is POSTed to the events URL, if one is set.
   */
  deauthorize: (userId: string, options?: DeliverOptions & { clientId?: string }) => Promise<DeauthorizeResult>
}

export class WebhookEvents implements SimulatorWebhooks {
  readonly deliveries: WebhookDelivery[] = []
  readonly #state: SimulatorState

  constructor (state: SimulatorState) {
    this.#state = state
  }

  /** The app meant: the given one, or the only one. */
  #app (clientId: string | undefined): { id: string, url: string | null } {
    const apps = [...this.#state.apps.values()]
    const app = clientId === undefined ? (apps.length === 1 ? apps[0] : undefined) : this.#state.getOAuthApp(clientId)
    if (app === undefined) {
      throw new Error(clientId === undefined ? `discord simulator: name the app (clientId): there are ${apps.length}` : `discord simulator: unknown OAuth app ${clientId}`)
    }
    return { id: app.client_id, url: app.event_webhooks_url }
  }

  #requireUrl (app: { id: string, url: string | null }): string {
    if (app.url === null) throw new Error(`discord simulator: app ${app.id} has no event_webhooks_url`)
    return app.url
  }

  publicKey (clientId?: string): string {
    return this.#state.getOAuthApp(this.#app(clientId).id)?.verify_key ?? ''
  }

  async ping (options: DeliverOptions & { clientId?: string } = {}): Promise<WebhookDelivery> {
    const app = this.#app(options.clientId)
    return this.#record(await deliver(this.#requireUrl(app), this.#state.signingKey(app.id), pingBody(app.id), options))
  }

  async send (type: string, data: Record<string, unknown>, options: DeliverOptions & { clientId?: string } = {}): Promise<WebhookDelivery> {
    const app = this.#app(options.clientId)
    return this.#record(await deliver(this.#requireUrl(app), this.#state.signingKey(app.id), eventBody(app.id, type, data, new Date()), options))
  }

  async deauthorize (userId: string, options: DeliverOptions & { clientId?: string } = {}): Promise<DeauthorizeResult> {
    const app = this.#app(options.clientId)
    const user = this.#state.getUser(userId)
    if (user === undefined) throw new Error(`discord simulator: unknown user ${userId}`)
    const revoked = this.#state.revokeUserAuthorizations(app.id, userId)
    if (app.url === null) return { revoked, delivery: null }
    const body = eventBody(app.id, 'APPLICATION_DEAUTHORIZED', { user: this.#state.apiUser(user) }, new Date())
    const delivery = this.#record(await deliver(app.url, this.#state.signingKey(app.id), body, options))
    return { revoked, delivery }
  }

  #record (delivery: WebhookDelivery): WebhookDelivery {
    this.deliveries.push(delivery)
    return delivery
  }
}
