import pLimit from 'p-limit'
import type { FastifyBaseLogger } from 'fastify'
import { DiscordAPIError, DiscordOAuthError, type DiscordOAuth2Client } from '../discord/index.js'
import type { CreateTaskRunInput, DiscordStore, DiscordUserRecord, TaskRunRecord } from '../store/port/index.js'
import type { DiscordSyncEvents } from '../events.js'
import type { TaskLock } from './lock.js'
import { withTimeout } from '../util/timeout.js'
import { refreshedTokens } from '../auth/user-tokens.js'

/** A run went past `tokenRefresh.runTimeout`. */
class RunTimeoutError extends Error {
  constructor (ms: number) {
    super(`timed out after ${ms} ms (tokenRefresh.runTimeout)`)
    this.name = 'RunTimeoutError'
  }
}

export interface TokenRefreshDeps {
  store: DiscordStore
  /** The application's OAuth2 client (`client.oauth2({ clientId, clientSecret })`). */
  oauth: DiscordOAuth2Client
  /** Refresh tokens whose access token expires within this window. */
  thresholdMs: number
  batchSize: number
  concurrency: number
  /** With Redis: one instance at a time. Null: in-process exclusion only. */
  lock: TaskLock | null
  log: FastifyBaseLogger
  now?: () => Date
  /** Recorded runs older than this are deleted after each run; null keeps them all. */
  retentionMs: number | null
  /** Each run's outcome is announced as `tokens.refreshed` (metrics subscribe to it). */
  events: DiscordSyncEvents
  /** `tokenRefresh.runTimeout`: past it the run stops, is recorded failed and frees its lock (undefined: no limit). */
  runTimeoutMs?: number
}

export interface TokenRefreshError {
  discord_user_id: string
  code: string
  message: string
}

/** The record of one run: what was found, what happened, and why anything failed (never a token). */
export interface TokenRefreshRun {
  status: 'completed' | 'skipped' | 'failed'
  /** Why a run was skipped or failed (lock held elsewhere, lock unavailable, store error...). */
  reason: string | null
  started_at: string
  finished_at: string
  duration_ms: number
  candidates: number
  refreshed: number
  reauth_required: number
  failed: number
  skipped: number
  errors: TokenRefreshError[]
}

export const TOKEN_REFRESH_JOB_ID = 'fastify-discord-sync:token-refresh'

const MAX_ERRORS_PER_RUN = 50
const TASK = 'token_refresh'

function toTaskRun (run: TokenRefreshRun): CreateTaskRunInput {
  const { status, reason, duration_ms, candidates, refreshed, reauth_required, failed, skipped, errors } = run
  return {
    task: TASK,
    status,
    reason,
    started_at: new Date(run.started_at),
    finished_at: new Date(run.finished_at),
    duration_ms,
    counts: { candidates, refreshed, reauth_required, failed, skipped },
    errors: errors.map(({ discord_user_id, code, message }) => ({ discord_user_id, code, message }))
  }
}

function fromTaskRun (r: TaskRunRecord): TokenRefreshRun {
  const n = (name: string): number => r.counts[name] ?? 0
  return {
    status: r.status,
    reason: r.reason,
    started_at: r.started_at.toISOString(),
    finished_at: r.finished_at.toISOString(),
    duration_ms: r.duration_ms,
    candidates: n('candidates'),
    refreshed: n('refreshed'),
    reauth_required: n('reauth_required'),
    failed: n('failed'),
    skipped: n('skipped'),
    errors: r.errors.map((e) => ({ discord_user_id: e.discord_user_id ?? '', code: e.code, message: e.message }))
  }
}

/** Recorded token refresh runs, newest first; readable with the task disabled (runs of an earlier configuration). */
export async function tokenRefreshHistory (store: DiscordStore, limit?: number): Promise<TokenRefreshRun[]> {
  return (await store.listTaskRuns({ task: TASK, limit })).map(fromTaskRun)
}

/**
 * Refreshes users' Discord access tokens before they expire (the seed's
 * "system-discord-token-refresh" task). Discord rotates the refresh token on every refresh
 * (docs/oauth2.mdx), so two instances refreshing the same link would make the slower one see
 * invalid_grant and wrongly flag the user: hence the lock, and skipping a run rather than
 * running without it when Redis cannot be reached.
 */
export class TokenRefreshTask {
  readonly #d: TokenRefreshDeps
  readonly #now: () => Date
  #running: Promise<TokenRefreshRun> | null = null
  #stopping = false

  constructor (deps: TokenRefreshDeps) {
    this.#d = deps
    this.#now = deps.now ?? (() => new Date())
  }

  /** Recorded runs of every instance sharing the store, newest first (default 20, at most 100). */
  async history (limit?: number): Promise<TokenRefreshRun[]> {
    return await tokenRefreshHistory(this.#d.store, limit)
  }

  get running (): boolean {
    return this.#running !== null
  }

  /** Runs now; a call while a run is in progress joins that run instead of starting a second one. */
  run (): Promise<TokenRefreshRun> {
    // Not recorded: the store may already be closing.
    if (this.#stopping) return Promise.resolve(this.#announce(this.#empty('skipped', 'stopping', Date.now())))
    this.#running ??= this.#runLocked().finally(() => { this.#running = null })
    return this.#running
  }

  /** Stops starting new batches and waits for the current run (called on close, before the store closes). */
  async stop (): Promise<void> {
    this.#stopping = true
    await this.#running?.catch(() => {})
  }

  #empty (status: TokenRefreshRun['status'], reason: string | null, startedMs: number): TokenRefreshRun {
    const now = Date.now()
    return {
      status,
      reason,
      started_at: new Date(startedMs).toISOString(),
      finished_at: new Date(now).toISOString(),
      duration_ms: now - startedMs,
      candidates: 0,
      refreshed: 0,
      reauth_required: 0,
      failed: 0,
      skipped: 0,
      errors: []
    }
  }

  /** Logs the run and announces it once per run (callers that joined a run in progress share it). */
  #announce (run: TokenRefreshRun): TokenRefreshRun {
    const { errors, ...counts } = run
    const level = run.status === 'failed' || run.failed > 0 ? 'warn' : 'info'
    this.#d.log[level]({ task: 'discord-token-refresh', ...counts, error_count: errors.length }, 'discord token refresh run')
    const { status, reason, candidates, refreshed, reauth_required, failed, skipped } = run
    this.#d.events.emit('tokens.refreshed', { status, reason, candidates, refreshed, reauth_required, failed, skipped })
    return run
  }

