import { randomBytes } from 'node:crypto'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { EncryptionKeyError, SecretDecryptError } from '../../src/errors.js'
import { SecretBox, generateKey, isSealed, keyId, parseKey, secretContext } from '../../src/store/crypto.js'

const CTX = secretContext.botToken('123')

/** Runs `fn`, which must throw, and returns what it threw. */
function thrown (fn: () => unknown): { code?: string, message: string } {
  try {
    fn()
  } catch (err) {
    return err as { code?: string, message: string }
  }
  throw new Error('expected a throw')
}

function expectDecryptError (fn: () => unknown): void {
  const err = thrown(fn)
  expect(err).toBeInstanceOf(SecretDecryptError)
  expect(err.code).toBe('FST_DISCORD_SECRET_DECRYPT')
}

function expectKeyError (fn: () => unknown, mustNotMention?: string): void {
  const err = thrown(fn)
  expect(err).toBeInstanceOf(EncryptionKeyError)
  expect(err.code).toBe('FST_DISCORD_ENCRYPTION_KEY')
  if (mustNotMention !== undefined && mustNotMention.length > 0) expect(err.message).not.toContain(mustNotMention)
}

/** Replaces part `index` of an envelope with the same bytes, one bit flipped. */
function flipBit (envelope: string, index: number): string {
  const parts = envelope.split(':')
  const bytes = Buffer.from(parts[index] as string, 'base64url')
  bytes[0] = (bytes[0] as number) ^ 0x01
  parts[index] = bytes.toString('base64url')
  return parts.join(':')
}

