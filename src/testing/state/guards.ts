import { isSnowflake } from '../snowflake.js'

/* Seeding mistakes are test bugs: they throw at once, with a message that names the simulator. */

export function fail (message: string): never {
  throw new Error(`discord simulator: ${message}`)
}

export function requireSnowflake (what: string, id: unknown): asserts id is string {
  if (!isSnowflake(id) || id === '0') fail(`${what} must be a snowflake string, got ${JSON.stringify(id)}`)
}
