import type { APIApplicationRoleConnection, APIUser, RESTAPIPartialCurrentUserGuild, RESTPutAPICurrentUserApplicationRoleConnectionJSONBody } from 'discord-api-types/v10'
import { Routes } from './routes.js'
import type { CallOptions, Send } from './types.js'
import { fetchCurrentUser } from './current-user.js'
import { assertSnowflake } from './util.js'
import { expectEntities, malformed, shapeContext } from './validate.js'

/** Options of `getCurrentUserGuilds`. */
export interface CurrentUserGuildsOptions extends CallOptions {
  /** Include approximate member and presence counts. */
  withCounts?: boolean
  /** 1-200 (Discord's default and maximum is 200). */
  limit?: number
  before?: string
  after?: string
}

/**
 * The API as a user who authorised the application sees it
 * (`Authorization: Bearer <access token>`). Obtained from `client.user(accessToken)`.
 */
export class DiscordUserClient {
  readonly #send: Send

  /** @internal Use `client.user(accessToken)`. */
  constructor (send: Send) {
    this.#send = send
  }

  /** GET /users/@me (scope `identify`; `email` adds the e-mail). */
  async getCurrentUser (options: CallOptions = {}): Promise<APIUser> {
    return await fetchCurrentUser(this.#send, options)
  }

  /** GET /users/@me/guilds (scope `guilds`): the user's guilds (partial objects). */
  async getCurrentUserGuilds (options: CurrentUserGuildsOptions = {}): Promise<RESTAPIPartialCurrentUserGuild[]> {
    if (options.before !== undefined) assertSnowflake('before', options.before)
    if (options.after !== undefined) assertSnowflake('after', options.after)
    if (options.limit !== undefined && (!Number.isInteger(options.limit) || options.limit < 1 || options.limit > 200)) {
      throw new RangeError('limit must be an integer from 1 to 200')
    }
    const path = Routes.userGuilds()
    const value = await this.#send<unknown>({
      method: 'GET',
      path,
      query: { with_counts: options.withCounts, limit: options.limit, before: options.before, after: options.after },
      signal: options.signal
    })
    return expectEntities<RESTAPIPartialCurrentUserGuild>(value, shapeContext('GET', path), 'guilds')
  }

  /** GET /users/@me/applications/{application.id}/role-connection (scope `role_connections.write`). */
  async getRoleConnection (applicationId: string, options: CallOptions = {}): Promise<APIApplicationRoleConnection> {
    assertSnowflake('applicationId', applicationId)
    const path = Routes.userApplicationRoleConnection(applicationId)
    const value = await this.#send<unknown>({ method: 'GET', path, signal: options.signal })
    return expectConnection(value, shapeContext('GET', path))
  }

  /** PUT /users/@me/applications/{application.id}/role-connection (scope `role_connections.write`): the user's Linked Roles values. */
  async updateRoleConnection (applicationId: string, body: RESTPutAPICurrentUserApplicationRoleConnectionJSONBody, options: CallOptions = {}): Promise<APIApplicationRoleConnection> {
    assertSnowflake('applicationId', applicationId)
    const path = Routes.userApplicationRoleConnection(applicationId)
    const value = await this.#send<unknown>({ method: 'PUT', path, body, signal: options.signal })
    return expectConnection(value, shapeContext('PUT', path))
  }

  /** DELETE /users/@me/applications/{application.id}/role-connection (scope `role_connections.write`; 204): removes the user's Linked Roles connection. */
  async deleteRoleConnection (applicationId: string, options: CallOptions = {}): Promise<void> {
    assertSnowflake('applicationId', applicationId)
    await this.#send<unknown>({ method: 'DELETE', path: Routes.userApplicationRoleConnection(applicationId), signal: options.signal })
  }
}

function expectConnection (value: unknown, ctx: ReturnType<typeof shapeContext>): APIApplicationRoleConnection {
  if (typeof value !== 'object' || value === null || typeof (value as { metadata?: unknown }).metadata !== 'object') throw malformed(ctx, 'expected a role connection')
  return value as APIApplicationRoleConnection
}
