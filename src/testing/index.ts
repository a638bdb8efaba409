/*
 * fastify-discord-sync/testing: a Discord API v10 simulator for tests and benchmarks.
 * See simulator.ts for the API and rate-limits.ts for the default limits and their sources.
 */
export { createDiscordSimulator } from './simulator.js'
export type { DiscordSimulator, SimulatorOptions } from './simulator.js'
export type { RecordedRequest, RateLimitScope, AuthKind } from './context.js'
export type { FaultOptions, ScriptedFault } from './faults.js'
export type { BucketLimit, ForcedSharedLimit, InvalidRequestLimit, RateLimitConfig, RateLimitOptions } from './rate-limits.js'
export { DEFAULT_BUCKETS, DEFAULT_ROUTE_GROUPS } from './rate-limits.js'
export { SimulatorState } from './state.js'
export type {
  ApiMember, ApiRole, ApiUser, AuditLogEntry, AuthorizationSummary, BotSeed, ChannelSeed, GuildSeed, IssuedTokens,
  OAuthAppSeed, RoleSeed, SimChannel, SimGuild, SimMember, SimMessage, SimRole, SimUser, UserSeed
} from './types.js'
export type { Overwrite } from './permissions.js'
export { ALL_PERMISSIONS, PermissionFlags } from './permissions.js'
export { compareSnowflakes, isSnowflake, SnowflakeGenerator } from './snowflake.js'
export { tokenId } from './tokens.js'
export { maxInSimulatorWindows, maxInSlidingWindow } from './windows.js'
