import { withTimeout } from '../util/timeout.js'
import type { DiscordStore, StoreStats } from '../store/port/index.js'

/**
 * The store's size and row counts for GET /status (admins). Null, not an error, when the store
 * has no stats() (a host's own store), fails or exceeds `timeoutMs`: the status answer is about
 * health first, and a MongoDB that stopped answering must not hold it up (SQLite counts
 * synchronously, a full scan per table: only admins' reads pay for it).
 */
export async function readStoreUsage (store: DiscordStore, timeoutMs: number, onError?: (err: unknown) => void): Promise<StoreStats | null> {
  if (typeof store.stats !== 'function') return null
  try {
    return await withTimeout(store.stats(), timeoutMs, () => new Error(`store stats timed out after ${timeoutMs} ms`))
  } catch (err) {
    onError?.(err)
    return null
  }
}
