/*
 * Webhook event bodies (docs/webhook-events.mdx "Payload Structure", "Event Body Object").
 */

/** "Webhook Types": 0 PING, 1 an event. */
export const WebhookType = { PING: 0, EVENT: 1 } as const

export interface WebhookEventBody {
  /** "Currently always 1". */
  version: 1
  application_id: string
  type: 0 | 1
  event?: { type: string, timestamp: string, data?: Record<string, unknown> }
}

export function pingBody (applicationId: string): WebhookEventBody {
  return { version: 1, application_id: applicationId, type: WebhookType.PING }
}

export function eventBody (applicationId: string, type: string, data: Record<string, unknown>, at: Date): WebhookEventBody {
  // The docs' examples show ISO 8601 without a zone ("2024-10-18T14:42:53.064834"); Date gives UTC with "Z".
  return { version: 1, application_id: applicationId, type: WebhookType.EVENT, event: { type, timestamp: at.toISOString(), data } }
}
