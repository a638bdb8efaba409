import { Type, type Static } from '@sinclair/typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { guildServices } from '../../guilds/index.js'
import type { InspectedGuild } from '../../guilds/service.js'
import { presentGuild } from '../../guilds/present.js'
import { checkRoleAssignable, hasPermission, Permission } from '../../guilds/permissions.js'
import { GuildConfig, GuildParams } from '../../schemas/guilds.js'
import { COMMON_ERROR_STATUSES, errorResponses, Nullable, SESSION_SECURITY } from '../../schemas/http.js'
import { ErrorResponse } from '../../schemas/common.js'
import { AuthNotConfiguredError, AuthTokenExpiredError, AuthTokenInvalidError, CsrfHeaderRequiredError } from '../../errors.js'
import { CSRF_HEADER } from '../../auth/session.js'
import { GuildHealthTask } from '../../tasks/health.js'

/*
 * What the admin web UI needs beyond the resource routes, built on the same services:
 *
 * - GET    /session                              who the caller is and what the deployment offers (public)
 * - DELETE /session                              sign out of the browser session (clears the cookie)
 * - GET    /guilds/{guild_id}/discord-roles      the guild's current Discord roles, each with whether the
 *                                                bot may assign it and why not (admin; the role picker)
 * - POST   /guilds/{guild_id}/health-check       check the guild's bot now instead of at the next scheduled pass (admin)
 *
 * They are plain JSON routes: a script or another frontend can use them as the UI does.
 */

const SessionBody = Type.Object({
  authenticated: Type.Boolean(),
  user_id: Nullable(Type.String()),
  is_admin: Type.Boolean(),
  session_expired: Type.Boolean({ description: 'A session was presented but has expired or does not verify: sign in again' }),
  auth_configured: Type.Boolean({ description: 'Sessions can be issued and verified (a JWT secret or a host @fastify/jwt)' }),
  discord_configured: Type.Boolean({ description: 'A Discord application is configured (sign-in and linking work)' }),
  sync_configured: Type.Boolean({ description: 'A membership provider is configured (syncs work)' }),
  csrf_header: Type.String({ description: 'Header that cookie-authenticated state-changing requests must carry (any non-empty value)' })
})

const DiscordRole = Type.Object({
  id: Type.String(),
  name: Type.String(),
  position: Type.Integer(),
  managed: Type.Boolean({ description: 'Owned by an integration (a bot, boosts, a subscription): nobody can assign it' }),
  held_by_bot: Type.Boolean({ description: 'The bot\'s own member has this role' }),
  assignable: Type.Boolean({ description: 'The bot may add and remove this role on members' }),
  reason: Nullable(Type.String({ description: 'Why not: everyone_role, managed_role, missing_manage_roles, role_not_below_bot' })),
  message: Type.String({ description: 'Readable explanation' })
})

const DiscordRoleList = Type.Object({
  guild_id: Type.String(),
  guild_name: Type.String(),
  bot_user_id: Type.String(),
  bot_username: Type.String(),
  bot_highest_position: Type.Integer({ description: 'Position of the bot\'s highest role: it may assign roles strictly below it' }),
  can_manage_roles: Type.Boolean(),
  roles: Type.Array(DiscordRole, { description: 'Highest position first' })
})

const SignedOut = Type.Object({ signed_out: Type.Literal(true) })

/** The role picker's view of an inspected guild: every role, highest first, with the bot's verdict on it. */
function presentDiscordRoles ({ guild, inspection }: InspectedGuild): Static<typeof DiscordRoleList> {
  const held = new Set(inspection.facts.member_role_ids)
  const roles = [...inspection.facts.roles]
    .sort((a, b) => b.position - a.position || a.id.localeCompare(b.id))
    .map((role) => {
      const verdict = checkRoleAssignable(inspection.facts, role.id, inspection.permissions)
      return {
        id: role.id,
        name: role.name,
        position: role.position,
        managed: role.managed,
        held_by_bot: held.has(role.id),
        assignable: verdict.denial === null,
        reason: verdict.denial,
        message: verdict.denial === null ? 'The bot can assign this role' : verdict.message
      }
    })
  return {
    guild_id: guild.guild_id,
    guild_name: inspection.guild_name,
    bot_user_id: inspection.facts.bot_user_id,
    bot_username: inspection.bot_username,
    bot_highest_position: inspection.highest_position,
    can_manage_roles: hasPermission(inspection.permissions, Permission.MANAGE_ROLES),
    roles
  }
}

const adminRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  const { auth } = fastify.discord
  const { guilds } = guildServices(fastify.discord)
  const tags = ['discord admin']
  const security = SESSION_SECURITY

  fastify.get('/session', {
    schema: {
      tags,
      summary: 'The current session (public): signed in or not, admin or not, and what is configured',
      response: { 200: SessionBody, 429: ErrorResponse, 500: ErrorResponse }
    }
  }, async (request) => {
    const base = {
      auth_configured: auth.configured,
      discord_configured: fastify.discord.discordConfigured,
      sync_configured: fastify.discord.sync.engine.configured,
      csrf_header: CSRF_HEADER
    }
    const anonymous = { ...base, authenticated: false, user_id: null, is_admin: false, session_expired: false }
    if (!auth.configured) return anonymous
    try {
      const user = auth.identify(request)
      if (user === null) return anonymous
      return { ...base, authenticated: true, user_id: user.id, is_admin: await auth.isAdmin(user, request), session_expired: false }
    } catch (err) {
      // A stale cookie is the normal state of a browser after a day away: report it, do not fail.
      if (err instanceof AuthTokenInvalidError || err instanceof AuthTokenExpiredError) return { ...anonymous, session_expired: true }
      if (err instanceof AuthNotConfiguredError) return anonymous
      throw err
    }
  })

  fastify.delete('/session', {
    schema: {
      tags,
      summary: 'Sign out: clears the session cookie (a session JWT stays valid until it expires; it is not stored server-side)',
      response: { 200: SignedOut, 403: ErrorResponse, 429: ErrorResponse }
    }
  }, async (request, reply) => {
    // No session is required (signing out twice is fine), but a cross-site page must not be able to sign the user out.
    const proof = request.headers[CSRF_HEADER]
    if (typeof proof !== 'string' || proof.trim() === '') throw new CsrfHeaderRequiredError()
    auth.clearSessionCookie(reply)
    return { signed_out: true as const }
  })

  fastify.get('/guilds/:guild_id/discord-roles', {
    preValidation: auth.requireAdmin,
    schema: {
      tags,
      security,
      summary: 'The guild\'s current Discord roles, read with its bot, each with whether the bot may assign it and why not',
      params: GuildParams,
      response: { 200: DiscordRoleList, ...errorResponses(...COMMON_ERROR_STATUSES, 404, 422, 502) }
    }
  }, async (request) => presentDiscordRoles(await guilds.inspect(request.params.guild_id)))

  // Built on demand when the scheduled task is disabled: the check itself is the same code either way.
  const healthTask = (): GuildHealthTask => fastify.discord.guildHealth ?? new GuildHealthTask({
    store: fastify.discord.store,
    bots: (token) => fastify.discord.client.bot(token),
    log: fastify.log.child({ component: 'discord', task: 'guild-health' })
  })

  fastify.post('/guilds/:guild_id/health-check', {
    preValidation: auth.requireAdmin,
    schema: {
      tags,
      security,
      summary: 'Check the guild\'s bot now (token, Manage Roles, mapped roles below the bot) and store the verdict',
      params: GuildParams,
      response: { 200: GuildConfig, ...errorResponses(...COMMON_ERROR_STATUSES, 404) }
    }
  }, async (request) => {
    await healthTask().checkGuild(await guilds.get(request.params.guild_id))
    return presentGuild(await guilds.get(request.params.guild_id))
  })
}

export default adminRoutes
