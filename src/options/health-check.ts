import { Type, type Static } from '@sinclair/typebox'
import { defaultsOf, duration, opt } from './define.js'
import { durationMs } from './fail.js'

export const HealthCheckSchema = Type.Object({
  enabled: opt(Type.Boolean(), { default: true, description: 'Run the task at all.' }),
  // Each check costs four Discord calls per guild: under 30 s would spend rate limit for nothing.
  interval: duration({ default: '5m', minimumMs: 30_000, description: 'Time between checks.' }),
  lockTtl: duration({ default: '4m', minimumMs: 5_000, description: 'With Redis: lifetime of the lock that lets one instance run the check at a time.' }),
  runTimeout: duration({
    default: '4m',
    minimumMs: 1_000,
    description: 'Longest one pass over the guilds may take. Past it the pass stops (guilds not reached keep their status) and frees its lock.'
  })
}, {
  additionalProperties: false,
  description: "The scheduled check of every enabled guild's bot (token, Manage Roles, mapped roles' hierarchy)."
})

/** The scheduled check of every enabled guild's bot (token, Manage Roles, mapped roles' hierarchy). */
export type HealthCheckOptions = Static<typeof HealthCheckSchema>

export interface ResolvedHealthCheckOptions {
  enabled: boolean
  intervalMs: number
  lockTtlMs: number
  runTimeoutMs: number
}

const DEFAULTS = defaultsOf(HealthCheckSchema)

export function resolveHealthCheck (h: HealthCheckOptions | undefined): ResolvedHealthCheckOptions {
  const o = h ?? {}
  return {
    enabled: o.enabled ?? DEFAULTS.enabled,
    intervalMs: durationMs(o.interval, HealthCheckSchema.properties.interval, 'healthCheck.interval'),
    lockTtlMs: durationMs(o.lockTtl, HealthCheckSchema.properties.lockTtl, 'healthCheck.lockTtl'),
    runTimeoutMs: durationMs(o.runTimeout, HealthCheckSchema.properties.runTimeout, 'healthCheck.runTimeout')
  }
}
