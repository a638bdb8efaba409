import { timingSafeEqual } from 'node:crypto'
import type { FastifyRequest } from 'fastify'
import type { SimContext } from '../context.js'
import { FormBody } from '../rest/body.js'
import type { OAuthApp } from '../state/oauth-types.js'
import { OAuthHttpError } from './errors.js'

/*
 * What every OAuth2 token endpoint checks first: a form body (docs/oauth2.mdx: "JSON content is
 * not permitted"), no repeated parameters, and the client's credentials, by HTTP Basic or by
 * client_id/client_secret form fields ("All calls to the OAuth2 endpoints require either HTTP
 * Basic authentication or client_id and client_secret").
 */

function isForm (request: FastifyRequest): boolean {
  const type = (request.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase()
  return type === 'application/x-www-form-urlencoded' && request.body instanceof FormBody
}

export function formOf (request: FastifyRequest): Record<string, string> {
  if (!isForm(request)) throw new OAuthHttpError('invalid_request', 'Content-Type must be application/x-www-form-urlencoded')
  const form = request.body as FormBody
  if (form.duplicates.length > 0) throw new OAuthHttpError('invalid_request', `Parameter "${form.duplicates[0]}" was sent more than once`)
  return form.fields
}

function sameSecret (a: string, b: string): boolean {
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}

/** RFC 6749 2.3.1: Basic credentials are form-urlencoded before base64. */
function formDecode (s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '))
  } catch {
    return s
  }
}

export function authenticateClient (sim: SimContext, request: FastifyRequest, form: Record<string, string>): OAuthApp {
  let id: string | undefined
  let secret: string | undefined
  const header = request.headers.authorization
  if (header !== undefined && /^basic /i.test(header)) {
    const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8')
    const colon = decoded.indexOf(':')
    if (colon === -1) throw new OAuthHttpError('invalid_client', 'Malformed Basic credentials')
    id = formDecode(decoded.slice(0, colon))
    secret = formDecode(decoded.slice(colon + 1))
    // Both methods at once are accepted only when they agree (RFC 6749 forbids two methods; be strict on conflicts).
    if ((form.client_id !== undefined && form.client_id !== id) || (form.client_secret !== undefined && form.client_secret !== secret)) {
      throw new OAuthHttpError('invalid_request', 'Conflicting client credentials')
    }
  } else {
    id = form.client_id
    secret = form.client_secret
  }
  if (id === undefined || secret === undefined) throw new OAuthHttpError('invalid_client', 'Client authentication is required')
  const app = sim.state.getOAuthApp(id)
  if (app === undefined || !sameSecret(app.client_secret, secret)) throw new OAuthHttpError('invalid_client', 'Invalid client')
  return app
}
