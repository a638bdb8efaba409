import {
  OAuthBrowserMismatchError,
  OAuthStateExpiredError,
  OAuthStateMismatchError,
  OAuthStateUnknownError,
  OAuthStateUsedError
} from '../errors.js'
import type { DiscordStore, OAuthFlow, OAuthStateRecord } from '../store/port/index.js'
import { generateState } from './flow.js'
import type { BrowserProof, StateObserver } from './oauth-types.js'
import type { StateBinding } from './state-binding.js'

/*
 * The OAuth `state` of a flow lives in the store, not in a cookie: single use (consumed
 * atomically), expiring, and carrying what the flow was started for (login or link, the user,
 * the allow-listed redirect, the scopes). These are the two halves @fastify/oauth2 calls through
 * its generateStateFunction / checkStateFunction (see discord-oauth2.ts).
 */

/** A validated flow start: what the state will remember. */
export interface PendingFlow {
  flow: OAuthFlow
  user_id: string | null
  redirect_url: string | null
  scopes: string[]
}

/** A state issued for a flow. */
export interface IssuedState {
  state: string
  expires_at: Date
}

/** What completing a flow requires of its state, besides being unused and unexpired. */
export interface ClaimContext {
  /** Told the state's redirect URL once the state is found (consumed, expired or used). */
  onState?: StateObserver | undefined
  /** GET /auth/callback: the browser must carry the state's binding cookie (`auth.bindStateToBrowser`). */
  browser?: BrowserProof | undefined
  /** POST /auth/link: only a link flow started by this user may complete. */
  expectLinkFor: string | null
}

export interface FlowStatesDeps {
  store: DiscordStore
  binding: StateBinding
  stateExpiryMs: number
  now: () => Date
}

export class FlowStates {
  readonly #d: FlowStatesDeps

  constructor (deps: FlowStatesDeps) {
    this.#d = deps
  }

  /** Stores a fresh single-use state for a flow; it expires after `stateExpiry`. */
  async issue (pending: PendingFlow): Promise<IssuedState> {
    const state = generateState()
    const expiresAt = new Date(this.#d.now().getTime() + this.#d.stateExpiryMs)
    await this.#d.store.createOAuthState({
      state,
      flow: pending.flow,
      user_id: pending.user_id,
      redirect_url: pending.redirect_url,
      scopes: pending.scopes,
      // A PKCE verifier (auth.pkce) is @fastify/oauth2's, kept in the starting browser's cookie.
      code_verifier: null,
      expires_at: expiresAt
    })
    return { state, expires_at: expiresAt }
  }

  /**
   * Consumes the state atomically, then checks the browser binding and the link owner: forged,
   * expired and reused states fail with distinct codes and write nothing, and a refused state
   * is spent all the same (checked after consuming, so it cannot be retried from elsewhere).
   */
  async claim (state: string, ctx: ClaimContext): Promise<OAuthStateRecord> {
    const result = await this.#d.store.consumeOAuthState(state, this.#d.now())
    if (!result.ok) {
      if (result.reason === 'not_found') throw new OAuthStateUnknownError()
      ctx.onState?.(result.redirect_url)
      throw result.reason === 'expired' ? new OAuthStateExpiredError() : new OAuthStateUsedError()
    }
    const record = result.record
    ctx.onState?.(record.redirect_url)
    const binding = this.#d.binding
    if (ctx.browser !== undefined && binding.enabled && !binding.matches(record.state, ctx.browser.bindingCookie)) {
      throw new OAuthBrowserMismatchError()
    }
    if (ctx.expectLinkFor !== null && (record.flow !== 'link' || record.user_id !== ctx.expectLinkFor)) {
      throw new OAuthStateMismatchError('it was not issued to start a link flow for the current user')
    }
    return record
  }
}
