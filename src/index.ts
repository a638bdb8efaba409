/*
 * The public surface of the package, and nothing else: the plugin itself comes from src/plugin.ts,
 * where it is wired; everything below is re-exported for hosts (types, errors, the REST client,
 * the pure planner). No module inside src/ imports this file.
 */
import fp from 'fastify-plugin'
import { fastifyDiscordSync as body } from './plugin.js'

const plugin = fp(body, { name: 'fastify-discord-sync', fastify: '5.x' })

export default plugin
export { plugin as fastifyDiscordSync }
export type { DiscordSyncNamespace, DiscordSyncPublicOptions, SyncModule } from './namespace.js'
export { DiscordSyncEvents } from './events.js'
export type * from './events.js'
export { resolveOptions, ALLOWED_SCOPES, DEFAULT_OPTIONS } from './options/index.js'
export type { FastifyDiscordSyncOptions, StoreOption, DiscordAppOptions } from './options/index.js'
export type { AuthOptions, TokenRefreshOptions, JwtSecretOption } from './options/index.js'
export type { AuthUser, DiscordProfile, ResolveUserHook, ResolveUserContext, ResolvedUser, IsAdminHook } from './auth/types.js'
export type { SessionAuth } from './auth/session.js'
export type { AuthStatus, LinkedAccount, UnlinkResult } from './auth/oauth-types.js'
export type { TokenRefreshRun, TokenRefreshError } from './tasks/token-refresh.js'
export * from './errors.js'
export * from './store/index.js'
export type { HealthReport } from './health/module.js'
export { parseDuration, formatDuration } from './util/duration.js'
// The Discord REST client the plugin decorates as `fastify.discord.client`, its typed errors and
// rate-limit stores, for hosts that call Discord themselves or handle its errors.
export * from './discord/index.js'
export type { ManualSyncInput, RunView, SyncStatus } from './sync/engine.js'
export type { MembershipInfo, MembershipProvider } from './sync/membership.js'
export type { UserGroup } from './sync/types.js'
export type { UserSyncResult, UserGuildSyncResult } from './sync/user-sync.js'
// The pure planner, for hosts that want to preview what a sync would do with their own data.
export { compileGuildPlan, planMemberRoles, managedRoleIds } from './sync/planner.js'
export type * from './sync/types.js'
