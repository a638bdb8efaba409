import { Type, type Static } from '@sinclair/typebox'
import { defaultsOf, duration, opt } from './define.js'
import { durationMs } from './fail.js'

const ReadCacheObjectSchema = Type.Object({
  maxEntries: opt(Type.Integer({ minimum: 1, maximum: 100_000 }), { default: 500, description: 'Rendered pages kept at most (the least recently read are dropped first).' }),
  maxChars: opt(Type.Integer({ minimum: 1_024, maximum: 1_073_741_824 }), {
    default: 8_388_608,
    description: 'Characters of rendered JSON kept at most, all pages together; a page longer than an eighth of it is never kept.'
  }),
  maxAge: duration({
    default: '1s',
    minimumMs: 0,
    description: 'How long a kept page may answer at most, even while the store reports no change: bounds what a page shows ' +
      'from outside the store (role colours on audit entries come from the role cache).'
  })
}, { additionalProperties: false })

export const ReadCacheSchema = Type.Union([Type.Literal(false), ReadCacheObjectSchema], {
  description: 'Rendered answers of the admin list routes (users, guilds, role mappings, sync runs, audit, token refresh runs) reused while the store ' +
    'reports that nothing it holds has changed since (SQLite: its data_version and change count, which see every commit of ' +
    'this process and of any other on the same file). A store that cannot tell (MongoDB, a host store without `changeMark`) ' +
    'gets every page built per request. false turns it off.'
})

/** Reuse of rendered list pages while the store is unchanged. */
export type ReadCacheOptions = Static<typeof ReadCacheObjectSchema>

export interface ResolvedReadCacheOptions {
  maxEntries: number
  maxChars: number
  maxAgeMs: number
}

const DEFAULTS = defaultsOf(ReadCacheObjectSchema)

export function resolveReadCache (r: Static<typeof ReadCacheSchema> | undefined): ResolvedReadCacheOptions | null {
  if (r === false) return null
  return {
    maxEntries: r?.maxEntries ?? DEFAULTS.maxEntries,
    maxChars: r?.maxChars ?? DEFAULTS.maxChars,
    maxAgeMs: durationMs(r?.maxAge, ReadCacheObjectSchema.properties.maxAge, 'readCache.maxAge')
  }
}
