import { Type, type Static } from '@sinclair/typebox'
import { defaultsOf, duration, opt } from './define.js'
import { durationMs } from './fail.js'

const RateLimitObjectSchema = Type.Object({
  max: opt(Type.Integer({ minimum: 1, maximum: 1_000_000 }), { default: 120, description: 'Requests allowed per key and window.' }),
  timeWindow: duration({ default: '1m', minimumMs: 1_000, description: 'Window length.' })
}, { additionalProperties: false })

export const RateLimitSchema = Type.Union([Type.Literal(false), RateLimitObjectSchema], {
  description: "Rate limit of the plugin's routes (@fastify/rate-limit; shared through Redis when configured), per user when " +
    'authenticated, per IP otherwise; or false to leave it to the host.'
})

/** Abuse protection of the plugin's own routes (per user when authenticated, per IP otherwise). */
export type RateLimitOptions = Static<typeof RateLimitObjectSchema>

export interface ResolvedRateLimitOptions {
  max: number
  timeWindowMs: number
}

const DEFAULTS = defaultsOf(RateLimitObjectSchema)

export function resolveRateLimit (r: Static<typeof RateLimitSchema> | undefined): ResolvedRateLimitOptions | null {
  if (r === false) return null
  return { max: r?.max ?? DEFAULTS.max, timeWindowMs: durationMs(r?.timeWindow, RateLimitObjectSchema.properties.timeWindow, 'rateLimit.timeWindow') }
}
