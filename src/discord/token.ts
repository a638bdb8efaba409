import { createHash } from 'node:crypto'

/**
 * A stable, non-reversible identifier of a credential, used for every piece of
 * limiter state (Redis keys, in-process maps) and in event payloads. The token
 * itself never leaves the `Authorization` header.
 */
export function credentialId (kind: string, secret: string): string {
  return createHash('sha256').update(kind).update('\0').update(secret).digest('hex').slice(0, 32)
}

/** The id the client uses for a bot token (`Authorization: Bot <token>`). */
export function botTokenId (token: string): string {
  return credentialId('bot', token)
}
