import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import { Type, type Static } from '@sinclair/typebox'
import { STATUS_CODES } from 'node:http'
import { ErrorResponse } from '../../schemas/common.js'
import { COMMON_ERROR_STATUSES, errorResponses, SESSION_SECURITY } from '../../schemas/http.js'
import { ForbiddenError } from '../../errors.js'
import { DEFAULT_PAGE_SIZE } from '../../store/port/index.js'
import { decodeRunCursor, encodeRunCursor } from '../../schemas/run-cursor.js'
import type { AuthUser } from '../../auth/types.js'
import type { Namer } from '../../members/names.js'
import type { AuditEntryRecord } from '../../store/port/index.js'
import type { SyncStatus } from '../../sync/status.js'
import {
  AuditPage, AuditQuery, auditQuery, ManualSyncBody, ManualSyncResponse, RunDto, RunList, RunListQuery, RunParams,
  PushUsersBody, PushUsersResponse, SyncStatusResponse, UserSyncParams, UserSyncResponse
} from '../../schemas/sync.js'
import { nameRun, presentAudit, presentRun, presentRunSummary, presentStatus } from '../../schemas/sync-present.js'

/*
 * Role synchronisation routes. Handlers validate (schemas), call the sync engine and shape the
 * reply; the engine does the work. Authorisation runs as a preValidation hook, after the rate
 * limiter and before schema validation, like the other admin routes.
 *
 * - POST /sync/manual           admin   run a full, guild, mapping or users sync (dry_run, force, wait)
 * - POST /sync/user/{user_id}   owner or admin   sync one user now; the seed's response shape
 * - POST /sync/users            admin   host push: these users' groups changed (coalesced, 202)
 * - GET  /sync/status           admin   the seed's status figures plus runs in progress
 * - GET  /sync/runs             admin   runs, newest first, paged by cursor (before = next_cursor)
 * - GET  /sync/runs/{id}        admin   one run, with live progress while it runs here
 * - GET  /sync/audit            admin, or a user for their own user_id   role change audit, paginated, filtered
 *                               (outcome, action, trigger, time, effects_only; order=member for a run's changes)
 * - GET  /metrics               admin (or public, per options)   Prometheus metrics
 */

/** The 409 of a sync already running carries the running run's id, so a client can follow it. */
const InProgressResponse = Type.Object({
  statusCode: Type.Integer(),
  code: Type.String(),
  error: Type.String(),
  message: Type.String(),
  run_id: Type.String({ description: 'The run holding the guild (GET /sync/runs/{id})' })
}, { description: 'A sync of this guild (or a full sync) is already running' })

interface SyncRoutesOptions {
  /** Names for the ids of audit entries and run errors: batched store reads, no Discord call. */
  namer: Namer
}

const syncRoutes: FastifyPluginAsyncTypebox<SyncRoutesOptions> = async (fastify, opts) => {
  // A child scope, so the 409 handler wraps the inherited one instead of overriding it in place.
  await fastify.register(routes, opts)
}

