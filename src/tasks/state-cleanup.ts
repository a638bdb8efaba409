/*
 * OAuth states are created by anonymous callers and live until they expire or are used. They are
 * deleted on a schedule that runs whether or not sync is enabled (a login-only host stores states
 * too), and once when the server is ready, so what a crash or a burst left behind does not wait a
 * whole interval. MongoDB's TTL index would do it eventually; SQLite has nothing of the kind.
 */
import type { FastifyBaseLogger } from 'fastify'
import type { OAuthStateStore } from '../store/port/index.js'

export const STATE_CLEANUP_JOB_ID = 'fastify-discord-sync:oauth-state-cleanup'

export interface StateCleanupDeps {
  store: Pick<OAuthStateStore, 'purgeExpiredOAuthStates'>
  log: FastifyBaseLogger
  now?: () => Date
}

export class OAuthStateCleanupTask {
  readonly #d: StateCleanupDeps
  readonly #now: () => Date

  constructor (deps: StateCleanupDeps) {
    this.#d = deps
    this.#now = deps.now ?? (() => new Date())
  }

  /** Deletes expired and used states; returns how many. */
  async run (): Promise<number> {
    const purged = await this.#d.store.purgeExpiredOAuthStates(this.#now())
    if (purged > 0) this.#d.log.debug({ purged }, 'purged expired and used OAuth states')
    return purged
  }
}
