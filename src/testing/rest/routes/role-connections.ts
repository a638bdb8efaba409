import type { SimContext } from '../../context.js'
import { Errors, formErrors } from '../errors.js'
import type { ApiRouter, RequestCtx } from '../request.js'
import { RoleConnectionBody, RoleConnectionMetadataBody, validate } from '../schemas.js'
import { jsonBody, snowflakeParam, type Params } from './params.js'

/*
 * Linked Roles. The application's metadata records (docs/application-role-connection-metadata.mdx,
 * bot token of that application) and a user's role connection (docs/user.mdx, the user's OAuth2
 * token for that application with `role_connections.write`; GET, PUT and DELETE). The docs give no answer for another
 * application's id or a missing scope: 403 50001 Missing Access, as the user routes answer a
 * missing scope. A user's metadata must use keys the application registered (the docs describe
 * metadata as "keys to their values" of those records), else 50035 on the key.
 */

type Connection = { platform_name: string | null, platform_username: string | null, metadata: Record<string, string> }

function appOfBearer (ctx: RequestCtx, params: Params): { appId: string, userId: string } {
  const appId = snowflakeParam(params, 'application_id')
  const grant = ctx.bearer?.authorization
  if (grant === undefined) throw Errors.unauthorized()
  if (grant.clientId !== appId || !grant.scopes.includes('role_connections.write')) throw Errors.missingAccess()
  return { appId, userId: grant.userId }
}

export function registerRoleConnectionRoutes (sim: SimContext, router: ApiRouter): void {
  const { state } = sim

  for (const method of ['GET', 'PUT'] as const) {
    router.route({ route: `${method} /applications/:application_id/role-connections/metadata`, auth: 'bot' }, async (request, _reply, ctx) => {
      const appId = snowflakeParam(request.params as Params, 'application_id')
      if (ctx.bot?.applicationId !== appId) throw Errors.missingAccess()
      if (method === 'GET') return state.roleConnectionMetadata.get(appId) ?? []
      const body = jsonBody(request)
      const errors = validate(RoleConnectionMetadataBody, body)
      if (errors !== null) throw Errors.invalidFormBody(errors)
      const records = (body as Array<Record<string, unknown>>).map((r) => ({ ...r }))
      state.roleConnectionMetadata.set(appId, records)
      return records
    })
  }

  router.route({ route: 'GET /users/@me/applications/:application_id/role-connection', auth: 'bearer' }, async (request, _reply, ctx) => {
    const { appId, userId } = appOfBearer(ctx, request.params as Params)
    return state.roleConnections.get(`${appId}:${userId}`) ?? { platform_name: null, platform_username: null, metadata: {} }
  })

  router.route({ route: 'PUT /users/@me/applications/:application_id/role-connection', auth: 'bearer' }, async (request, _reply, ctx) => {
    const { appId, userId } = appOfBearer(ctx, request.params as Params)
    const body = jsonBody(request)
    const errors = validate(RoleConnectionBody, body)
    if (errors !== null) throw Errors.invalidFormBody(errors)
    const input = body as { platform_name?: string | null, platform_username?: string | null, metadata?: Record<string, string> | null }
    const known = new Set((state.roleConnectionMetadata.get(appId) ?? []).map((r) => r.key))
    const unknown = Object.keys(input.metadata ?? {}).filter((k) => !known.has(k))
    if (unknown.length > 0) {
      throw Errors.invalidFormBody(formErrors(unknown.map((k) => ({ path: ['metadata', k], code: 'APPLICATION_ROLE_CONNECTION_METADATA_KEY_UNKNOWN', message: `Unknown metadata key "${k}".` }))))
    }
    const next: Connection = {
      platform_name: input.platform_name ?? null,
      platform_username: input.platform_username ?? null,
      metadata: { ...(input.metadata ?? {}) }
    }
    state.roleConnections.set(`${appId}:${userId}`, next)
    return next
  })

  // docs/user.mdx "Delete Current User Application Role Connection"; openapi: 204.
  router.route({ route: 'DELETE /users/@me/applications/:application_id/role-connection', auth: 'bearer' }, async (request, reply, ctx) => {
    const { appId, userId } = appOfBearer(ctx, request.params as Params)
    state.roleConnections.delete(`${appId}:${userId}`)
    return reply.code(204).send()
  })
}
