import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import {
  CreateGuildBody,
  DeletedGuild,
  GuildConfig,
  GuildList,
  GuildListQuery,
  GuildParams,
  presentGuild,
  UpdateGuildBody
} from '../../schemas/guilds.js'
import { sessionRoute } from '../../schemas/http.js'
import type { GuildConfigRecord } from '../../store/port/index.js'
import { ADMIN_BODY_LIMIT } from '../strict-json.js'

/*
 * Guild configurations: admin only. Writes that carry a bot token or a new channel are checked
 * against Discord first (see GuildService); the token itself never appears in a response.
 * Authorisation runs as a preValidation hook: after the rate limiter (onRequest), so anonymous
 * floods are counted, and before schema validation, so a non-admin learns nothing about the schema.
 */
const guildRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  const { guilds } = fastify.discord
  const admin = fastify.discord.auth.requireAdmin
  const tags = ['discord guilds']
  const present = (g: GuildConfigRecord): ReturnType<typeof presentGuild> => presentGuild(g, fastify.discord.gateway?.guildState(g.guild_id) ?? null)

  // With the Gateway, each guild's connection state is live, not stored: the list is then built per request.
  fastify.get('/guilds', {
    config: { discordReadCache: fastify.discord.gateway == null },
    preValidation: admin,
    schema: sessionRoute({ tags, summary: 'List configured Discord guilds', querystring: GuildListQuery, response: { 200: GuildList } })
  }, async (request) => {
    const list = await guilds.list(request.query)
    return { guilds: list.map(present), total: list.length }
  })

  fastify.post('/guilds', {
    preValidation: admin,
    bodyLimit: ADMIN_BODY_LIMIT,
    schema: sessionRoute({
      tags,
      summary: 'Configure a Discord guild (a bot token and channel settings are checked against Discord)',
      body: CreateGuildBody,
      response: { 201: GuildConfig },
      errors: [409, 413, 415, 422, 502]
    })
  }, async (request, reply) => {
    const created = await guilds.create(request.body, request.discordAuth?.id ?? null)
    return reply.code(201).send(present(created))
  })

  fastify.get('/guilds/:guild_id', {
    config: { discordReadCache: fastify.discord.gateway == null },
    preValidation: admin,
    schema: sessionRoute({
      tags,
      summary: 'Get a guild configuration, with the bot\'s permissions and health',
      params: GuildParams,
      response: { 200: GuildConfig },
      errors: [404]
    })
  }, async (request) => present(await guilds.get(request.params.guild_id)))

  fastify.put('/guilds/:guild_id', {
    preValidation: admin,
    bodyLimit: ADMIN_BODY_LIMIT,
    schema: sessionRoute({
      tags,
      summary: 'Update a guild configuration (a new bot token or channel setting is checked against Discord)',
      params: GuildParams,
      body: UpdateGuildBody,
      response: { 200: GuildConfig },
      errors: [404, 413, 415, 422, 502]
    })
  }, async (request) => present(await guilds.update(request.params.guild_id, request.body)))

  fastify.delete('/guilds/:guild_id', {
    preValidation: admin,
    schema: sessionRoute({
      tags,
      summary: 'Remove a guild configuration and its role mappings (roles in Discord are left as they are)',
      params: GuildParams,
      response: { 200: DeletedGuild },
      errors: [404]
    })
  }, async (request) => {
    const { guild_id, mappings_deleted } = await guilds.remove(request.params.guild_id)
    return {
      guild_id,
      deleted: true as const,
      mappings_deleted,
      sync_stopped: true as const,
      message: 'Guild configuration and its role mappings removed; the guild is no longer synced. Roles already given in Discord were not removed.'
    }
  })
}

export default guildRoutes
