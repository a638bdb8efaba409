/*
 * Retention: sync run records and audit entries older than the configured retention (default
 * 90 days) are deleted on a schedule, so the history stays useful without growing forever.
 * Runs still pending or running are never pruned (the store only deletes finished ones).
 */
import type { FastifyBaseLogger } from 'fastify'
import type { DiscordStore } from '../store/port/index.js'

export const SYNC_CLEANUP_JOB_ID = 'fastify-discord-sync:sync-cleanup'

export interface SyncCleanupDeps {
  store: DiscordStore
  retentionMs: number
  log: FastifyBaseLogger
  now?: () => Date
}

export class SyncCleanupTask {
  readonly #d: SyncCleanupDeps
  readonly #now: () => Date

  constructor (deps: SyncCleanupDeps) {
    this.#d = deps
    this.#now = deps.now ?? (() => new Date())
  }

  async run (): Promise<{ runs: number, audit: number, before: Date }> {
    const before = new Date(this.#now().getTime() - this.#d.retentionMs)
    const runs = await this.#d.store.pruneSyncRuns(before)
    const audit = await this.#d.store.pruneAudit(before)
    if (runs + audit > 0) this.#d.log.info({ runs, audit, before: before.toISOString() }, 'pruned sync history past retention')
    return { runs, audit, before }
  }
}
