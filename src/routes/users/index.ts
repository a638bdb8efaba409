import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { sessionRoute } from '../../schemas/http.js'
import { presentUser, UserAccounts, UserListQuery, UserPage, UserParams } from '../../schemas/users.js'

/*
 * Linked Discord accounts. The list is admin only; one user's accounts are readable by that
 * user and by admins. No token is ever part of a response (see presentUser).
 * Authorisation runs as a preValidation hook: after the rate limiter (onRequest), so anonymous
 * floods are counted, and before schema validation, so a non-admin learns nothing about the schema.
 */
const userRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  const { users } = fastify.discord
  const { auth } = fastify.discord
  const tags = ['discord users']

  fastify.get('/users', {
    config: { discordReadCache: true },
    preValidation: auth.requireAdmin,
    schema: sessionRoute({
      tags,
      summary: 'List linked Discord accounts (paginated)',
      querystring: UserListQuery,
      response: { 200: UserPage }
    })
  }, async (request) => {
    const page = await users.list(request.query)
    return { users: page.items.map(presentUser), total: page.total, page: page.page, page_size: page.page_size }
  })

  fastify.get('/users/:user_id', {
    config: { discordReadCache: true },
    preValidation: auth.authenticate,
    // Authorised before the lookup, so a non-admin cannot probe which users have links; and
    // before a kept page may answer (the page is the same for the user and for admins).
    preHandler: async (request) => { await auth.assertSelfOrAdmin(request, request.params.user_id) },
    schema: sessionRoute({
      tags,
      summary: 'Discord accounts linked to a user (the user themself or an admin)',
      params: UserParams,
      response: { 200: UserAccounts },
      errors: [404]
    })
  }, async (request) => {
    const accounts = await users.accountsOf(request.params.user_id)
    return { user_id: request.params.user_id, accounts: accounts.map(presentUser) }
  })
}

export default userRoutes
