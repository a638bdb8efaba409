import type { FastifyBaseLogger } from 'fastify'
import pLimit from 'p-limit'
import { SyncNotConfiguredError, UserNotLinkedError, ValidationError } from '../errors.js'
import type { SyncEngine } from '../sync/engine.js'
import { NO_MEMBERSHIP_PROVIDER } from '../sync/membership.js'

/*
 * Host push: a Go-Falcon-style backend tells us which of its users' groups changed, instead of
 * waiting for the next scheduled sync. Calls are coalesced: the first one opens a window of
 * `sync.pushDebounce` (2 s), every user named during it joins the same batch, and at its end each
 * user gets one targeted sync across every enabled guild. A burst of group edits (an officer
 * moving twenty pilots) thus costs one sync per user, not one per edit, and roles follow within
 * the window instead of the interval.
 *
 * One batch runs at a time. Users named while it runs wait in the pending set (each once,
 * however often named) and go as the next batch when it ends, so a host that pushes faster than
 * Discord lets us sync queues at most one entry per user, never a chain of repeated batches.
 */

/** The most user ids one call may carry (a host with more sends several calls). */
export const MAX_PUSH_USER_IDS = 1000
/** A host user id is the host's own opaque string: bounded, never empty. */
export const MAX_USER_ID_LENGTH = 256
/** The same rule as the user id in the sync routes' paths (no blanks, no control characters). */
// eslint-disable-next-line no-control-regex -- refusing control characters is the point
const USER_ID = /^[^\s\x00-\x1f\x7f]+$/
/** Users synced at once when a window closes; Discord's rate limits set the real pace. */
const CONCURRENCY = 4

export interface MembershipPushDeps {
  engine: SyncEngine
  debounceMs: number
  log: FastifyBaseLogger
}

/** What `notifyMembershipChanged` answers. */
export interface PushAccepted {
  /** Distinct user ids this call added to the pending batch. */
  queued: number
  /** Users waiting for the window to close (this call's and earlier ones'). */
  pending: number
  /** When the batch starts, in ms from now. */
  flush_in_ms: number
}

export class MembershipPush {
  readonly #d: MembershipPushDeps
  readonly #pending = new Set<string>()
  #timer: NodeJS.Timeout | null = null
  #flushAt = 0
  /** The batches running now (null when idle): one after another until nothing is pending. */
  #draining: Promise<void> | null = null
  #closed = false

  constructor (deps: MembershipPushDeps) {
    this.#d = deps
  }

  /** Queues a targeted sync for each user (validated first: nothing is queued from a bad call). */
  notify (userIds: unknown): PushAccepted {
    if (!this.#d.engine.configured) throw new SyncNotConfiguredError(NO_MEMBERSHIP_PROVIDER)
    const ids = checkUserIds(userIds)
    const before = this.#pending.size
    if (!this.#closed) for (const id of ids) this.#pending.add(id)
    if (this.#timer === null && this.#pending.size > 0) {
      this.#flushAt = Date.now() + this.#d.debounceMs
      // flush never rejects: each user's failure is logged inside the batch.
      this.#timer = setTimeout(() => { this.flush().catch(() => {}) }, this.#d.debounceMs)
      this.#timer.unref()
    }
    return { queued: this.#pending.size - before, pending: this.#pending.size, flush_in_ms: Math.max(0, this.#flushAt - Date.now()) }
  }

  /**
   * Starts the pending batch now, or right after the batch running now; resolves when nothing is
   * pending or running any more.
   */
  flush (): Promise<void> {
    this.#draining ??= this.#drain()
    return this.#draining
  }

  async #drain (): Promise<void> {
    try {
      while (this.#pending.size > 0) {
        // The batch takes every pending user, so the window that would have flushed them closes too.
        if (this.#timer !== null) clearTimeout(this.#timer)
        this.#timer = null
        const batch = [...this.#pending]
        this.#pending.clear()
        await this.#run(batch)
      }
    } finally {
      this.#draining = null
    }
  }

  async #run (batch: string[]): Promise<void> {
    if (batch.length === 0) return
    const limit = pLimit(CONCURRENCY)
    await Promise.all(batch.map((userId) => limit(async () => {
      try {
        await this.#d.engine.syncUser(userId, 'push')
      } catch (err) {
        // A host may name users who never linked Discord: nothing to do for them.
        if (err instanceof UserNotLinkedError) return
        this.#d.log.warn({ user_id: userId, code: (err as { code?: unknown })?.code }, 'pushed membership sync failed')
      }
    })))
  }

  /** Drops what is pending and waits for a batch in progress (called before the engine closes). */
  async close (): Promise<void> {
    this.#closed = true
    if (this.#timer !== null) clearTimeout(this.#timer)
    this.#timer = null
    this.#pending.clear()
    await this.#draining
  }
}

function checkUserIds (value: unknown): string[] {
  if (!Array.isArray(value)) throw new ValidationError('user_ids must be an array of host user ids')
  if (value.length === 0 || value.length > MAX_PUSH_USER_IDS) throw new ValidationError(`user_ids must name 1 to ${MAX_PUSH_USER_IDS} users`)
  for (const id of value) {
    if (typeof id !== 'string' || id.length > MAX_USER_ID_LENGTH || !USER_ID.test(id)) {
      throw new ValidationError(`each user id must be a non-empty string of at most ${MAX_USER_ID_LENGTH} characters, without spaces or control characters`)
    }
  }
  return [...new Set(value as string[])]
}
