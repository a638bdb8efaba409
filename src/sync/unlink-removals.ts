/*
 * Unlink removals: a Discord account that is no longer linked loses its managed roles in every
 * enabled guild whose remove_roles_on_leave is on (planning it as unlinked does exactly that;
 * the planner leaves the member alone elsewhere, so those guilds are not even asked). An
 * unlink queues a pending run (sync_type user, target = the Discord id) so the removal
 * survives a restart; it is claimed here, by exactly one instance, and executed.
 */
import type { DiscordStore, SyncRunRecord } from '../store/port/index.js'
import { MAX_PAGE_SIZE } from '../store/port/index.js'
import type { Scope, SyncRunner } from './runner.js'

/** `initiated_by` of the pending runs an unlink queues. */
export const UNLINK_INITIATOR_PREFIX = 'unlink:'

export interface UnlinkRemovalsDeps {
  store: DiscordStore
  runner: SyncRunner
  now: () => Date
  /** False while removals must wait: no membership provider (no role is managed) or shutting down. */
  accepting: () => boolean
}

export class UnlinkRemovals {
  readonly #d: UnlinkRemovalsDeps
  /** Pending runs claimed by this instance, so a tick never starts one twice. */
  readonly #claimed = new Set<string>()

  constructor (deps: UnlinkRemovalsDeps) {
    this.#d = deps
  }

  async #scope (targetId: string | null, discordUserId: string): Promise<Scope> {
    // Guilds where losing the link does something: on_access_lost kick, or remove_roles with remove_roles_on_leave.
    const guilds = (await this.#d.store.listGuilds({ enabled: true }))
      .filter((g) => g.settings.on_access_lost === 'kick' || (g.settings.on_access_lost === 'remove_roles' && g.settings.remove_roles_on_leave))
    return { syncType: 'user', targetId, guilds, discordIds: [discordUserId], onlyRoleIds: null, lockKey: null, lockEachGuild: false, collect: false }
  }

  /** Claims and executes one pending removal; null when the run is not a pending unlink removal (any more). */
  async run (runId: string): Promise<SyncRunRecord | null> {
    const pending = await this.#d.store.getSyncRun(runId)
    if (pending === null) return null
    const claimed = await this.#claim(pending)
    return claimed === null ? null : await claimed.done
  }

  /** Removes the managed roles of `discordUserId` now, without a queued run (the caller checked it may run). */
  async removeNow (discordUserId: string, initiatedBy: string): Promise<{ run: SyncRunRecord, done: Promise<SyncRunRecord> }> {
    const record = await this.#d.store.createSyncRun({ sync_type: 'user', target_id: discordUserId, status: 'running', started_at: this.#d.now(), initiated_by: initiatedBy })
    const scope = await this.#scope(discordUserId, discordUserId)
    return { run: record, done: this.#d.runner.launch(record, scope, []) }
  }

  /** Claims and starts every pending unlink removal; returns how many started. */
  async processPending (): Promise<number> {
    let started = 0
    // Page after page: a claimed run is no longer pending, so each listing brings the next ones.
    // Stopping at one page would leave the rest to the start-up stale sweep, which fails them.
    for (;;) {
      const pending = await this.#d.store.listSyncRuns({ status: 'pending', limit: MAX_PAGE_SIZE })
      let claimed = 0
      for (const r of pending) {
        if (await this.#claim(r) !== null) claimed++
      }
      started += claimed
      if (pending.length < MAX_PAGE_SIZE || claimed === 0) return started
    }
  }

  /** Marks a pending unlink run running (fresh heartbeat, so a stale sweep spares it) and launches it. */
  async #claim (r: SyncRunRecord): Promise<{ done: Promise<SyncRunRecord> } | null> {
    // Without a provider the plugin manages no roles at all: the removal waits until one is configured.
    if (!this.#d.accepting()) return null
    if (r.status !== 'pending' || r.target_id === null || !r.initiated_by.startsWith(UNLINK_INITIATOR_PREFIX)) return null
    if (this.#claimed.has(r.id) || this.#d.runner.isActive(r.id)) return null
    this.#claimed.add(r.id)
    try {
      const now = this.#d.now()
      const claimed = await this.#d.store.updateSyncRun(r.id, { status: 'running', started_at: now, heartbeat_at: now })
      if (claimed === null) return null
      const scope = await this.#scope(claimed.target_id, r.target_id)
      // Wrapped: an async function returning the promise itself would wait for the whole run.
      return { done: this.#d.runner.launch(claimed, scope, []) }
    } finally {
      this.#claimed.delete(r.id)
    }
  }
}
