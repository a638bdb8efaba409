import { compareSnowflakes, isSnowflake, SnowflakeGenerator } from './snowflake.js'
import { computeBasePermissions, DEFAULT_EVERYONE_PERMISSIONS, parsePermissions } from './permissions.js'
import { randomToken, tokenId, tokenKey } from './tokens.js'
import type {
  UserSeed, BotSeed, GuildSeed, RoleSeed, ChannelSeed, OAuthAppSeed, SimUser, SimRole, SimGuild, SimMember, SimChannel, SimMessage, AuditLogEntry, SimBot, OAuthApp, OAuthAuthorization, AccessTokenRecord, AuthorizationCodeRecord, AuthorizationSummary, IssuedTokens, ApiUser, ApiMember, ApiRole
} from './types.js'

/*
 * The simulator's world: users, bots, guilds with roles and members, channels and
 * messages, OAuth2 applications and authorizations. Tests seed it directly (no HTTP)
 * and inspect it after driving the product through the HTTP API.
 *
 * Raw tokens are never stored: bots and OAuth tokens are kept under a SHA-256 key, so
 * dumping the state (or a failing assertion printing it) cannot leak a credential.
 */

function fail (message: string): never {
  throw new Error(`discord simulator: ${message}`)
}

function requireSnowflake (what: string, id: unknown): asserts id is string {
  if (!isSnowflake(id) || id === '0') fail(`${what} must be a snowflake string, got ${JSON.stringify(id)}`)
}

export interface StateOptions {
  /** Access-token lifetime in real milliseconds (already divided by the time scale). */
  accessTokenTtlMs: number
  /** Authorization-code lifetime in real milliseconds. */
  codeTtlMs: number
  /** Lifetime reported as expires_in, in real seconds. */
  accessTokenTtlSeconds: number
}

export class SimulatorState {
  readonly users = new Map<string, SimUser>()
  readonly guilds = new Map<string, SimGuild>()
  readonly channels = new Map<string, SimChannel>()
  readonly messages: SimMessage[] = []
  readonly auditLog: AuditLogEntry[] = []
  readonly apps = new Map<string, OAuthApp>()
  readonly ids = new SnowflakeGenerator()

  /** token hash key -> bot */
  readonly botsByKey = new Map<string, SimBot>()
  /** access-token hash key -> record */
  readonly accessTokens = new Map<string, AccessTokenRecord>()
  /** refresh-token hash key -> authorization */
  readonly refreshTokens = new Map<string, OAuthAuthorization>()
  /** authorization code (hash key) -> record */
  readonly codes = new Map<string, AuthorizationCodeRecord>()
  readonly authorizations: OAuthAuthorization[] = []

  #options: StateOptions
  #authorizationSeq = 0

  constructor (options: StateOptions) {
    this.#options = options
  }

  // ------------------------------------------------------------ users and bots

  addUser (seed: UserSeed): SimUser {
    requireSnowflake('user id', seed.id)
    const user: SimUser = {
      id: seed.id,
      username: seed.username ?? `user${seed.id.slice(-6)}`,
      global_name: seed.global_name ?? null,
      avatar: seed.avatar ?? null,
      bot: seed.bot ?? false,
      email: seed.email ?? null,
      verified: seed.verified ?? seed.email != null,
      locale: seed.locale ?? 'en-US',
      mfa_enabled: seed.mfa_enabled ?? false
    }
    this.users.set(user.id, user)
    return user
  }

  /** Bulk: `count` users with fresh snowflakes (or the given ids). Returns the ids in creation order. */
  addUsers (countOrIds: number | string[]): string[] {
    const ids = typeof countOrIds === 'number' ? Array.from({ length: countOrIds }, () => this.ids.next()) : countOrIds
    for (const id of ids) this.addUser({ id })
    return ids
  }

  getUser (userId: string): SimUser | undefined {
    return this.users.get(userId)
  }

