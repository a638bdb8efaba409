export { DiscordRestClient } from './client.js'
export type { CallOptions, HttpMethod, RequestAuth, RestRequest, WriteOptions } from './types.js'
export { DiscordBotClient, type GetGuildOptions, type ListMembersOptions } from './bot.js'
export { DiscordUserClient, type CurrentUserGuildsOptions } from './user.js'
export { DiscordOAuth2Client, type OAuth2ClientCredentials } from './oauth2.js'
export type { DiscordRestClientOptions, DiscordRestLogger, RedisOutageSignal } from './options.js'
export { DEFAULT_REST_OPTIONS, PACKAGE_URL, PACKAGE_VERSION } from './defaults.js'
export type {
  DiscordRestEvents,
  RateLimitedEvent,
  RequestEvent,
  ResponseEvent,
  RetryEvent,
  StoreEvent,
  TokenLockedEvent,
  WaitEvent
} from './events.js'
export type { RateLimitStore, BucketAcquireResult, BucketUpdate, GlobalAcquireParams, GlobalAcquireResult } from './ratelimit/store.js'
export type { GlobalArbiter } from './ratelimit/arbiter.js'
export { MemoryRateLimitStore } from './ratelimit/memory.js'
export { RedisRateLimitStore } from './ratelimit/redis.js'
export { parseRoute, type RouteInfo } from './route.js'
export { botTokenId } from './token.js'
export * from './errors/index.js'
