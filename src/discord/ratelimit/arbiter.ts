/**
 * The global arbiter of one bot token: Discord allows a bot 50 requests per second over every
 * route (interaction endpoints excepted), so every guild, task and process using the token has to
 * share that one budget. `DiscordRestClient` takes a slot from it before each request it sends
 * with the token; `client.globalArbiter(token)` hands it to code that has to pace work on the
 * same budget (the job workers) or send a request some other way.
 *
 * In-process it is a FIFO line in front of a sliding window plus pacing (see GlobalLimiter);
 * with Redis the window and the pacing live in Redis (one atomic script, keys named after a hash
 * of the token, never the token), and while Redis is down each process falls back to its share
 * in-process. A request waits for admission rather than failing; a global 429 Discord still sends
 * pauses the token for its `retry_after`, as before.
 */
export interface GlobalArbiter {
  /**
   * Waits until one more request of the token may be sent, and counts it. Rejects only when
   * `signal` aborts, the invalid-request guard has tripped, or a global 429's pause is longer than
   * the client's `maxRateLimitWaitMs`.
   */
  acquire (signal?: AbortSignal): Promise<void>
  /** Requests per second admitted at most: the budget less its safety margin (`globalOffsetMs`). */
  readonly requestsPerSecond: number
  /** Requests of this process waiting for a slot of the token right now. */
  waiting (): number
}
