import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto'

/*
 * An application's Ed25519 key pair. Discord shows the public key as hex (docs/application.mdx
 * `verify_key`: "Hex encoded key for verification in interactions"); the private half never
 * leaves the simulator, as it never leaves Discord.
 */

export interface SigningKeyPair {
  /** The raw 32-byte public key in hex, as the developer portal shows it. */
  publicKeyHex: string
  publicKey: KeyObject
  privateKey: KeyObject
}

export function generateSigningKeyPair (): SigningKeyPair {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519')
  // The JWK `x` member is the raw public key (RFC 8037), without the SPKI wrapper.
  const x = publicKey.export({ format: 'jwk' }).x ?? ''
  return { publicKeyHex: Buffer.from(x, 'base64url').toString('hex'), publicKey, privateKey }
}

/** Hex Ed25519 signature of `timestamp + body`, the string Discord signs for X-Signature-Ed25519. */
export function signPayload (privateKey: KeyObject, timestamp: string, body: string): string {
  return sign(null, Buffer.from(timestamp + body), privateKey).toString('hex')
}
