import { appendBounded, DEFAULT_AUDIT_LOG_LIMIT, DEFAULT_MESSAGE_LIMIT } from '../retention.js'
import { SnowflakeGenerator } from '../snowflake.js'
import { apiGuild, apiMember, apiPartialGuild, apiRole, apiUser, type ApiMember, type ApiRole, type ApiUser } from './api-shapes.js'
import { ChannelStore } from './channels.js'
import { StateEvents } from './events.js'
import { GuildStore } from './guilds.js'
import { MemberStore } from './members.js'
import { OAuthStore, type OAuthLifetimes } from './oauth.js'
import type { KeyObject } from 'node:crypto'
import type { AccessTokenRecord, AuthorizationCodeRecord, AuthorizationSummary, IssuedTokens, OAuthApp, OAuthAppSeed, OAuthAuthorization } from './oauth-types.js'
import type { AuditLogEntry, BotSeed, PrivilegedIntentSettings, ChannelSeed, GuildSeed, RoleSeed, SimBot, SimChannel, SimGuild, SimMember, SimMessage, SimRole, SimUser, UserSeed } from './types.js'
import { UserStore } from './users.js'

/*
 * The simulator's world: users, bots, guilds with roles and members, channels and
 * messages, OAuth2 applications and authorizations. Tests seed it directly (no HTTP)
 * and inspect it after driving the product through the HTTP API.
 *
 * This class is the one surface tests and routes use; each aggregate keeps its own rules in
 * its store (users.ts, guilds.ts, members.ts, channels.ts, oauth.ts), and the API answer
 * shapes are built in api-shapes.ts.
 *
 * Raw tokens are never stored: bots and OAuth tokens are kept under a SHA-256 key, so
 * dumping the state (or a failing assertion printing it) cannot leak a credential.
 */

export interface StateOptions extends OAuthLifetimes {
  /** Audit-log entries kept, the newest (default DEFAULT_AUDIT_LOG_LIMIT; see retention.ts). */
  auditLogLimit?: number
  /** Channel messages kept over all channels, the newest (default DEFAULT_MESSAGE_LIMIT). */
  messageLimit?: number
}

export class SimulatorState {
  readonly users: Map<string, SimUser>
  readonly guilds: Map<string, SimGuild>
  readonly channels: Map<string, SimChannel>
  readonly messages: SimMessage[]
  readonly auditLog: AuditLogEntry[] = []
  readonly apps: Map<string, OAuthApp>
  readonly ids = new SnowflakeGenerator()
  /**
   * How many guilds one user may be in: Add Guild Member answers 30001 "Maximum number of guilds
   * reached (100)" at this count. Lower it to reach the limit without seeding 100 guilds.
   */
  userGuildLimit = 100
  /** Linked Roles: application id -> its role connection metadata records (docs/application-role-connection-metadata.mdx). */
  readonly roleConnectionMetadata = new Map<string, ReadonlyArray<Record<string, unknown>>>()
  /** `${application id}:${user id}` -> the user's role connection for that application (docs/user.mdx). */
  readonly roleConnections = new Map<string, { platform_name: string | null, platform_username: string | null, metadata: Record<string, string> }>()
  /**
   * Every change to members and roles, from REST writes and from the helpers below alike
   * (the Gateway dispatches from these). Subscribe with `events.on(name, listener)`.
   */
  readonly events = new StateEvents()

  /** token hash key -> bot */
  readonly botsByKey: Map<string, SimBot>
  /** access-token hash key -> record */
  readonly accessTokens: Map<string, AccessTokenRecord>
  /** refresh-token hash key -> authorization */
  readonly refreshTokens: Map<string, OAuthAuthorization>
  /** authorization code (hash key) -> record */
  readonly codes: Map<string, AuthorizationCodeRecord>
  readonly authorizations: OAuthAuthorization[]

  readonly #users: UserStore
  readonly #guilds: GuildStore
  readonly #members: MemberStore
  readonly #channels: ChannelStore
  readonly #oauth: OAuthStore
  readonly #auditLogLimit: number

  constructor (options: StateOptions) {
    this.#auditLogLimit = options.auditLogLimit ?? DEFAULT_AUDIT_LOG_LIMIT
    this.#users = new UserStore(this.ids)
    this.#guilds = new GuildStore(this.#users, this.events)
    this.#members = new MemberStore(this.#guilds, this.#users, this.events)
    this.#channels = new ChannelStore(this.#guilds, options.messageLimit ?? DEFAULT_MESSAGE_LIMIT)
    this.#oauth = new OAuthStore(this.#users.users, options)
    this.users = this.#users.users
    this.guilds = this.#guilds.guilds
    this.channels = this.#channels.channels
    this.messages = this.#channels.messages
    this.apps = this.#oauth.apps
    this.botsByKey = this.#users.botsByKey
    this.accessTokens = this.#oauth.accessTokens
    this.refreshTokens = this.#oauth.refreshTokens
    this.codes = this.#oauth.codes
    this.authorizations = this.#oauth.authorizations
  }

