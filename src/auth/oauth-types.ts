import type { DiscordUserRecord, OAuthFlow } from '../store/port/index.js'

/*
 * What the OAuth flow takes and answers: inputs, the linked-account view and the outcomes of
 * completing, calling back and unlinking. Kept apart from OAuthService so routes and schemas can
 * name these shapes without importing the service.
 */

export interface StartFlowInput {
  redirect_url?: string | undefined
  scopes?: string | undefined
}

export interface CallbackInput {
  code?: string | undefined
  state: string
  error?: string | undefined
}

/** A linked Discord account as the API shows it: profile and token metadata, never a token. */
export interface LinkedAccount {
  discord_user_id: string
  username: string
  global_name: string | null
  avatar: string | null
  scopes: string[]
  guild_count: number
  token_expires_at: string | null
  has_tokens: boolean
  needs_reauth: boolean
  linked_at: string
  last_sync: string | null
}

export interface CompletedFlow {
  flow: OAuthFlow
  user_id: string
  account: LinkedAccount
  /** Where the browser goes next (from the state), or null for a JSON answer. */
  redirect_url: string | null
  /** Login flow only: the session to set as a cookie. Never serialised into a response body. */
  session: { token: string, expiresAt: Date } | null
}

/**
 * What GET /auth/callback does: the completed flow, or, when the flow failed after its state
 * named a redirect URL, that URL with `error=<stable FST_DISCORD_ code>` (never a message, a
 * Discord text or a secret). Failures before a redirect is known stay JSON errors.
 */
export type CallbackOutcome =
  | { ok: true, result: CompletedFlow }
  | { ok: false, code: string, redirect_url: string }

/** Told the redirect URL stored with the state, once the state is found (consumed, expired or used). */
export type StateObserver = (redirectUrl: string | null) => void

/**
 * What the browser at GET /auth/callback presented: its state binding cookie, if any. Passed only
 * by the callback; POST /auth/link completes a flow for the session that started it, which binds
 * it already (a browser-bound cookie would add nothing, and an API client has none).
 */
export interface BrowserProof {
  bindingCookie: string | undefined
  /** The PKCE verifier cookie (`auth.pkce`), handed to @fastify/oauth2 for the code exchange. */
  verifierCookie?: string | undefined
}

export type RevocationOutcome = 'revoked' | 'failed' | 'no_tokens'

export interface UnlinkResult {
  discord_user_id: string
  user_id: string
  unlinked: true
  token_revocation: RevocationOutcome
  tokens_deleted: boolean
  role_removal: { queued: boolean, sync_run_id: string | null, guild_ids: string[] }
}

export type AuthStatus =
  | { authenticated: false }
  | { authenticated: true, user_id: string, linked: boolean, needs_reauth: boolean, accounts: LinkedAccount[] }

export function toLinkedAccount (r: DiscordUserRecord): LinkedAccount {
  return {
    discord_user_id: r.discord_user_id,
    username: r.username,
    global_name: r.global_name,
    avatar: r.avatar,
    scopes: [...r.scopes],
    guild_count: r.guilds.length,
    token_expires_at: r.token_expires_at?.toISOString() ?? null,
    has_tokens: r.has_tokens,
    needs_reauth: r.needs_reauth,
    linked_at: r.created_at.toISOString(),
    last_sync: r.last_sync?.toISOString() ?? null
  }
}
