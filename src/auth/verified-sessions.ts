import type { AuthUser } from './types.js'

/** How long a verification is reused at most, whatever the token's expiry (fast-jwt's cache default). */
const MAX_REUSE_MS = 600_000

interface Verified {
  user: AuthUser
  /** Reusable from (nbf) and until (exp, or MAX_REUSE_MS after verification), epoch ms. */
  from: number
  until: number
}

/**
 * Sessions verified recently, by token: every API request presents one, and re-verifying it
 * (fast-jwt hashes the token with SHA-256 for its own cache key, then checks the signature or
 * its cache) was a visible share of a cheap read's CPU time.
 *
 * Safe because a verification is a function of the token text, the signing key and the clock
 * only: an entry is served for the very same token text (a forged or altered token is another
 * key, verified in full), never past the token's `exp` nor before its `nbf`, and never longer
 * than MAX_REUSE_MS; failures are never cached. Used only with the plugin's own @fastify/jwt
 * (auth.jwtSecret), whose verifier has no other check (no clock tolerance, no maxAge). Bounded:
 * the oldest entry goes when a new one would exceed `max`. Callers get a copy of the user, so
 * no request can change what another one sees.
 */
export class VerifiedSessions {
  readonly #entries = new Map<string, Verified>()
  readonly #max: number
  readonly #now: () => number

  constructor (max = 1000, now: () => number = () => Date.now()) {
    this.#max = max
    this.#now = now
  }

  get size (): number {
    return this.#entries.size
  }

  /** The user this token verified as, while still within its validity; null otherwise. */
  get (token: string): AuthUser | null {
    const hit = this.#entries.get(token)
    if (hit === undefined) return null
    const now = this.#now()
    if (now > hit.until || now < hit.from) {
      if (now > hit.until) this.#entries.delete(token)
      return null
    }
    return { id: hit.user.id, permissions: [...hit.user.permissions], claims: hit.user.claims }
  }

  /** Records a successful verification of `token` (its claims carry `exp`, checked by the verifier). */
  set (token: string, user: AuthUser): void {
    const { exp, nbf } = user.claims
    if (typeof exp !== 'number') return
    const now = this.#now()
    if (this.#entries.size >= this.#max && !this.#entries.has(token)) {
      const oldest = this.#entries.keys().next()
      if (oldest.done !== true) this.#entries.delete(oldest.value)
    }
    this.#entries.set(token, {
      user: { id: user.id, permissions: [...user.permissions], claims: user.claims },
      from: typeof nbf === 'number' ? nbf * 1000 : 0,
      until: Math.min(now + MAX_REUSE_MS, exp * 1000)
    })
  }
}
