import type { FastifyInstance } from 'fastify'
import type { HostDatabase } from './db.js'
import { requirePermission, requireSession } from './sessions.js'

/*
 * The host's group administration. When an admin changes who is in a group, the host commits
 * its own change first and then tells the plugin whose groups changed
 * (`fastify.discord.notifyMembershipChanged`): the plugin coalesces such calls for
 * `sync.pushDebounce` and then syncs each named user in every enabled guild, reading the new
 * groups through the membership provider. Roles follow within seconds instead of at the next
 * scheduled sync.
 */

/** The host permission that lets a user edit group membership. */
export const MANAGE_GROUPS = 'groups:manage'

const ID = { type: 'string', minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_.:-]+$' } as const
const memberParams = {
  type: 'object',
  additionalProperties: false,
  required: ['groupId', 'userId'],
  properties: { groupId: ID, userId: { type: 'string', format: 'uuid' } }
} as const

interface MemberParams { groupId: string, userId: string }

export function groupRoutes (app: FastifyInstance, db: HostDatabase): void {
  app.get('/api/groups', { preHandler: requireSession }, async () => ({ groups: db.listGroups() }))

  const edit = async (params: MemberParams, change: 'add' | 'remove'): Promise<{ statusCode: number, body: object }> => {
    if (db.findGroup(params.groupId) === null) return { statusCode: 404, body: { statusCode: 404, code: 'HOST_NOT_FOUND', error: 'Not Found', message: `No group ${params.groupId}` } }
    if (db.findUser(params.userId) === null) return { statusCode: 404, body: { statusCode: 404, code: 'HOST_NOT_FOUND', error: 'Not Found', message: `No user ${params.userId}` } }
    const changed = change === 'add' ? db.addToGroup(params.groupId, params.userId) : db.removeFromGroup(params.groupId, params.userId)
    // Only a real change is pushed; the answer says when the user's sync starts.
    const sync = changed ? app.discord.notifyMembershipChanged([params.userId]) : null
    return { statusCode: 200, body: { group_id: params.groupId, user_id: params.userId, changed, sync } }
  }

  app.put<{ Params: MemberParams }>('/api/groups/:groupId/members/:userId', {
    preHandler: requirePermission(MANAGE_GROUPS),
    schema: { params: memberParams }
  }, async (request, reply) => {
    const { statusCode, body } = await edit(request.params, 'add')
    return await reply.code(statusCode).send(body)
  })

  app.delete<{ Params: MemberParams }>('/api/groups/:groupId/members/:userId', {
    preHandler: requirePermission(MANAGE_GROUPS),
    schema: { params: memberParams }
  }, async (request, reply) => {
    const { statusCode, body } = await edit(request.params, 'remove')
    return await reply.code(statusCode).send(body)
  })
}
