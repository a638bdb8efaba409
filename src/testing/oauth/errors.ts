import { HttpError } from '../rest/errors.js'

/*
 * OAuth2 errors use RFC 6749's shape (section 5.2), which Discord's token endpoint follows
 * (docs/oauth2.mdx points implementers to RFC 6749): `{ error, error_description }`.
 * invalid_client answers 401 (RFC 6749 5.2: 401 when the client authenticated via the
 * Authorization header; the simulator uses 401 for both methods); the rest answer 400.
 */

export type OAuthErrorCode = 'invalid_request' | 'invalid_client' | 'invalid_grant' | 'unauthorized_client' | 'unsupported_grant_type' | 'invalid_scope'

export class OAuthHttpError extends HttpError<{ error: OAuthErrorCode, error_description: string }> {
  constructor (error: OAuthErrorCode, description: string) {
    // RFC 6749 5.1/5.2: OAuth answers, errors included, must not be cached.
    super(error === 'invalid_client' ? 401 : 400, { error, error_description: description }, description, { 'cache-control': 'no-store' })
  }
}
