import type { SimContext } from '../context.js'
import { Errors } from '../rest/errors.js'
import type { ApiRouter } from '../rest/request.js'

/* The API route that describes the Bearer token's own authorization (app, scopes, expiry, user). */

export function registerCurrentAuthorizationRoute (sim: SimContext, router: ApiRouter): void {
  const { state } = sim

  // oauth2.mdx "Get Current Authorization Information" (Bearer only in the simulator).
  router.route({ route: 'GET /oauth2/@me', auth: 'bearer' }, async (_request, _reply, ctx) => {
    const record = ctx.bearer
    if (record === undefined) throw Errors.unauthorized()
    const app = state.getOAuthApp(record.authorization.clientId)
    const user = state.getUser(record.authorization.userId)
    const out: Record<string, unknown> = {
      application: {
        id: record.authorization.clientId,
        name: app?.name ?? '',
        icon: null,
        description: '',
        type: null,
        bot_public: true,
        bot_require_code_grant: false,
        verify_key: app?.verify_key ?? '0'.repeat(64),
        flags: 0,
        flags_new: '0'
      },
      scopes: [...record.authorization.scopes],
      expires: new Date(record.expiresAt).toISOString()
    }
    if (user !== undefined && record.authorization.scopes.includes('identify')) out.user = state.apiUser(user)
    return out
  })
}
