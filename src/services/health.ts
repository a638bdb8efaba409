import { withTimeout } from '../util/timeout.js'
import type { Redis } from 'ioredis'
import type { DiscordStore } from '../store/port/index.js'

export type ModuleHealth = 'healthy' | 'degraded' | 'unhealthy'

export interface HealthReport {
  module: 'discord'
  status: ModuleHealth
  message: string
  checks: {
    store: 'ok' | 'unreachable'
    redis: 'ok' | 'unreachable' | 'not_configured'
    discord: 'configured' | 'not_configured'
  }
}

interface HealthDeps {
  store: DiscordStore
  redis: Redis | null
  discordConfigured: boolean
  timeoutMs?: number
  onError?: (component: string, err: unknown) => void
}

async function probe (name: string, fn: () => Promise<unknown>, deps: HealthDeps): Promise<boolean> {
  try {
    const ms = deps.timeoutMs ?? 2000
    await withTimeout(fn(), ms, () => new Error(`timed out after ${ms} ms`))
    return true
  } catch (err) {
    deps.onError?.(name, err)
    return false
  }
}

/*
 * The store is essential (unhealthy without it). Redis only coordinates instances and
 * shares rate limits: without it the module still works on in-process limits, so its
 * loss is "degraded". Missing Discord credentials are a configuration state, reported
 * in the message but not a failure of the module itself.
 * Messages name components only; raw driver errors (which may carry connection
 * strings) go to the log, not to this public response.
 */
export async function checkHealth (deps: HealthDeps): Promise<HealthReport> {
  const [storeOk, redisOk] = await Promise.all([
    probe('store', () => deps.store.ping(), deps),
    deps.redis ? probe('redis', () => (deps.redis as Redis).ping(), deps) : Promise.resolve(null)
  ])
  const problems: string[] = []
  if (!storeOk) problems.push(`store (${deps.store.kind}) unreachable`)
  if (redisOk === false) problems.push('redis unreachable')
  if (!deps.discordConfigured) problems.push('Discord application not configured')
  const status: ModuleHealth = !storeOk ? 'unhealthy' : redisOk === false ? 'degraded' : 'healthy'
  return {
    module: 'discord',
    status,
    message: problems.join('; '),
    checks: {
      store: storeOk ? 'ok' : 'unreachable',
      redis: redisOk === null ? 'not_configured' : redisOk ? 'ok' : 'unreachable',
      discord: deps.discordConfigured ? 'configured' : 'not_configured'
    }
  }
}