  // ------------------------------------------------------------ users and bots

  addUser (seed: UserSeed): SimUser {
    return this.#users.addUser(seed)
  }

  /** Bulk: `count` users with fresh snowflakes (or the given ids). Returns the ids in creation order. */
  addUsers (countOrIds: number | string[]): string[] {
    return this.#users.addUsers(countOrIds)
  }

  getUser (userId: string): SimUser | undefined {
    return this.users.get(userId)
  }

  addBot (seed: BotSeed): SimUser {
    return this.#users.addBot(seed)
  }

  /** Invalidate a bot token (a reset in the developer portal): later requests with it get 401. */
  revokeBotToken (token: string): boolean {
    return this.#users.revokeBotToken(token)
  }

  findBot (token: string): SimBot | undefined {
    return this.#users.findBot(token)
  }

  /**
   * Turns the app's privileged intents on or off (the developer portal's "Privileged Gateway
   * Intents" toggles). GUILD_MEMBERS also gates List Guild Members. Returns false for an unknown token.
   */
  setPrivilegedIntents (token: string, intents: PrivilegedIntentSettings): boolean {
    const bot = this.#users.findBot(token)
    if (bot === undefined) return false
    if (intents.guildMembers !== undefined) bot.guildMembersIntent = intents.guildMembers
    if (intents.guildPresences !== undefined) bot.guildPresencesIntent = intents.guildPresences
    if (intents.messageContent !== undefined) bot.messageContentIntent = intents.messageContent
    return true
  }

  // ------------------------------------------------------------ guilds and roles

  addGuild (seed: GuildSeed): SimGuild {
    return this.#guilds.addGuild(seed)
  }

  getGuild (guildId: string): SimGuild | undefined {
    return this.guilds.get(guildId)
  }

  addRole (guildId: string, seed: RoleSeed): SimRole {
    return this.#guilds.addRole(guildId, seed)
  }

  getRole (guildId: string, roleId: string): SimRole | undefined {
    return this.guilds.get(guildId)?.roles.get(roleId)
  }

  listRoles (guildId: string): SimRole[] {
    return this.#guilds.listRoles(guildId)
  }

  setRolePosition (guildId: string, roleId: string, position: number): void {
    this.#guilds.setRolePosition(guildId, roleId, position)
  }

  setRolePermissions (guildId: string, roleId: string, permissions: string | bigint): void {
    this.#guilds.setRolePermissions(guildId, roleId, permissions)
  }

  setRoleManaged (guildId: string, roleId: string, managed: boolean): void {
    this.#guilds.setRoleManaged(guildId, roleId, managed)
  }

  /** Deleting a role also takes it off every member, as Discord does. */
  removeRole (guildId: string, roleId: string): void {
    this.#guilds.removeRole(guildId, roleId)
  }

  // ------------------------------------------------------------ members

  /** Adds (or replaces) a member. Unknown users are created on the fly so bulk seeding stays one call. */
  addMember (guildId: string, userId: string, roleIds: readonly string[] = [], extra: { nick?: string | null, joined_at?: string } = {}): SimMember {
    return this.#members.addMember(guildId, userId, roleIds, extra)
  }

  /** Bulk: add many members at once (one sort invalidation). */
  addMembers (guildId: string, members: ReadonlyArray<{ userId: string, roleIds?: readonly string[] }>): void {
    for (const m of members) this.addMember(guildId, m.userId, m.roleIds ?? [])
  }

  /** Bulk: create `count` new users with fresh snowflakes and make them members with `roleIds`. Returns their ids, ascending. */
  seedMembers (guildId: string, count: number, roleIds: readonly string[] = []): string[] {
    const ids = this.addUsers(count)
    for (const id of ids) this.addMember(guildId, id, roleIds)
    return ids
  }

  getMember (guildId: string, userId: string): ApiMember | undefined {
    const member = this.#members.find(guildId, userId)
    return member === undefined ? undefined : this.apiMember(member)
  }

  memberRoles (guildId: string, userId: string): string[] | undefined {
    const roles = this.#members.find(guildId, userId)?.roles
    return roles === undefined ? undefined : [...roles]
  }

  /** Replaces a member's roles (@everyone and duplicates dropped), as PATCH member's `roles` does. */
  setMemberRoles (guildId: string, userId: string, roleIds: readonly string[]): void {
    this.#members.setMemberRoles(guildId, userId, roleIds)
  }

  /** Changes roles (replacing the list) and/or the nickname as one update. */
  updateMember (guildId: string, userId: string, change: { roles?: readonly string[], nick?: string | null }): void {
    this.#members.updateMember(guildId, userId, change)
  }

  removeMember (guildId: string, userId: string): boolean {
    return this.#members.removeMember(guildId, userId)
  }

