import type { Credential } from './credential.js'

/*
 * The request shapes shared by the client, its transport and the API views. They live apart
 * from all three so that the views and the transport can name them without importing the
 * client that composes them.
 */

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'

/** How a request made with `client.request()` authenticates. */
export type RequestAuth =
  | { type: 'Bot', token: string }
  | { type: 'Bearer', token: string }
  | { type: 'None' }

/** Options common to every call. */
export interface CallOptions {
  /** Aborts the call, including any rate-limit wait. */
  signal?: AbortSignal
}

/** Options of calls that write and accept an audit-log reason. */
export interface WriteOptions extends CallOptions {
  /** Sent as `X-Audit-Log-Reason` (URL-encoded, truncated to 512 encoded characters). */
  reason?: string
  /**
   * False: a write whose outcome is unknown (timed out, or the connection failed after it may have
   * been sent) is not sent again; the DiscordTimeoutError / DiscordNetworkError reaches the caller,
   * who can read what Discord holds first (the sync engine does). Default true: retried with backoff.
   */
  resendUnknownOutcome?: boolean
}

/** A low-level request. */
export interface RestRequest extends WriteOptions {
  method: HttpMethod
  /** Path below the base URL, e.g. `/guilds/123`; its route template and top-level id are derived from it. */
  path: string
  query?: Record<string, string | number | boolean | undefined>
  /** JSON body. */
  body?: unknown
  /** `application/x-www-form-urlencoded` body (OAuth2 endpoints). */
  form?: Record<string, string>
}

/** @internal A request as the views hand it to the transport. */
export interface InternalRequest extends RestRequest {
  credential: Credential
  /** Map `{ error }` bodies to `DiscordOAuthError`. */
  oauth?: boolean
}

/** @internal What the views call: the transport, bound to one credential. */
export type Send = <T>(request: Omit<InternalRequest, 'credential'>) => Promise<T>
