import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { HostDatabase, HostUser } from './db.js'

/*
 * The host's own sessions, Go-Falcon style: a JWT signed with the host's secret (its
 * @fastify/jwt, registered in app.ts before the plugin, which reuses it), carried in the
 * `falcon_auth_token` cookie or an `Authorization: Bearer` header, with the user id in `sub` and
 * the permissions the user's groups grant in `permissions`. The plugin reads the same claims, so
 * a session from the host's password login works on the plugin's routes, and a session the
 * plugin issues after a Discord login works on the host's routes.
 */

export const SESSION_COOKIE = 'falcon_auth_token'
const SESSION_SECONDS = 24 * 60 * 60

export interface SessionClaims {
  sub: string
  permissions: string[]
}

declare module '@fastify/jwt' {
  interface FastifyJWT {
    payload: SessionClaims
    user: SessionClaims
  }
}

/** preHandler: a verified host session (401 otherwise). */
export async function requireSession (request: FastifyRequest, reply: FastifyReply): Promise<void> {
  try {
    await request.jwtVerify()
  } catch {
    await reply.code(401).send({ statusCode: 401, code: 'HOST_AUTH_REQUIRED', error: 'Unauthorized', message: 'Sign in first' })
  }
}

/** preHandler factory: a verified session whose permissions include `permission` (403 otherwise). */
export function requirePermission (permission: string) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    // Cross-site forms carry the cookie but cannot add a header: a cookie-authenticated write must
    // send X-Requested-With (the plugin's routes ask the same).
    if (request.method !== 'GET' && request.headers.authorization === undefined && request.headers['x-requested-with'] === undefined) {
      await reply.code(403).send({ statusCode: 403, code: 'HOST_CSRF_HEADER_REQUIRED', error: 'Forbidden', message: 'Send X-Requested-With with cookie-authenticated writes' })
      return
    }
    await requireSession(request, reply)
    if (reply.sent) return
    if (!request.user.permissions.includes(permission)) {
      await reply.code(403).send({ statusCode: 403, code: 'HOST_FORBIDDEN', error: 'Forbidden', message: `This needs the ${permission} permission` })
    }
  }
}

/** Password login, whoami and logout under /api/session. */
export function sessionRoutes (app: FastifyInstance, db: HostDatabase, opts: { cookieSecure: boolean }): void {
  const setSession = (reply: FastifyReply, user: HostUser): { user: HostUser, permissions: string[], expires_at: string } => {
    const permissions = db.permissionsOf(user.id)
    const token = app.jwt.sign({ sub: user.id, permissions }, { expiresIn: SESSION_SECONDS })
    reply.setCookie(SESSION_COOKIE, token, { httpOnly: true, sameSite: 'lax', secure: opts.cookieSecure, path: '/', maxAge: SESSION_SECONDS })
    return { user, permissions, expires_at: new Date(Date.now() + SESSION_SECONDS * 1000).toISOString() }
  }

  app.post<{ Body: { username: string, password: string } }>('/api/session', {
    schema: {
      body: {
        type: 'object',
        additionalProperties: false,
        required: ['username', 'password'],
        properties: { username: { type: 'string', minLength: 1, maxLength: 64 }, password: { type: 'string', minLength: 1, maxLength: 256 } }
      }
    }
  }, async (request, reply) => {
    const user = db.checkPassword(request.body.username, request.body.password)
    if (user === null) return await reply.code(401).send({ statusCode: 401, code: 'HOST_LOGIN_FAILED', error: 'Unauthorized', message: 'Unknown user or wrong password' })
    return setSession(reply, user)
  })

  app.get('/api/session', { preHandler: requireSession }, async (request, reply) => {
    const user = db.findUser(request.user.sub)
    if (user === null) return await reply.code(401).send({ statusCode: 401, code: 'HOST_AUTH_REQUIRED', error: 'Unauthorized', message: 'This user no longer exists' })
    return { user, permissions: request.user.permissions }
  })

  app.delete('/api/session', async (_request, reply) => {
    reply.clearCookie(SESSION_COOKIE, { path: '/' })
    return { signed_out: true }
  })
}
