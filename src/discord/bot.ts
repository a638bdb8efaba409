import type {
  APIApplicationRoleConnectionMetadata,
  APIGatewayBotInfo,
  APIGuild,
  APIGuildChannel,
  APIGuildMember,
  APIMessage,
  APIRole,
  APIUser,
  RESTGetAPIGuildMembersResult,
  RESTPostAPIChannelMessageJSONBody
} from 'discord-api-types/v10'
import { Routes } from './routes.js'
import type { CallOptions, Send, WriteOptions } from './types.js'
import { MAX_MEMBERS_PAGE_SIZE } from './defaults.js'
import { fetchCurrentUser } from './current-user.js'
import { assertSnowflake, compareSnowflakes } from './util.js'
import { expectEntities, expectEntity, expectGatewayBot, expectMember, malformed, shapeContext } from './validate.js'

/** Options of `listGuildMembers`. */
export interface ListMembersOptions extends CallOptions {
  /** Page size, 1-1000 (Discord's maximum). Default 1000. */
  limit?: number
  /** Start after this user id (exclusive). Default `0`. */
  after?: string
}

/** Options of `getGuild`. */
export interface GetGuildOptions extends CallOptions {
  /** Ask for `approximate_member_count` / `approximate_presence_count`. Default true. */
  withCounts?: boolean
}

/**
 * The API as one bot sees it (`Authorization: Bot <token>`). Obtained from
 * `client.bot(token)`; holds no token itself, only a function bound to it.
 */
export class DiscordBotClient {
  readonly #send: Send

  /** @internal Use `client.bot(token)`. */
  constructor (send: Send) {
    this.#send = send
  }

  /** GET /users/@me: the bot's own user. */
  async getCurrentUser (options: CallOptions = {}): Promise<APIUser> {
    return await fetchCurrentUser(this.#send, options)
  }

  /**
   * GET /gateway/bot: the Gateway URL, the recommended shard count and the session start limit
   * (docs/gateway.mdx "Get Gateway Bot"). Validated, since a Gateway client connects to `url`.
   */
  async getGatewayBot (options: CallOptions = {}): Promise<APIGatewayBotInfo> {
    const path = Routes.gatewayBot()
    const value = await this.#send<unknown>({ method: 'GET', path, signal: options.signal })
    return expectGatewayBot(value, shapeContext('GET', path))
  }

  /** GET /guilds/{guild.id}?with_counts=true: the guild, with approximate counts by default. */
  async getGuild (guildId: string, options: GetGuildOptions = {}): Promise<APIGuild> {
    assertSnowflake('guildId', guildId)
    const path = Routes.guild(guildId)
    const value = await this.#send<unknown>({ method: 'GET', path, query: { with_counts: options.withCounts ?? true }, signal: options.signal })
    return expectEntity<APIGuild>(value, shapeContext('GET', path), 'a guild')
  }

  /** GET /guilds/{guild.id}/roles: every role of the guild. */
  async getGuildRoles (guildId: string, options: CallOptions = {}): Promise<APIRole[]> {
    assertSnowflake('guildId', guildId)
    const path = Routes.guildRoles(guildId)
    const value = await this.#send<unknown>({ method: 'GET', path, signal: options.signal })
    return expectEntities<APIRole>(value, shapeContext('GET', path), 'roles')
  }

  /** GET /guilds/{guild.id}/channels: the guild's channels, without threads (e.g. to check an audit channel). */
  async getGuildChannels (guildId: string, options: CallOptions = {}): Promise<APIGuildChannel[]> {
    assertSnowflake('guildId', guildId)
    const path = Routes.guildChannels(guildId)
    const value = await this.#send<unknown>({ method: 'GET', path, signal: options.signal })
    return expectEntities<APIGuildChannel>(value, shapeContext('GET', path), 'channels')
  }

  /**
   * GET /guilds/{guild.id}/members, page by page: yields each page as it
   * arrives (up to `limit` members), with `after` = the highest user id of the
   * previous page, and stops after a short page. Requires the GUILD_MEMBERS intent.
   */
  async * listGuildMembers (guildId: string, options: ListMembersOptions = {}): AsyncGenerator<APIGuildMember[], void, undefined> {
    assertSnowflake('guildId', guildId)
    const limit = options.limit ?? MAX_MEMBERS_PAGE_SIZE
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_MEMBERS_PAGE_SIZE) {
      throw new RangeError(`limit must be an integer from 1 to ${MAX_MEMBERS_PAGE_SIZE}`)
    }
    let after = options.after ?? '0'
    assertSnowflake('after', after)
    const path = Routes.guildMembers(guildId)
    const where = shapeContext('GET', path)
    for (;;) {
      const value = await this.#send<unknown>({ method: 'GET', path, query: { limit, after }, signal: options.signal })
      if (!Array.isArray(value)) throw malformed(where, 'expected an array of guild members')
      const page = value.map((m) => expectMember<APIGuildMember>(m, where)) as RESTGetAPIGuildMembersResult
      if (page.length === 0) return
      let highest = after
      for (const member of page) {
        const id = (member.user as APIUser).id
        if (compareSnowflakes(id, highest) > 0) highest = id
      }
      // Pagination must advance, or a misbehaving server would make this loop forever.
      if (highest === after) throw malformed(where, 'a members page did not advance past `after`')
      yield page
      if (page.length < limit) return
      after = highest
    }
  }