  memberCount (guildId: string): number {
    return this.#members.memberCount(guildId)
  }

  /** Member ids in ascending numeric order (cached until membership changes). */
  sortedMemberIds (guild: SimGuild): string[] {
    return this.#members.sortedMemberIds(guild)
  }

  basePermissions (guildId: string, userId: string): bigint {
    return this.#members.basePermissions(guildId, userId)
  }

  // ------------------------------------------------------------ channels and messages

  addChannel (seed: ChannelSeed): SimChannel {
    return this.#channels.addChannel(seed)
  }

  channelMessages (channelId: string): SimMessage[] {
    return this.#channels.channelMessages(channelId)
  }

  /** Stores a posted message; past `messageLimit` the oldest message (of any channel) is dropped. */
  addMessage (message: SimMessage): void {
    this.#channels.addMessage(message)
  }

  /** Appends to the audit log; past `auditLogLimit` the oldest entry is dropped. */
  addAuditEntry (entry: AuditLogEntry): void {
    appendBounded(this.auditLog, entry, this.#auditLogLimit)
  }

  // ------------------------------------------------------------ OAuth2

  addOAuthApp (seed: OAuthAppSeed): OAuthApp {
    return this.#oauth.addOAuthApp(seed)
  }

  getOAuthApp (clientId: string): OAuthApp | undefined {
    return this.apps.get(clientId)
  }

  /** Sets (or clears) the app's Webhook Events URL. */
  setEventWebhooksUrl (clientId: string, url: string | null): void {
    const app = this.apps.get(clientId)
    if (app === undefined) throw new Error(`discord simulator: unknown OAuth app ${clientId}`)
    app.event_webhooks_url = url
  }

  /** The app's private Ed25519 key, which signs its webhook events. */
  signingKey (clientId: string): KeyObject {
    return this.#oauth.signingKey(clientId)
  }

  /** Creates a single-use authorization code (what the consent page does on "Authorize"). */
  createAuthorizationCode (input: { clientId: string, userId: string, scopes: string[], redirectUri: string, redirectUriGiven: boolean, codeChallenge?: string | null }): string {
    return this.#oauth.createAuthorizationCode(input)
  }

  findCode (code: string): AuthorizationCodeRecord | undefined {
    return this.#oauth.findCode(code)
  }

  /**
   * Issues tokens for a new authorization. Also usable directly by tests that need a Bearer
   * token without driving the consent page.
   */
  issueUserToken (input: { clientId: string, userId: string, scopes: string[], withRefreshToken?: boolean }): IssuedTokens {
    return this.#oauth.issueUserToken(input)
  }

  /** Refresh-token rotation: new access and refresh tokens; the old refresh token stops working. */
  rotate (authorization: OAuthAuthorization): IssuedTokens {
    return this.#oauth.rotate(authorization)
  }

  findAccessToken (token: string): AccessTokenRecord | undefined {
    return this.#oauth.findAccessToken(token)
  }

  findRefreshToken (token: string): OAuthAuthorization | undefined {
    return this.#oauth.findRefreshToken(token)
  }

  /** The authorization behind an access or refresh token, even if the access token has expired. */
  findAuthorizationByToken (token: string): OAuthAuthorization | undefined {
    return this.#oauth.findAuthorizationByToken(token)
  }

  /** docs/oauth2.mdx: revoking either token revokes every token of that authorization. */
  revokeAuthorization (authorization: OAuthAuthorization): void {
    this.#oauth.revokeAuthorization(authorization)
  }

  /** The user removes the app from Authorized Apps: every token they gave `clientId` stops working. Returns how many authorizations were revoked. */
  revokeUserAuthorizations (clientId: string, userId: string): number {
    return this.#oauth.revokeUserAuthorizations(clientId, userId)
  }

  /** Makes a user's access token expire now (tests of 401-then-refresh). */
  expireAccessToken (token: string): boolean {
    return this.#oauth.expireAccessToken(token)
  }

  listAuthorizations (): AuthorizationSummary[] {
    return this.#oauth.listAuthorizations()
  }

  // ------------------------------------------------------------ API object builders

  apiUser (user: SimUser): ApiUser {
    return apiUser(user)
  }

  apiMember (member: SimMember): ApiMember {
    return apiMember(member, this.users)
  }

  apiRole (role: SimRole): ApiRole {
    return apiRole(role)
  }

  apiGuild (guild: SimGuild, withCounts: boolean): Record<string, unknown> {
    return apiGuild(guild, this.listRoles(guild.id), withCounts)
  }

  /** Partial guild of GET /users/@me/guilds, relative to `userId` (owner, permissions). */
  apiPartialGuild (guild: SimGuild, userId: string, withCounts: boolean): Record<string, unknown> {
    return apiPartialGuild(guild, userId, this.basePermissions(guild.id, userId), withCounts)
  }
}
