import { Type, type Static } from '@sinclair/typebox'
import { defaultsOf, duration, opt } from './define.js'
import { durationMs } from './fail.js'

export const TokenRefreshSchema = Type.Object({
  enabled: opt(Type.Boolean(), { default: true, description: 'Run the task at all.' }),
  interval: duration({ default: '30m', minimumMs: 1_000, description: 'Time between runs.' }),
  batchSize: opt(Type.Integer({ minimum: 1, maximum: 1000 }), { default: 50, description: 'Links read from the store per batch.' }),
  concurrency: opt(Type.Integer({ minimum: 1, maximum: 50 }), { default: 5, description: 'Refresh calls to Discord in flight at once.' }),
  lockTtl: duration({
    default: '10m',
    minimumMs: 5_000,
    description: 'With Redis: lifetime of the lock that lets one instance run at a time (renewed while running).'
  }),
  runTimeout: duration({
    default: '20m',
    minimumMs: 1_000,
    description: 'Longest one run may take. Past it the run stops, is recorded `failed` with the reason, and frees its lock.'
  }),
  retention: duration({
    default: '90d',
    minimumMs: 3_600_000,
    description: 'Each run is recorded in the store (`discord_task_runs`); records older than this are deleted.'
  })
}, { additionalProperties: false, description: "The scheduled refresh of users' Discord access tokens." })

/** The scheduled refresh of users' Discord access tokens. */
export type TokenRefreshOptions = Static<typeof TokenRefreshSchema>

export interface ResolvedTokenRefreshOptions {
  enabled: boolean
  intervalMs: number
  batchSize: number
  concurrency: number
  lockTtlMs: number
  runTimeoutMs: number
  retentionMs: number
}

const DEFAULTS = defaultsOf(TokenRefreshSchema)

export function resolveTokenRefresh (t: TokenRefreshOptions | undefined): ResolvedTokenRefreshOptions {
  const o = t ?? {}
  const p = TokenRefreshSchema.properties
  return {
    enabled: o.enabled ?? DEFAULTS.enabled,
    intervalMs: durationMs(o.interval, p.interval, 'tokenRefresh.interval'),
    batchSize: o.batchSize ?? DEFAULTS.batchSize,
    concurrency: o.concurrency ?? DEFAULTS.concurrency,
    lockTtlMs: durationMs(o.lockTtl, p.lockTtl, 'tokenRefresh.lockTtl'),
    runTimeoutMs: durationMs(o.runTimeout, p.runTimeout, 'tokenRefresh.runTimeout'),
    retentionMs: durationMs(o.retention, p.retention, 'tokenRefresh.retention')
  }
}
