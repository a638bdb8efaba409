import { hostname } from 'node:os'
import type { FastifyBaseLogger } from 'fastify'
import { StoreInUseError } from '../errors.js'
import type { ResolvedOptions } from '../options/index.js'
import type { DiscordStore, LeaseStore } from './port/index.js'

/*
 * One writer per SQLite file when there is no Redis. Rate limits, sync locks and task locks live
 * in each process's memory then, so two processes on one file would each spend Discord's limits
 * as if alone and could run the same guild at once. The first process holds a lease in the file
 * (owner = host:pid); a second one refuses to start and says why. A holder that died without
 * releasing is recognised (same host, its pid gone) and replaced at once, so a restart after a
 * crash is not refused. Processes of one host sharing a
 * file through Redis are not checked: Redis shares their limits and locks.
 */

const LEASE = 'writer'
// Liveness is judged by the holder's pid: the store runs SQLite in WAL mode, which needs every
// process on one host, so the holder is always a process this one can see. The expiry is only a
// backstop (a pid reused by an unrelated process), so it is long and renewed rarely: each renewal
// is a write, and a quiet instance should not keep writing its database.
const TTL_MS = 60 * 60_000
const RENEW_MS = 20 * 60_000

export interface WriterLease {
  /** Stops renewing and gives the lease up (before the store closes). */
  release (): Promise<void>
}

/** The owner name of this process. */
export function writerId (): string {
  return `${hostname()}:${process.pid}`
}

/** Whether `owner` names a process of this host that no longer exists. */
function deadHere (owner: string): boolean {
  const at = owner.lastIndexOf(':')
  if (owner.slice(0, at) !== hostname()) return false
  const pid = Number(owner.slice(at + 1))
  if (!Number.isSafeInteger(pid) || pid <= 0) return false
  try {
    process.kill(pid, 0)
    return false
  } catch (err) {
    // EPERM: it exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'ESRCH'
  }
}

/**
 * Takes the writer lease of a SQLite file or throws StoreInUseError naming the holder. `file` is
 * the database file (for the message); the store must implement the lease port.
 */
export async function claimWriter (store: DiscordStore & LeaseStore, file: string, log: FastifyBaseLogger): Promise<WriterLease> {
  const me = writerId()
  let taken = await store.claimLease(LEASE, me, TTL_MS)
  if (!taken) {
    const holder = await store.getLease(LEASE)
    if (holder === null || deadHere(holder.owner)) {
      taken = await store.claimLease(LEASE, me, TTL_MS, holder === null ? {} : { replacing: holder.owner })
    }
    if (!taken) {
      throw new StoreInUseError(`the SQLite database ${file} is already used by another process (${holder?.owner ?? 'unknown'}). ` +
        'Without Redis each process keeps its own Discord rate limits and sync locks, so only one process may use the file. ' +
        'Stop the other process, give this one its own database file (store.path), or configure Redis (redis) so the processes share limits and locks.')
    }
  }
  const timer = setInterval(() => {
    store.claimLease(LEASE, me, TTL_MS).then((kept) => {
      // Only possible after this process stalled past the lease: another process may now write too.
      if (!kept) log.error({ file }, 'lost the SQLite writer lease to another process')
    }, (err: unknown) => {
      log.warn({ code: (err as { code?: unknown })?.code }, 'renewing the SQLite writer lease failed')
    })
  }, RENEW_MS)
  timer.unref()
  return {
    async release () {
      clearInterval(timer)
      await store.releaseLease(LEASE, me).catch(() => { /* lapses after its TTL */ })
    }
  }
}

/**
 * The writer lease when this process needs one: a SQLite store the plugin opened on a file, and
 * no Redis. Null otherwise (MongoDB, a host's store, an in-memory database, or Redis configured).
 */
export async function holdSqliteWriter (store: DiscordStore, opts: Pick<ResolvedOptions, 'store' | 'redis'>, log: FastifyBaseLogger): Promise<WriterLease | null> {
  if (opts.redis !== null && opts.redis !== undefined) return null
  if (!('type' in opts.store) || opts.store.type !== 'sqlite') return null
  const file = (store as { file?: unknown }).file
  if (typeof file !== 'string' || store.claimLease === undefined) return null
  return await claimWriter(store as DiscordStore & LeaseStore, file, log)
}
