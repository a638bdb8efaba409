import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { STATUS_CODES } from 'node:http'
import type { ImportRejection } from '../../guilds/mappings/service.js'
import { GuildParams } from '../../schemas/guilds.js'
import { sessionRoute } from '../../schemas/http.js'
import {
  CreateMappingBody,
  DeletedMapping,
  GuildMappingListQuery,
  ImportRejected,
  ImportReport,
  MappingExport,
  MappingImportBody,
  MappingListQuery,
  MappingParams,
  RoleMapping,
  RoleMappingList,
  presentMapping,
  UpdateMappingBody
} from '../../schemas/role-mappings.js'
import { ADMIN_BODY_LIMIT } from '../strict-json.js'
import { decodeMappingCursor, encodeMappingCursor } from '../../schemas/mapping-cursor.js'
import { DEFAULT_PAGE_SIZE } from '../../store/port/index.js'
import type { Static } from '@sinclair/typebox'

type RoleMappingListDto = Static<typeof RoleMappingList>

/** An import of MAX_IMPORT_ENTRIES full entries fits well under 1 MiB. */
const IMPORT_BODY_LIMIT = 1024 * 1024

function isImportRejection (err: unknown): err is ImportRejection {
  return err instanceof Error && (err as { code?: unknown }).code === 'FST_DISCORD_IMPORT_INVALID' && 'report' in err
}

/*
 * Group → role mappings: admin only. Writes are checked against the guild's current roles
 * in Discord (see MappingService); duplicates of a (group, role) pair answer 409.
 * Authorisation runs as a preValidation hook: after the rate limiter (onRequest), so anonymous
 * floods are counted, and before schema validation, so a non-admin learns nothing about the schema.
 */
const roleMappingRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  const { mappings } = fastify.discord
  const admin = fastify.discord.auth.requireAdmin
  const tags = ['discord role mappings']
  // Both lists page the same way: `limit` (default 20, at most 100) and `after` = next_cursor.
  const listPage = async (query: { guild_id?: string, enabled?: boolean, limit?: number, after?: string }, guildMustExist: boolean): Promise<RoleMappingListDto> => {
    const { after, limit = DEFAULT_PAGE_SIZE, ...filter } = query
    const page = await mappings.page({ ...filter, limit, ...(after === undefined ? {} : { after: decodeMappingCursor(after) }) }, guildMustExist)
    const last = page.items.at(-1)
    return { mappings: page.items.map(presentMapping), total: page.total, next_cursor: page.more && last !== undefined ? encodeMappingCursor(last) : null }
  }

  fastify.get('/guilds/:guild_id/role-mappings', {
    config: { discordReadCache: true },
    preValidation: admin,
    schema: sessionRoute({
      tags,
      summary: 'List the role mappings of a guild, a page at a time',
      params: GuildParams,
      querystring: GuildMappingListQuery,
      response: { 200: RoleMappingList },
      errors: [404]
    })
  }, async (request) => await listPage({ ...request.query, guild_id: request.params.guild_id }, true))

  fastify.post('/guilds/:guild_id/role-mappings', {
    preValidation: admin,
    bodyLimit: ADMIN_BODY_LIMIT,
    schema: sessionRoute({
      tags,
      summary: 'Map a group to a Discord role (the role is checked against Discord)',
      params: GuildParams,
      body: CreateMappingBody,
      response: { 201: RoleMapping },
      errors: [404, 409, 413, 415, 422, 502]
    })
  }, async (request, reply) => {
    const created = await mappings.create(request.params.guild_id, request.body, request.discordAuth?.id ?? null)
    return reply.code(201).send(presentMapping(created))
  })

  fastify.get('/guilds/:guild_id/role-mappings/export', {
    preValidation: admin,
    schema: sessionRoute({
      tags,
      summary: 'Export the guild\'s role mappings as a versioned JSON document',
      params: GuildParams,
      response: { 200: MappingExport },
      errors: [404]
    })
  }, async (request) => mappings.exportGuild(request.params.guild_id))

  fastify.post('/guilds/:guild_id/role-mappings/import', {
    preValidation: admin,
    bodyLimit: IMPORT_BODY_LIMIT,
    schema: sessionRoute({
      tags,
      summary: 'Import role mappings (merge or replace, optional dry run); validated whole, applied all or nothing',
      params: GuildParams,
      body: MappingImportBody,
      response: { 200: ImportReport, 422: ImportRejected },
      errors: [404, 409, 413, 415, 502]
    })
  }, async (request, reply) => {
    try {
      return await mappings.importGuild(request.params.guild_id, request.body, request.discordAuth?.id ?? null)
    } catch (err) {
      if (!isImportRejection(err)) throw err
      // The standard error shape plus the report, so the client sees every invalid entry at once.
      return reply.code(422).send({ statusCode: 422, code: 'FST_DISCORD_IMPORT_INVALID', error: STATUS_CODES[422] as string, message: err.message, report: err.report })
    }
  })

  fastify.get('/role-mappings', {
    config: { discordReadCache: true },
    preValidation: admin,
    schema: sessionRoute({
      tags,
      summary: 'List role mappings, optionally of one guild, a page at a time',
      querystring: MappingListQuery,
      response: { 200: RoleMappingList }
    })
  }, async (request) => await listPage(request.query, false))

  fastify.get('/role-mappings/:mapping_id', {
    preValidation: admin,
    schema: sessionRoute({
      tags,
      summary: 'Get a role mapping',
      params: MappingParams,
      response: { 200: RoleMapping },
      errors: [404]
    })
  }, async (request) => presentMapping(await mappings.get(request.params.mapping_id)))

  fastify.put('/role-mappings/:mapping_id', {
    preValidation: admin,
    bodyLimit: ADMIN_BODY_LIMIT,
    schema: sessionRoute({
      tags,
      summary: 'Update a role mapping (a new role, or re-enabling, is checked against Discord)',
      params: MappingParams,
      body: UpdateMappingBody,
      response: { 200: RoleMapping },
      errors: [404, 409, 413, 415, 422, 502]
    })
  }, async (request) => presentMapping(await mappings.update(request.params.mapping_id, request.body)))

  fastify.delete('/role-mappings/:mapping_id', {
    preValidation: admin,
    schema: sessionRoute({
      tags,
      summary: 'Delete a role mapping (roles already given in Discord are left as they are)',
      params: MappingParams,
      response: { 200: DeletedMapping },
      errors: [404]
    })
  }, async (request) => {
    await mappings.remove(request.params.mapping_id)
    return { id: request.params.mapping_id, deleted: true as const }
  })
}

export default roleMappingRoutes
