/*
 * Runs whose instance died, and who may start a run on a lock key.
 *
 * A run renews its lock and writes its heartbeat on every heartbeat; when its instance dies both
 * stop, but they lapse on two clocks: the lock after `sync.lockTtl` from its last renewal, the
 * record after `sync.staleAfter` from its last heartbeat (written just after the renewal, and
 * the two options may differ). So a free lock is not a free guild: a run record still "running"
 * on the key and not yet stale is a dead instance's run not yet found dead, or a live run that
 * stalled past its lock (it takes the lock again on its next heartbeat). Starting then would put
 * two running runs on one guild, and nothing would ever sweep the dead one if no scheduler tick
 * ran. `claimant` therefore counts such a record as holding the key, and sweeps the stale ones
 * first, so a caller that backs off starts once the dead run is recorded as interrupted.
 */
import { MAX_PAGE_SIZE, type ListSyncRunsQuery, type SyncRunRecord, type SyncRunStore } from '../store/port/index.js'
import { lockKeys, type SyncLocks } from './locks.js'
import { reconcileInFlight, type ReconcileDeps } from './reconcile.js'

export interface StaleRunsDeps extends ReconcileDeps {
  locks: SyncLocks
  /** True for a run executing in this instance (never stale, whatever its stored heartbeat). */
  isActive: (runId: string) => boolean
  now: () => Date
  staleAfterMs: number
}

export class StaleRuns {
  readonly #d: StaleRunsDeps

  constructor (deps: StaleRunsDeps) {
    this.#d = deps
  }

  #staleBefore (): Date {
    return new Date(this.#d.now().getTime() - this.#d.staleAfterMs)
  }

  #isStale (r: SyncRunRecord, before: Date): boolean {
    return !this.#d.isActive(r.id) && (r.heartbeat_at ?? r.started_at ?? r.created_at) < before
  }

  /**
   * A run without a heartbeat for `sync.staleAfter` lost its instance (crash, SIGKILL). It is
   * marked failed (error code `stale`, "interrupted"), the writes it had in flight are audited
   * from what Discord holds (reconcile.ts), and the locks it held are freed. Returns how many.
   */
  async sweep (): Promise<number> {
    const before = this.#staleBefore()
    const dead = (await everyRun(this.#d.store, { status: 'running' })).filter((r) => this.#isStale(r, before))
    const failed = await this.#d.store.failStaleSyncRuns(before, `interrupted: no heartbeat since before ${before.toISOString()} (the instance running it stopped or crashed)`)
    for (const run of dead) {
      // A heartbeat that landed between the listing and the sweep kept its run alive: keep its lock too.
      const swept = await this.#d.store.getSyncRun(run.id)
      if (swept?.status !== 'failed') continue
      await reconcileInFlight(this.#d, swept)
      for (const key of await this.#lockKeysOf(run)) {
        await this.#d.locks.releaseHeldBy(key, run.id).catch(() => { /* it expires with its TTL anyway */ })
      }
    }
    if (failed > 0) this.#d.log.warn({ failed }, 'marked interrupted sync runs as failed')
    return failed
  }

  /**
   * The run that holds `key` (a guild's lock or the full-sync lock): the lock's holder, else a
   * running, not yet stale run whose record claims the key though its lock lapsed. Stale runs on
   * the key are swept first. Null when a run may start on the key.
   */
  async claimant (key: string): Promise<string | null> {
    let swept = false
    for (;;) {
      const holder = await this.#d.locks.holder(key)
      const before = this.#staleBefore()
      const claiming = (await this.#running(key)).filter((r) => r.id !== holder)
      const holderRun = holder === null ? null : await this.#d.store.getSyncRun(holder)
      const stale = [...claiming, ...(holderRun?.status === 'running' ? [holderRun] : [])].some((r) => this.#isStale(r, before))
      if (stale && !swept) {
        swept = true
        await this.sweep()
        continue
      }
      return holder ?? claiming[0]?.id ?? null
    }
  }

  /** The running records whose run-wide lock is `key` (a full run's per-guild locks come and go as it works). */
  async #running (key: string): Promise<SyncRunRecord[]> {
    const store = this.#d.store
    if (key === lockKeys.full) return await everyRun(store, { status: 'running', sync_type: 'full' })
    const guildId = key.slice(lockKeys.guild('').length)
    const guildRuns = await everyRun(store, { status: 'running', sync_type: 'guild', target_id: guildId })
    const mappingRuns = await everyRun(store, { status: 'running', sync_type: 'mapping' })
    const onGuild = await Promise.all(mappingRuns.map(async (r) => r.target_id !== null && (await this.#d.store.getMapping(r.target_id))?.guild_id === guildId))
    return [...guildRuns, ...mappingRuns.filter((_, i) => onGuild[i])]
  }

  /** The locks a run of this kind takes (a full run's per-guild locks are matched on every enabled guild). */
  async #lockKeysOf (run: SyncRunRecord): Promise<string[]> {
    if (run.sync_type === 'guild' && run.target_id !== null) return [lockKeys.guild(run.target_id)]
    if (run.sync_type === 'mapping' && run.target_id !== null) {
      const mapping = await this.#d.store.getMapping(run.target_id)
      return mapping === null ? [] : [lockKeys.guild(mapping.guild_id)]
    }
    if (run.sync_type === 'full') return [lockKeys.full, ...(await this.#d.store.listGuilds({ enabled: true })).map((g) => lockKeys.guild(g.guild_id))]
    return []
  }
}

/**
 * Every run the query matches, page after page (the store's listing stops at MAX_PAGE_SIZE):
 * running records are few, but a crash of many workers can leave more than a page, and a run
 * missed here keeps its lock until the lock's TTL and its in-flight writes unaudited.
 */
async function everyRun (store: Pick<SyncRunStore, 'listSyncRuns'>, query: Omit<ListSyncRunsQuery, 'limit' | 'before'>): Promise<SyncRunRecord[]> {
  const all: SyncRunRecord[] = []
  for (;;) {
    const last = all.at(-1)
    const page = await store.listSyncRuns({ ...query, limit: MAX_PAGE_SIZE, ...(last === undefined ? {} : { before: { created_at: last.created_at, id: last.id } }) })
    all.push(...page)
    if (page.length < MAX_PAGE_SIZE) return all
  }
}
