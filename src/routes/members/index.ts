import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { MembershipUnavailableHttpError } from '../../errors.js'
import type { MemberDirectory } from '../../members/directory.js'
import type { MembershipProvider } from '../../sync/membership.js'
import { readGroupList } from '../../sync/group-list.js'
import { decodeMemberCursor, encodeMemberCursor, GroupListBody, MemberDetailBody, MemberListQuery, MemberPageBody, MemberParams, presentMember, presentMemberDetail } from '../../schemas/members.js'
import { sessionRoute } from '../../schemas/http.js'

/*
 * The admin members page (issue 17), all admin only:
 *
 * - GET /members                       linked members, keyset pages, search and filters
 * - GET /members/{discord_user_id}     one member: roles per guild, why each managed role is or is not held
 * - GET /membership/groups             the membership provider's groups (the mapping editor's picker)
 *
 * Syncing and unlinking a member use the existing routes (POST /sync/user/{user_id},
 * DELETE /auth/unlink/{discord_id}).
 */
const memberRoutes: FastifyPluginAsyncTypebox<{ members: MemberDirectory, membership: MembershipProvider | null }> = async (fastify, { members, membership }) => {
  const { auth } = fastify.discord
  const tags = ['discord admin']

  fastify.get('/members', {
    preValidation: auth.requireAdmin,
    schema: sessionRoute({ tags, summary: 'Linked members with their Discord names and state per guild (keyset pages, search, filters)', querystring: MemberListQuery, response: { 200: MemberPageBody } })
  }, async (request) => {
    const q = request.query
    const page = await members.list({
      ...(q.q === undefined ? {} : { search: q.q }),
      ...(q.filter === undefined ? {} : { filter: q.filter }),
      after: q.cursor === undefined ? null : decodeMemberCursor(q.cursor),
      limit: q.limit ?? 25
    })
    return { members: page.members.map(presentMember), next_cursor: page.next === null ? null : encodeMemberCursor(page.next) }
  })

  fastify.get('/members/:discord_user_id', {
    preValidation: auth.requireAdmin,
    schema: sessionRoute({ tags, summary: 'One linked member: Discord roles per enabled guild and why each managed role is or is not held', params: MemberParams, response: { 200: MemberDetailBody }, errors: [404] })
  }, async (request) => presentMemberDetail(await members.detail(request.params.discord_user_id)))

  fastify.get('/membership/groups', {
    preValidation: auth.requireAdmin,
    schema: sessionRoute({ tags, summary: 'The membership provider\'s groups, when it offers listGroups()', response: { 200: GroupListBody }, errors: [502] })
  }, async () => {
    try {
      const groups = await readGroupList(membership)
      return { available: groups !== null, groups: groups ?? [] }
    } catch (err) {
      throw new MembershipUnavailableHttpError((err as Error).message)
    }
  })
}

export default memberRoutes