  addBot (seed: BotSeed): SimUser {
    if (typeof seed.token !== 'string' || seed.token.length === 0) fail('bot token must be a non-empty string')
    const user = this.addUser({ ...seed.user, bot: true })
    const applicationId = seed.applicationId ?? user.id
    requireSnowflake('applicationId', applicationId)
    this.botsByKey.set(tokenKey(seed.token), { userId: user.id, applicationId, tokenId: tokenId(seed.token), guildMembersIntent: seed.guildMembersIntent ?? true })
    return user
  }

  /** Invalidate a bot token (a reset in the developer portal): later requests with it get 401. */
  revokeBotToken (token: string): boolean {
    return this.botsByKey.delete(tokenKey(token))
  }

  findBot (token: string): SimBot | undefined {
    return this.botsByKey.get(tokenKey(token))
  }

  // ------------------------------------------------------------ guilds and roles

  addGuild (seed: GuildSeed): SimGuild {
    requireSnowflake('guild id', seed.id)
    requireSnowflake('owner_id', seed.owner_id)
    const guild: SimGuild = {
      id: seed.id,
      name: seed.name,
      owner_id: seed.owner_id,
      features: seed.features ?? [],
      icon: seed.icon ?? null,
      description: seed.description ?? null,
      presenceCount: seed.presenceCount ?? 0,
      roles: new Map(),
      members: new Map(),
      sortedIds: null
    }
    this.guilds.set(guild.id, guild)
    // docs/permissions.mdx: "The @everyone role has the same ID as the guild it belongs to", position 0.
    this.addRole(guild.id, {
      id: guild.id,
      name: '@everyone',
      position: 0,
      permissions: seed.everyonePermissions ?? DEFAULT_EVERYONE_PERMISSIONS
    })
    if (!this.users.has(seed.owner_id)) this.addUser({ id: seed.owner_id })
    return guild
  }

  getGuild (guildId: string): SimGuild | undefined {
    return this.guilds.get(guildId)
  }