const routes: FastifyPluginAsyncTypebox<SyncRoutesOptions> = async (fastify, { namer }) => {
  const inherited = fastify.errorHandler
  fastify.setErrorHandler(function (err: FastifyError & { run_id?: unknown }, request: FastifyRequest, reply: FastifyReply) {
    if (err.code === 'FST_DISCORD_SYNC_IN_PROGRESS' && typeof err.run_id === 'string') {
      return reply.code(409).send({ statusCode: 409, code: err.code, error: STATUS_CODES[409] as string, message: err.message, run_id: err.run_id })
    }
    return inherited.call(this, err, request, reply)
  })

  const { auth, sync } = fastify.discord
  const { engine } = sync
  const tags = ['discord sync']
  const security = SESSION_SECURITY
  const caller = (request: FastifyRequest): AuthUser => request.discordAuth as AuthUser
  const renderedStatus = new WeakMap<SyncStatus, string>()
  /** A page of entries with their names: one batched lookup for the page, not one per entry. */
  const named = async (items: AuditEntryRecord[]) => {
    const names = await namer.entries(items)
    return items.map((e, i) => presentAudit(e, names[i] as (typeof names)[number]))
  }

  fastify.post('/sync/manual', {
    preValidation: auth.requireAdmin,
    bodyLimit: 64 * 1024,
    schema: {
      tags,
      security,
      summary: 'Start a role sync: every enabled guild, one guild, one mapping or some users (admin)',
      body: ManualSyncBody,
      response: { 200: ManualSyncResponse, 202: ManualSyncResponse, 409: InProgressResponse, ...errorResponses(...COMMON_ERROR_STATUSES, 404, 413, 415, 422) }
    }
  }, async (request, reply) => {
    const r = await engine.manual(request.body, caller(request).id, sync.waitTimeoutMs)
    return reply.code(r.finished ? 200 : 202).send({
      run_id: r.view.run.id,
      run: presentRun(r.view.run, r.view.progress),
      changes: r.changes === null ? null : await named(r.changes.items),
      changes_total: r.changes?.total ?? null
    })
  })

  fastify.post('/sync/user/:user_id', {
    preValidation: auth.authenticate,
    schema: {
      tags,
      security,
      summary: 'Sync one user\'s roles in every enabled guild now (the user themself or an admin)',
      params: UserSyncParams,
      response: { 200: UserSyncResponse, ...errorResponses(...COMMON_ERROR_STATUSES, 404) }
    }
  }, async (request) => {
    // Authorised before any lookup, so a non-admin cannot probe which users are linked.
    await auth.assertSelfOrAdmin(request, request.params.user_id)
    return await engine.syncUser(request.params.user_id, caller(request).id)
  })

  fastify.post('/sync/users', {
    preValidation: auth.requireAdmin,
    bodyLimit: 512 * 1024,
    schema: {
      tags,
      security,
      summary: 'Host push: these users\' groups changed; each gets a targeted sync after the debounce window (admin)',
      body: PushUsersBody,
      response: { 202: PushUsersResponse, ...errorResponses(...COMMON_ERROR_STATUSES, 413, 415) }
    }
  }, async (request, reply) => reply.code(202).send(fastify.discord.notifyMembershipChanged(request.body.user_ids)))

  fastify.get('/sync/status', {
    preValidation: auth.requireAdmin,
    schema: { tags, security, summary: 'Synchronisation status (admin)', response: { 200: SyncStatusResponse, ...errorResponses(...COMMON_ERROR_STATUSES) } }
  }, async (_request, reply) => {
    // The engine hands out one status object while nothing changed (SyncStatusReader's snapshot):
    // it is presented and serialised once, not on every poll of every admin page.
    const status = await engine.status()
    let body = renderedStatus.get(status)
    if (body === undefined) {
      body = reply.serialize(presentStatus(status)) as string
      renderedStatus.set(status, body)
    }
    // A string under a JSON content type is sent as it is (Fastify serialises objects only); the
    // route's types know only the object form.
    return await reply.type('application/json; charset=utf-8').send(body as unknown as Static<typeof SyncStatusResponse>)
  })

  fastify.get('/sync/runs', {
    config: { discordReadCache: true },
    preValidation: auth.requireAdmin,
    schema: { tags, security, summary: 'Sync runs, newest first, a page at a time, without their error lists and per-guild results (admin)', querystring: RunListQuery, response: { 200: RunList, ...errorResponses(...COMMON_ERROR_STATUSES) } }
  }, async (request) => {
    const { before, ...query } = request.query
    const limit = query.limit ?? DEFAULT_PAGE_SIZE
    const runs = await engine.listRunSummaries({ ...query, limit, ...(before === undefined ? {} : { before: decodeRunCursor(before) }) })
    const last = runs.at(-1)
    return { runs: runs.map(presentRunSummary), next_cursor: runs.length === limit && last !== undefined ? encodeRunCursor(last) : null }
  })

  fastify.get('/sync/runs/:id', {
    config: { discordReadCache: true },
    preValidation: auth.requireAdmin,
    schema: { tags, security, summary: 'One sync run, with live progress while it runs (admin)', params: RunParams, response: { 200: RunDto, ...errorResponses(...COMMON_ERROR_STATUSES, 404) } }
  }, async (request, reply) => {
    const view = await engine.getRun(request.params.id)
    // Progress of a run executing in this process changes without a store write: never kept.
    if (view.progress !== null) reply.header('cache-control', 'no-store')
    const [person, guild] = await Promise.all([namer.people(view.run.results.errors.map((e) => e.discord_user_id ?? null)), namer.guilds()])
    return nameRun(presentRun(view.run, view.progress), person, guild)
  })

  // Authorised in a preHandler, after the query is validated and before a kept page may answer:
  // the page is then the same for every caller allowed to read it (an admin, or the user named by user_id).
  fastify.get('/sync/audit', {
    config: { discordReadCache: true },
    preValidation: auth.authenticate,
    preHandler: async (request) => {
      const user = caller(request)
      if (request.query.user_id !== user.id && !(await auth.isAdmin(user, request))) {
        throw new ForbiddenError('only admins may read other users\' audit entries: pass your own user_id')
      }
    },
    schema: {
      tags,
      security,
      summary: 'Role change audit, newest first (admin; a user may read their own with user_id)',
      querystring: AuditQuery,
      response: { 200: AuditPage, ...errorResponses(...COMMON_ERROR_STATUSES) }
    }
  }, async (request) => {
    const page = await engine.listAudit(auditQuery(request.query))
    return { entries: await named(page.items), total: page.total, page: page.page, page_size: page.page_size }
  })

  if (sync.metrics !== null && sync.metricsRoute.enabled) {
    const metrics = sync.metrics
    fastify.get('/metrics', {
      ...(sync.metricsRoute.access === 'admin' ? { preValidation: auth.requireAdmin } : {}),
      schema: {
        tags,
        ...(sync.metricsRoute.access === 'admin' ? { security } : {}),
        summary: 'Prometheus metrics (text exposition format)',
        response: { 200: Type.String({ description: 'Prometheus text format' }), 401: ErrorResponse, 403: ErrorResponse, 429: ErrorResponse, 503: ErrorResponse }
      }
    }, async (_request, reply) => {
      const { contentType, body } = await metrics.render()
      return reply.type(contentType).send(body)
    })
  }
}

export default syncRoutes
