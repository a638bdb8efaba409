import { Type, type Static } from '@sinclair/typebox'
import { defaultsOf, duration, opt } from './define.js'
import { durationMs, fail } from './fail.js'

export const GatewaySchema = Type.Object({
  enabled: opt(Type.Boolean(), {
    default: true,
    description: 'Hold a Gateway connection per bot token of the enabled guilds (intents GUILDS and GUILD_MEMBERS, the latter privileged: enable ' +
      '"Server Members Intent" in the Developer Portal) and act on member and role events within seconds. Without a bot token nothing connects. ' +
      'Across instances sharing Redis only the leader connects.'
  }),
  leaderTtl: duration({
    default: '15s',
    minimumMs: 3_000,
    description: "With Redis: lifetime of the leader's lock, renewed every third of it. When the leader dies another instance takes the " +
      'connection over within this time plus one renewal period.'
  }),
  safetyNetInterval: duration({
    default: 0,
    minimumMs: 0,
    description: 'While the Gateway is connected for a guild, its scheduled full sync runs at least this far apart (the events keep roles ' +
      "current; the full sync only catches what they missed). 0 keeps each guild's own sync_interval. When the Gateway is down every " +
      'guild is back on its own interval.'
  }),
  joinConcurrency: opt(Type.Integer({ minimum: 1, maximum: 50 }), {
    default: 8,
    description: "Member events (joins, drifts) handled at once; Discord's rate limits set the real pace of the writes they cause."
  })
}, {
  additionalProperties: false,
  description: 'The live Gateway connection: roles on join, drift revert, role and guild changes.'
})

/** The live Gateway connection (issue "Live"): roles on join, drift revert, role and guild changes. */
export type GatewayOptions = Static<typeof GatewaySchema>

export interface ResolvedGatewayOptions {
  enabled: boolean
  leaderTtlMs: number
  safetyNetIntervalMs: number
  joinConcurrency: number
}

const DEFAULTS = defaultsOf(GatewaySchema)

export function resolveGateway (g: GatewayOptions | undefined): ResolvedGatewayOptions {
  const o = g ?? {}
  const leaderTtlMs = durationMs(o.leaderTtl, GatewaySchema.properties.leaderTtl, 'gateway.leaderTtl')
  // Takeover must stay within the 30 s the live features promise.
  if (leaderTtlMs > 60_000) fail('gateway.leaderTtl', 'must be at most 1m (a dead leader blocks live events for that long)')
  return {
    enabled: o.enabled ?? DEFAULTS.enabled,
    leaderTtlMs,
    safetyNetIntervalMs: durationMs(o.safetyNetInterval, GatewaySchema.properties.safetyNetInterval, 'gateway.safetyNetInterval'),
    joinConcurrency: o.joinConcurrency ?? DEFAULTS.joinConcurrency
  }
}
