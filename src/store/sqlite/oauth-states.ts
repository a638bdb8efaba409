import { randomUUID } from 'node:crypto'
import type { ConsumeOAuthStateResult, CreateOAuthStateInput, OAuthStateRecord, OAuthStateStore } from '../port/index.js'
import { newOAuthStateFields } from '../records.js'
import type { SqliteContext } from './context.js'
import { bit, ms, toOAuthState, type Bit, type OAuthStateRow } from './rows.js'

/** Single-use OAuth states (discord_oauth_states). */
export class SqliteOAuthStates implements OAuthStateStore {
  readonly #ctx: SqliteContext

  constructor (ctx: SqliteContext) {
    this.#ctx = ctx
  }

  async createOAuthState (input: CreateOAuthStateInput): Promise<OAuthStateRecord> {
    return this.#ctx.run(() => {
      const state = newOAuthStateFields(input)
      // all(), not get(): a RETURNING statement read for one row is left unfinished, and then
      // the WAL is never restarted: it grew ~20 KB with every login until the process exited.
      const [row] = this.#ctx.all<OAuthStateRow>(`INSERT INTO discord_oauth_states (id, state, flow, user_id, redirect_url, scopes,
          code_verifier, created_at, expires_at, used)
        VALUES (@id, @state, @flow, @user_id, @redirect_url, @scopes, @code_verifier, @now, @expires_at, @used)
        RETURNING *`, {
        id: randomUUID(),
        ...state,
        scopes: JSON.stringify(state.scopes),
        now: Date.now(),
        expires_at: ms(state.expires_at),
        used: bit(state.used)
      })
      return toOAuthState(row as OAuthStateRow)
    })
  }

  async consumeOAuthState (state: string, now: Date = new Date()): Promise<ConsumeOAuthStateResult> {
    const t = ms(now)
    return this.#ctx.run(() => {
      // The claim is a single conditional UPDATE: whoever flips `used` wins, and the
      // expiry test is part of the same condition, so an expired state never comes back.
      const [row] = this.#ctx.all<OAuthStateRow>(
        'UPDATE discord_oauth_states SET used = 1 WHERE state = ? AND used = 0 AND expires_at > ? RETURNING *', [state, t]
      )
      if (row !== undefined) return { ok: true, record: toOAuthState(row) }
      const seen = this.#ctx.get<{ used: Bit, redirect_url: string | null }>('SELECT used, redirect_url FROM discord_oauth_states WHERE state = ?', [state])
      if (seen === undefined) return { ok: false, reason: 'not_found' }
      return { ok: false, reason: seen.used === 1 ? 'used' : 'expired', redirect_url: seen.redirect_url }
    })
  }

  async purgeExpiredOAuthStates (now: Date = new Date()): Promise<number> {
    // A used state is dead too: it can never be consumed again, and keeping it would let the
    // table grow with every completed flow until expiry.
    return this.#ctx.run(() => this.#ctx.exec('DELETE FROM discord_oauth_states WHERE expires_at <= ? OR used = 1', [ms(now)]))
  }
}
