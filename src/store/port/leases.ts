/** Who holds a lease, and until when. */
export interface LeaseRecord {
  name: string
  owner: string
  expires_at: Date
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
   * `owner`'s (a renewal), or held by `replacing` (a holder known to be dead). True when taken.
   */
  claimLease (name: string, owner: string, ttlMs: number, replacing?: string): Promise<boolean>
  /** Gives the lease up when `owner` holds it; true when it did. */
  releaseLease (name: string, owner: string): Promise<boolean>
  /** The current holder, or null when the lease is free or expired. */
  getLease (name: string): Promise<LeaseRecord | null>
}
