import { Type, type Static } from '@sinclair/typebox'
import type { Registry } from 'prom-client'
import { defaultsOf, instance, opt } from './define.js'
import { fail } from './fail.js'

export const MetricsSchema = Type.Object({
  enabled: opt(Type.Boolean(), { default: true, description: 'Collect metrics at all.' }),
  registry: opt(instance<Registry>({ title: 'prom-client Registry' }), {
    defaultText: "a registry of the plugin's own",
    description: 'A prom-client Registry to register into (for one host-wide scrape).'
  }),
  prefix: opt(Type.String({ pattern: '^[a-zA-Z_:][a-zA-Z0-9_:]{0,63}$' }), { default: 'discord_sync_', description: 'Prefix of every metric name.' }),
  route: opt(Type.Boolean(), { default: true, description: 'Serve GET {routePrefix}/metrics.' }),
  access: opt(Type.Union([Type.Literal('admin'), Type.Literal('public')]), {
    default: 'admin',
    description: "Who may read GET /metrics: admins only, or anyone ('public' serves metrics without a session; put it behind your network policy)."
  })
}, { additionalProperties: false, description: 'Prometheus metrics (prom-client).' })

/** Prometheus metrics (prom-client). */
export type MetricsOptions = Static<typeof MetricsSchema>

export interface ResolvedMetricsOptions {
  enabled: boolean
  registry: Registry | null
  prefix: string
  route: boolean
  access: 'admin' | 'public'
}

const DEFAULTS = defaultsOf(MetricsSchema)

export function resolveMetrics (m: MetricsOptions | undefined): ResolvedMetricsOptions {
  const o = m ?? {}
  // Duck-typed: a host may load prom-client through the other module format (another class identity).
  const r = o.registry as unknown as Record<string, unknown> | undefined
  if (r !== undefined && (typeof r !== 'object' || r === null || typeof r.registerMetric !== 'function' || typeof r.metrics !== 'function')) {
    fail('metrics.registry', 'must be a prom-client Registry')
  }
  return {
    enabled: o.enabled ?? DEFAULTS.enabled,
    registry: o.registry ?? null,
    prefix: o.prefix ?? DEFAULTS.prefix,
    route: o.route ?? DEFAULTS.route,
    access: o.access ?? DEFAULTS.access
  }
}
