/*
 * The scheduled role sync (the seed's "system-discord-role-sync" task). Instead of one global
 * 15-minute run, one tick checks every enabled guild with auto_sync and starts those whose own
 * `sync_interval` has elapsed since their last guild run, so a busy guild and a quiet one can be
 * synced at different paces. "Last run" is read from the store and the guild lock is shared
 * (Redis when configured), so several instances agree: one runs a guild, the others see it as
 * locked or not yet due; a dead holder's lock expires and the guild becomes due again.
 * Before starting a due guild an instance claims it in the store (a lease named after the guild,
 * for one sync_interval), so of N instances ticking at once exactly one starts it, even when the
 * first run ends before the others read the run list. Each tick also resumes pending unlink removals.
 */
import { randomUUID } from 'node:crypto'
import type { FastifyBaseLogger } from 'fastify'
import type { DiscordStore, SyncRunRecord } from '../store/port/index.js'
import type { SyncEngine } from '../sync/engine.js'
import { parseDuration } from '../util/duration.js'

export const ROLE_SYNC_JOB_ID = 'fastify-discord-sync:role-sync'

export interface RoleSyncTaskDeps {
  engine: SyncEngine
  store: DiscordStore
  /** Used when a guild's sync_interval cannot be parsed (the plugin's `syncInterval`). */
  defaultIntervalMs: number
  log: FastifyBaseLogger
  /**
   * The interval to use for a guild given its own (the Gateway stretches it while connected);
   * null pauses the guild (the bot was removed from it).
   */
  cadence?: (guildId: string, intervalMs: number) => number | null
  /**
   * Hands a due guild to a job queue instead of starting its run here (jobs.backend `bullmq`:
   * a worker runs it; a guild already pending is not queued twice).
   */
  dispatch?: (guildId: string) => Promise<void>
  now?: () => Date
}

export interface RoleSyncTick {
  /** Guilds whose run started in this tick. */
  started: Array<{ guild_id: string, run_id: string }>
  /** Guilds handed to the job queue (with `dispatch`), whose runs a worker starts. */
  queued: string[]
  /** Guilds due but locked by another run. */
  locked: string[]
  /** Guilds due but claimed by another instance for this interval. */
  claimed: string[]
  /** Pending unlink removals resumed. */
  resumed: number
  /** Runs found dead (no heartbeat for `sync.staleAfter`) and marked interrupted. */
  swept: number
}

/**
 * A run that stopped before finishing its guild (its instance died, its lock was lost, the
 * server shut down) leaves the guild due at once: the next tick resumes it instead of waiting
 * a whole sync_interval with members half-synced.
 */
function unfinished (run: SyncRunRecord): boolean {
  if (run.status !== 'failed') return false
  return run.results.errors.some((e) => e.code === 'stale' || e.code === 'interrupted') ||
    (run.results.guilds ?? []).some((g) => g.status === 'failed' && g.reason?.startsWith('incomplete:') === true)
}

export class RoleSyncTask {
  readonly #d: RoleSyncTaskDeps
  readonly #now: () => Date
  /** This instance, as the owner of the due claims it takes. */
  readonly #owner = `role-sync:${randomUUID()}`
  #ticking: Promise<RoleSyncTick> | null = null

  constructor (deps: RoleSyncTaskDeps) {
    this.#d = deps
    this.#now = deps.now ?? (() => new Date())
  }

  /** The interval of a guild: its own setting, else the plugin default. */
  intervalOf (syncInterval: string): number {
    const ms = parseDuration(syncInterval)
    return ms === null || ms <= 0 ? this.#d.defaultIntervalMs : ms
  }

  /** One pass; overlapping calls share the pass in progress. Runs it starts continue in the background. */
  tick (): Promise<RoleSyncTick> {
    this.#ticking ??= this.#tick().finally(() => { this.#ticking = null })
    return this.#ticking
  }

  async #tick (): Promise<RoleSyncTick> {
    const { engine, store, log } = this.#d
    const out: RoleSyncTick = { started: [], queued: [], locked: [], claimed: [], resumed: 0, swept: 0 }
    // Without a membership provider the engine writes no role at all.
    if (!engine.configured) return out
    out.resumed = await engine.processPending()
    // Every tick, not only at start-up: a crashed instance's run must not hold its guild for long.
    out.swept = await engine.sweepStale().catch((err: unknown) => {
      log.warn({ code: (err as { code?: unknown })?.code }, 'sweeping stale sync runs failed')
      return 0
    })
    const now = this.#now().getTime()
    for (const guild of await store.listGuilds({ enabled: true })) {
      if (!guild.settings.auto_sync) continue
      const [last] = await store.listSyncRuns({ sync_type: 'guild', target_id: guild.guild_id, limit: 1 })
      const own = this.intervalOf(guild.settings.sync_interval)
      const intervalMs = this.#d.cadence === undefined ? own : this.#d.cadence(guild.guild_id, own)
      if (intervalMs === null) continue
      // A run that ended interrupted or incomplete makes its guild due again at once.
      const resume = last !== undefined && unfinished(last)
      if (last !== undefined && !resume && last.created_at.getTime() + intervalMs > now) continue
      const claim = `due:guild:${guild.guild_id}`
      let claimed = false
      try {
        // The claim lasts one interval on the clock "due" was judged by: the guild's next due
        // moment is at least an interval after this run's record, so the claim has lapsed by then.
        // Resuming: the claim of the run that broke off (perhaps a dead instance's) is taken over.
        const replacing = resume ? (await store.getLease?.(claim))?.owner : undefined
        claimed = store.claimLease === undefined || await store.claimLease(claim, this.#owner, intervalMs, { now: new Date(now), ...(replacing === undefined ? {} : { replacing }) })
        if (!claimed) {
          out.claimed.push(guild.guild_id)
          continue
        }
        if (this.#d.dispatch !== undefined) {
          // The claim stays: the queued job is this interval's run.
          await this.#d.dispatch(guild.guild_id)
          out.queued.push(guild.guild_id)
          continue
        }
        const started = await engine.startGuild(guild.guild_id, 'system')
        if (started === null) out.locked.push(guild.guild_id)
        else out.started.push({ guild_id: guild.guild_id, run_id: started.run.id })
        // Not started here: the next tick may try again.
        if (started === null) await this.#unclaim(claim)
      } catch (err) {
        // One guild's problem (lock store down, guild just disabled) must not stop the others.
        log.warn({ guild_id: guild.guild_id, code: (err as { code?: unknown })?.code }, 'scheduled guild sync could not start')
        if (claimed) await this.#unclaim(claim)
      }
    }
    return out
  }

  async #unclaim (claim: string): Promise<void> {
    await this.#d.store.releaseLease?.(claim, this.#owner).catch(() => { /* lapses after one interval */ })
  }
}
