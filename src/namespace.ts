import type { LiveGateway } from './live/gateway/gateway.js'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { RedisConnection as Redis } from './util/driver-types.js'
import type { ResolvedDiscordApp } from './options/index.js'
import type { DiscordStore } from './store/port/index.js'
import type { HealthReport } from './health/module.js'
import type { GuildHealthTask } from './health/guild-health.js'
import type { DiscordRestClient } from './discord/index.js'
import type { SessionAuth } from './auth/session.js'
import type { OAuthService } from './auth/oauth-service.js'
import type { TokenRefreshTask } from './tasks/token-refresh.js'
import type { RoleSyncTask } from './tasks/role-sync.js'
import type { SyncCleanupTask } from './tasks/cleanup.js'
import type { SyncEngine, StartedRun } from './sync/engine.js'
import type { SyncMetrics } from './sync/metrics.js'
import type { GuildService } from './guilds/service.js'
import type { MappingService } from './guilds/mappings/service.js'
import type { UserService } from './users/service.js'
import type { DiscordSyncEvents } from './events.js'
import type { PushAccepted } from './live/push.js'
import type { JobBackend } from './jobs/backend.js'

/*
 * The shape of `fastify.discord`, declared apart from src/plugin.ts (which builds it) so that
 * routes and hosts get its types without importing the wiring.
 */

/** Options as the plugin resolved them, without any secret. */
export interface DiscordSyncPublicOptions {
  routePrefix: string
  apiBaseUrl: string
  redisKeyPrefix: string
  stateExpiryMs: number
  tokenRefreshThresholdMs: number
  syncIntervalMs: number
  discord: Omit<ResolvedDiscordApp, 'clientSecret'> | null
}

/** `fastify.discord.sync`. */
export interface SyncModule {
  /** Runs, user syncs, unlink removals, status, runs and audit queries. */
  readonly engine: SyncEngine
  /** Null when metrics are disabled. */
  readonly metrics: SyncMetrics | null
  /** The scheduled role sync (null when `sync.enabled` is false): `tick()`. */
  readonly scheduler: RoleSyncTask | null
  /** The retention cleanup (null when `sync.enabled` is false): `run()`. */
  readonly cleanup: SyncCleanupTask | null
  /** POST /sync/manual?wait=true waits at most this long. */
  readonly waitTimeoutMs: number
  readonly metricsRoute: { enabled: boolean, access: 'admin' | 'public' }
  /**
   * Removes the managed roles of a Discord account that is no longer linked, in every enabled
   * guild whose remove_roles_on_leave is on. For hosts that delete links themselves; the
   * plugin's own unlink route triggers it automatically.
   */
  removeManagedRoles (discordUserId: string, initiatedBy: string): Promise<StartedRun>
}

/** Everything the plugin exposes on the instance, under `fastify.discord`. */
export interface DiscordSyncNamespace {
  /** The persistence port (SQLite, MongoDB or a host-provided store). */
  readonly store: DiscordStore
  /** The Redis connection in use, or null. */
  readonly redis: Redis | null
  readonly options: Readonly<DiscordSyncPublicOptions>
  /** True when a Discord application (client id/secret) is configured. */
  readonly discordConfigured: boolean
  /** preHandler for Discord-dependent routes: 503 FST_DISCORD_NOT_CONFIGURED without credentials. */
  requireDiscord (request: FastifyRequest, reply: FastifyReply): Promise<void>
  /** The module's health, as served by GET /status. */
  health (): Promise<HealthReport>
  /**
   * What the plugin does, as typed events (`account.linked`, `account.unlinked`, `oauth.failed`,
   * `tokens.refreshed`, `sync.finished`, …): `on(name, listener)` returns the unsubscribe function.
   */
  readonly events: DiscordSyncEvents
  /** The Discord REST client (rate limits shared through Redis when configured). */
  readonly client: DiscordRestClient
  /**
   * Sessions and authorisation: `authenticate`, `optionalAuth` and `requireAdmin` preHandlers
   * (usable on host routes too), `isAdmin`, `assertSelfOrAdmin`, `issue` and `setSessionCookie`.
   */
  readonly auth: SessionAuth
  /** The OAuth2 login/link flow, unlinking and the auth status. */
  readonly oauth: OAuthService
  /** Guild configuration: create, update (bot token checked with Discord), inspect, delete. */
  readonly guilds: GuildService
  /** Group-to-role mappings of a guild, with import and export. */
  readonly mappings: MappingService
  /** Linked Discord accounts (read access; never tokens). */
  readonly users: UserService
  /** The scheduled token refresh (null when disabled or Discord is not configured): `run()`, `history()` (runs recorded in the store). */
  readonly tokenRefresh: TokenRefreshTask | null
  /** The scheduled bot health check of enabled guilds (null when disabled): `run()`, `checkGuild()`. */
  readonly guildHealth: GuildHealthTask | null
  /**
   * Role synchronisation: `engine` (manual, guild and user syncs, unlink removals, status, runs,
   * audit), `metrics` (prom-client, or null), `scheduler` and `cleanup` tasks, `removeManagedRoles()`.
   */
  readonly sync: SyncModule
  /**
   * Host push: the host's groups changed for these users (its own user ids). They are coalesced
   * for `sync.pushDebounce` (2 s) and then each gets one targeted sync across every enabled guild.
   * Validates synchronously (400 FST_DISCORD_VALIDATION, 503 FST_DISCORD_SYNC_NOT_CONFIGURED).
   */
  notifyMembershipChanged (userIds: readonly string[]): PushAccepted
  /**
   * The live Gateway connection (roles on join, drift revert, role and guild events); null when
   * `gateway.enabled` is false or no membership provider is configured.
   */
  gateway: LiveGateway | null
  /**
   * Where background work runs (`jobs.backend`, `jobs.role`): `syncUser()`, `runUnlinkRemoval()`,
   * `removeManagedRoles()` hand work to it; `stats()` reads the BullMQ queue (null when local).
   */
  readonly jobs: JobBackend
}

declare module 'fastify' {
  interface FastifyInstance {
    discord: DiscordSyncNamespace
  }
}
