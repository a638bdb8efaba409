import type { IncomingHttpHeaders } from 'node:http'
import type { DiscordAPIError } from '../errors/discord-api-error.js'
import type { DiscordRateLimitError } from '../errors/rate-limit-error.js'

/** One HTTP answer, body read in full. */
export interface RawResponse {
  status: number
  headers: IncomingHttpHeaders
  text: string
}

/** What one attempt ended with, for the transport's retry loop to act on. */
export type Outcome =
  | { kind: 'ok', value: unknown }
  | { kind: 'rateLimited', error: DiscordRateLimitError, final: boolean }
  | { kind: 'retry', error: DiscordAPIError, reason: 'server_error' | 'timeout' | 'network', status: number | undefined }

export function parseJson (text: string): { ok: true, value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text) }
  } catch {
    return { ok: false }
  }
}
