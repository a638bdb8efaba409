/*
 * Snowflakes as Discord describes them in docs/reference.mdx ("Snowflakes"): a 64-bit
 * integer serialised as a decimal string, whose top 42 bits are milliseconds since the
 * Discord epoch (2015-01-01T00:00:00.000Z). Ids generated here therefore have 18-19
 * digits today, which matters: discord.js only treats 17-19 digit ids as major parameters.
 */

export const DISCORD_EPOCH_MS = 1420070400000

const MAX_SNOWFLAKE = (1n << 64n) - 1n
const DECIMAL = /^(0|[1-9][0-9]{0,19})$/

/** A syntactically valid snowflake: canonical decimal digits, within 64 bits. "0" is allowed (pagination uses it). */
export function isSnowflake (value: unknown): value is string {
  return typeof value === 'string' && DECIMAL.test(value) && BigInt(value) <= MAX_SNOWFLAKE
}

/**
 * Numeric order of two canonical snowflake strings without allocating BigInts:
 * a longer canonical decimal is always larger, equal lengths compare lexically.
 */
export function compareSnowflakes (a: string, b: string): number {
  if (a.length !== b.length) return a.length - b.length
  return a < b ? -1 : a > b ? 1 : 0
}

/** Generates increasing snowflakes from the wall clock, like Discord's id workers do. */
export class SnowflakeGenerator {
  #lastMs = 0
  #increment = 0

  next (): string {
    let ms = Date.now() - DISCORD_EPOCH_MS
    if (ms <= this.#lastMs) {
      ms = this.#lastMs
      this.#increment++
      if (this.#increment > 0xfff) {
        // 4096 ids in one millisecond: borrow the next millisecond, as a real worker would wait for it.
        this.#lastMs = ms + 1
        ms = this.#lastMs
        this.#increment = 0
      }
    } else {
      this.#lastMs = ms
      this.#increment = 0
    }
    // Worker 1, process 1: arbitrary but fixed, so ids look like real ones.
    return ((BigInt(ms) << 22n) | (1n << 17n) | (1n << 12n) | BigInt(this.#increment)).toString()
  }
}

/** The creation time encoded in a snowflake (docs/reference.mdx: `(snowflake >> 22) + 1420070400000`). */
export function snowflakeTimestamp (id: string): number {
  return Number(BigInt(id) >> 22n) + DISCORD_EPOCH_MS
}
