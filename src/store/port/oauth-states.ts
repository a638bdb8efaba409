export type OAuthFlow = 'login' | 'link'

export interface OAuthStateRecord {
  id: string
  state: string
  flow: OAuthFlow
  user_id: string | null
  redirect_url: string | null
  scopes: string[]
  /** PKCE verifier; kept with the state, consumed with it. */
  code_verifier: string | null
  created_at: Date
  expires_at: Date
  used: boolean
}

export interface CreateOAuthStateInput {
  state: string
  flow: OAuthFlow
  user_id?: string | null
  redirect_url?: string | null
  scopes: string[]
  code_verifier?: string | null
  expires_at: Date
}

/**
 * Why a state could not be consumed. `not_found` covers forged states and states
 * already purged after expiry; `expired` and `used` are reported while the record exists,
 * with the redirect URL it was issued with, so a browser can be sent back to the app
 * that started the flow (the URL passed the allow-list when the state was created).
 */
export type ConsumeOAuthStateResult =
  | { ok: true, record: OAuthStateRecord }
  | { ok: false, reason: 'not_found' }
  | { ok: false, reason: 'expired' | 'used', redirect_url: string | null }

/** Single-use OAuth2 `state` values with their PKCE verifiers (the `discord_oauth_states` aggregate). */
export interface OAuthStateStore {
  /** Unique on `state` (conflict on reuse of a value). */
  createOAuthState (input: CreateOAuthStateInput): Promise<OAuthStateRecord>
  /**
   * Atomically marks the state used and returns it. Exactly one of any number of
   * concurrent calls for the same state succeeds. An expired state is never returned.
   */
  consumeOAuthState (state: string, now?: Date): Promise<ConsumeOAuthStateResult>
  /**
   * Deletes states that expired at or before `now`, and states already used (they can never be
   * consumed again); returns how many. A purged state is `not_found` from then on.
   */
  purgeExpiredOAuthStates (now?: Date): Promise<number>
}
