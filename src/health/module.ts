import { withTimeout } from '../util/timeout.js'
import type { RedisBreaker } from './redis-breaker.js'
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
  /** Redis behind the plugin's breaker (its budget bounds the probe; a known outage answers at once). */
  redis: RedisBreaker | null
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
    deps.redis ? probe('redis', () => (deps.redis as RedisBreaker).call((r) => r.ping()), deps) : Promise.resolve(null)
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

/**
 * The enabled guilds whose bot is unhealthy, for GET /status (which load balancers poll): re-read
 * only when the store reports a change since the last read (its change mark); a store without
 * a mark is read on every call.
 */
export class UnhealthyGuilds {
  readonly #store: Pick<DiscordStore, 'listGuilds' | 'changeMark'>
  #last: { mark: string, ids: string[] } | null = null

  constructor (store: Pick<DiscordStore, 'listGuilds' | 'changeMark'>) {
    this.#store = store
  }

  async ids (): Promise<string[]> {
    const store = this.#store
    const mark = typeof store.changeMark === 'function' ? store.changeMark() : null
    if (mark !== null && this.#last?.mark === mark) return this.#last.ids
    const ids = (await store.listGuilds({ enabled: true })).filter((g) => g.health_status === 'unhealthy').map((g) => g.guild_id)
    if (mark !== null) this.#last = { mark, ids }
    return ids
  }
}

/**
 * Folds guild health into the module status (GET /status): any unhealthy guild makes a
 * healthy module "degraded"; a module already degraded or unhealthy keeps its status.
 */
export async function withGuildHealth (report: HealthReport, guilds: UnhealthyGuilds): Promise<HealthReport> {
  if (report.checks.store !== 'ok') return report
  let unhealthy: string[]
  try {
    unhealthy = await guilds.ids()
  } catch {
    return report
  }
  if (unhealthy.length === 0) return report
  const note = `${unhealthy.length} guild(s) unhealthy: ${unhealthy.slice(0, 5).join(', ')}`
  return {
    ...report,
    status: report.status === 'healthy' ? 'degraded' : report.status,
    message: report.message === '' ? note : `${report.message}; ${note}`
  }
}
