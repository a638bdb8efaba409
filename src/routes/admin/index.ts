import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { GuildConfig, GuildParams, presentGuild } from '../../schemas/guilds.js'
import { COMMON_ERROR_STATUSES, errorResponses, SESSION_SECURITY } from '../../schemas/http.js'
import { ErrorResponse } from '../../schemas/common.js'
import { DiscordRoleList, presentDiscordRoles, SessionBody, SignedOut } from '../../schemas/admin.js'
import { AuthNotConfiguredError, AuthTokenExpiredError, AuthTokenInvalidError, CsrfHeaderRequiredError } from '../../errors.js'
import { CSRF_HEADER } from '../../auth/session.js'
import type { GuildHealthTask } from '../../health/guild-health.js'
import type { RequestActivity } from '../../discord/request-activity.js'
import { guildActivity } from '../../sync/activity.js'
import { GuildActivityBody, presentActivity } from '../../schemas/activity.js'

/*
 * What the admin web UI needs beyond the resource routes, built on the same services:
 *
 * - GET    /session                              who the caller is and what the deployment offers (public)
 * - DELETE /session                              sign out of the browser session (clears the cookie)
 * - GET    /guilds/{guild_id}/discord-roles      the guild's current Discord roles, each with whether the
 *                                                bot may assign it and why not (admin; the role picker)
 * - POST   /guilds/{guild_id}/health-check       check the guild's bot now instead of at the next scheduled pass (admin)
 * - GET    /guilds/{guild_id}/activity           the last 30 days of the guild's runs per day, and Discord requests and
 *                                                429s per minute over the last hour (admin; the UI's charts)
 *
 * They are plain JSON routes: a script or another frontend can use them as the UI does.
 */

const adminRoutes: FastifyPluginAsyncTypebox<{ healthChecker: GuildHealthTask, requestActivity: RequestActivity }> = async (fastify, { healthChecker, requestActivity }) => {
  const { auth, guilds } = fastify.discord
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
    await healthChecker.checkGuild(await guilds.get(request.params.guild_id))
    return presentGuild(await guilds.get(request.params.guild_id), fastify.discord.gateway?.guildState(request.params.guild_id) ?? null)
  })

  fastify.get('/guilds/:guild_id/activity', {
    preValidation: auth.requireAdmin,
    schema: {
      tags,
      security,
      summary: 'The guild\'s runs per day (applied, planned, held, failed, durations) over 30 days, and Discord requests and 429s per minute',
      params: GuildParams,
      response: { 200: GuildActivityBody, ...errorResponses(...COMMON_ERROR_STATUSES, 404) }
    }
  }, async (request) => {
    // 404 for a guild that is not configured, like every other guild route.
    const guild = await guilds.get(request.params.guild_id)
    const activity = await guildActivity(fastify.discord.store, guild.guild_id, { now: new Date() })
    return presentActivity(activity, requestActivity.series(guild.guild_id))
  })
}

export default adminRoutes
