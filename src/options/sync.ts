import { Type, type Static } from '@sinclair/typebox'
import { defaultsOf, duration, opt } from './define.js'
import { durationMs, fail } from './fail.js'

export const SyncSchema = Type.Object({
  enabled: opt(Type.Boolean(), {
    default: true,
    description: 'Run scheduled syncs (each enabled guild with auto_sync at its own sync_interval) and the retention cleanup.'
  }),
  workers: opt(Type.Integer({ minimum: 1, maximum: 100 }), {
    default: 5,
    description: "Members applied at once per guild (p-limit); Discord's shared rate limits set the real pace."
  }),
  guildConcurrency: opt(Type.Integer({ minimum: 1, maximum: 50 }), {
    defaultText: "derived from the bot's global budget: one guild per request per second of it (50)",
    description: "Guilds synced at once within one run. By default as many as the bot's global budget has requests per second " +
      "(Discord's 50): each guild is held back by its own member-write bucket (about one write per second), so that many keep the " +
      'budget busy, and the global arbiter keeps them together within it. Set it only to cap parallelism below that.'
  }),
  lockTtl: duration({
    default: '2m',
    minimumMs: 5_000,
    description: "Lifetime of a guild's sync lock (Redis when configured, in-process otherwise); renewed on every heartbeat, " +
      'so it only lapses when its holder dies. At least twice `sync.heartbeatInterval`.'
  }),
  heartbeatInterval: duration({ default: '15s', minimumMs: 1_000, description: 'How often a running run writes its heartbeat and progress to the store.' }),
  staleAfter: duration({
    default: '2m',
    minimumMs: 5_000,
    description: 'A running run without a heartbeat for this long is failed as interrupted (error code `stale`) by the next scheduler tick or start-up, its lock freed and its guild due again. At least twice `sync.heartbeatInterval`.'
  }),
  roleCacheTtl: duration({
    default: '5m',
    minimumMs: 1_000,
    description: "How long guild roles and the bot's position are cached (refreshed early on 10011/50013)."
  }),
  retention: duration({
    default: '90d',
    minimumMs: 60_000,
    description: 'Run records and audit entries older than this are pruned (see docs/operations.md for the rows and bytes it keeps). ' +
      'At least `sync.guildTimeout` + `sync.staleAfter`, so the audit of a run that can still be running or reconciled is never pruned.'
  }),
  cleanupInterval: duration({ default: '6h', minimumMs: 60_000, description: 'How often the retention cleanup runs.' }),
  schedulerTick: duration({ default: '1m', minimumMs: 1_000, description: 'How often the scheduler looks for guilds whose sync_interval has elapsed.' }),
  waitTimeout: duration({ default: '30s', minimumMs: 0, description: 'POST /sync/manual with wait=true waits this long for the run before answering 202.' }),
  guildTimeout: duration({
    default: '45m',
    minimumMs: 1_000,
    description: "Longest one guild's sync may take within a run. Past it the run is cancelled and ends `failed` with the reason, and its locks are freed."
  }),
  providerTimeout: duration({
    default: '30s',
    minimumMs: 100,
    description: 'Longest one call to the membership provider may take before it counts as failed (and is retried, see `sync.providerRetries`).'
  }),
  providerRetries: opt(Type.Integer({ minimum: 0, maximum: 10 }), {
    default: 2,
    description: 'Extra attempts for a membership provider call that threw or timed out, with exponential backoff (200 ms, 400 ms, ...). The member fails only when every attempt did.'
  }),
  writeDelay: duration({
    default: 0,
    minimumMs: 0,
    description: "Minimum spacing between role writes to one guild (the seed's DISCORD_RATE_LIMIT_DELAY). 0 leaves the pace to Discord's rate-limit headers."
  }),
  syncOnLink: opt(Type.Boolean(), { default: true, description: "Sync a user's roles right after a successful OAuth link." }),
  pushDebounce: duration({
    default: '2s',
    minimumMs: 0,
    description: 'Host push (`notifyMembershipChanged`, POST /sync/users): user ids named within this window are coalesced into one targeted sync per user when it ends.'
  }),
  auditChannel: opt(Type.Boolean(), { default: true, description: "Post a summary to a guild's audit_channel_id after a run with changes." }),
  nicknameVariables: opt(Type.Array(Type.String({ pattern: '^[a-z][a-z0-9_]{0,31}$' }), { maxItems: 50, uniqueItems: true }), {
    default: ['name', 'ticker'],
    description: "Profile fields the membership provider supplies (`profile` of each user) that a guild's `nickname_template` may use, besides the built-ins `username` and `global_name`. A template naming any other variable is refused at save (400)."
  })
}, { additionalProperties: false, description: 'The role synchronisation engine and its scheduled tasks (see docs/sync.md).' })

