/*
 * The membership provider is host code the engine cannot trust to answer: a hung database
 * query would otherwise hold the guild lock (and the run) forever. Every call is bounded by
 * `sync.providerTimeout` and retried `sync.providerRetries` times with exponential backoff; a
 * call that never settles is abandoned (its promise is left to the host, never awaited again).
 */
import { withTimeout } from '../util/timeout.js'
import type { MembershipInfo, MembershipProvider } from './membership.js'

export interface ProviderGuardOptions {
  timeoutMs: number
  retries: number
  /** First backoff; doubled per attempt. */
  backoffMs?: number
}

/** The provider did not answer within `sync.providerTimeout` (the member counts as failed). */
export class MembershipTimeoutError extends Error {
  constructor (ms: number) {
    super(`the membership provider did not answer within ${ms} ms`)
    this.name = 'MembershipTimeoutError'
  }
}

const pause = (ms: number): Promise<void> => new Promise((resolve) => { setTimeout(resolve, ms).unref() })

async function bounded<T> (call: () => T | Promise<T>, o: ProviderGuardOptions): Promise<T> {
  const backoff = o.backoffMs ?? 200
  for (let attempt = 0; ; attempt++) {
    try {
      // Promise.resolve().then: a provider that throws synchronously is retried like one that rejects.
      return await withTimeout(Promise.resolve().then(call), o.timeoutMs, () => new MembershipTimeoutError(o.timeoutMs))
    } catch (err) {
      if (attempt >= o.retries) throw err
      await pause(backoff * 2 ** attempt)
    }
  }
}

/** The same provider with every call bounded in time and retried; the host's object is not modified. */
export function guardProvider (provider: MembershipProvider, o: ProviderGuardOptions): MembershipProvider {
  const one = (userId: string): Promise<MembershipInfo | null> => bounded(() => provider.getMembership(userId), o)
  const many = typeof provider.getMemberships === 'function' ? provider.getMemberships.bind(provider) : undefined
  const groups = typeof provider.listGroups === 'function' ? provider.listGroups.bind(provider) : undefined
  // Optional methods stay absent when the host has none: callers test for them.
  return {
    getMembership: one,
    ...(many === undefined ? {} : { getMemberships: (userIds: readonly string[]) => bounded(() => many(userIds), o) }),
    ...(groups === undefined ? {} : { listGroups: () => bounded(groups, o) })
  }
}
