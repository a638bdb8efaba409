/** Who holds a lease, and until when. */
export interface LeaseRecord {
  name: string
  owner: string
  expires_at: Date
}

export interface ClaimLeaseOptions {
  replacing?: string
  now?: Date
}

/**
 * Named claims with an expiry, decided by the store so every instance sharing it agrees
 * (the `discord_leases` aggregate). Used to run each due guild sync once across instances,
 * and to keep a second process off a SQLite file it would otherwise write beside the first.
 *
 * Optional for a host's own store: without it, instances coordinate through the guild lock
 * alone (as before these leases existed).
 */
export interface LeaseStore {
  /**
   * Takes `name` for `owner` until now + `ttlMs`, atomically, when it is free, expired, already
   * `owner`'s (a renewal), or held by `opts.replacing` (a holder known to be dead). True when
   * taken. `opts.now` is the caller's clock (default: the store's), for callers that decide
   * "due" on a clock of their own.
   */
  claimLease (name: string, owner: string, ttlMs: number, opts?: ClaimLeaseOptions): Promise<boolean>
  /** Gives the lease up when `owner` holds it; true when it did. */
  releaseLease (name: string, owner: string): Promise<boolean>
  /** The current holder, or null when the lease is free or expired. */
  getLease (name: string): Promise<LeaseRecord | null>
}
