import { createPublicKey, verify, type KeyObject } from 'node:crypto'

/*
 * Discord signs each Webhook Event with the application's Ed25519 key over the timestamp header
 * followed by the raw body, and expects a 401 for anything that does not verify (it sends invalid
 * signatures on purpose to check). The public key is shown in the Developer Portal as 64 hex
 * characters: the raw 32-byte key, wrapped here in the SPKI header node:crypto reads.
 */

const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex')
const HEX_KEY = /^[0-9a-f]{64}$/i
const HEX_SIGNATURE = /^[0-9a-f]{128}$/i
const UNIX_SECONDS = /^\d{1,12}$/

/** Reads the portal's hex public key; throws a TypeError for anything else. */
export function webhookPublicKey (hex: string): KeyObject {
  if (!HEX_KEY.test(hex)) throw new TypeError('must be the application public key: 64 hexadecimal characters')
  return createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, Buffer.from(hex, 'hex')]), format: 'der', type: 'spki' })
}

export type WebhookVerdict = 'ok' | 'missing_headers' | 'bad_signature' | 'stale'

export interface SignedRequest {
  signature: string | undefined
  timestamp: string | undefined
  body: Buffer
}

/**
 * Verifies one request. A timestamp further than `maxSkewMs` from now (either way) is refused
 * after the signature checks out, so a captured request cannot be replayed later.
 */
export function verifyWebhook (key: KeyObject, req: SignedRequest, nowMs: number, maxSkewMs: number): WebhookVerdict {
  const { signature, timestamp, body } = req
  if (signature === undefined || timestamp === undefined) return 'missing_headers'
  if (!HEX_SIGNATURE.test(signature) || !UNIX_SECONDS.test(timestamp)) return 'bad_signature'
  const signed = Buffer.concat([Buffer.from(timestamp, 'utf8'), body])
  if (!verify(null, signed, key, Buffer.from(signature, 'hex'))) return 'bad_signature'
  return Math.abs(nowMs - Number(timestamp) * 1000) > maxSkewMs ? 'stale' : 'ok'
}
