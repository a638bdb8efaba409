/*
 * fastify-discord-sync/testing: a Discord API v10 simulator for tests and benchmarks.
 * See simulator.ts for the API, ratelimit/config.ts for the default limits and their sources,
 * and README.md for the layout.
 */
export { createDiscordSimulator } from './simulator.js'
export type { DiscordSimulator, SimulatorOptions } from './simulator.js'
export type { RecordedRequest, RateLimitScope, AuthKind } from './rest/request.js'
export type { RequestCount } from './rest/request-log.js'
export type { FaultOptions, ScriptedFault } from './faults.js'
export type { BucketLimit, InvalidRequestLimit, RateLimitConfig, RateLimitOptions } from './ratelimit/config.js'
export type { ForcedSharedLimit } from './ratelimit/limiter.js'
export { DEFAULT_BUCKETS, DEFAULT_ROUTE_GROUPS } from './ratelimit/config.js'
export { SimulatorState } from './state/simulator-state.js'
export type { ApiMember, ApiRole, ApiUser } from './state/api-shapes.js'
export type { AuthorizationSummary, IssuedTokens, OAuthAppSeed } from './state/oauth-types.js'
export type {
  AuditLogEntry, BotSeed, ChannelSeed, PrivilegedIntentSettings, GuildSeed, RoleSeed, SimChannel, SimGuild, SimMember, SimMessage, SimRole, SimUser, UserSeed
} from './state/types.js'
export type { Overwrite } from './permissions.js'
export { ALL_PERMISSIONS, PermissionFlags } from './permissions.js'
export { compareSnowflakes, isSnowflake, SnowflakeGenerator } from './snowflake.js'
export { createBotToken, tokenId } from './tokens.js'
export type { DropOptions, GatewayOptions, GatewaySessionInfo, SimulatorGateway } from './gateway/controls.js'
export { CloseCode as GatewayCloseCode, Intent as GatewayIntent, Op as GatewayOp } from './gateway/protocol.js'
export type { GatewayPayload } from './gateway/protocol.js'
export type { DeliverOptions, SignatureMode, WebhookDelivery } from './webhooks/deliver.js'
export type { WebhookEventBody } from './webhooks/payloads.js'
export type { DeauthorizeResult, SimulatorWebhooks } from './webhooks/webhook-events.js'
export type { StateEventMap, StateEventName, StateListener, StateEvents } from './state/events.js'
export { maxInSimulatorWindows, maxInSlidingWindow } from './ratelimit/windows.js'