  /** Logs the run, stores it, and drops stored runs past the retention. A store failure here only costs the record. */
  async #record (run: TokenRefreshRun): Promise<TokenRefreshRun> {
    this.#announce(run)
    try {
      await this.#d.store.recordTaskRun(toTaskRun(run))
      if (this.#d.retentionMs !== null) await this.#d.store.pruneTaskRuns(TASK, new Date(this.#now().getTime() - this.#d.retentionMs))
    } catch (err) {
      this.#d.log.warn({ code: (err as { code?: unknown }).code }, 'recording the discord token refresh run failed')
    }
    return run
  }

  async #runLocked (): Promise<TokenRefreshRun> {
    const startedMs = Date.now()
    const lock = this.#d.lock
    let lockToken: string | null = null
    if (lock !== null) {
      try {
        lockToken = await lock.acquire()
      } catch (err) {
        return this.#record(this.#empty('skipped', `lock unavailable (${(err as Error).message})`, startedMs))
      }
      if (lockToken === null) return this.#record(this.#empty('skipped', 'another instance holds the lock', startedMs))
    }
    const run = this.#empty('completed', null, startedMs)
    const halt = { stopped: false }
    const limitMs = this.#d.runTimeoutMs
    try {
      const work = this.#refreshAll(run, lockToken, halt)
      await (limitMs === undefined ? work : withTimeout(work, limitMs, () => new RunTimeoutError(limitMs)))
    } catch (err) {
      // No further batch starts; calls in flight may still finish, after the run is recorded.
      halt.stopped = true
      run.status = 'failed'
      run.reason = err instanceof RunTimeoutError ? err.message : (err as { code?: string }).code ?? 'unexpected error'
      this.#d.log.error({ err: { message: (err as Error).message, code: (err as { code?: unknown }).code } }, 'discord token refresh run failed')
    } finally {
      if (lock !== null && lockToken !== null) await lock.release(lockToken).catch(() => { /* expires by TTL */ })
    }
    const end = Date.now()
    run.finished_at = new Date(end).toISOString()
    run.duration_ms = end - startedMs
    return this.#record(run)
  }

  async #refreshAll (run: TokenRefreshRun, lockToken: string | null, halt: { stopped: boolean }): Promise<void> {
    const limit = pLimit(this.#d.concurrency)
    const before = new Date(this.#now().getTime() + this.#d.thresholdMs)
    // Links that fail keep their early expiry and stay first in the store's order, so each batch
    // asks for enough rows to see past the ones this run has already handled.
    const seen = new Set<string>()
    while (!this.#stopping && !halt.stopped) {
      const rows = await this.#d.store.listUsersWithTokensExpiringBefore(before, seen.size + this.#d.batchSize)
      const batch = rows.filter((u) => !seen.has(u.discord_user_id)).slice(0, this.#d.batchSize)
      if (batch.length === 0) break
      for (const u of batch) seen.add(u.discord_user_id)
      run.candidates += batch.length
      await Promise.all(batch.map((u) => limit(() => this.#refreshOne(u, run))))
      if (this.#d.lock !== null && lockToken !== null && !(await this.#d.lock.renew(lockToken))) {
        throw Object.assign(new Error('lost the token refresh lock'), { code: 'lock lost' })
      }
    }
  }

  async #refreshOne (link: DiscordUserRecord, run: TokenRefreshRun): Promise<void> {
    const id = link.discord_user_id
    const current = await this.#d.store.getUserTokens(id)
    if (current === null || current.refresh_token === null) {
      run.skipped++
      return
    }
    try {
      const next = refreshedTokens(await this.#d.oauth.refreshToken(current.refresh_token), current, this.#now())
      await this.#d.store.setUserTokens(id, next)
      run.refreshed++
    } catch (err) {
      if (err instanceof DiscordOAuthError && err.oauthError === 'invalid_grant') {
        // A re-link during this refresh stores new tokens; only flag the link if ours are still the stored ones.
        const now = await this.#d.store.getUserTokens(id)
        if (now !== null && now.refresh_token === current.refresh_token) {
          await this.#d.store.updateUser(id, { needs_reauth: true })
          run.reauth_required++
        } else {
          run.skipped++
        }
        return
      }
      run.failed++
      if (run.errors.length < MAX_ERRORS_PER_RUN) {
        run.errors.push(err instanceof DiscordAPIError
          ? { discord_user_id: id, code: err.code, message: err.message }
          : { discord_user_id: id, code: 'FST_DISCORD_INTERNAL', message: 'unexpected error' })
      }
      if (!(err instanceof DiscordAPIError)) this.#d.log.error({ discord_user_id: id, err: { message: (err as Error).message } }, 'token refresh failed unexpectedly')
    }
  }
}