  #guild (guildId: string): SimGuild {
    return this.guilds.get(guildId) ?? fail(`unknown guild ${guildId}`)
  }

  addRole (guildId: string, seed: RoleSeed): SimRole {
    const guild = this.#guild(guildId)
    requireSnowflake('role id', seed.id)
    if (!Number.isInteger(seed.position) || seed.position < 0) fail(`role position must be a non-negative integer, got ${seed.position}`)
    const role: SimRole = {
      id: seed.id,
      name: seed.name ?? `role-${seed.id.slice(-4)}`,
      position: seed.position,
      permissions: parsePermissions(seed.permissions ?? '0').toString(),
      managed: seed.managed ?? false,
      color: seed.color ?? 0,
      hoist: seed.hoist ?? false,
      mentionable: seed.mentionable ?? false,
      ...(seed.tags !== undefined ? { tags: seed.tags } : {})
    }
    guild.roles.set(role.id, role)
    return role
  }

  getRole (guildId: string, roleId: string): SimRole | undefined {
    return this.guilds.get(guildId)?.roles.get(roleId)
  }

  listRoles (guildId: string): SimRole[] {
    return [...this.#guild(guildId).roles.values()].sort((a, b) => a.position - b.position || compareSnowflakes(a.id, b.id))
  }

  setRolePosition (guildId: string, roleId: string, position: number): void {
    const role = this.#guild(guildId).roles.get(roleId) ?? fail(`unknown role ${roleId}`)
    role.position = position
  }

  setRolePermissions (guildId: string, roleId: string, permissions: string | bigint): void {
    const role = this.#guild(guildId).roles.get(roleId) ?? fail(`unknown role ${roleId}`)
    role.permissions = parsePermissions(permissions).toString()
  }

  setRoleManaged (guildId: string, roleId: string, managed: boolean): void {
    const role = this.#guild(guildId).roles.get(roleId) ?? fail(`unknown role ${roleId}`)
    role.managed = managed
  }

  /** Deleting a role also takes it off every member, as Discord does. */
  removeRole (guildId: string, roleId: string): void {
    const guild = this.#guild(guildId)
    guild.roles.delete(roleId)
    for (const member of guild.members.values()) {
      const i = member.roles.indexOf(roleId)
      if (i !== -1) member.roles.splice(i, 1)
    }
  }

  // ------------------------------------------------------------ members

  /** Adds (or replaces) a member. Unknown users are created on the fly so bulk seeding stays one call. */
  addMember (guildId: string, userId: string, roleIds: readonly string[] = [], extra: { nick?: string | null, joined_at?: string } = {}): SimMember {
    const guild = this.#guild(guildId)
    requireSnowflake('user id', userId)
    for (const roleId of roleIds) {
      if (!guild.roles.has(roleId)) fail(`role ${roleId} does not exist in guild ${guildId}`)
    }
    if (!this.users.has(userId)) this.addUser({ id: userId })
    const member: SimMember = {
      userId,
      roles: [...new Set(roleIds)].filter((id) => id !== guildId),
      nick: extra.nick ?? null,
      joined_at: extra.joined_at ?? new Date().toISOString()
    }
    if (!guild.members.has(userId)) guild.sortedIds = null
    guild.members.set(userId, member)
    return member
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
    const guild = this.guilds.get(guildId)
    const member = guild?.members.get(userId)
    return member === undefined ? undefined : this.apiMember(member)
  }

  memberRoles (guildId: string, userId: string): string[] | undefined {
    const roles = this.guilds.get(guildId)?.members.get(userId)?.roles
    return roles === undefined ? undefined : [...roles]
  }

  setMemberRoles (guildId: string, userId: string, roleIds: readonly string[]): void {
    const member = this.#guild(guildId).members.get(userId) ?? fail(`user ${userId} is not a member of ${guildId}`)
    member.roles = [...new Set(roleIds)].filter((id) => id !== guildId)
  }

  removeMember (guildId: string, userId: string): boolean {
    const guild = this.#guild(guildId)
    const removed = guild.members.delete(userId)
    if (removed) guild.sortedIds = null
    return removed
  }

  memberCount (guildId: string): number {
    return this.#guild(guildId).members.size
  }

  /** Member ids in ascending numeric order (cached until membership changes). */
  sortedMemberIds (guild: SimGuild): string[] {
    guild.sortedIds ??= [...guild.members.keys()].sort(compareSnowflakes)
    return guild.sortedIds
  }

  basePermissions (guildId: string, userId: string): bigint {
    const guild = this.#guild(guildId)
    const member = guild.members.get(userId)
    return computeBasePermissions(guild, userId, member?.roles ?? [], guild.roles)
  }

  // ------------------------------------------------------------ channels and messages

  addChannel (seed: ChannelSeed): SimChannel {
    requireSnowflake('channel id', seed.id)
    this.#guild(seed.guild_id)
    const channel: SimChannel = {
      id: seed.id,
      guild_id: seed.guild_id,
      name: seed.name ?? `channel-${seed.id.slice(-4)}`,
      type: seed.type ?? 0,
      permission_overwrites: seed.permission_overwrites ?? []
    }
    this.channels.set(channel.id, channel)
    return channel
  }

  channelMessages (channelId: string): SimMessage[] {
    return this.messages.filter((m) => m.channel_id === channelId)
  }

  // ------------------------------------------------------------ OAuth2

  addOAuthApp (seed: OAuthAppSeed): OAuthApp {
    requireSnowflake('client_id', seed.client_id)
    if (seed.redirect_uris.length === 0) fail('an OAuth app needs at least one redirect URI')
    for (const uri of seed.redirect_uris) {
      try {
        // eslint-disable-next-line no-new
        new URL(uri)
      } catch {
        fail(`redirect URI ${uri} is not an absolute URL`)
      }
    }
    const app: OAuthApp = {
      client_id: seed.client_id,
      client_secret: seed.client_secret,
      redirect_uris: [...seed.redirect_uris],
      name: seed.name ?? `App ${seed.client_id.slice(-4)}`,
      ...(seed.owner_id !== undefined ? { owner_id: seed.owner_id } : {}),
      ...(seed.autoApproveUserId !== undefined ? { autoApproveUserId: seed.autoApproveUserId } : {})
    }
    this.apps.set(app.client_id, app)
    return app
  }

  getOAuthApp (clientId: string): OAuthApp | undefined {
    return this.apps.get(clientId)
  }

  /** Creates a single-use authorization code (what the consent page does on "Authorize"). */
  createAuthorizationCode (input: { clientId: string, userId: string, scopes: string[], redirectUri: string, redirectUriGiven: boolean }): string {
    const code = randomToken(30)
    this.codes.set(tokenKey(code), { ...input, expiresAt: Date.now() + this.#options.codeTtlMs, used: false })
    return code
  }

  findCode (code: string): AuthorizationCodeRecord | undefined {
    return this.codes.get(tokenKey(code))
  }

  /**
   * Issues tokens for a new authorization. Also usable directly by tests that need a Bearer
   * token without driving the consent page.
   */
  issueUserToken (input: { clientId: string, userId: string, scopes: string[], withRefreshToken?: boolean }): IssuedTokens {
    if (!this.apps.has(input.clientId)) fail(`unknown OAuth app ${input.clientId}`)
    if (!this.users.has(input.userId)) fail(`unknown user ${input.userId}`)
    const authorization: OAuthAuthorization = {
      id: ++this.#authorizationSeq,
      clientId: input.clientId,
      userId: input.userId,
      scopes: [...input.scopes],
      revoked: false,
      accessKeys: new Set(),
      refreshKey: null
    }
    this.authorizations.push(authorization)
    return this.#mint(authorization, input.withRefreshToken ?? true)
  }

  /** Refresh-token rotation: new access and refresh tokens; the old refresh token stops working. */
  rotate (authorization: OAuthAuthorization): IssuedTokens {
    if (authorization.refreshKey !== null) this.refreshTokens.delete(authorization.refreshKey)
    authorization.refreshKey = null
    return this.#mint(authorization, true)
  }

  #mint (authorization: OAuthAuthorization, withRefresh: boolean): IssuedTokens {
    const access = randomToken(30)
    const accessKey = tokenKey(access)
    authorization.accessKeys.add(accessKey)
    this.accessTokens.set(accessKey, { authorization, expiresAt: Date.now() + this.#options.accessTokenTtlMs, tokenId: tokenId(access) })
    const out: IssuedTokens = {
      access_token: access,
      token_type: 'Bearer',
      expires_in: this.#options.accessTokenTtlSeconds,
      scope: authorization.scopes.join(' ')
    }
    if (withRefresh) {
      const refresh = randomToken(30)
      authorization.refreshKey = tokenKey(refresh)
      this.refreshTokens.set(authorization.refreshKey, authorization)
      // Key order as in the docs' "Access Token Response".
      return { access_token: out.access_token, token_type: out.token_type, expires_in: out.expires_in, refresh_token: refresh, scope: out.scope }
    }
    return out
  }

  findAccessToken (token: string): AccessTokenRecord | undefined {
    const record = this.accessTokens.get(tokenKey(token))
    if (record === undefined || record.authorization.revoked || Date.now() >= record.expiresAt) return undefined
    return record
  }

  findRefreshToken (token: string): OAuthAuthorization | undefined {
    const authorization = this.refreshTokens.get(tokenKey(token))
    return authorization === undefined || authorization.revoked ? undefined : authorization
  }

  /** The authorization behind an access or refresh token, even if the access token has expired. */
  findAuthorizationByToken (token: string): OAuthAuthorization | undefined {
    const key = tokenKey(token)
    const authorization = this.accessTokens.get(key)?.authorization ?? this.refreshTokens.get(key)
    return authorization === undefined || authorization.revoked ? undefined : authorization
  }

  /** docs/oauth2.mdx: revoking either token revokes every token of that authorization. */
  revokeAuthorization (authorization: OAuthAuthorization): void {
    authorization.revoked = true
    for (const key of authorization.accessKeys) this.accessTokens.delete(key)
    authorization.accessKeys.clear()
    if (authorization.refreshKey !== null) this.refreshTokens.delete(authorization.refreshKey)
    authorization.refreshKey = null
  }

  /** Makes a user's access token expire now (tests of 401-then-refresh). */
  expireAccessToken (token: string): boolean {
    const record = this.accessTokens.get(tokenKey(token))
    if (record === undefined) return false
    record.expiresAt = 0
    return true
  }

  listAuthorizations (): AuthorizationSummary[] {
    return this.authorizations.map((a) => ({
      clientId: a.clientId,
      userId: a.userId,
      scopes: [...a.scopes],
      revoked: a.revoked,
      accessTokenIds: [...a.accessKeys].map((k) => this.accessTokens.get(k)?.tokenId).filter((id): id is string => id !== undefined),
      hasRefreshToken: a.refreshKey !== null
    }))
  }

  // ------------------------------------------------------------ API object builders

  apiUser (user: SimUser): ApiUser {
    return {
      id: user.id,
      username: user.username,
      avatar: user.avatar,
      discriminator: '0',
      public_flags: 0,
      flags: 0,
      ...(user.bot ? { bot: true } : {}),
      banner: null,
      accent_color: null,
      global_name: user.global_name,
      avatar_decoration_data: null,
      collectibles: null,
      primary_guild: null
    }
  }

  apiMember (member: SimMember): ApiMember {
    const user = this.users.get(member.userId) ?? fail(`member ${member.userId} has no user`)
    return {
      user: this.apiUser(user),
      nick: member.nick,
      avatar: null,
      banner: null,
      roles: [...member.roles],
      joined_at: member.joined_at,
      premium_since: null,
      deaf: false,
      mute: false,
      flags: 0,
      pending: false,
      communication_disabled_until: null
    }
  }

  apiRole (role: SimRole): ApiRole {
    return {
      id: role.id,
      name: role.name,
      color: role.color,
      colors: { primary_color: role.color, secondary_color: null, tertiary_color: null },
      hoist: role.hoist,
      icon: null,
      unicode_emoji: null,
      position: role.position,
      permissions: role.permissions,
      managed: role.managed,
      mentionable: role.mentionable,
      flags: 0,
      ...(role.tags !== undefined ? { tags: role.tags } : {})
    }
  }

  apiGuild (guild: SimGuild, withCounts: boolean): Record<string, unknown> {
    const out: Record<string, unknown> = {
      id: guild.id,
      name: guild.name,
      icon: guild.icon,
      description: guild.description,
      home_header: null,
      splash: null,
      discovery_splash: null,
      features: guild.features,
      banner: null,
      owner_id: guild.owner_id,
      application_id: null,
      // Deprecated (guild.mdx **); the OpenAPI schema still requires a string.
      region: 'us-east',
      afk_channel_id: null,
      afk_timeout: 300,
      system_channel_id: null,
      system_channel_flags: 0,
      widget_enabled: false,
      widget_channel_id: null,
      verification_level: 0,
      roles: this.listRoles(guild.id).map((r) => this.apiRole(r)),
      default_message_notifications: 0,
      mfa_level: 0,
      explicit_content_filter: 0,
      max_presences: null,
      max_members: 250000,
      max_stage_video_channel_users: 50,
      max_video_channel_users: 25,
      vanity_url_code: null,
      premium_tier: 0,
      premium_subscription_count: 0,
      preferred_locale: 'en-US',
      rules_channel_id: null,
      safety_alerts_channel_id: null,
      public_updates_channel_id: null,
      premium_progress_bar_enabled: false,
      nsfw: false,
      nsfw_level: 0,
      emojis: [],
      stickers: [],
      incidents_data: null
    }
    if (withCounts) {
      out.approximate_member_count = guild.members.size
      out.approximate_presence_count = Math.min(guild.presenceCount, guild.members.size)
    }
    return out
  }

  /** Partial guild of GET /users/@me/guilds, relative to `userId` (owner, permissions). */
  apiPartialGuild (guild: SimGuild, userId: string, withCounts: boolean): Record<string, unknown> {
    const out: Record<string, unknown> = {
      id: guild.id,
      name: guild.name,
      icon: guild.icon,
      banner: null,
      owner: guild.owner_id === userId,
      permissions: this.basePermissions(guild.id, userId).toString(),
      features: guild.features
    }
    if (withCounts) {
      out.approximate_member_count = guild.members.size
      out.approximate_presence_count = Math.min(guild.presenceCount, guild.members.size)
    }
    return out
  }
}
