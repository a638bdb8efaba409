/**
 * When each member of a guild was first seen without access (the `discord_access_loss`
 * aggregate), so `access_lost_grace` can be honoured across runs, restarts and instances: a
 * guild's `on_access_lost` acts only once a member has been without access for the grace.
 *
 * Optional for a host's own store: without it a guild with a grace above 0 never acts on lost
 * access (the run records why), rather than acting at once.
 */
export interface AccessLossStore {
  /**
   * Records that these members of the guild are without access at `now`: a member not yet
   * recorded gets `lost_since = now`, one already recorded keeps its `lost_since`; every one gets
   * `seen_at = now`. Returns each member's `lost_since`.
   */
  markAccessLost (guildId: string, discordUserIds: readonly string[], now: Date): Promise<Map<string, Date>>
  /** Each of these members' `lost_since`, without recording anything (dry runs). */
  listAccessLost (guildId: string, discordUserIds: readonly string[]): Promise<Map<string, Date>>
  /** Forgets these members (access back, or they were kicked). */
  clearAccessLost (guildId: string, discordUserIds: readonly string[]): Promise<void>
  /** Forgets the guild's members not seen since `seenBefore` (they left the guild); returns how many. */
  sweepAccessLost (guildId: string, seenBefore: Date): Promise<number>
}
