import { Redis } from 'ioredis'

/*
 * Redis-dependent suites call `redisAvailable()` at collection time.
 * In CI (`DISCORD_SYNC_REQUIRE_REDIS=1`, set by .ci/run) an unreachable Redis is a
 * failure, never a skip; on a developer machine without Redis the suite is skipped
 * with a visible notice.
 */
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
export const REQUIRE_REDIS = process.env.DISCORD_SYNC_REQUIRE_REDIS === '1'

let probe: Promise<boolean> | undefined

export function redisAvailable (): Promise<boolean> {
  probe ??= (async () => {
    const client = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: 1000, retryStrategy: () => null })
    try {
      await client.connect()
      await client.ping()
      return true
    } catch (err) {
      if (REQUIRE_REDIS) {
        throw new Error(`DISCORD_SYNC_REQUIRE_REDIS=1 but Redis at ${REDIS_URL} is unreachable: ${(err as Error).message}`)
      }
      console.warn(`\n[notice] Redis at ${REDIS_URL} is unreachable: Redis-dependent tests are SKIPPED. Set DISCORD_SYNC_REQUIRE_REDIS=1 to make this a failure.\n`)
      return false
    } finally {
      client.disconnect()
    }
  })()
  return probe
}

/** A key prefix unique to one test, so parallel suites never share limiter state. */
export function uniquePrefix (name: string): string {
  return `dstest:${name}:${process.pid}:${Date.now().toString(36)}:${Math.random().toString(36).slice(2, 8)}:`
}
