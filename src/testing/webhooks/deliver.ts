import type { KeyObject } from 'node:crypto'
import { signPayload } from './keys.js'
import type { WebhookEventBody } from './payloads.js'

/*
 * POSTing a webhook event to an app's Webhook Events URL, signed as docs/webhook-events.mdx
 * "Validating Security Request Headers" describes: X-Signature-Ed25519 and X-Signature-Timestamp.
 */

/** How to sign one delivery: normally, or wrongly on purpose (Discord's routine checks send invalid signatures). */
export type SignatureMode = 'valid' | 'invalid' | { signature: string }

export interface DeliverOptions {
  signature?: SignatureMode
  /** X-Signature-Timestamp (default: now, in Unix seconds). */
  timestamp?: string
  /** Raw body to send instead of the JSON of the payload (malformed-body tests). */
  rawBody?: string
  /** Abort the POST after this many real ms (default 3000, the docs' time to acknowledge). */
  timeoutMs?: number
}

/** One POST to the events URL and how the app answered. */
export interface WebhookDelivery {
  url: string
  /** The raw body sent. */
  body: string
  /** The event body, parsed (null when `rawBody` was not JSON). */
  payload: WebhookEventBody | null
  timestamp: string
  signature: string
  /** The app's HTTP status; 0 when the request failed or timed out. */
  status: number
  responseBody: string
  error?: string
}

export async function deliver (url: string, key: KeyObject, body: WebhookEventBody, options: DeliverOptions = {}): Promise<WebhookDelivery> {
  const raw = options.rawBody ?? JSON.stringify(body)
  // Not stated in the shared docs: Unix seconds, the form Discord's signing examples read.
  const timestamp = options.timestamp ?? String(Math.floor(Date.now() / 1000))
  const mode = options.signature ?? 'valid'
  const valid = signPayload(key, timestamp, raw)
  // 'invalid': a well-formed signature over something else, so only a real verification rejects it.
  const signature = mode === 'valid' ? valid : mode === 'invalid' ? signPayload(key, timestamp, `${raw} `) : mode.signature
  let parsed: WebhookEventBody | null = null
  try {
    parsed = JSON.parse(raw) as WebhookEventBody
  } catch {}
  const out: WebhookDelivery = { url, body: raw, payload: parsed, timestamp, signature, status: 0, responseBody: '' }
  try {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-signature-ed25519': signature, 'x-signature-timestamp': timestamp },
      body: raw,
      signal: AbortSignal.timeout(options.timeoutMs ?? 3000)
    })
    out.status = response.status
    out.responseBody = await response.text()
  } catch (error) {
    out.error = error instanceof Error ? error.message : String(error)
  }
  return out
}