describe('SecretBox', () => {
  it('opens what it sealed', () => {
    const box = new SecretBox(generateKey())
    for (const plaintext of ['MTk4NjIyNDgzNDcxOTI1MjQ4.Cl2FMQ.ZnCjm1XVW7vRze4b7Cq4se7kKWs', '', 'ünïcødé ✓ 🎮', 'x'.repeat(10_000)]) {
      expect(box.open(box.seal(plaintext, CTX), CTX)).toBe(plaintext)
    }
  })

  it('round-trips any text under any context', () => {
    const box = new SecretBox(generateKey())
    fc.assert(fc.property(fc.string({ unit: 'grapheme', maxLength: 200 }), fc.string({ maxLength: 60 }), (plaintext, context) => {
      expect(box.open(box.seal(plaintext, context), context)).toBe(plaintext)
    }), { numRuns: 200 })
  })

  it('produces a versioned envelope naming the key and hiding the plaintext', () => {
    const key = generateKey()
    const box = new SecretBox(key)
    const env = box.seal('plain-secret-value', CTX)
    expect(isSealed(env)).toBe(true)
    expect(isSealed('plain-secret-value')).toBe(false)
    expect(env.startsWith(`dsenc:v1:${box.currentKeyId}:`)).toBe(true)
    expect(box.currentKeyId).toBe(keyId(parseKey(key)))
    expect(env).not.toContain('plain-secret-value')
    expect(env).not.toContain(key)
    const parts = env.split(':')
    expect(parts).toHaveLength(6)
    expect(Buffer.from(parts[3] as string, 'base64url')).toHaveLength(12)
    expect(Buffer.from(parts[4] as string, 'base64url')).toHaveLength(16)
  })

  it('uses a fresh IV: the same plaintext never seals to the same envelope', () => {
    const box = new SecretBox(generateKey())
    const envelopes = Array.from({ length: 50 }, () => box.seal('same-plaintext', CTX))
    expect(new Set(envelopes).size).toBe(50)
    expect(new Set(envelopes.map((e) => e.split(':')[3])).size).toBe(50)
    for (const e of envelopes) expect(box.open(e, CTX)).toBe('same-plaintext')
  })

  it('refuses to open under another context', () => {
    const box = new SecretBox(generateKey())
    const env = box.seal('bot-token', secretContext.botToken('111'))
    expectDecryptError(() => box.open(env, secretContext.botToken('222')))
    expectDecryptError(() => box.open(env, secretContext.accessToken('111')))
    const access = box.seal('token', secretContext.accessToken('9'))
    expectDecryptError(() => box.open(access, secretContext.refreshToken('9')))
  })

  it('detects tampering with the ciphertext, tag or IV', () => {
    const box = new SecretBox(generateKey())
    const env = box.seal('do-not-touch', CTX)
    expectDecryptError(() => box.open(flipBit(env, 5), CTX))
    expectDecryptError(() => box.open(flipBit(env, 4), CTX))
    expectDecryptError(() => box.open(flipBit(env, 3), CTX))
    // Ciphertext with extra bytes is tampering too.
    const parts = env.split(':')
    expectDecryptError(() => box.open([...parts.slice(0, 5), `${parts[5] as string}AAAA`].join(':'), CTX))
    expect(box.open(env, CTX)).toBe('do-not-touch')
  })

  it('rejects truncated authentication tags and IVs of the wrong length', () => {
    const box = new SecretBox(generateKey())
    const env = box.seal('forge-me-not', CTX)
    const parts = env.split(':')
    const tag = Buffer.from(parts[4] as string, 'base64url')
    for (const len of [4, 8, 12, 15]) {
      const cut = [...parts.slice(0, 4), tag.subarray(0, len).toString('base64url'), parts[5]].join(':')
      expectDecryptError(() => box.open(cut, CTX))
    }
    const iv = Buffer.from(parts[3] as string, 'base64url')
    expectDecryptError(() => box.open([...parts.slice(0, 3), iv.subarray(0, 8).toString('base64url'), ...parts.slice(4)].join(':'), CTX))
  })

  it('never puts the plaintext in a decrypt error', () => {
    const box = new SecretBox(generateKey())
    const env = box.seal('very-secret-plaintext', CTX)
    const err = thrown(() => box.open(flipBit(env, 5), 'other'))
    expect(err.message).not.toContain('very-secret-plaintext')
  })

  it('rejects values that are not envelopes', () => {
    const box = new SecretBox(generateKey())
    const env = box.seal('x', CTX)
    expectDecryptError(() => box.open('plaintext-token', CTX))
    expectDecryptError(() => box.open(env.replace('dsenc:v1:', 'dsenc:v2:'), CTX))
    expectDecryptError(() => box.open(env.split(':').slice(0, 5).join(':'), CTX))
    expectDecryptError(() => box.open(`${env}:extra`, CTX))
  })

  it('names an unknown key id instead of trying every key', () => {
    const a = new SecretBox(generateKey())
    const b = new SecretBox(generateKey())
    const env = a.seal('secret', CTX)
    const err = thrown(() => b.open(env, CTX))
    expect(err).toBeInstanceOf(SecretDecryptError)
    expect(err.message).toContain(a.currentKeyId)
  })

  it('rotates: the first key seals, every key opens', () => {
    const oldKey = generateKey()
    const newKey = generateKey()
    const oldBox = new SecretBox(oldKey)
    const sealedOld = oldBox.seal('legacy', CTX)

    const rotated = new SecretBox([newKey, oldKey])
    expect(rotated.currentKeyId).toBe(keyId(parseKey(newKey)))
    expect(rotated.currentKeyId).not.toBe(oldBox.currentKeyId)
    expect(rotated.open(sealedOld, CTX)).toBe('legacy')
    expect(rotated.needsRotation(sealedOld)).toBe(true)

    const sealedNew = rotated.seal('fresh', CTX)
    expect(sealedNew.split(':')[2]).toBe(rotated.currentKeyId)
    expect(rotated.needsRotation(sealedNew)).toBe(false)
    // Re-sealing moves a value to the new key.
    const resealed = rotated.seal(rotated.open(sealedOld, CTX), CTX)
    expect(rotated.needsRotation(resealed)).toBe(false)
    expect(new SecretBox(newKey).open(resealed, CTX)).toBe('legacy')
    // The old key alone cannot read what the new key sealed.
    expectDecryptError(() => oldBox.open(sealedNew, CTX))
  })

  it('accepts raw 32-byte buffers, base64url and surrounding whitespace', () => {
    const raw = randomBytes(32)
    const fromBuffer = new SecretBox(raw)
    const fromBase64 = new SecretBox(`  ${raw.toString('base64')}\n`)
    const fromBase64url = new SecretBox(raw.toString('base64url'))
    const env = fromBuffer.seal('same key', CTX)
    expect(fromBase64.open(env, CTX)).toBe('same key')
    expect(fromBase64url.open(env, CTX)).toBe('same key')
    expect(fromBase64.currentKeyId).toBe(fromBuffer.currentKeyId)
    // The box copies the buffer: zeroing the caller's copy changes nothing.
    raw.fill(0)
    expect(fromBuffer.open(env, CTX)).toBe('same key')
  })

  it('rejects malformed keys with EncryptionKeyError, without echoing them', () => {
    const short = randomBytes(16).toString('base64')
    const long = randomBytes(33).toString('base64')
    expectKeyError(() => new SecretBox(short), short)
    expectKeyError(() => new SecretBox(long), long)
    expectKeyError(() => new SecretBox('this is not base64!'), 'this is not base64!')
    expectKeyError(() => new SecretBox('%%%%'), '%%%%')
    expectKeyError(() => new SecretBox(''))
    expectKeyError(() => new SecretBox('   '))
    expectKeyError(() => new SecretBox([]))
    expectKeyError(() => new SecretBox(randomBytes(31)))
    // One bad key in a rotation list is reported by position.
    const err = thrown(() => new SecretBox([generateKey(), short]))
    expect(err).toBeInstanceOf(EncryptionKeyError)
    expect(err.message).toContain('#2')
  })

  it('parseKey decodes exactly 32 bytes and labels its errors', () => {
    const raw = randomBytes(32)
    expect(parseKey(raw.toString('base64')).equals(raw)).toBe(true)
    const err = thrown(() => parseKey('abc', 'DISCORD_ENCRYPTION_KEY'))
    expect(err).toBeInstanceOf(EncryptionKeyError)
    expect(err.message).toContain('DISCORD_ENCRYPTION_KEY')
  })

  it('derives a stable, short, non-reversible key id', () => {
    const key = randomBytes(32)
    expect(keyId(key)).toMatch(/^[0-9a-f]{8}$/)
    expect(keyId(Buffer.from(key))).toBe(keyId(key))
    expect(keyId(randomBytes(32))).not.toBe(keyId(key))
    expect(key.toString('hex')).not.toContain(keyId(key))
  })

  it('generates distinct 32-byte keys', () => {
    const a = generateKey()
    const b = generateKey()
    expect(a).not.toBe(b)
    expect(Buffer.from(a, 'base64')).toHaveLength(32)
  })

  it('gives each secret field its own context', () => {
    const contexts = [secretContext.botToken('1'), secretContext.accessToken('1'), secretContext.refreshToken('1'), secretContext.botToken('2')]
    expect(new Set(contexts).size).toBe(contexts.length)
  })
})
