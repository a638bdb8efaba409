import { Type, type Static } from '@sinclair/typebox'
import { STATE_PATTERN } from '../auth/flow.js'
import type { CompletedFlow } from '../auth/oauth-types.js'

/*
 * OAuth2 login and linking, unlinking, the auth status and token refresh runs: request and
 * response schemas and the presenter of a completed flow.
 */

export const Scopes = Type.String({ minLength: 1, maxLength: 512, description: 'Scopes separated by spaces, commas or +; each must be allowed; must include identify. Default: discord.scopes' })
/** 512 characters: the URL is stored with every state an anonymous caller can create. */
export const RedirectUrl = Type.String({ minLength: 1, maxLength: 512, description: 'Where the browser goes after the callback; must match auth.redirectUrls on origin and path' })
export const State = Type.String({ pattern: STATE_PATTERN, description: 'The state returned by /auth/login or /auth/link (43 base64url characters)' })
export const Code = Type.String({ minLength: 1, maxLength: 512, description: 'Authorisation code from Discord' })

export const StartedFlow = Type.Object({
  auth_url: Type.String({ description: 'Discord authorize URL to send the browser to' }),
  state: Type.String(),
  expires_at: Type.String({ format: 'date-time' })
})

export const LinkedAccount = Type.Object({
  discord_user_id: Type.String(),
  username: Type.String(),
  global_name: Type.Union([Type.String(), Type.Null()]),
  avatar: Type.Union([Type.String(), Type.Null()]),
  scopes: Type.Array(Type.String()),
  guild_count: Type.Integer(),
  token_expires_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  has_tokens: Type.Boolean(),
  needs_reauth: Type.Boolean({ description: 'Discord refused the refresh token: the user must authorise again' }),
  linked_at: Type.String({ format: 'date-time' }),
  last_sync: Type.Union([Type.String({ format: 'date-time' }), Type.Null()])
})

export const CompletedFlowBody = Type.Object({
  success: Type.Literal(true),
  flow: Type.Union([Type.Literal('login'), Type.Literal('link')]),
  user_id: Type.String(),
  account: LinkedAccount,
  session_expires_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], { description: 'Login flow: expiry of the session cookie that was set' })
})

export const AuthStatusBody = Type.Union([
  Type.Object({ authenticated: Type.Literal(false) }),
  Type.Object({
    authenticated: Type.Literal(true),
    user_id: Type.String(),
    linked: Type.Boolean(),
    needs_reauth: Type.Boolean(),
    accounts: Type.Array(LinkedAccount)
  })
])

export const UnlinkBody = Type.Object({
  discord_user_id: Type.String(),
  user_id: Type.String(),
  unlinked: Type.Literal(true),
  token_revocation: Type.Union([Type.Literal('revoked'), Type.Literal('failed'), Type.Literal('no_tokens')]),
  tokens_deleted: Type.Boolean(),
  role_removal: Type.Object({
    queued: Type.Boolean(),
    sync_run_id: Type.Union([Type.String(), Type.Null()]),
    guild_ids: Type.Array(Type.String())
  })
})

export const TokenRefreshRun = Type.Object({
  status: Type.Union([Type.Literal('completed'), Type.Literal('skipped'), Type.Literal('failed')]),
  reason: Type.Union([Type.String(), Type.Null()], { description: 'Why the run was skipped or failed (another instance holds the lock, lock unavailable, lock lost...)' }),
  started_at: Type.String({ format: 'date-time' }),
  finished_at: Type.String({ format: 'date-time' }),
  duration_ms: Type.Integer(),
  candidates: Type.Integer({ description: 'Links whose access token expired within the threshold' }),
  refreshed: Type.Integer(),
  reauth_required: Type.Integer({ description: 'Discord answered invalid_grant: the link is now needs_reauth' }),
  failed: Type.Integer({ description: 'Other failures (Discord 5xx, timeouts...): retried next run' }),
  skipped: Type.Integer({ description: 'No refresh token, or relinked while the run refreshed it' }),
  errors: Type.Array(Type.Object({ discord_user_id: Type.String(), code: Type.String(), message: Type.String() }), { description: 'Per-link failures (at most 50 per run), never a token' })
})

export const TokenRefreshRuns = Type.Object({
  enabled: Type.Boolean({ description: 'The scheduled refresh runs on this instance (tokenRefresh.enabled and a Discord application)' }),
  running: Type.Boolean({ description: 'A run is in progress on this instance' }),
  runs: Type.Array(TokenRefreshRun, { description: 'Recorded runs of every instance, newest first' })
})

export const Redirect = Type.Null({ description: 'Redirect (Location header) to the redirect_url stored with the state; on failure with ?error=<FST_DISCORD_ code>' })

/** A completed flow as the JSON answer (the session token itself travels only as a cookie). */
export function completedBody (result: CompletedFlow): Static<typeof CompletedFlowBody> {
  return { success: true as const, flow: result.flow, user_id: result.user_id, account: result.account, session_expires_at: result.session?.expiresAt.toISOString() ?? null }
}
