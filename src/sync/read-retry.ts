/*
 * Reads are safe to repeat, so a read that failed for a passing reason (a 5xx after the
 * client's own retries, a malformed or cut-off body, a timeout, a reset connection) is tried
 * again a few times with backoff before it may fail a member or a whole guild: one bad page
 * of a 5,000-member list must not throw the other 4,999 members' work away.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import {
  DiscordMalformedResponseError,
  DiscordNetworkError,
  DiscordServerError,
  DiscordTimeoutError
} from '../discord/errors/index.js'

/** Tries of a read before its failure counts (the first one included). */
export const READ_TRIES = 3
const BASE_DELAY_MS = 100

/** A failure whose cause may be gone on the next try (and that says nothing about the request itself). */
export function isPassingFailure (err: unknown): boolean {
  return err instanceof DiscordServerError || err instanceof DiscordMalformedResponseError ||
    err instanceof DiscordTimeoutError || err instanceof DiscordNetworkError
}

/**
 * A write whose outcome is unknown: Discord may have applied it even though no usable answer
 * came back (the body was malformed, the answer never arrived, the connection reset, or the call
 * was aborted while it may already have been sent). Such a write is never resent blindly. A 5xx
 * is an answer (the client already retried it): the write failed, and is recorded so.
 */
export function isUnknownOutcome (err: unknown): boolean {
  if (err instanceof DiscordMalformedResponseError || err instanceof DiscordTimeoutError || err instanceof DiscordNetworkError) return true
  return err instanceof Error && (err.name === 'AbortError' || err.name === 'TimeoutError' || (err as { code?: unknown }).code === 'ABORT_ERR')
}

/** Waits `BASE_DELAY_MS * 2^try` (with jitter) between tries; stops when `signal` aborts. */
export async function withReadRetries<T> (read: () => Promise<T>, signal: AbortSignal, tries = READ_TRIES): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await read()
    } catch (err) {
      if (attempt >= tries || !isPassingFailure(err) || signal.aborted) throw err
      const delay = BASE_DELAY_MS * 2 ** (attempt - 1)
      await sleep(delay / 2 + Math.random() * delay / 2, undefined, { signal })
    }
  }
}