  /** GET /guilds/{guild.id}/members/{user.id}. */
  async getGuildMember (guildId: string, userId: string, options: CallOptions = {}): Promise<APIGuildMember> {
    assertSnowflake('guildId', guildId)
    assertSnowflake('userId', userId)
    const path = Routes.guildMember(guildId, userId)
    const value = await this.#send<unknown>({ method: 'GET', path, signal: options.signal })
    return expectMember<APIGuildMember>(value, shapeContext('GET', path))
  }

  /** PATCH /guilds/{guild.id}/members/{user.id} with `roles`: replaces the member's whole role list. */
  async setMemberRoles (guildId: string, userId: string, roleIds: readonly string[], options: WriteOptions = {}): Promise<APIGuildMember> {
    return await this.modifyMember(guildId, userId, { roles: roleIds }, options)
  }

  /**
   * PATCH /guilds/{guild.id}/members/{user.id} with `roles` (the whole list) and/or `nick` (null
   * clears it; needs Manage Nicknames): one request, one Gateway update.
   */
  async modifyMember (guildId: string, userId: string, change: { roles?: readonly string[], nick?: string | null }, options: WriteOptions = {}): Promise<APIGuildMember> {
    assertSnowflake('guildId', guildId)
    assertSnowflake('userId', userId)
    const body: { roles?: string[], nick?: string | null } = {}
    if (change.roles !== undefined) {
      for (const roleId of change.roles) assertSnowflake('roleIds[]', roleId)
      body.roles = [...new Set(change.roles)]
    }
    if (change.nick !== undefined) body.nick = change.nick
    const path = Routes.guildMember(guildId, userId)
    const value = await this.#send<unknown>({ method: 'PATCH', path, body, reason: options.reason, signal: options.signal, resendUnknownOutcome: options.resendUnknownOutcome })
    return expectMember<APIGuildMember>(value, shapeContext('PATCH', path))
  }

  /**
   * PUT /guilds/{guild.id}/members/{user.id} (docs/guild.mdx "Add Guild Member"): adds the user
   * with their OAuth2 access token (scope `guilds.join`, granted to this bot's application) and
   * the roles (and nickname) to give them at once. The bot needs CREATE_INSTANT_INVITE. Resolves
   * with the new member (201), or null when the user was already a member (204: nothing applied).
   */
  async addGuildMember (guildId: string, userId: string, body: { access_token: string, roles?: readonly string[], nick?: string }, options: WriteOptions = {}): Promise<APIGuildMember | null> {
    assertSnowflake('guildId', guildId)
    assertSnowflake('userId', userId)
    for (const roleId of body.roles ?? []) assertSnowflake('roles[]', roleId)
    const path = Routes.guildMember(guildId, userId)
    const payload: Record<string, unknown> = { access_token: body.access_token }
    if (body.roles !== undefined) payload.roles = [...new Set(body.roles)]
    if (body.nick !== undefined) payload.nick = body.nick
    const value = await this.#send<unknown>({ method: 'PUT', path, body: payload, reason: options.reason, signal: options.signal, resendUnknownOutcome: options.resendUnknownOutcome })
    return value === undefined ? null : expectMember<APIGuildMember>(value, shapeContext('PUT', path))
  }