/** The role synchronisation engine and its scheduled tasks. */
export type SyncOptions = Static<typeof SyncSchema>

export interface ResolvedSyncOptions {
  enabled: boolean
  workers: number
  /** Undefined: derived from the global budget (see guildConcurrencyFor). */
  guildConcurrency: number | undefined
  lockTtlMs: number
  heartbeatMs: number
  staleAfterMs: number
  roleCacheTtlMs: number
  retentionMs: number
  cleanupIntervalMs: number
  schedulerTickMs: number
  waitTimeoutMs: number
  guildTimeoutMs: number
  providerTimeoutMs: number
  providerRetries: number
  writeDelayMs: number
  syncOnLink: boolean
  pushDebounceMs: number
  auditChannel: boolean
  nicknameVariables: readonly string[]
}

const DEFAULTS = defaultsOf(SyncSchema)

export function resolveSync (s: SyncOptions | undefined): ResolvedSyncOptions {
  const o = s ?? {}
  const p = SyncSchema.properties
  const heartbeatMs = durationMs(o.heartbeatInterval, p.heartbeatInterval, 'sync.heartbeatInterval')
  const lockTtlMs = durationMs(o.lockTtl, p.lockTtl, 'sync.lockTtl')
  const staleAfterMs = durationMs(o.staleAfter, p.staleAfter, 'sync.staleAfter')
  // A live run renews its lock and heartbeat every heartbeat: both must outlast a few of them,
  // or a healthy run would be taken for dead.
  if (lockTtlMs < heartbeatMs * 2) fail('sync.lockTtl', 'must be at least twice sync.heartbeatInterval')
  if (staleAfterMs < heartbeatMs * 2) fail('sync.staleAfter', 'must be at least twice sync.heartbeatInterval')
  const retentionMs = durationMs(o.retention, p.retention, 'sync.retention')
  const guildTimeoutMs = durationMs(o.guildTimeout, p.guildTimeout, 'sync.guildTimeout')
  // Reconciling an interrupted run reads its audit entries: they must outlive the longest run
  // plus the time it takes to be declared stale.
  if (retentionMs < guildTimeoutMs + staleAfterMs) fail('sync.retention', 'must be at least sync.guildTimeout + sync.staleAfter')
  return {
    enabled: o.enabled ?? DEFAULTS.enabled,
    workers: o.workers ?? DEFAULTS.workers,
    guildConcurrency: o.guildConcurrency,
    lockTtlMs,
    heartbeatMs,
    staleAfterMs,
    roleCacheTtlMs: durationMs(o.roleCacheTtl, p.roleCacheTtl, 'sync.roleCacheTtl'),
    retentionMs,
    cleanupIntervalMs: durationMs(o.cleanupInterval, p.cleanupInterval, 'sync.cleanupInterval'),
    schedulerTickMs: durationMs(o.schedulerTick, p.schedulerTick, 'sync.schedulerTick'),
    waitTimeoutMs: durationMs(o.waitTimeout, p.waitTimeout, 'sync.waitTimeout'),
    guildTimeoutMs,
    providerTimeoutMs: durationMs(o.providerTimeout, p.providerTimeout, 'sync.providerTimeout'),
    providerRetries: o.providerRetries ?? DEFAULTS.providerRetries,
    writeDelayMs: durationMs(o.writeDelay, p.writeDelay, 'sync.writeDelay'),
    syncOnLink: o.syncOnLink ?? DEFAULTS.syncOnLink,
    pushDebounceMs: durationMs(o.pushDebounce, p.pushDebounce, 'sync.pushDebounce'),
    auditChannel: o.auditChannel ?? DEFAULTS.auditChannel,
    nicknameVariables: [...(o.nicknameVariables ?? DEFAULTS.nicknameVariables)]
  }
}
