/*
 * The scheduled role sync (the seed's "system-discord-role-sync" task). Instead of one global
 * 15-minute run, one tick checks every enabled guild with auto_sync and starts those whose own
 * `sync_interval` has elapsed since their last guild run, so a busy guild and a quiet one can be
 * synced at different paces. "Last run" is read from the store and the guild lock is shared
 * (Redis when configured), so several instances agree: one runs a guild, the others see it as
 * locked or not yet due; a dead holder's lock expires and the guild becomes due again.
 * Each tick also resumes pending unlink removals.
 */
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
  now?: () => Date
}

export interface RoleSyncTick {
  /** Guilds whose run started in this tick. */
  started: Array<{ guild_id: string, run_id: string }>
  /** Guilds due but locked by another run. */
  locked: string[]
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
    const out: RoleSyncTick = { started: [], locked: [], resumed: 0, swept: 0 }
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
      if (last !== undefined && !unfinished(last) && last.created_at.getTime() + this.intervalOf(guild.settings.sync_interval) > now) continue
      try {
        const started = await engine.startGuild(guild.guild_id, 'system')
        if (started === null) out.locked.push(guild.guild_id)
        else out.started.push({ guild_id: guild.guild_id, run_id: started.run.id })
      } catch (err) {
        // One guild's problem (lock store down, guild just disabled) must not stop the others.
        log.warn({ guild_id: guild.guild_id, code: (err as { code?: unknown })?.code }, 'scheduled guild sync could not start')
      }
    }
    return out
  }
}