  /** DELETE /guilds/{guild.id}/members/{user.id}: kicks the member (Kick Members; 204). */
  async removeGuildMember (guildId: string, userId: string, options: WriteOptions = {}): Promise<void> {
    assertSnowflake('guildId', guildId)
    assertSnowflake('userId', userId)
    await this.#send<unknown>({ method: 'DELETE', path: Routes.guildMember(guildId, userId), reason: options.reason, signal: options.signal, resendUnknownOutcome: options.resendUnknownOutcome })
  }

  /** PUT /guilds/{guild.id}/members/{user.id}/roles/{role.id} (204). */
  async addMemberRole (guildId: string, userId: string, roleId: string, options: WriteOptions = {}): Promise<void> {
    assertSnowflake('guildId', guildId)
    assertSnowflake('userId', userId)
    assertSnowflake('roleId', roleId)
    await this.#send<unknown>({ method: 'PUT', path: Routes.guildMemberRole(guildId, userId, roleId), reason: options.reason, signal: options.signal, resendUnknownOutcome: options.resendUnknownOutcome })
  }

  /** DELETE /guilds/{guild.id}/members/{user.id}/roles/{role.id} (204). */
  async removeMemberRole (guildId: string, userId: string, roleId: string, options: WriteOptions = {}): Promise<void> {
    assertSnowflake('guildId', guildId)
    assertSnowflake('userId', userId)
    assertSnowflake('roleId', roleId)
    await this.#send<unknown>({ method: 'DELETE', path: Routes.guildMemberRole(guildId, userId, roleId), reason: options.reason, signal: options.signal, resendUnknownOutcome: options.resendUnknownOutcome })
  }

  /** GET /applications/{application.id}/role-connections/metadata: the application's Linked Roles metadata records. */
  async getRoleConnectionMetadata (applicationId: string, options: CallOptions = {}): Promise<APIApplicationRoleConnectionMetadata[]> {
    assertSnowflake('applicationId', applicationId)
    const path = Routes.applicationRoleConnectionMetadata(applicationId)
    const value = await this.#send<unknown>({ method: 'GET', path, signal: options.signal })
    if (!Array.isArray(value)) throw malformed(shapeContext('GET', path), 'expected an array of metadata records')
    return value as APIApplicationRoleConnectionMetadata[]
  }

  /** PUT /applications/{application.id}/role-connections/metadata: replaces the records (at most 5). */
  async updateRoleConnectionMetadata (applicationId: string, records: readonly APIApplicationRoleConnectionMetadata[], options: CallOptions = {}): Promise<APIApplicationRoleConnectionMetadata[]> {
    assertSnowflake('applicationId', applicationId)
    const path = Routes.applicationRoleConnectionMetadata(applicationId)
    const value = await this.#send<unknown>({ method: 'PUT', path, body: records, signal: options.signal })
    if (!Array.isArray(value)) throw malformed(shapeContext('PUT', path), 'expected an array of metadata records')
    return value as APIApplicationRoleConnectionMetadata[]
  }

  /** POST /channels/{channel.id}/messages (e.g. the audit channel). Note: a retried 5xx may post twice. */
  async createMessage (channelId: string, message: RESTPostAPIChannelMessageJSONBody, options: CallOptions = {}): Promise<APIMessage> {
    assertSnowflake('channelId', channelId)
    const path = Routes.channelMessages(channelId)
    const value = await this.#send<unknown>({ method: 'POST', path, body: message, signal: options.signal })
    return expectEntity<APIMessage>(value, shapeContext('POST', path), 'a message')
  }
}
