/*
 * The plugin's options: one schema per group (validation, types, defaults and the generated
 * docs/configuration.md all come from it) and the resolver that turns them into ResolvedOptions.
 */
export { ALLOWED_SCOPES, type DiscordAppOptions, type ResolvedDiscordApp } from './discord-app.js'
export { normaliseRedirectUrl, type AuthOptions, type JwtSecretOption, type ResolvedAuthOptions } from './auth.js'
export type { StoreOption } from './store.js'
export type { TokenRefreshOptions, ResolvedTokenRefreshOptions } from './token-refresh.js'
export type { HealthCheckOptions, ResolvedHealthCheckOptions } from './health-check.js'
export type { GatewayOptions, ResolvedGatewayOptions } from './gateway.js'
export type { RateLimitOptions, ResolvedRateLimitOptions } from './rate-limit.js'
export type { ReadCacheOptions, ResolvedReadCacheOptions } from './read-cache.js'
export type { SyncOptions, ResolvedSyncOptions } from './sync.js'
export type { JobsOptions, ResolvedJobsOptions, JobsBackendName, JobsRole } from './jobs.js'
export type { MetricsOptions, ResolvedMetricsOptions } from './metrics.js'
export { LINKED_ROLE_TYPES, type LinkedRolesOptions, type LinkedRoleValue, type ResolvedLinkedRoles, type ResolvedLinkedRoleField } from './linked-roles.js'
export { OptionsSchema, type FastifyDiscordSyncOptions } from './schema.js'
export { DEFAULT_OPTIONS } from './defaults.js'
export { resolveOptions, type ResolvedOptions } from './resolve.js'
