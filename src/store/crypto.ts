import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto'
import { EncryptionKeyError, SecretDecryptError } from '../errors.js'

/*
 * Secrets at rest: AES-256-GCM, a fresh 96-bit IV per value, and a key id in the
 * envelope so keys can rotate: the first key seals, every key opens.
 *
 * Envelope: `dsenc:v1:<kid>:<iv>:<tag>:<ciphertext>` (base64url parts).
 * The key id is a fingerprint of the key (not the key), so operators rotate by
 * prepending a new key without naming anything.
 * Each value is bound to a context string (e.g. `guild:<id>:bot_token`) through
 * GCM's additional data, so a ciphertext copied onto another row does not open.
 */

const PREFIX = 'dsenc'
const VERSION = 'v1'
const IV_BYTES = 12
const KEY_BYTES = 32
const TAG_BYTES = 16

interface Key { id: string, key: Buffer }

/** Parses a base64 (or base64url) 32-byte key; throws EncryptionKeyError naming `label`. */
export function parseKey (value: string, label = 'encryption key'): Buffer {
  const trimmed = value.trim()
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(trimmed)) {
    throw new EncryptionKeyError(`${label} must be base64 encoding of 32 bytes`)
  }
  const buf = Buffer.from(trimmed.replace(/-/g, '+').replace(/_/g, '/'), 'base64')
  if (buf.length !== KEY_BYTES) {
    throw new EncryptionKeyError(`${label} must be base64 encoding of 32 bytes (got ${buf.length} bytes)`)
  }
  return buf
}

/** Stable, non-reversible id of a key: 8 hex chars of SHA-256 over a domain tag and the key. */
export function keyId (key: Buffer): string {
  return createHash('sha256').update('fastify-discord-sync:key-id:').update(key).digest('hex').slice(0, 8)
}

/** A fresh random key, base64; used by demo mode and tests. */
export function generateKey (): string {
  return randomBytes(KEY_BYTES).toString('base64')
}

export function isSealed (value: string): boolean {
  return value.startsWith(`${PREFIX}:${VERSION}:`)
}

export class SecretBox {
  readonly #keys: Key[]
  readonly #byId: Map<string, Key>

  /**
   * @param keys base64 32-byte keys, newest first. The first seals; all open.
   */
  constructor (keys: string | Buffer | ReadonlyArray<string | Buffer>) {
    const list = Array.isArray(keys) ? keys : [keys]
    if (list.length === 0) throw new EncryptionKeyError('at least one encryption key is required')
    this.#keys = list.map((k, i) => {
      const key = Buffer.isBuffer(k) ? Buffer.from(k) : parseKey(k as string, `encryption key #${i + 1}`)
      if (key.length !== KEY_BYTES) throw new EncryptionKeyError(`encryption key #${i + 1} must be 32 bytes`)
      return { id: keyId(key), key }
    })
    this.#byId = new Map(this.#keys.map((k) => [k.id, k]))
  }

  /** Id of the key new values are sealed with. */
  get currentKeyId (): string {
    return (this.#keys[0] as Key).id
  }

  seal (plaintext: string, context: string): string {
    const k = this.#keys[0] as Key
    const iv = randomBytes(IV_BYTES)
    const cipher = createCipheriv('aes-256-gcm', k.key, iv, { authTagLength: TAG_BYTES })
    cipher.setAAD(Buffer.from(context, 'utf8'))
    const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()])
    const tag = cipher.getAuthTag()
    return [PREFIX, VERSION, k.id, iv.toString('base64url'), tag.toString('base64url'), ct.toString('base64url')].join(':')
  }

  open (envelope: string, context: string): string {
    const parts = envelope.split(':')
    if (parts.length !== 6 || parts[0] !== PREFIX || parts[1] !== VERSION) {
      throw new SecretDecryptError('not a sealed value')
    }
    const [, , kid, ivPart, tagPart, ctPart] = parts as [string, string, string, string, string, string]
    const k = this.#byId.get(kid)
    if (!k) throw new SecretDecryptError(`unknown key id ${kid}`)
    const iv = Buffer.from(ivPart, 'base64url')
    const tag = Buffer.from(tagPart, 'base64url')
    // GCM accepts truncated tags unless the length is pinned; a short tag makes forgery far cheaper.
    if (iv.length !== IV_BYTES || tag.length !== TAG_BYTES) throw new SecretDecryptError(`malformed envelope for key id ${kid}`)
    try {
      const decipher = createDecipheriv('aes-256-gcm', k.key, iv, { authTagLength: TAG_BYTES })
      decipher.setAAD(Buffer.from(context, 'utf8'))
      decipher.setAuthTag(tag)
      return Buffer.concat([decipher.update(Buffer.from(ctPart, 'base64url')), decipher.final()]).toString('utf8')
    } catch {
      throw new SecretDecryptError(`authentication failed for key id ${kid}`)
    }
  }

  /** True when the value was sealed with an older key and should be re-sealed. */
  needsRotation (envelope: string): boolean {
    return envelope.split(':')[2] !== this.currentKeyId
  }
}

/** Context strings, shared by every adapter so envelopes are portable between them. */
export const secretContext = {
  botToken: (guildId: string) => `guild:${guildId}:bot_token`,
  accessToken: (discordUserId: string) => `user:${discordUserId}:access_token`,
  refreshToken: (discordUserId: string) => `user:${discordUserId}:refresh_token`
}
