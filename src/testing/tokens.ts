import { createHash, randomBytes } from 'node:crypto'
import { isSnowflake } from './snowflake.js'

/*
 * Tokens are secrets even in a simulator: tests run with real-looking credentials, and the
 * request record and logs are inspected and printed. The simulator therefore keys every
 * token by a hash and exposes only a short, stable id derived from it.
 */

/** Stable, non-reversible id of a token for records and assertions (16 hex chars of SHA-256). */
export function tokenId (token: string): string {
  return createHash('sha256').update('discord-simulator:').update(token).digest('hex').slice(0, 16)
}

/** Full hash used as the map key for token lookups. */
export function tokenKey (token: string): string {
  return createHash('sha256').update(token).digest('hex')
}

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'

/** A random opaque token of `length` alphanumerics (the docs' example codes and tokens are 30-char alphanumerics). */
export function randomToken (length = 30): string {
  const bytes = randomBytes(length * 2)
  let out = ''
  for (let i = 0; i < bytes.length && out.length < length; i++) {
    const b = bytes[i] as number
    // Rejection sampling keeps the distribution uniform (248 = 4 * 62).
    if (b < 248) out += ALPHABET[b % 62]
  }
  return out.length === length ? out : out + randomToken(length - out.length)
}

/**
 * A bot token for the simulator that the plugin accepts as a real one (`POST /guilds` takes 20 to
 * 200 characters of `A-Z a-z 0-9 _ - .`), shaped like Discord's: three dot-separated base64url
 * parts, the first being the bot's user id. Random on every call, so each is a distinct secret a
 * test can look for in responses and logs. Register it with
 * `sim.state.addBot({ token, user: { id: botUserId, username } })` before the plugin uses it.
 */
export function createBotToken (botUserId: string): string {
  if (!isSnowflake(botUserId)) throw new TypeError(`createBotToken: "${botUserId}" is not a Discord user id (a snowflake)`)
  return [Buffer.from(botUserId).toString('base64url'), randomBytes(4).toString('base64url'), randomBytes(27).toString('base64url')].join('.')
}
